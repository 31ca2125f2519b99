"""``make cluster-faults``: the fault matrix's expensive half, a Celery worker killed mid-task.

The cluster of ``make cluster-test`` (sandbox/cluster.py), on databases of its own
(``qw_faults_*``, Redis database 9). The demo's night is delivered and the ingests triggered
through the scheduler; while each of these tasks runs, the Celery worker running it is killed
with SIGKILL, the worker's whole process tree (the worker, its supervisor, the task process):

- ``ingest_market.take_market_files`` (files claimed, some taken, the receipts half written),
- ``merge_credit.merge_deliveries`` (chunks half merged),
- ``push_county.push_county_batches`` (batches prepared or sent, answers not recorded).

The killed worker is started again at once. The scheduler finds the task instance without a
heartbeat (``[scheduler] task_instance_heartbeat_timeout``, 30 s here instead of 300 s), it
goes up for retry, and the retry finishes the work. Then the same checks as the cluster test:
every run of the chain succeeded, each killed task succeeded on a later try, the platforms hold
what the demo's way gives for the same input and the county platform saw every record version
once, nothing is left queued. Exit 1 when any check fails.

``python -m sandbox.cluster_faults run [--state DIR]``; ``... stop [--state DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandbox import cluster, demo
from sandbox.cluster import say

REPO = Path(__file__).resolve().parent.parent
# (dag_id, task_id) killed in this order, each while it runs on its first try.
VICTIMS = (("ingest_market", "take_market_files"), ("merge_credit", "merge_deliveries"),
           ("push_county", "push_county_batches"))
HEARTBEAT_TIMEOUT_S = 30
# A kill, the heartbeat time-out, the retry's back-off (1 minute): each victim costs a few minutes.
FAULTS_LIMIT_S = 1200


def _kill_tree(pid: int) -> int:
    """SIGKILL a process, its process group and every descendant (the supervisor may start its own group)."""
    import psutil

    killed = 0
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    for proc in procs:
        try:
            proc.kill()
            killed += 1
        except psutil.NoSuchProcess:
            pass
    return killed


class Killer(threading.Thread):
    """Watches the metadata database; kills the worker of each victim while it runs, restarts it."""

    def __init__(self, booted: cluster.Booted) -> None:
        super().__init__(daemon=True)
        self.booted = booted
        self.mark = booted.mark  # runs after this id are the night's
        self.done: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            for dag_id, task_id in VICTIMS:
                self._one(dag_id, task_id)
        except Exception as exc:  # noqa: BLE001 - reported by the checks
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _one(self, dag_id: str, task_id: str) -> None:
        deadline = time.monotonic() + FAULTS_LIMIT_S
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            rows = cluster._meta(
                "SELECT ti.hostname, ti.run_id, ti.try_number FROM task_instance ti JOIN dag_run dr "
                "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE ti.dag_id = %(d)s AND ti.task_id = %(t)s "
                "AND ti.state = 'running' AND dr.id > %(mark)s", d=dag_id, t=task_id, mark=self.mark)
            running = [r for r in rows if r[0] and ":" in r[0]]
            if running:
                host, run_id, try_number = running[0]
                worker = host.rsplit(":", 1)[-1]
                proc = self.booted.cluster.procs[worker]
                killed = _kill_tree(proc.pid)
                proc.wait(timeout=30)
                say(f"  killed {worker} ({killed} processes) while {dag_id}.{task_id} ran (try {try_number}, "
                    f"{run_id}); starting it again")
                self.booted.cluster.start_worker(worker)
                self.done.append({"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "worker": worker,
                                  "try": try_number})
                return
            time.sleep(0.1)
        self.errors.append(f"{dag_id}.{task_id} was never seen running, so it was never killed")


def run(state: Path) -> int:
    from credit_exchange.timeutil import now_local

    cluster.use_names("qw_faults", 9)
    state = state.resolve()
    stop(state)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    say("== 故障测试 (cluster faults): a Celery worker killed mid-task, three times ==")
    failures: list[str] = []
    try:
        booted = cluster.boot(state, extra_env={
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S)})
        now = now_local()
        demo.deliver_night(booted.info, now, transport_at=now)
        killer = Killer(booted)
        killer.start()
        runs = cluster.night(booted, "faults", limit_s=FAULTS_LIMIT_S)
        killer.stop_event.set()
        killer.join(timeout=5)
        failures += killer.errors
        for dag_id, run_id, run_state, _, _, _, run_type in runs:
            say(f"  {dag_id:<20} {run_id:<56} {run_type:<15} {run_state}")
            if run_state != "success":
                failures.append(f"{dag_id} {run_id} ended {run_state}")
        for victim in killer.done:
            rows = cluster._meta("SELECT state, try_number FROM task_instance WHERE dag_id = %(d)s AND task_id = %(t)s "
                                 "AND run_id = %(r)s", d=victim["dag_id"], t=victim["task_id"], r=victim["run_id"])
            state_now, tries = rows[0] if rows else (None, 0)
            say(f"  {victim['dag_id']}.{victim['task_id']}: killed on try {victim['try']}, now {state_now} "
                f"after {tries} tries")
            if state_now != "success" or tries <= victim["try"]:
                failures.append(f"{victim['dag_id']}.{victim['task_id']} did not succeed on a later try "
                                f"({state_now}, try {tries})")
        failures += cluster.check_nothing_queued()
        failures += cluster.check_platforms(booted, runs, now, state)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, with the logs' place
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        stop(state)
    say()
    if failures:
        say("== 故障测试失败 (cluster faults FAILED) ==")
        for f in failures:
            say(f"  - {f}")
        say(f"  logs: {state / 'logs'}")
        return 1
    say("== 故障测试通过 (cluster faults passed): every killed task finished on its retry; same platforms as "
        "the demo, each county version once, nothing left queued ==")
    return 0


def stop(state: Path) -> None:
    cluster.stop(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.cluster_faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "stop"])
    parser.add_argument("--state", type=Path, default=REPO / ".state" / "cluster-faults")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.state)
        return 0
    return run(args.state)


if __name__ == "__main__":
    sys.exit(main())
