"""Writing new record versions: the one place that appends to record_versions, moves records
to their newest version, and owes the version to the county platform.

Used by merge (department records) and by the derived records (credit profiles,
red and black list entries). Rows are plain dicts so callers can build them in bulk.

A new version of a department record marks its subject pending for derive (``subjects_pending``),
in the same transaction, and so does the subject the record leaves when its subject key changes:
derive re-decides exactly the marked subjects (and those whose time is due), so a record that
reaches the store without a mark would never be decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from credit_exchange.store import OutboxItem, Record, RecordVersion, SubjectPending
from credit_exchange.store.upsert import upsert

# Every record version is owed to the county platform; the city platform's share is
# decided from the records by push_city itself (public types within their windows).
OUTBOX_PLATFORMS = ("county",)

# The department of the records the hub derives itself (derive/lists.py): they mark no subject.
DERIVED_DEPARTMENT = "hub"

VERSION_KEYS = ("record_id", "department", "record_type", "hub_version", "op", "content_hash", "data_enc",
                "subject_key", "subject_kind", "subject_name", "subject_enc", "delivery_id")


def write_versions(s: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Append each row (keys: VERSION_KEYS) as a new version, make it current, queue it for the platforms.

    Rows of one record must come in version order, each one above the record's current version.
    """
    if not rows:
        return
    _mark_subjects(s, rows, now)
    s.execute(insert(RecordVersion), [
        {"record_id": r["record_id"], "hub_version": r["hub_version"], "op": r["op"],
         "content_hash": r["content_hash"], "data_enc": r["data_enc"], "subject_enc": r["subject_enc"],
         "delivery_id": r["delivery_id"], "created_at": now} for r in rows])
    # One row per record for the upsert (PostgreSQL refuses to touch a row twice in one statement).
    newest = {r["record_id"]: r for r in rows}
    upsert(s, Record, [{k: r[k] for k in VERSION_KEYS if k != "subject_enc"} | {"updated_at": now}
                       for r in newest.values()], key=["record_id"])
    s.execute(insert(OutboxItem), [
        {"platform": p, "record_id": r["record_id"], "hub_version": r["hub_version"], "op": r["op"],
         "status": "pending", "created_at": now, "updated_at": now}
        for r in rows for p in OUTBOX_PLATFORMS])


def _mark_subjects(s: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Mark the subjects of the department rows, and those the records leave, pending for derive."""
    source = [r for r in rows if r["department"] != DERIVED_DEPARTMENT]
    if not source:
        return
    keys = {r["subject_key"] for r in source}
    ids = list({r["record_id"] for r in source})
    for start in range(0, len(ids), 1000):
        keys.update(s.execute(select(Record.subject_key).where(Record.record_id.in_(ids[start:start + 1000]))).scalars())
    marks = [{"subject_key": k, "marked_at": now} for k in sorted(k for k in keys if k is not None)]
    if marks:
        s.execute(insert(SubjectPending), marks)
