"""``make demo``: the whole nightly exchange, end to end, on the local stand-ins.

1. starts the stand-ins (a real sshd as the inbox server, the county platform sandbox);
2. plays the market clerk: uploads a realistic night of files (`.tmp`, then rename),
   some with bad records, one truncated, one with a DOCTYPE, one badly named,
   and one upload still in transit;
3. runs the DAGs in the nightly order with ``airflow dags test``;
4. prints what happened: files taken, records accepted and rejected (with
   reasons), batches pushed, what the county platform now holds.
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
NIGHTLY_ORDER = ["ingest_market", "merge_credit", "push_county"]


def say(text: str = "") -> None:
    print(text, flush=True)


def airflow(env: dict[str, str], *args: str, log: Path) -> subprocess.CompletedProcess[bytes]:
    with log.open("ab") as fh:
        fh.write(f"\n$ airflow {' '.join(args)}\n".encode())
        fh.flush()
        return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env,
                              stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, check=False)


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


def county_records(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/_sandbox/records", timeout=10) as resp:  # noqa: S310 - loopback
        data = json.load(resp)
    return data["records"] if isinstance(data, dict) else data


def report(state: Path, info: dict[str, Any], results: list[tuple[str, bool, float]]) -> None:
    from sqlalchemy import func, select

    from credit_exchange.store import Batch, OutboxItem, ReceivedFile, Reject, Store

    store = Store(f"sqlite:///{state / 'exchange.db'}", migrate_now=False)
    say()
    say("== 夜间交换结果 (what the nightly exchange did) ==")
    for dag_id, ok, secs in results:
        say(f"  {dag_id:<16} {'success' if ok else 'FAILED'}  ({secs:.0f} s)")
    with store.session() as s:
        say()
        say("-- 接收文件 (files taken from /market/inbox) --")
        for f in s.execute(select(ReceivedFile).order_by(ReceivedFile.id)).scalars():
            say(f"  {f.name:<34} {f.status:<19} total {f.total:>3}  accepted {f.accepted:>3}  "
                f"rejected {f.rejected:>3}  -> {f.stored_path}")
            if f.error_code:
                say(f"      整个文件被拒 (refused whole): {f.error_message}")
        say()
        say("-- 被拒记录 (rejected records, as the receipts tell the clerk) --")
        rows = s.execute(select(ReceivedFile.name, Reject).join(Reject, Reject.file_id == ReceivedFile.id)
                         .where(Reject.position != "file").order_by(Reject.id)).all()
        for name, r in rows:
            say(f"  {name} {r.position} [{r.dept_record_id}] {r.field or ''}: {r.message}")
        totals = s.execute(select(func.sum(ReceivedFile.accepted), func.sum(ReceivedFile.rejected))).one()
        say(f"  => {totals[0] or 0} records accepted, {totals[1] or 0} rejected; "
            f"receipts in /market/receipts/ (local copy: {info['inbox_data']}/market/receipts)")
        say()
        say("-- 推送县平台 (pushed to the county platform) --")
        batches = s.execute(select(Batch).where(Batch.platform == "county")).scalars().all()
        results_count = Counter(r for (r,) in s.execute(select(OutboxItem.result).where(OutboxItem.platform == "county")))
        say(f"  {len(batches)} batches ({sum(b.record_count for b in batches)} records), "
            f"results: {dict(results_count)}")
    held = county_records(info["county_url"])
    by_type = Counter(r.get("record_type", "?") for r in held)
    say(f"  the county platform sandbox now holds {len(held)} records: {dict(by_type)}")
    say(f"  ({info['county_url']}/_sandbox/records)")
    store.dispose()


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

    from credit_exchange.timeutil import now_local

    now = now_local()
    day = now.strftime("%Y%m%d")
    names = clerk_uploads(json.loads(info["env"]["AIRFLOW_CONN_INBOX_SFTP"]), demo_night(now.date(), now), day)
    say(f"the market clerk uploaded {len(names)} files (and one upload is still in transit)")

    results = []
    for dag_id in NIGHTLY_ORDER:
        say(f"running {dag_id} ...")
        ok, secs = run_dag(env, dag_id, now.date().isoformat(), log)
        results.append((dag_id, ok, secs))
        if not ok:
            say(f"{dag_id} failed: see {log}")
            report(state, info, results)
            return 1
    report(state, info, results)
    say()
    say("== 下一步 (next) ==")
    say(f"  Airflow UI on this setup: make ui   (log of the runs: {log})")
    say("  The stand-ins keep running; stop them with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
