"""``qianwei-hub replay DAY [--dag DAG ...]``: replay a day through Airflow's backfills.

For each DAG (by default every DAG of the night, in the nightly order) it runs Airflow's public
``airflow backfill create`` for that day's window in Asia/Shanghai, with the run conf
``{"replay_date": DAY}`` (the DAGs' ``replay_date`` param, so every run of the backfill works for
that day whatever its logical time) and ``--reprocess-behavior completed`` (a replay runs the day
again even when it ran before). The scheduler then runs the backfill like any run: in the pools,
with the retries and alerts of every run, shown in the UI as run type "backfill". It prints what
it started. Exit status 0 when every backfill was created, 1 when one was not, 2 on wrong usage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
    parser.set_defaults(func=run)


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
    start, end = window(day)
    status = 0
    for dag_id in dags:
        done = subprocess.run(backfill_command(dag_id, day, dry_run=args.dry_run), capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            print(text("replay_failed", dag_id=dag_id, status=done.returncode,
                       detail=safe_text(lines[-1] if lines else "")), file=sys.stderr)
            status = 1
            continue
        if args.dry_run:
            print(text("replay_dry_run", dag_id=dag_id, day=day.isoformat()))
            print(done.stdout.rstrip())
        else:
            print(text("replay_started", dag_id=dag_id, day=day.isoformat(), start=start, end=end))
    if not args.dry_run and status == 0:
        print(text("replay_next"))
    return status
