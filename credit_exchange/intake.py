"""Taking parsed records into the store, whatever feed they came by.

Validates in bulk (the fast path), classifies each record against what was
taken before (accepted, unchanged, stale, rejected: contracts.md 1.5), and
writes deliveries, rejects and the per-record source state in bulk, inside the
caller's transaction. Every feed (files, API pages, PBoC pairs) goes through here.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from credit_exchange import receipts
from credit_exchange.crypto import PiiVault
from credit_exchange.messages import message
from credit_exchange.parsers.base import SourceRecord, record_problem

# The per-record work before the store lives apart (no SQLAlchemy) so the pipeline's worker starts fast.
from credit_exchange.pipeline_prepare import CHUNK, Prepared, chunked, prepare
from credit_exchange.store import Delivery, Reject, SourceState
from credit_exchange.store.upsert import upsert
from credit_exchange.validation import Problem, RecordValidator

__all__ = ["CHUNK", "Prepared", "RecordIntake", "chunked", "prepare"]

# Core tables: plain executemany, no ORM bookkeeping on the hot path.
_DELIVERIES = cast(Table, Delivery.__table__)
_REJECTS = cast(Table, Reject.__table__)
_SOURCE_STATE = cast(Table, SourceState.__table__)
_DELIVERY_COLUMNS = ("file_id", "ordinal", "position", "record_id", "department", "record_type", "dept_record_id",
                     "dept_version", "op", "outcome", "content_hash", "data_enc", "merged")
# The same statements SQLAlchemy Core would send, for SQLite's driver directly: executemany of
# tuples skips SQLAlchemy's per-row parameter processing, which costs more than the insert itself.
_SQLITE_INSERT_DELIVERIES = (f"INSERT INTO {_DELIVERIES.name} ({', '.join(_DELIVERY_COLUMNS)}) "
                             f"VALUES ({', '.join('?' * len(_DELIVERY_COLUMNS))})")
_SQLITE_UPSERT_STATE = (f"INSERT INTO {_SOURCE_STATE.name} (record_id, dept_version, content_hash, op, delivery_id) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET "
                        "dept_version = excluded.dept_version, content_hash = excluded.content_hash, "
                        "op = excluded.op, delivery_id = excluded.delivery_id")


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
        self._sqlite: Any = None  # SQLite's DBAPI connection, when the store is SQLite
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            self._sqlite = session.connection().connection.driver_connection

    def record_id(self, r: SourceRecord | Prepared) -> str:
        return f"{self.department}:{r.record_type}:{r.dept_record_id}"

    def take(self, chunk: list[SourceRecord]) -> None:
        """Validate, classify and store one chunk of records."""
        if chunk:
            self.take_prepared(prepare(chunk, self.validator))

    def take_prepared(self, chunk: list[Prepared]) -> None:
        """Classify and store one chunk of prepared records (``prepare``), in order."""
        if not chunk:
            return
        dept, s, file_id = self.department, self.s, self.file_id
        state, counts, errors = self._state, self.counts, self.errors
        prefix = f"{dept}:"
        ids = {f"{prefix}{r.record_type}:{r.dept_record_id}" for r in chunk if r.dept_record_id} - state.keys()
        if ids:
            for row in s.execute(select(SourceState.record_id, SourceState.dept_version, SourceState.content_hash,
                                        SourceState.op).where(SourceState.record_id.in_(ids))):
                state[row[0]] = (row[1], row[2], row[3])

        seal = self.vault.seal
        rows: list[tuple[Any, ...]] = []
        outcomes: list[str] = []
        # Problems found here (version conflicts), by position in the chunk; the rest come prepared.
        extra: dict[int, list[Problem]] = {}
        n_accepted = n_unchanged = n_stale = n_rejected = 0
        for i, r in enumerate(chunk):
            rid = f"{prefix}{r.record_type}:{r.dept_record_id}" if r.dept_record_id else None
            outcome = "rejected"
            digest = r.digest
            if digest is not None and rid is not None:
                version = cast(int, r.dept_version)
                prev = state.get(rid)
                if prev is None:
                    outcome = "accepted"
                elif version < prev[0]:
                    outcome = "stale"
                    errors.add(r.position, r.dept_record_id, "", "", "stale_version",
                               message("stale_version", version=version, held=prev[0]))
                elif digest == prev[1] and r.op == prev[2]:
                    outcome = "unchanged"
                elif version == prev[0]:
                    extra[i] = [record_problem("version_conflict", version=version)]
                else:
                    outcome = "accepted"
                if (outcome == "accepted" or outcome == "unchanged") and (prev is None or version >= prev[0]):
                    state[rid] = (version, digest, cast(str, r.op))
            else:
                digest = None
            if outcome == "accepted":
                n_accepted += 1
            elif outcome == "rejected":
                n_rejected += 1
            elif outcome == "unchanged":
                n_unchanged += 1
            else:
                n_stale += 1
            problems = r.problems if i not in extra else [*r.problems, *extra[i]]
            for p in problems:
                errors.add(r.position, r.dept_record_id, p.label, p.field_code, p.code, p.message)
            body = r.body
            keep = body is not None and (outcome == "accepted" or outcome == "rejected")
            outcomes.append(outcome)
            rows.append((file_id, r.ordinal, r.position, rid, dept, r.record_type, r.dept_record_id, r.dept_version,
                         r.op, outcome, digest, seal(r.record_type, {}, body) if keep else None, False))
        counts.total += len(chunk)
        counts.accepted += n_accepted
        counts.rejected += n_rejected
        counts.unchanged += n_unchanged
        counts.stale += n_stale

        # Plain executemany (RETURNING would cost a statement per row on SQLite), then one query for the ids.
        if self._sqlite is not None:
            s.flush()  # anything the caller added through the ORM goes first, as with Core
            self._sqlite.executemany(_SQLITE_INSERT_DELIVERIES, rows)
        else:
            s.execute(insert(_DELIVERIES), [dict(zip(_DELIVERY_COLUMNS, row, strict=True)) for row in rows])
        first, last = chunk[0].ordinal, chunk[-1].ordinal
        by_ordinal = dict(s.execute(select(Delivery.ordinal, Delivery.id).where(
            Delivery.file_id == file_id, Delivery.ordinal.between(first, last))).tuples().all())
        ids_out = [by_ordinal[r.ordinal] for r in chunk]
        reject_rows = [
            {"file_id": file_id, "delivery_id": ids_out[i], "position": r.position,
             "dept_record_id": r.dept_record_id, "field": p.label or None, "field_code": p.field_code or None,
             "code": p.code, "message": p.message}
            for i, r in enumerate(chunk) if r.problems or i in extra
            for p in (r.problems if i not in extra else [*r.problems, *extra[i]])
        ]
        if reject_rows:
            s.execute(insert(_REJECTS), reject_rows)
        touched: dict[str, int] = {}
        for r, did, outcome in zip(chunk, ids_out, outcomes, strict=True):
            if outcome == "accepted" or outcome == "unchanged":
                touched[f"{prefix}{r.record_type}:{r.dept_record_id}"] = did
        if touched:
            if self._sqlite is not None:
                self._sqlite.executemany(_SQLITE_UPSERT_STATE, [
                    (rid, state[rid][0], state[rid][1], state[rid][2], did) for rid, did in touched.items()])
            else:
                upsert(s, SourceState, [
                    {"record_id": rid, "dept_version": state[rid][0], "content_hash": state[rid][1],
                     "op": state[rid][2], "delivery_id": did} for rid, did in touched.items()
                ], key=["record_id"])
        state.clear()
