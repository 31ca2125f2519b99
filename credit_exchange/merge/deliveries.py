"""Merging accepted deliveries into versioned records (data-standard.md 2).

A record's hub version grows by one each time its canonical content (after the
hub's enrichment) changes; a source delete becomes a version with op
``delete``. Every new version is owed to the county platform (the outbox).
Runs in chunks, each one transaction, so a crash leaves nothing half merged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from credit_exchange.merge.versioning import write_versions
from credit_exchange.standard import publication
from credit_exchange.standard.canonical import EMPTY_HASH, content_hash
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.subjects import subject_of
from credit_exchange.store import Delivery, Record, RecordVersion, Store
from credit_exchange.timeutil import now_local

log = logging.getLogger(__name__)
CHUNK = 2000


@dataclass
class MergeSummary:
    deliveries: int = 0
    new_versions: int = 0
    unchanged: int = 0
    deletes: int = 0

    def as_xcom(self) -> dict[str, int]:
        return {"deliveries": self.deliveries, "new_versions": self.new_versions,
                "unchanged": self.unchanged, "deletes": self.deletes}


def merge_pending(store: Store, vault: PiiVault) -> MergeSummary:
    summary = MergeSummary()
    while True:
        with store.session() as s:
            batch = s.execute(
                select(Delivery).where(Delivery.outcome == "accepted", Delivery.merged.is_(False))
                .order_by(Delivery.id).limit(CHUNK)
            ).scalars().all()
            if not batch:
                break
            ids = {d.record_id for d in batch}
            current: dict[str, Any] = {
                r.record_id: r for r in s.execute(select(Record).where(Record.record_id.in_(ids))).scalars()
            }
            now = now_local()
            versions: list[dict[str, Any]] = []
            records: dict[str, dict[str, Any]] = {}
            for d in batch:
                summary.deliveries += 1
                rid = d.record_id
                assert rid is not None  # accepted deliveries always carry their record id
                cur = records.get(rid) or _as_row(current.get(rid))
                if d.op == "upsert":
                    data = publication.enrich(d.record_type, vault.open(d.record_type, d.data_enc or "{}"))
                    digest = content_hash(data)
                    if cur and cur["op"] == "upsert" and cur["content_hash"] == digest:
                        summary.unchanged += 1
                        continue
                    subject = subject_of(d.record_type, data, vault)
                    who = (subject.key, subject.kind, subject.name)
                    sealed_subject = subject.seal(vault)
                    sealed = vault.seal(d.record_type, data)
                else:
                    if cur is None or cur["op"] == "delete":
                        summary.unchanged += 1
                        continue
                    # Deletes are rare: their subject is looked up only here.
                    sealed_subject = cur.get("subject_enc") or _latest_subject(s, rid)
                    who = (cur["subject_key"], cur["subject_kind"], cur["subject_name"])
                    digest, sealed = EMPTY_HASH, "{}"
                    summary.deletes += 1
                version = (cur["hub_version"] + 1) if cur else 1
                row = {
                    "record_id": rid, "department": d.department, "record_type": d.record_type,
                    "hub_version": version, "op": d.op, "content_hash": digest, "data_enc": sealed,
                    "subject_key": who[0], "subject_kind": who[1], "subject_name": who[2],
                    "delivery_id": d.id, "subject_enc": sealed_subject,
                }
                records[rid] = row
                versions.append(row)
                summary.new_versions += 1
            write_versions(s, versions, now)
            s.execute(update(Delivery).where(Delivery.id.in_([d.id for d in batch])).values(merged=True))
    log.info("merged %d deliveries: %d new versions (%d deletes), %d unchanged",
             summary.deliveries, summary.new_versions, summary.deletes, summary.unchanged)
    return summary


def _as_row(record: Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"hub_version": record.hub_version, "op": record.op, "content_hash": record.content_hash,
            "subject_key": record.subject_key, "subject_kind": record.subject_kind,
            "subject_name": record.subject_name}


def _latest_subject(s: Session, record_id: str) -> str:
    return s.execute(
        select(RecordVersion.subject_enc).where(RecordVersion.record_id == record_id)
        .order_by(RecordVersion.hub_version.desc()).limit(1)
    ).scalar_one()
