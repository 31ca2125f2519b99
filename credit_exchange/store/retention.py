"""Retention of the hub's store: drop what only the hub's own work needed, once it is old enough.

The rules and their periods are ``config/retention.yaml`` (``store``); the housekeeping DAG
applies them counting back from its run's logical date (``now``), never from the wall clock.
Nothing that traceability or the guarantees need is touched (docs/guarantees.md 3-4): received
files, deliveries, rejects, receipts, records, versions, the outbox, the city platform's state,
list decisions and open alerts are kept for good. What goes:

- the bodies of county batches that were answered (only a ``prepared`` batch is ever resent),
  emptied; the batch row, its SHA-256 and count stay;
- the XML of city files whose receipt came (only a ``prepared`` file is ever uploaded again),
  emptied; the row, its SM3 and count stay;
- derive runs, except the newest (incremental derive starts from it);
- resolved alerts.

Idempotent: a second pass on the same date finds nothing to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from credit_exchange.store.db import Store
from credit_exchange.store.models import Alert, Batch, CityFile, DeriveRun


@dataclass(frozen=True)
class StoreRetention:
    """How many days each rule keeps (``config/retention.yaml``, ``store``)."""

    batch_bodies_days: int = 90
    city_file_bodies_days: int = 90
    derive_runs_days: int = 90
    resolved_alerts_days: int = 365

    @classmethod
    def from_config(cls) -> StoreRetention:
        from credit_exchange import config

        return cls(**config.load("retention")["store"])


@dataclass
class RetentionSummary:
    """What one pass removed (an XCom: counts only)."""

    batch_bodies: int = 0
    city_file_bodies: int = 0
    derive_runs: int = 0
    resolved_alerts: int = 0

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


def apply_store_retention(store: Store, rules: StoreRetention, now: datetime) -> RetentionSummary:
    """Apply ``rules`` as of ``now`` (aware: the run's logical date); one transaction per rule."""
    if now.tzinfo is None:
        raise ValueError("retention needs an aware point in time (the run's logical date)")
    summary = RetentionSummary()

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    with store.session() as s:
        answered = and_(Batch.status != "prepared", func.length(Batch.body_enc) > 0,
                        func.coalesce(Batch.completed_at, Batch.created_at) < before(rules.batch_bodies_days))
        summary.batch_bodies = _rowcount(s.execute(update(Batch).where(answered).values(body_enc=b"").execution_options(synchronize_session=False)))
    with store.session() as s:
        receipted = and_(CityFile.status == "receipted", func.length(CityFile.body) > 0,
                         func.coalesce(CityFile.receipt_at, CityFile.created_at) < before(rules.city_file_bodies_days))
        summary.city_file_bodies = _rowcount(s.execute(update(CityFile).where(receipted).values(body=b"").execution_options(synchronize_session=False)))
    with store.session() as s:
        newest = s.execute(select(func.max(DeriveRun.id))).scalar_one_or_none()
        if newest is not None:
            old_runs = and_(DeriveRun.id != newest, DeriveRun.started_at < before(rules.derive_runs_days))
            summary.derive_runs = _rowcount(s.execute(delete(DeriveRun).where(old_runs).execution_options(synchronize_session=False)))
    with store.session() as s:
        resolved = and_(Alert.resolved_at.is_not(None), Alert.resolved_at < before(rules.resolved_alerts_days))
        summary.resolved_alerts = _rowcount(s.execute(delete(Alert).where(resolved).execution_options(synchronize_session=False)))
    return summary


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
