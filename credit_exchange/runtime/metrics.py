"""The hub's own numbers, sent through Airflow's metrics (OpenTelemetry with ``[metrics] otel_on``).

One module emits them all, from the counts the core already returns; docs/operations.md
("Metrics") lists them and says how to watch them. Airflow puts its ``otel_prefix`` (``airflow``)
in front: ``qianwei.records.accepted`` arrives as ``airflow.qianwei.records.accepted``.

Attributes are department names from ``config/departments.yaml`` and the two platform names:
never a file name, a record id or anything a department sent.

The client is the Task SDK's (``airflow.sdk.observability.stats``; ``airflow.stats`` is
deprecated in Airflow 3). Each task process exports what it counted when it ends (Airflow
flushes the exporter at exit); with metrics off every call here is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "qianwei"
RECORD_OUTCOMES = ("accepted", "rejected", "unchanged")

# name -> (kind, attribute, meaning): the table docs/operations.md shows.
METRICS: dict[str, tuple[str, str, str]] = {
    f"{PREFIX}.records.accepted": ("counter", "department", "records stored as new or changed"),
    f"{PREFIX}.records.rejected": ("counter", "department", "records refused (a receipt names each)"),
    f"{PREFIX}.records.unchanged": ("counter", "department", "records delivered again with the same content"),
    f"{PREFIX}.batches.sent": ("counter", "platform", "batches (county) / files (city) the platform took"),
    f"{PREFIX}.batches.failed": ("counter", "platform", "batches / files not delivered in a run"),
    f"{PREFIX}.receipts.overdue": ("gauge", "platform", "city files without a receipt after 24 hours"),
    f"{PREFIX}.alerts.open": ("gauge", "", "alerts not resolved"),
}


def _stats() -> Any:
    from airflow.sdk.observability import stats

    return stats


def enabled() -> bool:
    """Whether Airflow sends metrics anywhere (OpenTelemetry, StatsD or Datadog)."""
    from airflow.sdk import conf

    return any(conf.getboolean("metrics", option, fallback=False)
               for option in ("otel_on", "statsd_on", "statsd_datadog_enabled"))


def _count(name: str, value: int, tags: dict[str, str]) -> None:
    # Zero too: a department that sent nothing tonight still has its series.
    try:
        _stats().incr(name, count=max(0, int(value)), tags=tags)
    except Exception:  # noqa: BLE001 - a metric must never fail (or hide the error of) the task that carries it
        log.warning("could not count %s", name, exc_info=True)


def ingested(department: str, counts: Mapping[str, Any]) -> None:
    """Records accepted, rejected and unchanged by one ingest run (its XCom counts)."""
    tags = {"department": department}
    for outcome in RECORD_OUTCOMES:
        _count(f"{PREFIX}.records.{outcome}", int(counts.get(outcome, 0) or 0), tags)


def counted_run(department: str, ingest: Any) -> Any:
    """``ingest.run()``, counting its records whether it ends well or not (what it committed counts)."""
    try:
        return ingest.run()
    finally:
        ingested(department, ingest.summary.totals())


def batches(platform: str, sent: int, failed: int) -> None:
    """Batches (county) or files (city) a push run delivered, and those it could not."""
    tags = {"platform": platform}
    _count(f"{PREFIX}.batches.sent", sent, tags)
    _count(f"{PREFIX}.batches.failed", failed, tags)


def store_gauges(store: Any) -> None:
    """Receipts overdue and alerts open, as the store has them now (every task that opened the store)."""
    from credit_exchange.alerts import open_count
    from credit_exchange.publish.city.push import PLATFORM as CITY
    from credit_exchange.publish.city.push import overdue_receipts
    from credit_exchange.timeutil import now_local

    now = now_local()
    with store.session() as s:
        overdue, alerts_open = overdue_receipts(s, now), open_count(s)
    stats = _stats()
    stats.gauge(f"{PREFIX}.receipts.overdue", overdue, tags={"platform": CITY})
    stats.gauge(f"{PREFIX}.alerts.open", alerts_open)


def report_store_gauges(store: Any) -> None:
    """``store_gauges`` when metrics are on; trouble here never changes a task's outcome."""
    try:
        if enabled():
            store_gauges(store)
    except Exception:  # noqa: BLE001 - a metric must never fail the task that carries it
        log.warning("could not report the hub's gauges", exc_info=True)
