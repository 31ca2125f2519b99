"""``make cluster-test``: the nightly exchange on Airflow's own distributed engine, natively.

What a city or province runs, on this one machine:
- Airflow's metadata database and the hub's store as two PostgreSQL databases on 127.0.0.1:5432
  (``qw_cluster_airflow``, ``qw_cluster_hub``; dropped and made anew on every run);
- the CeleryExecutor, its broker on Redis at 127.0.0.1:6379 (database 7, flushed on every run);
- ``airflow scheduler``, ``airflow dag-processor``, ``airflow triggerer``, ``airflow api-server``
  and two ``airflow celery worker`` processes, each its own process group;
- the stand-ins of the demo (sshd servers, the county and transport sandboxes).

The deployment's init steps come first, as in docker/docker-compose.yaml: ``airflow db migrate``,
``python -m credit_exchange.store migrate`` (under its advisory lock), ``airflow pools import``.
The departments then deliver the demo's night, and the four ingests are triggered through the
scheduler (``airflow dags trigger``); merge and the pushes follow by their assets. When the
chain is done the run checks, and exits 1 when any check fails:

1. every run of the chain succeeded, and merge, push_county and push_city each ran;
2. the county and city platforms hold exactly what the demo's way (``airflow dags test`` of each
   DAG in order, SQLite store) gives for the same input and the same run dates, and the county
   platform saw every record version once (derived records compared by content: see ``holdings``);
3. both Celery workers ran tasks (each task instance's host name names its worker);
4. nothing is left queued: no task instance queued or scheduled, no run queued or running, the
   Celery queue empty.

``python -m sandbox.cluster run [--state DIR] [--keep]`` does all that (``--keep`` leaves the
cluster running afterwards, for the Airflow UI on the port it prints);
``python -m sandbox.cluster stop [--state DIR]`` stops whatever a kept run left.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox import demo, standins

REPO = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
AIRFLOW_DB = "qw_cluster_airflow"
HUB_DB = "qw_cluster_hub"
REDIS_URL = "redis://127.0.0.1:6379/7"


def use_names(prefix: str, redis_db: int) -> None:
    """Other databases and another Redis database (``make bench`` beside a cluster test)."""
    global AIRFLOW_DB, HUB_DB, REDIS_URL
    AIRFLOW_DB, HUB_DB, REDIS_URL = f"{prefix}_airflow", f"{prefix}_hub", f"redis://127.0.0.1:6379/{redis_db}"

WORKERS = ("worker1", "worker2")
CHAIN = ("merge_credit", "push_county", "push_city")
# The night's chain must be done within this (it takes well under two minutes here).
CHAIN_LIMIT_S = 600
# A chain is done when nothing of it has been queued or running for this long.
SETTLE_S = 20


def say(text: str = "") -> None:
    print(text, flush=True)


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the cluster: a task instance's host name names its Celery worker."""
    name = os.environ.get("HUB_WORKER_NAME")
    host = socket.getfqdn()
    return f"{host}:{name}" if name else host


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the services: PostgreSQL databases, Redis ----------------------------------------------------

def fresh_databases() -> None:
    """Drop and create the two databases of the cluster (Airflow's metadata, the hub's store)."""
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in (AIRFLOW_DB, HUB_DB):
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cur.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        conn.close()


def fresh_broker() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def broker_queue_length() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        return int(client.llen("default"))
    finally:
        client.close()


# -- the cluster's settings -----------------------------------------------------------------------

def cluster_env(state: Path, info: dict[str, Any], api_port: int) -> dict[str, str]:
    pg = f"postgres@{PG['host']}:{PG['port']}"
    # Nothing of the caller's Airflow settings (a test session's home, say): the cluster's own only.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(info["env"])
    env.update({
        "AIRFLOW_HOME": str(state / "airflow"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(state / "airflow" / "logs"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}/{AIRFLOW_DB}",
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}/{AIRFLOW_DB}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        # A worker takes a task only when it has a free slot: tasks spread over the workers.
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "sandbox.cluster.worker_hostname",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "HUB_STATE_DIR": str(state / "standins"),
        # Every Airflow process imports the hub from this checkout (an editable install may name another).
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    # The hub's store: the cluster's PostgreSQL database instead of the demo's SQLite file.
    env["AIRFLOW_CONN_EXCHANGE_DB"] = json.dumps(
        {"conn_type": "postgres", "host": PG["host"], "port": PG["port"], "login": PG["user"], "schema": HUB_DB})
    return env


class Cluster:
    """The Airflow processes of the cluster, each in its own process group, with their logs in ``state/logs``."""

    def __init__(self, state: Path, env: dict[str, str]) -> None:
        self.state = state
        self.env = env
        self.logs = state / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        with (self.logs / "cli.log").open("a") as fh:
            fh.write(f"\n$ airflow {' '.join(args)}\n")
        return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def must(self, *args: str, timeout: float = 300) -> str:
        proc = self.airflow(*args, timeout=timeout)
        with (self.logs / "cli.log").open("a") as fh:
            fh.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({proc.returncode}); see {self.logs / 'cli.log'}")
        return proc.stdout

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), *args], env={**self.env, **(extra_env or {})},
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.state / "pids.json").write_text(json.dumps({n: p.pid for n, p in self.procs.items()}))

    def start_all(self, workers: tuple[str, ...] = WORKERS) -> None:
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")
        self.start("api-server", "api-server")
        for name in workers:
            self.start_worker(name)

    def start_worker(self, name: str) -> None:
        """A Celery worker whose task instances' host name ends in ``:{name}``."""
        self.start(name, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2",
                   extra_env={"HUB_WORKER_NAME": name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port())})

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        stop_pids({n: p.pid for n, p in self.procs.items()})
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        (self.state / "pids.json").unlink(missing_ok=True)


def stop_pids(pids: dict[str, int]) -> None:
    """SIGTERM every process group, then SIGKILL what is left after 20 s (a worker finishes its task first)."""
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 20
    for pid in pids.values():
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except OSError:
                break
            time.sleep(0.2)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


# -- reading Airflow's metadata database ----------------------------------------------------------

def _meta(sql: str, **params: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(dbname=AIRFLOW_DB, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def dag_runs(dag_ids: list[str]) -> list[tuple[str, str, str, Any, Any, int, str]]:
    """(dag_id, run_id, state, logical_date, run_after, id, run_type) of every run of these DAGs."""
    rows = _meta("SELECT dag_id, run_id, state, logical_date, run_after, id, run_type FROM dag_run "
                 "WHERE dag_id = ANY(%(ids)s) ORDER BY id", ids=dag_ids)
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def settled(dag_ids: list[str], after: int, need: set[str]) -> Any:
    """A check for ``wait_for``: no run after id ``after`` queued or running for SETTLE_S, and every DAG
    of ``need`` has run since."""
    since: list[float] = []

    def check() -> bool:
        runs = [r for r in dag_runs(dag_ids) if r[5] > after]
        if any(r[2] in ("queued", "running") for r in runs) or not need <= {r[0] for r in runs}:
            since.clear()
            return False
        since.append(time.monotonic())
        return since[-1] - since[0] >= SETTLE_S

    return check


def parsed_dags() -> set[str]:
    return {r[0] for r in _meta("SELECT dag_id FROM dag WHERE is_stale IS NOT TRUE")}


def wait_for(what: str, ok: Any, limit_s: float, cluster: Cluster) -> None:
    deadline = time.monotonic() + limit_s
    while not ok():
        if cluster.dead():
            raise RuntimeError(f"{', '.join(cluster.dead())} stopped while waiting for {what}; see {cluster.logs}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {limit_s:.0f} s; see {cluster.logs}")
        time.sleep(1)


def _api_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


# -- what the platforms hold ---------------------------------------------------------------------

# Derived records (credit profiles, list entries) are re-decided by every merge: their versions count
# merges, and a profile's updated_at is the time of its last change.
DERIVED = ("credit_profile", "redlist", "blacklist")
LIST_TYPES = ("redlist", "blacklist")
WITHDRAWN = "已移出"


def county_holding(record: dict[str, Any]) -> tuple[Any, ...]:
    """A county record as the comparison sees it: a department's record with its version and content
    hash; a derived one by its content, less what only says when (or how often) it was decided."""
    if record["record_type"] not in DERIVED:
        return (record["record_id"], record["record_type"], record["version"], record["content_hash"], record["op"])
    data = {k: v for k, v in (record.get("data") or {}).items() if k != "updated_at"}
    return (record["record_id"], record["record_type"], "derived", json.dumps(data, sort_keys=True, ensure_ascii=False),
            record["op"])


def holdings(info: dict[str, Any]) -> dict[str, Any]:
    """What both platforms hold, without what differs by run (batch ids, times, file names, lineage).

    ``county`` is what is in force: a list entry moved out (已移出) is left out and counted in
    ``county_moved_out``. Merge runs after each ingest (data-aware scheduling), so when feeds arrive
    one by one a red-list entry can be decided on the feeds in so far and moved out when a later feed
    of the night brings a negative record; run in order, the same night never lists it.
    """
    from sandbox.city_platform import holdings as city_holdings
    from sandbox.city_platform import process_uploads

    process_uploads(Path(info["city_data"]))
    with urllib.request.urlopen(info["county_url"] + "/_sandbox/records", timeout=30) as resp:  # noqa: S310
        county = json.load(resp)
    with urllib.request.urlopen(info["county_url"] + "/_sandbox/history", timeout=30) as resp:  # noqa: S310
        history = json.load(resp)
    county = county["records"] if isinstance(county, dict) else county
    history = history["history"] if isinstance(history, dict) else history
    moved_out = [r for r in county if r["record_type"] in LIST_TYPES and (r.get("data") or {}).get("status") == WITHDRAWN]
    in_force = [r for r in county if r not in moved_out]
    return {
        "county": sorted(county_holding(r) for r in in_force),
        "county_moved_out": sorted(r["record_id"] for r in moved_out),
        "county_versions_seen": sorted(Counter((h["record_id"], h["version"]) for h in history).items()),
        "city": sorted(json.dumps({k: v for k, v in r.items() if k != "file"}, sort_keys=True, ensure_ascii=False)
                       for r in city_holdings(Path(info["city_data"]))),
    }


def reference(state: Path, now: datetime, run_dates: dict[str, str], secrets_of: Path,
              transport_at: datetime) -> dict[str, Any]:
    """The demo's way on the same input: every DAG of the chain by ``airflow dags test`` in order.

    With the cluster's secrets (``secrets_of``): record ids of derived entries and pseudonyms are
    keyed, so the same input gives the same records only under the same key.
    """
    standins.stop(state)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    shutil.copy2(secrets_of / "secrets.json", state / "secrets.json")
    info = standins.start(state)
    try:
        env = {**os.environ, **info["env"],
               "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
        log = state / "airflow-runs.log"
        if demo.airflow(env, "db", "migrate", log=log).returncode != 0:
            raise RuntimeError(f"airflow db migrate failed; see {log}")
        demo.deliver_night(info, now, transport_at)
        for dag_id in demo.NIGHTLY_ORDER:
            ok, _ = demo.run_dag(env, dag_id, run_dates[dag_id], log)
            if not ok:
                raise RuntimeError(f"reference run of {dag_id} failed; see {log}")
        return holdings(info)
    finally:
        standins.stop(state)


# -- the run ---------------------------------------------------------------------------------------

def _local_date(value: Any) -> str:
    import pendulum

    return str(pendulum.instance(value).in_timezone("Asia/Shanghai").date().isoformat())


@dataclass
class Booted:
    """A cluster that is up, its DAGs parsed and unpaused, their first runs done."""

    cluster: Cluster
    info: dict[str, Any]
    api_port: int
    ingests: list[str]
    chain: list[str]
    mark: int  # the highest dag_run id so far: runs after it are the next night's


def boot(state: Path, executor: str = "CeleryExecutor", workers: tuple[str, ...] = WORKERS,
         extra_env: dict[str, str] | None = None) -> Booted:
    """Fresh databases, broker and stand-ins; the deployment's init steps; every Airflow process
    started; the chain's DAGs unpaused and their unpause runs settled. Stop with ``booted.cluster.stop()``
    and ``standins.stop(state / "standins")``, also when this raises."""
    fresh_databases()
    fresh_broker()
    info = standins.start(state / "standins")
    api_port = _free_port()
    env = cluster_env(state, info, api_port)
    env["AIRFLOW__CORE__EXECUTOR"] = executor
    if executor == "LocalExecutor":
        # As many task slots as the Celery workers have together.
        env["AIRFLOW__CORE__PARALLELISM"] = str(2 * len(WORKERS))
    env.update(extra_env or {})
    cluster = Cluster(state, env)
    say("init: airflow db migrate; the hub's store migrate; the pools ...")
    cluster.must("db", "migrate", timeout=600)
    proc = subprocess.run([sys.executable, "-m", "credit_exchange.store", "migrate"], env=env, cwd=REPO,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"store migrate failed: {proc.stdout}{proc.stderr}")
    cluster.must("pools", "import", str(REPO / "config" / "pools.json"))

    from credit_exchange import config

    ingests = [f"ingest_{d}" for d in config.departments()]
    chain = [*ingests, *CHAIN]
    say(f"starting scheduler, dag-processor, triggerer, api-server ({executor}"
        f"{f', {len(workers)} celery workers' if executor == 'CeleryExecutor' else ''}) ...")
    cluster.start_all(workers if executor == "CeleryExecutor" else ())
    booted = Booted(cluster, info, api_port, ingests, chain, 0)
    wait_for("the API server", lambda: _api_up(api_port), 120, cluster)
    wait_for("the DAGs parsed", lambda: set(chain) <= parsed_dags(), 300, cluster)
    # One call (each CLI call costs seconds): the regex names exactly the chain's DAGs.
    cluster.must("dags", "unpause", "--treat-dag-id-as-regex", "-y",
                 "^(" + "|".join(re.escape(d) for d in chain) + ")$")
    # Unpausing lets the scheduler start each DAG's latest cron point (catchup=False): with
    # nothing delivered yet they find nothing and end. Nights are delivered after them.
    wait_for("the runs that unpausing started", settled(chain, 0, need=set()), CHAIN_LIMIT_S, cluster)
    booted.mark = max((r[5] for r in dag_runs(chain)), default=0)
    return booted


def night(booted: Booted, tag: str, limit_s: float = CHAIN_LIMIT_S) -> list[tuple[Any, ...]]:
    """Trigger every ingest through the scheduler (run ids ``{tag}__{dag_id}``), wait until merge and
    the pushes that their assets start are done; the chain's runs of this night, in id order."""
    for dag_id in booted.ingests:
        booted.cluster.must("dags", "trigger", dag_id, "--run-id", f"{tag}__{dag_id}")
    say(f"triggered {', '.join(booted.ingests)} through the scheduler; waiting for merge and the pushes ...")
    wait_for("the nightly chain", settled(booted.chain, booted.mark, need=set(booted.chain)), limit_s,
             booted.cluster)
    runs = [r for r in dag_runs(booted.chain) if r[5] > booted.mark]
    booted.mark = max(r[5] for r in runs)
    return runs


def check_nothing_queued() -> list[str]:
    """No task instance waiting in any form, and the Celery queue empty."""
    left = _meta("SELECT dag_id, task_id, state FROM task_instance WHERE state IN "
                 "('queued', 'scheduled', 'up_for_retry', 'up_for_reschedule', 'deferred')")
    queue = broker_queue_length()
    say(f"left queued: {len(left)} task instances, {queue} Celery messages")
    return [f"left queued: {left}, {queue} messages in the Celery queue"] if left or queue else []


def check_platforms(booted: Booted, runs: list[tuple[Any, ...]], now: datetime, state: Path,
                    stop_first: bool = True) -> list[str]:
    """The platforms against the demo's way on the same input, at the run dates the cluster's runs had;
    each county version stored once. ``stop_first`` stops the cluster before the reference runs."""
    failures: list[str] = []
    got = holdings(booted.info)
    if stop_first:
        booted.cluster.stop()  # the reference below gets the machine to itself
    last = {r[0]: _local_date(r[3] or r[4]) for r in runs}  # each DAG at its last run's date
    say(f"the demo's way on the same input (airflow dags test, run dates {sorted(set(last.values()))}) ...")
    want = reference(state / "reference", now, last, state / "standins", transport_at=now)
    for platform in ("county", "city"):
        say(f"  {platform}: cluster holds {len(got[platform])} records, the demo's way {len(want[platform])}")
        if got[platform] != want[platform]:
            extra = sorted(set(got[platform]) - set(want[platform]), key=str)
            missing = sorted(set(want[platform]) - set(got[platform]), key=str)
            failures.append(f"the {platform} platform holds other records than the demo's way gives: "
                            f"{len(extra)} more, {len(missing)} missing")
            for what, rows in (("more", extra), ("missing", missing)):
                for row in rows[:10]:
                    say(f"    {what}: {str(row)[:200]}")
    if got["county_moved_out"] or want["county_moved_out"]:
        say(f"  list entries listed and moved out again in the night (merge after each ingest): "
            f"cluster {len(got['county_moved_out'])}, the demo's way {len(want['county_moved_out'])}")
    twice = [k for k, n in got["county_versions_seen"] if n != 1]
    if twice:
        failures.append(f"the county platform stored {len(twice)} record versions more than once: {twice[:5]}")
    if not got["county"] or not got["city"]:
        failures.append("a platform holds nothing")
    return failures


def run(state: Path, keep: bool = False) -> int:
    state = state.resolve()
    stop(state)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    say("== 集群测试 (cluster test): CeleryExecutor, PostgreSQL, Redis, two workers ==")
    failures: list[str] = []
    booted: Booted | None = None
    try:
        from credit_exchange.timeutil import now_local

        booted = boot(state)
        info = booted.info
        # The transport items change now, after the unpause runs pulled: the live API's updated_at
        # never lies before a pull already made (the watermark's overlap covers only minutes).
        now = now_local()
        demo.deliver_night(info, now, transport_at=now)
        started = time.monotonic()
        runs = night(booted, "cluster")
        elapsed = time.monotonic() - started - SETTLE_S
        say(f"the chain is done in about {elapsed:.0f} s:")
        for dag_id, run_id, run_state, _, _, _, run_type in runs:
            say(f"  {dag_id:<20} {run_id:<56} {run_type:<15} {run_state}")
            if run_state != "success":
                failures.append(f"{dag_id} {run_id} ended {run_state}")
        by_asset = {r[0] for r in runs if r[6] == "asset_triggered"}
        for dag_id in CHAIN:
            if dag_id not in by_asset:
                failures.append(f"{dag_id} was not started by its asset")

        hosts = Counter(h.rsplit(":", 1)[-1] for (h,) in _meta(
            "SELECT hostname FROM task_instance WHERE state IS NOT NULL AND hostname <> ''"))
        say(f"task instances per worker: {dict(hosts)}")
        for name in WORKERS:
            if not hosts.get(name):
                failures.append(f"{name} ran no task")
        failures += check_nothing_queued()
        failures += check_platforms(booted, runs, now, state, stop_first=not keep)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, with the logs' place
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        if keep and not failures and booted is not None:
            say(f"the cluster keeps running: Airflow UI http://127.0.0.1:{booted.api_port}; stop: make cluster-stop")
        else:
            stop(state)
    say()
    if failures:
        say("== 集群测试失败 (cluster test FAILED) ==")
        for f in failures:
            say(f"  - {f}")
        say(f"  logs: {state / 'logs'}")
        return 1
    say("== 集群测试通过 (cluster test passed): same platforms as the demo, both workers ran tasks, "
        "nothing left queued ==")
    return 0


def stop(state: Path) -> None:
    state = state.resolve()
    pids_file = state / "pids.json"
    if pids_file.exists():
        stop_pids(json.loads(pids_file.read_text()))
        pids_file.unlink(missing_ok=True)
    standins.stop(state / "standins")
    standins.stop(state / "reference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "stop"])
    parser.add_argument("--state", type=Path, default=REPO / ".state" / "cluster")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.state)
        return 0
    return run(args.state, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
