"""Writing new record versions: the one place that appends to record_versions, moves records
to their newest version, and owes the version to the county platform.

Used by merge (department records) and by the derived records (credit profiles,
red and black list entries). Rows are plain dicts so callers can build them in bulk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from credit_exchange.store import OutboxItem, Record, RecordVersion
from credit_exchange.store.upsert import upsert

# Every record version is owed to the county platform; the city platform's share is
# decided from the records by push_city itself (public types within their windows).
OUTBOX_PLATFORMS = ("county",)

VERSION_KEYS = ("record_id", "department", "record_type", "hub_version", "op", "content_hash", "data_enc",
                "subject_key", "subject_kind", "subject_name", "subject_enc", "delivery_id")


def write_versions(s: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Append each row (keys: VERSION_KEYS) as a new version, make it current, queue it for the platforms.

    Rows of one record must come in version order, each one above the record's current version.
    """
    if not rows:
        return
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
