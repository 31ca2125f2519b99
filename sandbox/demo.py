"""``make demo``: the whole nightly exchange, end to end, on the local stand-ins.

1. starts the stand-ins: real sshds as the inbox server, the PBoC outbox (read
   only) and the city platform's SFTP server; the county platform and transport
   API sandboxes; then prints the pre-flight check of every connection (``qianwei-hub check``);
2. plays the departments: the market clerk uploads a realistic night of XML files
   (`.tmp`, then rename; some bad records, one truncated, one with a DOCTYPE, one
   badly named, one upload still in transit), the police drop GB18030 CSV files,
   the PBoC system writes its data/control pairs, the transport API serves pages;
3. runs the nightly cycle in order with ``airflow dags test``: the four ingests,
   merge (with credit profiles and red/black lists), the county push, the city
   push, the city platform's receipts, the publicity check;
4. prints what happened: files taken, records accepted and rejected (with
   reasons), the lists decided and why, what each platform now holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sandbox import standins
from sandbox.market_files import demo_night

REPO = Path(__file__).resolve().parent.parent
NIGHTLY_ORDER = ["ingest_market", "ingest_police", "ingest_transport", "ingest_pboc", "merge_credit",
                 "push_county", "push_city"]
AFTER_CITY_RECEIPTS = ["collect_city_receipts", "publicity_expiry"]


def say(text: str = "") -> None:
    print(text, flush=True)


# A DAG run of the demo takes seconds; one still going after this is waiting on retries of a failure.
RUN_LIMIT_S = 300


def airflow(env: dict[str, str], *args: str, log: Path) -> subprocess.CompletedProcess[bytes]:
    with log.open("ab") as fh:
        fh.write(f"\n$ airflow {' '.join(args)}\n".encode())
        fh.flush()
        try:
            return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env,
                                  stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, check=False, timeout=RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            fh.write(f"\n(stopped after {RUN_LIMIT_S} s: a task kept failing and was waiting to retry)\n".encode())
            return subprocess.CompletedProcess(args, 124)


def run_dag(env: dict[str, str], dag_id: str, day: str, log: Path) -> tuple[bool, float]:
    """``airflow dags test`` one DAG; success is read from the metadata DB, not guessed from output."""
    started = time.monotonic()
    proc = airflow(env, "dags", "test", dag_id, day, log=log)
    elapsed = time.monotonic() - started
    state = _last_run_state(env, dag_id)
    return proc.returncode == 0 and state == "success", elapsed


def _last_run_state(env: dict[str, str], dag_id: str) -> str | None:
    code = (
        "from airflow.utils.session import create_session\n"
        "from airflow.models import DagRun\n"
        "with create_session() as s:\n"
        f"    r = s.query(DagRun).filter(DagRun.dag_id=={dag_id!r}).order_by(DagRun.id.desc()).first()\n"
        "    print(r.state if r else 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else None


def clerk_uploads(conn: dict[str, Any], files: dict[str, bytes], day: str) -> list[str]:
    """Upload as the department's client does: `{name}.tmp`, then rename."""
    from connectors.sftp import SftpConnector

    obj = SimpleNamespace(host=conn["host"], port=conn["port"], login=conn["login"], password=None,
                          extra_dejson=conn["extra"], conn_id="inbox_sftp")
    names = []
    with SftpConnector.from_connection(obj) as sftp:
        for name, body in files.items():
            sftp.upload_atomic(body, f"/market/inbox/{name}")
            names.append(name)
        # A clerk's upload still under way: must be left exactly where it is.
        sftp.write_bytes(f"/market/inbox/MARKET_LICENSE_{day}_002.xml.tmp", b"<?xml version=")
        # A file whose name breaks the contract: quarantined with a receipt.
        sftp.upload_atomic(b"<CreditData/>", "/market/inbox/market-penalties-final.xml")
        names.append("market-penalties-final.xml")
    return names


def police_drops(conn: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """The police client writes final names directly (no upload protocol), earlier in the evening."""
    from connectors.sftp import SftpConnector

    obj = SimpleNamespace(host=conn["host"], port=conn["port"], login=conn["login"], password=None,
                          extra_dejson=conn["extra"], conn_id="inbox_sftp")
    with SftpConnector.from_connection(obj) as sftp:
        for name, body in files.items():
            sftp.write_bytes(f"/police/inbox/{name}", body)
            # Finished an hour ago on the server's clock (which stamped the upload): past the quiet period.
            earlier = sftp.stat(f"/police/inbox/{name}").mtime - 3600
            sftp.sftp.utime(f"/police/inbox/{name}", (earlier, earlier))
    return list(files)


def pboc_writes(data_root: Path, files: dict[str, bytes]) -> list[str]:
    """The PBoC system writes its pairs on its own server (the hub can only read there)."""
    from sandbox.pboc_files import write_pair

    write_pair(data_root / "outbox", files)
    return [n for n in files if n.endswith(".dat")]


def transport_serves(url: str, items: dict[str, list[dict[str, Any]]]) -> int:
    for endpoint, batch in items.items():
        req = urllib.request.Request(url + "/_sandbox/items", method="POST",
                                     data=json.dumps({"endpoint": endpoint, "items": batch}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - loopback sandbox
    return sum(len(v) for v in items.values())


def deliver_night(info: dict[str, Any], now: Any, transport_at: Any = None) -> None:
    """The departments' night, as each one delivers it: market and police files, PBoC pairs, transport items.

    ``transport_at``: when the transport items changed (``sandbox.transport_data.demo_items``).
    """
    from sandbox import pboc_files, police_files, transport_data

    day = now.strftime("%Y%m%d")
    conn = json.loads(info["env"]["AIRFLOW_CONN_INBOX_SFTP"])
    names = clerk_uploads(conn, demo_night(now.date(), now), day)
    say(f"the market clerk uploaded {len(names)} files (and one upload is still in transit)")
    police = police_drops(conn, police_files.demo_night(now.date(), now))
    say(f"the police dropped {len(police)} CSV files")
    pairs = pboc_writes(Path(info["pboc_data"]), pboc_files.demo_night(now.date(), now))
    say(f"the PBoC system wrote {len(pairs)} data/control pairs")
    items = transport_serves(info["transport_url"], transport_data.demo_items(now.date(), transport_at))
    say(f"the transport API serves {items} items")


def county_records(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/_sandbox/records", timeout=10) as resp:  # noqa: S310 - loopback
        data = json.load(resp)
    return data["records"] if isinstance(data, dict) else data


def report(state: Path, info: dict[str, Any], results: list[tuple[str, bool, float]]) -> None:
    from sqlalchemy import func, select

    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.store import Batch, CityFile, OutboxItem, ReceivedFile, Record, Reject, Store
    from sandbox.city_platform import holdings

    store = Store(f"sqlite:///{state / 'exchange.db'}", migrate_now=False)
    vault = PiiVault(json.loads((state / "secrets.json").read_text())["pii_key"])
    say()
    say("== 夜间交换结果 (what the nightly exchange did) ==")
    for dag_id, ok, secs in results:
        say(f"  {dag_id:<22} {'success' if ok else 'FAILED'}  ({secs:.0f} s)")
    with store.session() as s:
        say()
        say("-- 接收 (taken from the departments) --")
        for f in s.execute(select(ReceivedFile).order_by(ReceivedFile.department, ReceivedFile.id)).scalars():
            say(f"  {f.department:<9} {f.name:<44} {f.status:<19} total {f.total:>3}  accepted {f.accepted:>3}  "
                f"rejected {f.rejected:>3}" + (f"  -> {f.stored_path}" if f.stored_path else ""))
            if f.error_code:
                say(f"      整个文件被拒 (refused whole): {f.error_message}")
        say()
        say("-- 被拒记录 (rejected records, as the receipts tell the clerks) --")
        rows = s.execute(select(ReceivedFile.department, ReceivedFile.name, Reject)
                         .join(Reject, Reject.file_id == ReceivedFile.id)
                         .where(Reject.position != "file").order_by(Reject.id)).all()
        for dept, name, r in rows:
            say(f"  {dept:<9} {name} {r.position} [{r.dept_record_id}] {r.field or ''}: {r.message}")
        totals = s.execute(select(func.sum(ReceivedFile.accepted), func.sum(ReceivedFile.rejected))).one()
        say(f"  => {totals[0] or 0} records accepted, {totals[1] or 0} rejected; receipts in /market/receipts/ "
            f"and /police/receipts/ (local copy: {info['inbox_data']}), PBoC and transport receipts in the store")
        say()
        say("-- 红黑名单 (red and black lists decided tonight) --")
        listed = s.execute(select(Record).where(Record.record_type.in_(("redlist", "blacklist")))
                           .order_by(Record.record_type, Record.subject_name)).scalars().all()
        for rec in listed:
            data = vault.open(rec.record_type, rec.data_enc)
            say(f"  {data.get('list_type')} {data.get('status')}  {rec.subject_name}: {data.get('reason')} "
                f"(列入 {data.get('listed_date')}, 至 {data.get('valid_to')})")
        if not listed:
            say("  (none)")
        say()
        say("-- 县平台 (county platform) --")
        batches = s.execute(select(Batch).where(Batch.platform == "county")).scalars().all()
        results_count = Counter(r for (r,) in s.execute(select(OutboxItem.result).where(OutboxItem.platform == "county")))
        say(f"  {len(batches)} batches ({sum(b.record_count for b in batches)} record versions), "
            f"results: {dict(results_count)}")
        city_files = s.execute(select(CityFile).order_by(CityFile.name)).scalars().all()
    held = county_records(info["county_url"])
    say(f"  holds {len(held)} records: {dict(sorted(Counter(r.get('record_type', '?') for r in held).items()))}")
    say(f"  ({info['county_url']}/_sandbox/records)")
    say()
    say("-- 市平台 (city platform, Credit China (Sichuan Leshan)) --")
    for f in city_files:
        say(f"  {f.name:<40} {f.record_count:>4} records  receipt: {f.receipt_status or 'not yet'}")
    city = holdings(Path(info["city_data"]))
    say(f"  holds {len(city)} records: {dict(sorted(Counter(r['type'] for r in city).items()))}")
    store.dispose()


def run_cycle(env: dict[str, str], dag_ids: list[str], day: str, log: Path,
              results: list[tuple[str, bool, float]]) -> bool:
    for dag_id in dag_ids:
        say(f"running {dag_id} ...")
        ok, secs = run_dag(env, dag_id, day, log)
        results.append((dag_id, ok, secs))
        if not ok:
            say(f"{dag_id} failed: see {log}")
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__)
    parser.add_argument("--state", type=Path, default=REPO / ".state" / "demo")
    args = parser.parse_args(argv)
    state: Path = args.state.resolve()

    say("== 犍为县电子商务信用数据交换枢纽 演示 (Qianwei credit exchange hub demo) ==")
    standins.stop(state)
    # A fresh night each time, but keep Airflow's migrated metadata DB (slow to create).
    if state.exists():
        for child in state.iterdir():
            if child.name != "airflow":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    info = standins.start(state)
    say(f"stand-ins: inbox sshd on 127.0.0.1:{info['inbox_sftp_port']}, county sandbox at {info['county_url']}")
    env = {**os.environ, **info["env"]}
    log = state / "airflow-runs.log"
    say("preparing Airflow's metadata database (first run takes a minute) ...")
    if airflow(env, "db", "migrate", log=log).returncode != 0:
        say(f"airflow db migrate failed; see {log}")
        return 1
    # First of all, the pre-flight check of every connection (what an admin runs on the first day).
    if subprocess.run([sys.executable, "-m", "credit_exchange.admin", "check"], env=env, cwd=REPO,
                      check=False).returncode != 0:
        say("the pre-flight check failed: see the rows marked 失败 (FAILED) above")
        return 1

    from credit_exchange.timeutil import now_local

    now = now_local()
    deliver_night(info, now)

    results: list[tuple[str, bool, float]] = []
    ok = run_cycle(env, NIGHTLY_ORDER, now.date().isoformat(), log, results)
    if ok:
        from sandbox.city_platform import process_uploads

        loaded = process_uploads(Path(info["city_data"]))
        say(f"the city platform loaded {len(loaded)} files and wrote its receipts")
        ok = run_cycle(env, AFTER_CITY_RECEIPTS, now.date().isoformat(), log, results)
    report(state, info, results)
    if not ok:
        return 1
    say()
    say("== 下一步 (next) ==")
    say(f"  Airflow UI on this setup: make ui   (log of the runs: {log})")
    say("  The stand-ins keep running; stop them with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
