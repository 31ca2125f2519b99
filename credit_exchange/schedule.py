"""What every hub DAG shares: time zone, start date, retries, asset names.

Imported by the DAG files at parse time, so it stays cheap: no I/O, no heavy imports.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

LOCAL_TZ = "Asia/Shanghai"
START = pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ)
NIGHTLY = "30 1 * * *"  # 01:30 Asia/Shanghai: the nightly full cycle (operations.md)

# Data-aware scheduling: ingests announce new deliveries, merge announces new versions.
DELIVERIES = Asset("qianwei://hub/deliveries")
RECORD_VERSIONS = Asset("qianwei://hub/record-versions")

NETWORK_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
}


def inbox_asset(department: str) -> Asset:
    """Emitted by the office-hours watcher when files wait in a department's inbox."""
    return Asset(f"qianwei://inbox/{department}")


def nightly_or_inbox(department: str) -> AssetOrTimeSchedule:
    """The nightly cycle, and also whenever the watcher sees files waiting (operations.md: within 15 minutes)."""
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(NIGHTLY, timezone=LOCAL_TZ),
                               assets=[inbox_asset(department)])
