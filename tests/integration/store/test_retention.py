"""Retention of the hub's store (credit_exchange/store/retention.py), on SQLite and PostgreSQL.

Every time is set by the test: the rows' own times, and the run's logical date the rules count
back from. The boundary is exact (a row a minute inside its period stays), a second pass does
nothing, and on a store filled by a real night nothing that traceability needs is removed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from night_store import fill_like_a_night, read_everything
from sqlalchemy import func, select

from credit_exchange.standard.crypto import PiiVault
from credit_exchange.store import (
    Alert,
    Batch,
    CityFile,
    CityState,
    Delivery,
    DeriveRun,
    OutboxItem,
    Receipt,
    ReceivedFile,
    Record,
    RecordVersion,
    Reject,
    Store,
)
from credit_exchange.store.retention import RetentionSummary, StoreRetention, apply_store_retention
from credit_exchange.timeutil import LOCAL

RUN = datetime(2027, 3, 7, 4, 30, tzinfo=LOCAL)  # the housekeeping run's logical date
RULES = StoreRetention(batch_bodies_days=90, city_file_bodies_days=60, derive_runs_days=30, resolved_alerts_days=365)
JUST = timedelta(minutes=1)


def _batch(s: Any, batch_id: str, status: str, completed: datetime | None, created: datetime) -> None:
    s.add(Batch(batch_id=batch_id, platform="county", status=status, record_count=1, body_sha256="0" * 64,
                body_enc=b"fernet:sealed body", created_at=created, completed_at=completed))


def _city_file(s: Any, name: str, status: str, receipt_at: datetime | None, created: datetime) -> None:
    s.add(CityFile(name=name, file_type="add", record_count=1, sm3="0" * 64, body=b"<xml/>", status=status,
                   created_at=created, receipt_at=receipt_at))


def _derive_run(s: Any, started: datetime) -> None:
    s.add(DeriveRun(run_date=started.date().isoformat(), rules_hash="0" * 64, mode="incremental", reason="changed+due",
                    started_at=started, finished_at=started + JUST))


def _alert(s: Any, subject: str, created: datetime, resolved: datetime | None) -> None:
    s.add(Alert(kind="cycle_late", source="hub", subject=subject, message="m", created_at=created, resolved_at=resolved))


def test_each_rule_removes_exactly_what_is_older_than_its_period(store: Store) -> None:
    with store.session() as s:
        _batch(s, "done-old", "done", RUN - timedelta(days=90) - JUST, RUN - timedelta(days=200))
        _batch(s, "done-inside", "done", RUN - timedelta(days=90) + JUST, RUN - timedelta(days=200))
        _batch(s, "failed-old", "failed", None, RUN - timedelta(days=120))  # no answer time: its creation counts
        _batch(s, "prepared-old", "prepared", None, RUN - timedelta(days=400))  # may still be resent: kept
        _city_file(s, "receipted-old.xml", "receipted", RUN - timedelta(days=60) - JUST, RUN - timedelta(days=70))
        _city_file(s, "receipted-inside.xml", "receipted", RUN - timedelta(days=60) + JUST, RUN - timedelta(days=70))
        _city_file(s, "uploaded-old.xml", "uploaded", None, RUN - timedelta(days=300))  # no receipt yet: kept
        _city_file(s, "prepared-old.xml", "prepared", None, RUN - timedelta(days=300))  # not uploaded yet: kept
        for days in (100, 31, 29):
            _derive_run(s, RUN - timedelta(days=days))
        _alert(s, "resolved-old", RUN - timedelta(days=500), RUN - timedelta(days=365) - JUST)
        _alert(s, "resolved-inside", RUN - timedelta(days=500), RUN - timedelta(days=365) + JUST)
        _alert(s, "open-old", RUN - timedelta(days=900), None)

    summary = apply_store_retention(store, RULES, RUN)
    assert summary == RetentionSummary(batch_bodies=2, city_file_bodies=1, derive_runs=2, resolved_alerts=1)
    with store.session() as s:
        bodies = dict(s.execute(select(Batch.batch_id, Batch.body_enc)).all())
        files = dict(s.execute(select(CityFile.name, CityFile.body)).all())
        runs = s.execute(select(DeriveRun.started_at)).scalars().all()
        alerts = set(s.execute(select(Alert.subject)).scalars())
    assert bodies == {"done-old": b"", "done-inside": b"fernet:sealed body", "failed-old": b"",
                      "prepared-old": b"fernet:sealed body"}  # the rows stay, only old answered bodies go
    assert files == {"receipted-old.xml": b"", "receipted-inside.xml": b"<xml/>", "uploaded-old.xml": b"<xml/>",
                     "prepared-old.xml": b"<xml/>"}
    assert runs == [RUN - timedelta(days=29)]
    assert alerts == {"resolved-inside", "open-old"}
    # Idempotent: the same date again finds nothing.
    assert apply_store_retention(store, RULES, RUN) == RetentionSummary()


def test_the_newest_derive_run_stays_however_old(store: Store) -> None:
    with store.session() as s:
        _derive_run(s, RUN - timedelta(days=400))
        _derive_run(s, RUN - timedelta(days=300))
    assert apply_store_retention(store, RULES, RUN).derive_runs == 1
    with store.session() as s:
        assert s.execute(select(DeriveRun.started_at)).scalars().all() == [RUN - timedelta(days=300)]


def test_the_period_counts_back_from_the_run_date_not_from_the_wall_clock(store: Store) -> None:
    with store.session() as s:
        _alert(s, "resolved", RUN - timedelta(days=400), RUN - timedelta(days=100))
    # A run dated 100 days after the resolution keeps it; one dated 366 days after removes it.
    assert apply_store_retention(store, RULES, RUN).resolved_alerts == 0
    assert apply_store_retention(store, RULES, RUN + timedelta(days=266)).resolved_alerts == 1


def test_on_a_real_night_traceability_survives_any_period(store: Store, inbox: Any, county_client: Any,
                                                        pii_key: str) -> None:
    """A store filled by a real ingest, merge, derive and county push, cleaned as of ten years later."""
    vault = PiiVault(pii_key)
    fill_like_a_night(store, vault, inbox, county_client)
    kept = (ReceivedFile, Delivery, Reject, Receipt, Record, RecordVersion, OutboxItem, CityState)

    def counts() -> dict[str, int]:
        with store.session() as s:
            return {m.__tablename__: s.execute(select(func.count()).select_from(m)).scalar_one() for m in kept}

    before, opened = counts(), read_everything(store, vault)
    assert before["deliveries"] and before["record_versions"] and before["outbox"]
    summary = apply_store_retention(store, RULES, RUN + timedelta(days=3650))
    assert summary.batch_bodies >= 1  # the answered county batches' bodies went
    assert counts() == before
    after = read_everything(store, vault)
    assert {k: v for k, v in after.items() if k != "batches"} == {k: v for k, v in opened.items() if k != "batches"}
    assert set(after["batches"]) == set(opened["batches"])  # the batches are still there, without bodies
