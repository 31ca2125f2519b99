"""Pushing owed record versions to the county platform, exactly once in effect (contracts.md 2.1).

The order of events is what makes it safe:
1. a batch is built, given an id, and stored (its body encrypted, its outbox
   rows marked ``batched``) in one transaction, BEFORE anything is sent;
2. the stored bytes are sent;
3. the answer is recorded in one transaction.
A crash between 2 and 3 leaves the batch ``prepared``: the next run sends the
very same bytes with the same batch id, and the platform answers with the
results it stored the first time. Nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select, update

from credit_exchange.alerts import raise_alert
from credit_exchange.standard.canonical import canonical_json
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.subjects import Subject
from credit_exchange.store import (
    Alert,
    Batch,
    Delivery,
    OutboxItem,
    ReceivedFile,
    Record,
    RecordVersion,
    Store,
    Watermark,
)
from credit_exchange.store.upsert import upsert
from credit_exchange.timeutil import local, now_local
from hub_messages import text

log = logging.getLogger(__name__)

PLATFORM = "county"
SOURCE = "qianwei-exchange-hub"
MAX_RECORDS = 500
MAX_BYTES = 4 * 1024 * 1024


class CountyClient(Protocol):
    def post_batch(self, body: bytes) -> dict[str, Any]: ...


class PushIncomplete(RuntimeError):
    """Some batches could not be delivered in this run; they stay queued and are resent next run."""


@dataclass
class PushSummary:
    batches_sent: int = 0
    batches_resent: int = 0
    records: dict[str, int] = field(default_factory=dict)
    failed_batches: list[str] = field(default_factory=list)
    # batches the platform answered in this run (new and resent; the qianwei.batches.sent metric)
    batches_answered: int = 0

    def count(self, status: str) -> None:
        self.records[status] = self.records.get(status, 0) + 1

    def as_xcom(self) -> dict[str, Any]:
        return {"batches_sent": self.batches_sent, "batches_resent": self.batches_resent,
                "records": dict(self.records), "failed_batches": list(self.failed_batches)}


class CountyPusher:
    def __init__(self, store: Store, vault: PiiVault, client: CountyClient, *,
                 max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES,
                 dag_id: str | None = None, run_id: str | None = None) -> None:
        self.store = store
        self.dag_id, self.run_id = dag_id, run_id  # the Airflow run, kept with each batch it prepares
        self.vault = vault
        self.client = client
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.summary = PushSummary()
        self._after_id = 0  # the keyset of this run's batches: the last outbox id taken

    def run(self) -> PushSummary:
        with self.store.session() as s:
            unfinished = s.execute(select(Batch.batch_id).where(
                Batch.platform == PLATFORM, Batch.status == "prepared").order_by(Batch.created_at)).scalars().all()
        for batch_id in unfinished:
            log.info("batch %s: sent earlier without a recorded answer; sending the same bytes again", batch_id)
            self.summary.batches_resent += 1
            self._send(batch_id)
        # Once per run, not per batch: each pass reads every owed version (a million, some nights).
        with self.store.session() as s:
            self._supersede(s)
        self._after_id = 0
        while (new_batch := self._prepare()) is not None:
            self.summary.batches_sent += 1
            self._send(new_batch)
        if self.summary.failed_batches:
            failed = ", ".join(self.summary.failed_batches)
            raise PushIncomplete(text("county_batches_undelivered") + f": {failed}")
        return self.summary

    # -- building -----------------------------------------------------------------------
    def _prepare(self) -> str | None:
        """Build, store and return the next batch of owed versions (None when nothing is owed)."""
        with self.store.session() as s:
            # By keyset (index platform, status, id): each batch reads only its own rows. Within a
            # run no owed version goes back to pending behind the key (a refused batch's records
            # turn failed); what a merge adds meanwhile has higher ids.
            items = s.execute(select(OutboxItem).where(
                OutboxItem.platform == PLATFORM, OutboxItem.status == "pending", OutboxItem.id > self._after_id)
                .order_by(OutboxItem.id).limit(self.max_records)).scalars().all()
            if not items:
                return None
            records = self._payloads(s, items)
            batch_id = f"qwhub-county-{uuid.uuid4().hex}"
            while True:
                body = canonical_json({"batch_id": batch_id, "source": SOURCE, "records": records})
                if len(body) <= self.max_bytes or len(records) == 1:
                    break
                # Too large: leave the tail for the next batch.
                records = records[: max(1, len(records) * self.max_bytes // len(body) - 1)]
            taken = items[: len(records)]
            self._after_id = taken[-1].id
            now = now_local()
            s.add(Batch(batch_id=batch_id, platform=PLATFORM, status="prepared", record_count=len(records),
                        body_sha256=hashlib.sha256(body).hexdigest(), body_enc=self.vault.encrypt_bytes(body),
                        attempts=0, created_at=now, dag_id=self.dag_id, run_id=self.run_id))
            s.execute(update(OutboxItem).where(OutboxItem.id.in_([i.id for i in taken]))
                      .values(status="batched", batch_id=batch_id, updated_at=now))
            log.info("batch %s: %d records prepared (%d bytes)", batch_id, len(records), len(body))
            return batch_id

    def _supersede(self, s: Any) -> None:
        """Only the newest owed version of a record is sent; older pending ones are superseded.

        Two plain steps instead of one correlated UPDATE, whose plan on stale statistics was a
        nested loop over every pending row for every pending row: the records owed more than once
        (one grouped scan), then their versions by the (platform, record_id, hub_version) key.
        """
        owed = (OutboxItem.platform == PLATFORM, OutboxItem.status == "pending")
        twice = s.execute(select(OutboxItem.record_id).where(*owed).group_by(OutboxItem.record_id)
                          .having(func.count() > 1)).scalars().all()
        now = now_local()
        for start in range(0, len(twice), 1000):
            chunk = twice[start:start + 1000]
            newest: dict[str, int] = {}
            rows = s.execute(select(OutboxItem.id, OutboxItem.record_id, OutboxItem.hub_version)
                             .where(*owed, OutboxItem.record_id.in_(chunk))).all()
            for _, record_id, version in rows:
                newest[record_id] = max(version, newest.get(record_id, version))
            older = [i for i, record_id, version in rows if version < newest[record_id]]
            if older:
                s.execute(update(OutboxItem).where(OutboxItem.id.in_(older))
                          .values(status="superseded", updated_at=now).execution_options(synchronize_session=False))

    def _payloads(self, s: Any, items: Sequence[OutboxItem]) -> list[dict[str, Any]]:
        keys = {(i.record_id, i.hub_version) for i in items}
        rows = s.execute(
            select(RecordVersion, Record.record_type, Delivery, ReceivedFile)
            .join(Record, Record.record_id == RecordVersion.record_id)
            .outerjoin(Delivery, Delivery.id == RecordVersion.delivery_id)
            .outerjoin(ReceivedFile, ReceivedFile.id == Delivery.file_id)
            .where(RecordVersion.record_id.in_({k[0] for k in keys}))
        ).all()
        found = {(v.record_id, v.hub_version): (v, rt, d, f) for v, rt, d, f in rows}
        out = []
        for item in items:
            v, record_type, d, f = found[(item.record_id, item.hub_version)]
            if d is not None:
                lineage = {"department": d.department, "file": f.name, "position": d.position,
                           "file_sha256": f.sha256,
                           "received_at": local(f.received_at).isoformat(timespec="seconds")}
            else:  # derived by the hub (credit profiles, list entries)
                lineage = {"department": "hub", "derived_at": local(v.created_at).isoformat(timespec="seconds")}
            out.append({
                "record_id": v.record_id, "record_type": record_type, "op": v.op,
                "version": v.hub_version, "content_hash": v.content_hash,
                "subject": Subject.open(v.subject_enc, self.vault).for_county(),
                "data": self.vault.open(record_type, v.data_enc), "lineage": lineage,
            })
        return out

    # -- sending ------------------------------------------------------------------------
    def _send(self, batch_id: str) -> None:
        from connectors.http_api import PermanentHttpError, TransientHttpError

        with self.store.session() as s:
            batch = s.get(Batch, batch_id)
            assert batch is not None
            batch.attempts += 1
            body = self.vault.decrypt_bytes(batch.body_enc)
        try:
            answer = self.client.post_batch(body)
        except TransientHttpError as exc:
            self._note_failure(batch_id, text("county_batch_transient") + f": {exc}")
            return
        except PermanentHttpError as exc:
            if exc.status in (401, 403):
                raise  # our credentials, not this batch: the task fails at once and the batch stays prepared
            # The same bytes would be refused again: the batch fails, its records go back to the queue
            # as failed so an admin sees them.
            self._note_failure(batch_id, text("county_batch_refused") + f": {exc}", final=True)
            return
        self._record(batch_id, answer)

    def _note_failure(self, batch_id: str, reason: str, final: bool = False) -> None:
        log.error("batch %s: %s", batch_id, reason)
        self.summary.failed_batches.append(batch_id)
        with self.store.session() as s:
            values: dict[str, Any] = {"last_error": reason}
            if final:
                values["status"] = "failed"
                s.execute(update(OutboxItem).where(OutboxItem.batch_id == batch_id).values(
                    status="failed", result="rejected", result_code="batch_refused", result_message=reason,
                    updated_at=now_local()))
            s.execute(update(Batch).where(Batch.batch_id == batch_id).values(**values))

    def _record(self, batch_id: str, answer: dict[str, Any]) -> None:
        now = now_local()
        with self.store.session() as s:
            items = {i.record_id: i for i in s.execute(
                select(OutboxItem).where(OutboxItem.batch_id == batch_id)).scalars()}
            for result in answer.get("results", []):
                item = items.get(result.get("record_id"))
                if item is None:
                    continue
                status = result.get("status")
                self.summary.count(str(status))
                item.result, item.result_code = status, result.get("code")
                item.result_message = result.get("message")
                item.status = "done" if status in {"accepted", "duplicate", "stale"} else "failed"
                item.updated_at = now
                if item.status == "failed":
                    log.warning("record %s v%d refused by the county platform: %s",
                                item.record_id, item.hub_version, result.get("code"))
            s.execute(update(Batch).where(Batch.batch_id == batch_id).values(
                status="done", completed_at=now, last_error=None))
        self.summary.batches_answered += 1
        log.info("batch %s: answered (%s)", batch_id, json.dumps(self.summary.records, ensure_ascii=False))


@dataclass
class ReconcileSummary:
    checked: int = 0
    in_step: int = 0
    requeued: int = 0
    platform_ahead: int = 0

    def as_xcom(self) -> dict[str, int]:
        return {"checked": self.checked, "in_step": self.in_step, "requeued": self.requeued,
                "platform_ahead": self.platform_ahead}


class RecordReader(Protocol):
    def get_record(self, record_id: str) -> dict[str, Any] | None: ...


RECONCILE_CURSOR = "reconcile:county"


def reconcile(store: Store, client: RecordReader, *, limit: int = 2000) -> ReconcileSummary:
    """Compare what the county platform holds with the hub (GET /api/v1/records/{id}) and repair drift.

    Walks the records round-robin, ``limit`` a run (a cursor in the watermarks table), so a
    large store is covered over several nights without a burst of requests. A record the
    platform lacks or holds at an older version or another content hash is queued again
    (its newest version's outbox entry goes back to ``pending``); one the platform holds at a
    NEWER version than the hub raises an alert, since the hub cannot repair that by itself.
    """
    summary = ReconcileSummary()
    with store.session() as s:
        cursor = s.get(Watermark, RECONCILE_CURSOR)
        after = cursor.value if cursor is not None else ""
        rows = list(s.execute(select(Record.record_id, Record.hub_version, Record.content_hash, Record.op)
                              .where(Record.record_id > after).order_by(Record.record_id).limit(limit)).all())
        if len(rows) < limit:  # wrap around for the next run
            rows += s.execute(select(Record.record_id, Record.hub_version, Record.content_hash, Record.op)
                              .where(Record.record_id <= after).order_by(Record.record_id)
                              .limit(limit - len(rows))).all()
        # Versions still owed (pending or in a batch) are not drift: the push will deliver them.
        owed = set(s.execute(select(OutboxItem.record_id).where(
            OutboxItem.platform == PLATFORM, OutboxItem.status.in_(("pending", "batched")))).scalars())
    last = after
    in_step: list[str] = []
    for record_id, version, digest, op in rows:
        last = record_id
        if record_id in owed:
            continue
        summary.checked += 1
        held = client.get_record(record_id)
        if held is not None and held.get("version") == version and held.get("content_hash") == digest:
            summary.in_step += 1
            in_step.append(record_id)
            continue
        with store.session() as s:
            if held is not None and int(held.get("version") or 0) > version:
                summary.platform_ahead += 1
                raise_alert(s, "county_version_ahead", "county", record_id,
                            text("county_version_ahead", held=held.get("version"), version=version))
                continue
            if held is None and op == "delete":
                summary.in_step += 1  # never held, or already gone: a delete needs nothing more
                continue
            summary.requeued += 1
            s.execute(update(OutboxItem).where(
                OutboxItem.platform == PLATFORM, OutboxItem.record_id == record_id,
                OutboxItem.hub_version == version).values(status="pending", batch_id=None, result=None,
                                                          updated_at=now_local()))
            log.warning("record %s v%d: the county platform %s; queued again", record_id, version,
                        "does not hold it" if held is None else f"holds v{held.get('version')}")
    if rows:
        with store.session() as s:
            upsert(s, Watermark, [{"key": RECONCILE_CURSOR, "value": last, "updated_at": now_local()}], key=["key"])
            # A record the platform held ahead of the hub and that is in step again: its alert is over.
            s.execute(update(Alert).where(Alert.kind == "county_version_ahead", Alert.resolved_at.is_(None),
                                          Alert.subject.in_(in_step)).values(resolved_at=now_local()))
    return summary
