"""Migration 0004 on a store that derive has run on before it (SQLite and PostgreSQL).

The store is built at the head, derived, then taken back to 0004 (what a store of the previous
release holds: records, derived records and list_state, none of the incremental bookkeeping) and
upgraded again. The first derive after the upgrade must decide every subject, change nothing that
was right, and leave the store ready for incremental runs.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from alembic import command
from sqlalchemy import inspect, select

from credit_exchange.derive.lists import derive
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.store import DeriveRun, Store, SubjectPending, SubjectReview
from credit_exchange.store.db import _alembic_config, current_revision, head_revision, migrate
from tests.integration.lists.lists_helpers import Hub, business, org

RUN = date(2026, 11, 29)
DAY = timedelta(days=1)
NEW_TABLES = {"subjects_pending", "subject_reviews", "derive_runs"}


def _to_revision(store: Store, revision: str) -> None:
    cfg: Any = _alembic_config()
    with store.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_an_upgraded_store_derives_everything_once_then_incrementally(store: Store, vault: PiiVault) -> None:
    hub = Hub(store, vault)
    black, red, plain = org(1), business(2), org(3)
    hub.put("fraud_case", "AJ-1", black, at=RUN, serious=True, filed_date="2026-03-01")
    hub.put("online_shop_registration", "WD-2", red, at=RUN)
    hub.put("administrative_license", "XK-2", red, at=RUN, status="有效", valid_from="2025-01-01",
            valid_to="2099-12-31")
    hub.put("courier_rating", "KD-3", plain, at=RUN, rating_year=2025, grade="B")
    before = derive(store, vault, RUN)
    assert before.by_status == {"black": 1, "red": 1, "none": 1}
    versions = hub.version_count()

    _to_revision(store, "0004")  # the previous release's store
    assert current_revision(store.engine) == "0004" and not NEW_TABLES & _tables(store)
    migrate(store.engine)
    assert current_revision(store.engine) == head_revision() and NEW_TABLES <= _tables(store)

    first = derive(store, vault, RUN)
    assert (first.mode, first.reason, first.subjects, first.full) == ("full", "first", 3, 3)
    assert first.new_versions == 0 and hub.version_count() == versions  # what was derived stays as it was
    with store.session() as s:
        reviews = {r.subject_key: r.review_on for r in s.execute(select(SubjectReview)).scalars()}
        assert reviews == {black.key_hint: "2029-03-02", red.key_hint: "2026-11-30", plain.key_hint: None}
        assert s.execute(select(SubjectPending.id)).all() == []
        assert [(r.mode, r.run_date) for r in s.execute(select(DeriveRun).order_by(DeriveRun.id)).scalars()] == [
            ("full", RUN.isoformat())]

    hub.put("courier_rating", "KD-3", plain, at=RUN + DAY, rating_year=2025, grade="D")
    nxt = derive(store, vault, RUN + DAY)
    assert (nxt.mode, nxt.changed, nxt.due, nxt.subjects) == ("incremental", 1, 1, 2)
    assert nxt.by_status == {"black": 1, "red": 1}
