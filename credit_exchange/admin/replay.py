"""``qianwei-hub replay DAY [--dag DAG ...]``: replay a day through Airflow's backfills.

For each DAG (by default every DAG of the night, in the nightly order) it runs Airflow's public
``airflow backfill create`` for that day's window in Asia/Shanghai, with the run conf
``{"replay_date": DAY}`` (the DAGs' ``replay_date`` param, so every run of the backfill works for
that day whatever its logical time) and ``--reprocess-behavior completed`` (a replay runs the day
again even when it ran before). The scheduler then runs the backfill like any run: in the pools,
with the retries and alerts of every run, shown in the UI as run type "backfill".

One DAG after the other: before it starts the next DAG's backfill it waits until the runs of the
one before have finished (``airflow dags list-runs``), so merge replays the day after the ingests
did, and the pushes after merge. A run that failed, or one still not done after ``--wait``
minutes, stops the replay there: what was started is printed, the DAGs not started are named.
``--no-wait`` starts every backfill at once (only for DAGs that do not depend on each other).
Exit status 0 when every backfill was created (and, waiting, succeeded), 1 otherwise, 2 on wrong
usage. Airflow's own CLI writes each backfill to its audit log (event ``cli_create_backfill``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from hub_messages import text

LOCAL_OFFSET = "+08:00"  # Asia/Shanghai keeps no daylight saving time


def replayable() -> list[str]:
    """The DAGs a replay of a day runs by default, in the nightly order (docs/operations.md, "Replaying a day")."""
    from credit_exchange.runtime.schedule import nightly_cycle

    return [*nightly_cycle(), "publicity_expiry"]


def backfill_command(dag_id: str, day: date, *, dry_run: bool = False) -> list[str]:
    """``airflow backfill create`` of ``dag_id`` for ``day``: its window is the day in Asia/Shanghai, both ends inclusive."""
    from credit_exchange.runtime.housekeeping import airflow_cli
    from credit_exchange.runtime.schedule import REPLAY_DATE

    start, end = window(day)
    return [airflow_cli(), "backfill", "create", "--dag-id", dag_id, "--from-date", start, "--to-date", end,
            "--dag-run-conf", json.dumps({REPLAY_DATE: day.isoformat()}), "--reprocess-behavior", "completed",
            "--max-active-runs", "1", *(["--dry-run"] if dry_run else [])]


def window(day: date) -> tuple[str, str]:
    # Explicit times with the offset: a bare date would be midnight, before the night's 01:30 run.
    return f"{day.isoformat()}T00:00:00{LOCAL_OFFSET}", f"{day.isoformat()}T23:59:59{LOCAL_OFFSET}"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help=text("replay_help"), description=text("replay_help"))
    parser.add_argument("day", metavar="DAY", help=text("replay_day_help"))
    parser.add_argument("--dag", action="append", dest="dags", metavar="DAG_ID", help=text("replay_dag_help"))
    parser.add_argument("--dry-run", action="store_true", help=text("replay_dry_run_help"))
    parser.add_argument("--wait", type=float, default=180.0, metavar="MINUTES", help=text("replay_wait_help"))
    parser.add_argument("--no-wait", action="store_true", help=text("replay_no_wait_help"))
    parser.set_defaults(func=run)


def backfill_runs(dag_id: str, day: date) -> list[dict[str, Any]]:
    """The backfill runs of ``dag_id`` whose logical date lies in ``day``'s window (``airflow dags list-runs``)."""
    from datetime import datetime

    from credit_exchange.runtime.housekeeping import airflow_cli

    out = subprocess.run([airflow_cli(), "dags", "list-runs", dag_id, "-o", "json"], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    # Airflow may print warnings before the JSON: the listing is the last line that starts with "[".
    lines = [line for line in out.splitlines() if line.startswith("[")]
    start, end = (datetime.fromisoformat(t) for t in window(day))
    runs = []
    for run in json.loads(lines[-1]) if lines else []:
        logical = run.get("logical_date")
        if str(run.get("run_id", "")).startswith("backfill__") and logical:
            if start <= datetime.fromisoformat(str(logical).replace("Z", "+00:00")) <= end:
                runs.append(run)
    return runs


def wait_for(dag_id: str, day: date, minutes: float, *, poll_s: float = 15.0,
             listing: Callable[[str, date], list[dict[str, Any]]] = backfill_runs) -> str:
    """Wait until the day's backfill runs of ``dag_id`` have finished: "success", "failed" or "timeout"."""
    deadline = time.monotonic() + minutes * 60
    while True:
        runs = listing(dag_id, day)
        states = {str(r.get("state")) for r in runs}
        if runs and states <= {"success", "failed"}:
            return "failed" if "failed" in states else "success"
        if time.monotonic() >= deadline:
            return "timeout"
        time.sleep(min(poll_s, max(0.1, deadline - time.monotonic())))


def run(args: argparse.Namespace) -> int:
    import sys

    from credit_exchange.standard.pii import safe_text

    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        print(text("replay_bad_day", day=safe_text(args.day)), file=sys.stderr)
        return 2
    known = replayable()
    dags = args.dags or known
    unknown = [d for d in dags if d not in known]
    if unknown:
        print(text("replay_unknown_dag", dag_id=unknown[0], known=", ".join(known)), file=sys.stderr)
        return 2
    if args.wait < 0:
        print(text("replay_bad_wait"), file=sys.stderr)
        return 2
    start, end = window(day)
    status = 0
    for i, dag_id in enumerate(dags):
        try:
            done = subprocess.run(backfill_command(dag_id, day, dry_run=args.dry_run), capture_output=True,
                                  text=True, timeout=600, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            print(text("replay_failed", dag_id=dag_id, status="-", detail=safe_text(f"{type(exc).__name__}: {exc}")),
                  file=sys.stderr)
            return _stopped(dags[i + 1:])
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            print(text("replay_failed", dag_id=dag_id, status=done.returncode,
                       detail=safe_text(lines[-1] if lines else "")), file=sys.stderr)
            if args.dry_run or args.no_wait:
                status = 1
                continue
            return _stopped(dags[i + 1:])
        if args.dry_run:
            print(text("replay_dry_run", dag_id=dag_id, day=day.isoformat()))
            print(done.stdout.rstrip())
            continue
        print(text("replay_started", dag_id=dag_id, day=day.isoformat(), start=start, end=end))
        if args.no_wait or i == len(dags) - 1:
            continue
        print(text("replay_waiting", dag_id=dag_id, minutes=f"{args.wait:g}"), flush=True)
        try:
            outcome = wait_for(dag_id, day, args.wait)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            print(text("replay_wait_failed", dag_id=dag_id, detail=safe_text(f"{type(exc).__name__}: {exc}")),
                  file=sys.stderr)
            return _stopped(dags[i + 1:])
        if outcome != "success":
            code = "replay_run_failed" if outcome == "failed" else "replay_timeout"
            print(text(code, dag_id=dag_id, day=day.isoformat(), minutes=f"{args.wait:g}"), file=sys.stderr)
            return _stopped(dags[i + 1:])
    if not args.dry_run and status == 0:
        print(text("replay_next"))
    return status


def _stopped(not_started: list[str]) -> int:
    import sys

    if not_started:
        print(text("replay_not_started", dags=", ".join(not_started)), file=sys.stderr)
    return 1
