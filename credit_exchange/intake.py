"""Taking parsed records into the store, whatever feed they came by.

Validates in bulk (the fast path), classifies each record against what was
taken before (accepted, unchanged, stale, rejected: contracts.md 1.5), and
writes deliveries, rejects and the per-record source state in bulk, inside the
caller's transaction. Every feed (files, API pages, PBoC pairs) goes through here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from credit_exchange import receipts
from credit_exchange.canonical import EMPTY_HASH, canonical_json
from credit_exchange.crypto import PiiVault
from credit_exchange.messages import message
from credit_exchange.parsers.base import SourceRecord, record_problem
from credit_exchange.store import Delivery, Reject, SourceState
from credit_exchange.store.upsert import upsert
from credit_exchange.validation import RecordValidator

CHUNK = 2000
# Core tables: plain executemany, no ORM bookkeeping on the hot path.
_DELIVERIES = cast(Table, Delivery.__table__)
_REJECTS = cast(Table, Reject.__table__)


def chunked(items: Iterable[SourceRecord], size: int = CHUNK) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class RecordIntake:
    """Takes the records of one received unit (a file, an API pull, a PBoC pair)."""

    def __init__(self, session: Session, department: str, file_id: int, vault: PiiVault,
                 validator: RecordValidator) -> None:
        self.s = session
        self.department = department
        self.file_id = file_id
        self.vault = vault
        self.validator = validator
        self.counts = receipts.Counts()
        self.errors = receipts.ReceiptErrors()
        # record id -> (department version, content hash, op) of the newest taken delivery, for the
        # chunk at hand; written to source_state at the end of each chunk and then forgotten, so
        # memory does not grow with the file (a later chunk reads it back, in this transaction).
        self._state: dict[str, tuple[int, str, str]] = {}

    def record_id(self, r: SourceRecord) -> str:
        return f"{self.department}:{r.record_type}:{r.dept_record_id}"

    def take(self, chunk: list[SourceRecord]) -> None:
        """Validate, classify and store one chunk of records."""
        dept, s, file_id = self.department, self.s, self.file_id
        state, counts, errors = self._state, self.counts, self.errors
        # Validate every upsert without structural problems in one call (the fast path).
        to_check = [r for r in chunk if r.op == "upsert" and not r.problems]
        by_type: dict[str, list[SourceRecord]] = {}
        for r in to_check:
            by_type.setdefault(r.record_type, []).append(r)
        for record_type, recs in by_type.items():
            for r, problems in zip(recs, self.validator.check_many(record_type, [r.data for r in recs]), strict=True):
                r.problems.extend(problems)

        ids = {self.record_id(r) for r in chunk if r.dept_record_id} - state.keys()
        if ids:
            for row in s.execute(select(SourceState.record_id, SourceState.dept_version, SourceState.content_hash,
                                        SourceState.op).where(SourceState.record_id.in_(ids))):
                state[row[0]] = (row[1], row[2], row[3])

        rows: list[dict[str, Any]] = []
        for r in chunk:
            counts.total += 1
            rid = self.record_id(r) if r.dept_record_id else None
            outcome, digest, canonical = "rejected", None, None
            if not r.problems and rid is not None and r.dept_version is not None and r.op is not None:
                if r.op == "upsert":
                    canonical = canonical_json(r.data)
                    digest = hashlib.sha256(canonical).hexdigest()
                else:
                    canonical, digest = None, EMPTY_HASH
                prev = state.get(rid)
                if prev is None:
                    outcome = "accepted"
                elif r.dept_version < prev[0]:
                    outcome = "stale"
                    errors.add(r.position, r.dept_record_id, "", "", "stale_version",
                               message("stale_version", version=r.dept_version, held=prev[0]))
                elif (digest, r.op) == (prev[1], prev[2]):
                    outcome = "unchanged"
                elif r.dept_version == prev[0]:
                    r.problems.append(record_problem("version_conflict", version=r.dept_version))
                else:
                    outcome = "accepted"
                if outcome in {"accepted", "unchanged"} and (prev is None or r.dept_version >= prev[0]):
                    state[rid] = (r.dept_version, digest, r.op)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            for p in r.problems:
                errors.add(r.position, r.dept_record_id, p.label, p.field_code, p.code, p.message)
            keep_data = outcome in {"accepted", "rejected"} and r.data
            rows.append({
                "file_id": file_id, "ordinal": r.ordinal, "position": r.position, "record_id": rid,
                "department": dept, "record_type": r.record_type, "dept_record_id": r.dept_record_id,
                "dept_version": r.dept_version, "op": r.op, "outcome": outcome, "content_hash": digest,
                "data_enc": self.vault.seal(r.record_type, r.data, canonical) if keep_data else None,
                "merged": False,
            })
        # Plain executemany (RETURNING would cost a statement per row on SQLite), then one query for the ids.
        s.execute(insert(_DELIVERIES), rows)
        first, last = chunk[0].ordinal, chunk[-1].ordinal
        by_ordinal = dict(s.execute(select(Delivery.ordinal, Delivery.id).where(
            Delivery.file_id == file_id, Delivery.ordinal.between(first, last))).tuples().all())
        ids_out = [by_ordinal[r.ordinal] for r in chunk]
        reject_rows = [
            {"file_id": file_id, "delivery_id": did, "position": r.position, "dept_record_id": r.dept_record_id,
             "field": p.label or None, "field_code": p.field_code or None, "code": p.code, "message": p.message}
            for r, did in zip(chunk, ids_out, strict=True) for p in r.problems
        ]
        if reject_rows:
            s.execute(insert(_REJECTS), reject_rows)
        touched = {self.record_id(r): did for r, did, row in zip(chunk, ids_out, rows, strict=True)
                   if row["outcome"] in {"accepted", "unchanged"}}
        if touched:
            upsert(s, SourceState, [
                {"record_id": rid, "dept_version": state[rid][0], "content_hash": state[rid][1],
                 "op": state[rid][2], "delivery_id": did} for rid, did in touched.items()
            ], key=["record_id"])
        state.clear()
