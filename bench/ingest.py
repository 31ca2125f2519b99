"""Ingest throughput and memory: a market penalty file taken by ``ingest_market``.

- hub: the real DAG through ``airflow dags test`` against a real sshd and the SQLite store;
  records/s = records / (median time of the runs with the file - median time of the runs with
  an empty inbox), so Airflow's fixed cost of a run is subtracted; peak RSS of the run's process.
- plain pipeline, same file, same machine: lxml iterparse, the reference jsonschema validator
  reused, per-batch SQLite inserts; no SFTP, no receipts, no lineage.
- memory: the hub's ingest of a multi-GiB file, peak RSS of the process.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 28)
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<CreditData xmlns="urn:qianwei:market:credit:1" kind="PENALTY" '
        'generatedAt="2026-11-28T23:10:00+08:00" recordCount="{n}">\n')


def write_penalty_file(path: Path, n: int, distinct: int = 20_000) -> int:
    """A market penalty file of ``n`` valid records, streamed to disk (the body of ``distinct`` records repeats
    with fresh ids, so generating gigabytes stays quick); returns its size."""
    from credit_exchange.standard.mapping import to_national
    from sandbox.samples import valid_record

    def body(i: int) -> str:
        return "".join(f"<{c}>{escape(v)}</{c}>" for c, v in
                       to_national("administrative_penalty", valid_record("administrative_penalty", i, TODAY),
                                   mask_pii=False))

    # Repeated bodies are kept; distinct ones are written as they are made (memory stays flat).
    bodies = [body(i) for i in range(distinct)] if distinct < n else None
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEAD.format(n=n))
        for i in range(n):
            text = bodies[i % distinct] if bodies is not None else body(i)
            fh.write(f'<Record op="upsert" id="SCJG-CF-2026-{i:08d}" version="1">{text}</Record>\n')
        fh.write("</CreditData>\n")
    return path.stat().st_size


# Peak memory is read from /proc (VmHWM), never from getrusage's ru_maxrss: Linux keeps the
# ru_maxrss of the image a process had before exec, so a process started from a big one (the
# bench, or the task starting its parse worker) would report its starter's size.
PEAK_RSS_CODE = (
    "def peak_mb(pid='self'):\n"
    "    try:\n"
    "        with open(f'/proc/{pid}/status') as fh:\n"
    "            return int(next(l for l in fh if l.startswith('VmHWM')).split()[1]) / 1024\n"
    "    except (OSError, StopIteration, ValueError):\n"
    "        return 0.0\n"
)
# A thread following the parse worker's own peak while it runs (it is gone when the run ends).
CHILD_PEAK_CODE = PEAK_RSS_CODE + (
    "import os, threading, time\n"
    "child_peak = [0.0]\n"
    "def follow_children():\n"
    "    me = os.getpid()\n"
    "    while True:\n"
    "        for task in os.listdir(f'/proc/{me}/task'):\n"
    "            try:\n"
    "                kids = open(f'/proc/{me}/task/{task}/children').read().split()\n"
    "            except OSError:\n"
    "                continue\n"
    "            for kid in kids:\n"
    "                child_peak[0] = max(child_peak[0], peak_mb(kid))\n"
    "        time.sleep(0.05)\n"
    "threading.Thread(target=follow_children, daemon=True).start()\n"
)


def _timed_child(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB of the command's process)."""
    code = PEAK_RSS_CODE + (
        "import subprocess,sys,time,json;t=time.perf_counter();peak=0.0\n"
        "p=subprocess.Popen(sys.argv[2:],stdout=open(sys.argv[1],'ab'),stderr=subprocess.STDOUT)\n"
        "while p.poll() is None:\n"
        "    peak=max(peak,peak_mb(p.pid));time.sleep(0.05)\n"
        "print(json.dumps([p.returncode,time.perf_counter()-t,peak]))\n")
    out = subprocess.run([sys.executable, "-c", code, str(log), *cmd], env=env, capture_output=True, text=True,
                         check=True)
    rc, secs, peak = json.loads(out.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise RuntimeError(f"{cmd[:3]} failed (exit {rc}); see {log}")
    return secs, peak


def _setup(state: Path) -> tuple[Any, dict[str, str]]:
    from credit_exchange.standard.crypto import PiiVault
    from sandbox.sshd import INBOX_FOLDERS, start_sshd

    server = start_sshd(state / "sshd", state / "data", folders=INBOX_FOLDERS)
    env = {**os.environ,
           "AIRFLOW_HOME": str(state / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
           "AIRFLOW_CONN_INBOX_SFTP": json.dumps(server.airflow_connection()),
           "AIRFLOW_CONN_EXCHANGE_DB": json.dumps({"conn_type": "sqlite", "host": str(state / "exchange.db")}),
           "AIRFLOW_CONN_PII_KEY": json.dumps({"conn_type": "generic", "password": PiiVault.generate_key()})}
    try:
        subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True,
                       capture_output=True)
    except BaseException:
        server.stop()  # never leave an sshd behind
        raise
    return server, env


# Runs of each kind, taken in turn (empty, full, empty, full, ...); medians are reported.
RUNS = 5


def hub_dag_run(state: Path, source: Path, n: int, runs: int = RUNS) -> dict[str, Any]:
    """ingest_market through `airflow dags test`, fixed cost of an empty run subtracted.

    Empty and full runs alternate, so that drift on a shared machine touches both, and the medians
    of each are compared: a single pair moved by ±20% from minute to minute on the 2-core machine.
    Every full run gets a fresh store (migrated beforehand, like the empty runs' store: migrating is
    not part of a nightly run) and the same file in the inbox.
    """
    from credit_exchange.store import Store

    server, env = _setup(state)
    airflow = str(Path(sys.executable).parent / "airflow")
    log = state / "runs.log"
    inbox = Path(server.data_root) / "market"

    def with_store(name: str) -> dict[str, str]:
        db = state / f"{name}.db"
        Store(f"sqlite:///{db}").dispose()
        return {**env, "AIRFLOW_CONN_EXCHANGE_DB": json.dumps({"conn_type": "sqlite", "host": str(db)})}

    empties: list[float] = []
    fulls: list[tuple[float, float, Path]] = []
    try:
        empty_env = with_store("exchange-empty")
        day = date(2026, 11, 30).toordinal()
        for i in range(runs):
            secs, empty_peak = _timed_child([airflow, "dags", "test", "ingest_market",
                                             date.fromordinal(day + 2 * i).isoformat()], empty_env, log)
            empties.append(secs)
            full_env = with_store(f"exchange-{i}")
            shutil.rmtree(inbox / "archive", ignore_errors=True)
            shutil.copy(source, inbox / "inbox/MARKET_PENALTY_20261128_001.xml")
            secs, peak = _timed_child([airflow, "dags", "test", "ingest_market",
                                       date.fromordinal(day + 2 * i + 1).isoformat()], full_env, log)
            fulls.append((secs, peak, state / f"exchange-{i}.db"))
    finally:
        server.stop()
    for _secs, _peak, db_path in fulls:
        with sqlite3.connect(db_path) as db:
            accepted = db.execute("select sum(accepted) from received_files").fetchone()[0]
        assert accepted == n, f"expected {n} accepted, {db_path.name} says {accepted}"
    empty = statistics.median(empties)
    full = statistics.median(secs for secs, _peak, _db in fulls)
    per_run = sorted(round(n / (secs - empty)) for secs, _peak, _db in fulls)
    return {"records": n, "runs": runs, "empty_run_s": round(empty, 1), "run_s": round(full, 1),
            "records_per_s": round(n / (full - empty)), "records_per_s_range": f"{per_run[0]:,}–{per_run[-1]:,}",
            "peak_rss_mb": round(max(peak for _secs, peak, _db in fulls)), "empty_peak_rss_mb": round(empty_peak)}


def plain_pipeline(source: Path, state: Path, limit: int) -> dict[str, Any]:
    """``plain_pipeline_here`` in a process of its own, so that its peak memory is its own."""
    code = ("import json,sys\nfrom pathlib import Path\nfrom bench.ingest import plain_pipeline_here\n"
            "print(json.dumps(plain_pipeline_here(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))))\n")
    out = subprocess.run([sys.executable, "-c", code, str(source), str(state), str(limit)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def plain_pipeline_here(source: Path, state: Path, limit: int) -> dict[str, Any]:
    """The naive baseline: lxml + reused jsonschema reference validator + per-batch SQLite inserts."""
    from lxml import etree

    from credit_exchange.standard.mapping import from_national
    from credit_exchange.standard.validation import _engines

    validator = _engines().reference["administrative_penalty"]
    db = sqlite3.connect(state / "plain.db")
    db.execute("create table records (id text, version int, data text, valid int)")
    ns = "{urn:qianwei:market:credit:1}"
    started = time.perf_counter()
    batch: list[tuple[Any, ...]] = []
    count = 0
    for _ev, el in etree.iterparse(str(source), events=("end",), tag=f"{ns}Record", resolve_entities=False,
                                   no_network=True, load_dtd=False, huge_tree=True):
        data = from_national("administrative_penalty", {c.tag[len(ns):]: c.text for c in el}).data
        ok = validator.is_valid(data)
        batch.append((el.get("id"), int(el.get("version")), json.dumps(data, ensure_ascii=False), int(ok)))
        el.clear()
        count += 1
        if len(batch) >= 1000:
            db.executemany("insert into records values (?,?,?,?)", batch)
            db.commit()
            batch.clear()
        if count >= limit:
            break
    db.executemany("insert into records values (?,?,?,?)", batch)
    db.commit()
    secs = time.perf_counter() - started
    peak: dict[str, Any] = {}
    exec(PEAK_RSS_CODE, peak)  # noqa: S102 - our own snippet, shared with the child processes
    return {"records": count, "run_s": round(secs, 1), "records_per_s": round(count / secs),
            "peak_rss_mb": round(peak["peak_mb"]())}


def hub_core_memory(state: Path, gib: float) -> dict[str, Any]:
    """The hub's ingest core on a multi-GiB file (no Airflow around it): peak RSS of the process."""
    server, env = _setup(state)
    target = Path(server.data_root) / "market/inbox/MARKET_PENALTY_20261128_001.xml"
    n = int(gib * 1024**3 / 1065)  # ~1,065 bytes a record in this generator
    size = write_penalty_file(target, n)
    code = CHILD_PEAK_CODE + (
        "import json,os,time\n"
        "from credit_exchange import config\n"
        "from credit_exchange.standard.crypto import PiiVault\n"
        "from credit_exchange.feeds.inbox import InboxIngest\n"
        "from credit_exchange.store import Store\n"
        "from connectors.sftp import SftpConnector\n"
        "from datetime import date\n"
        "store=Store.from_conn_id(); t=time.perf_counter(); c=os.times()\n"
        "with SftpConnector.from_conn_id('inbox_sftp') as s:\n"
        "    r=InboxIngest(config.feed('market'), s, store, PiiVault.from_conn_id(), date(2026,11,28)).run()\n"
        "d=os.times()\n"
        "print(json.dumps([r.totals()['accepted'], time.perf_counter()-t, d.user+d.system-c.user-c.system,"
        " d.children_user+d.children_system, peak_mb(), child_peak[0]]))\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                             cwd=REPO)
    finally:
        server.stop()
    accepted, secs, cpu, worker_cpu, peak, worker_peak = json.loads(out.stdout.strip().splitlines()[-1])
    # A big file is parsed in a worker process (credit_exchange/intake/pipeline.py): its peak counts too.
    return {"file_gib": round(size / 1024**3, 2), "records": accepted, "run_s": round(secs),
            "records_per_s": round(accepted / secs), "peak_rss_mb": round(peak),
            "worker_peak_rss_mb": round(worker_peak), "cpu_s": round(cpu), "worker_cpu_s": round(worker_cpu)}
