"""What every hub DAG shares: time zone, start date, retries, asset names.

Imported by the DAG files at parse time, so it stays cheap: no I/O, no heavy imports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, task

LOCAL_TZ = "Asia/Shanghai"
START = pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ)
NIGHTLY = "30 1 * * *"  # 01:30 Asia/Shanghai: the nightly full cycle (operations.md)

# Data-aware scheduling: ingests announce new deliveries, merge announces new versions.
DELIVERIES = Asset("qianwei://hub/deliveries")
RECORD_VERSIONS = Asset("qianwei://hub/record-versions")

def alert_on_failure(context: dict[str, Any]) -> None:
    """on_failure_callback of every task: the failure becomes an alert (imported lazily: parse stays cheap)."""
    from credit_exchange.alerts import on_task_failure

    on_task_failure(context)


NETWORK_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "on_failure_callback": alert_on_failure,
}
# Tasks without network retries still alert when they fail.
ALERTING = {"on_failure_callback": alert_on_failure}

# The pushes follow merge (record versions) and also run nightly after the cycle, so a record an
# admin re-queued on the Exchange page goes out even on a night without new versions.
PUSH_CATCH_UP = "30 3 * * *"


def versions_or_nightly() -> AssetOrTimeSchedule:
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(PUSH_CATCH_UP, timezone=LOCAL_TZ),
                               assets=[RECORD_VERSIONS])


def inbox_asset(department: str) -> Asset:
    """Emitted by the office-hours watcher when files wait in a department's inbox."""
    return Asset(f"qianwei://inbox/{department}")


def nightly_or_inbox(department: str) -> AssetOrTimeSchedule:
    """The nightly cycle, and also whenever the watcher sees files waiting (operations.md: within 15 minutes)."""
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(NIGHTLY, timezone=LOCAL_TZ),
                               assets=[inbox_asset(department)])


# What every DAG whose tasks reach the network passes to @dag besides its id, schedule, docs and tags.
NETWORK_DAG_ARGS: dict[str, Any] = {"start_date": START, "catchup": False, "max_active_runs": 1,
                                   "default_args": NETWORK_RETRIES}


def ingest_tasks(take: Callable[..., dict[str, Any]]) -> None:
    """The shape every ingest DAG shares, built inside its @dag function:
    take the feed → any_new_records → announce_deliveries.

    ``take`` is the DAG file's task body (its name is the task id); the short circuit skips the
    announcement, and so merge_credit, when nothing new was accepted.
    """

    @task.short_circuit(task_id="any_new_records")
    def any_new(summary: dict[str, Any]) -> bool:
        # accepted_in_run: what an earlier, failed try of this run already committed (API pulls).
        return summary["accepted"] > 0 or summary.get("accepted_in_run", 0) > 0

    @task(task_id="announce_deliveries", outlets=[DELIVERIES])
    def announce() -> None:
        """Emits the deliveries asset so that merge_credit runs."""

    any_new(task(take)()) >> announce()  # type: ignore[arg-type]  # an XComArg at authoring time
