"""Local time of the county (Asia/Shanghai) and the run date of a DAG run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


def now_local() -> datetime:
    return datetime.now(UTC).astimezone(LOCAL)


def local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL)


def run_date(context: dict[str, Any]) -> date:
    """The run date: the DAG run's logical date in Asia/Shanghai (its run_after when it has none)."""
    dt = context.get("logical_date")
    if dt is None:
        dag_run = context.get("dag_run")
        dt = getattr(dag_run, "run_after", None) or now_local()
    return local(dt).date()
