"""Taking parsed records into the store, whatever feed they came by.

Validates in bulk (the fast path), classifies each record against what was
taken before (accepted, unchanged, stale, rejected: contracts.md 1.5), and
writes deliveries, rejects and the per-record source state in bulk, inside the
caller's transaction. Every feed (files, API pages, PBoC pairs) goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from credit_exchange.intake import receipts

# The per-record work before the store lives apart (no SQLAlchemy) so the pipeline's worker starts fast.
from credit_exchange.intake.prepare import CHUNK, Prepared, chunked, prepare, prepare_safely
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.messages import message
from credit_exchange.standard.records import SourceRecord, record_problem
from credit_exchange.standard.validation import Problem, RecordValidator
from credit_exchange.store import Delivery, Reject, SourceState
from credit_exchange.store.upsert import upsert

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
_SQLITE_DELIVERY_IDS = f"SELECT ordinal, id FROM {_DELIVERIES.name} WHERE file_id = ? AND ordinal BETWEEN ? AND ?"
_SQLITE_STATES = (f"SELECT record_id, dept_version, content_hash, op FROM {_SOURCE_STATE.name} "
                  "WHERE record_id IN ({marks})")
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
            self.take_prepared(prepare_safely(chunk, self.validator))

    def take_prepared(self, chunk: Sequence[Prepared | tuple[Any, ...]]) -> None:
        """Classify and store one chunk of prepared records (``prepare``), in order.

        ``prepare`` makes plain tuples in ``Prepared``'s field order; named tuples are taken too.
        """
        if not chunk:
            return
        dept, s, file_id = self.department, self.s, self.file_id
        state, counts, errors = self._state, self.counts, self.errors
        prefix = f"{dept}:"
        ids = {f"{prefix}{r[2]}:{r[3]}" for r in chunk if r[3]} - state.keys()
        if ids:
            state.update(self._known_states(ids))

        seals = self.vault.sealer(len(chunk))
        rows: list[tuple[Any, ...]] = []
        touched: dict[str, int] = {}  # record id -> index in the chunk of its newest taken delivery
        # (index in the chunk, problems) of every record with something to report.
        reported: list[tuple[int, list[Problem]]] = []
        n_accepted = n_unchanged = n_stale = n_rejected = 0
        for i, (ordinal, position, record_type, dept_record_id, dept_version, op, problems, digest, body) \
                in enumerate(chunk):
            rid = f"{prefix}{record_type}:{dept_record_id}" if dept_record_id else None
            outcome = "rejected"
            if digest is not None and rid is not None:
                prev = state.get(rid)
                if prev is None:
                    outcome = "accepted"
                elif dept_version < prev[0]:
                    outcome = "stale"
                    errors.add(position, dept_record_id, "", "", "stale_version",
                               message("stale_version", version=dept_version, held=prev[0]))
                elif digest == prev[1] and op == prev[2]:
                    outcome = "unchanged"
                elif dept_version == prev[0]:
                    problems = [*problems, record_problem("version_conflict", version=dept_version)]
                else:
                    outcome = "accepted"
                if (outcome == "accepted" or outcome == "unchanged") and (prev is None or dept_version >= prev[0]):
                    state[rid] = (dept_version, digest, op)
                    touched[rid] = i
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
            if problems:
                reported.append((i, problems))
                for p in problems:
                    errors.add(position, dept_record_id, p.label, p.field_code, p.code, p.message)
            keep = body is not None and (outcome == "accepted" or outcome == "rejected")
            rows.append((file_id, ordinal, position, rid, dept, record_type, dept_record_id, dept_version,
                         op, outcome, digest, seals(body) if keep else None, False))
        counts.total += len(chunk)
        counts.accepted += n_accepted
        counts.rejected += n_rejected
        counts.unchanged += n_unchanged
        counts.stale += n_stale

        # Plain executemany (RETURNING would cost a statement per row on SQLite), then one query for the ids.
        first, last = chunk[0][0], chunk[-1][0]
        if self._sqlite is not None:
            s.flush()  # anything the caller added through the ORM goes first, as with Core
            self._sqlite.executemany(_SQLITE_INSERT_DELIVERIES, rows)
            by_ordinal = dict(self._sqlite.execute(_SQLITE_DELIVERY_IDS, (file_id, first, last)))
        else:
            s.execute(insert(_DELIVERIES), [dict(zip(_DELIVERY_COLUMNS, row, strict=True)) for row in rows])
            by_ordinal = dict(s.execute(select(Delivery.ordinal, Delivery.id).where(
                Delivery.file_id == file_id, Delivery.ordinal.between(first, last))).all())
        if reported:
            s.execute(insert(_REJECTS), [
                {"file_id": file_id, "delivery_id": by_ordinal[chunk[i][0]], "position": chunk[i][1],
                 "dept_record_id": chunk[i][3], "field": p.label or None, "field_code": p.field_code or None,
                 "code": p.code, "message": p.message}
                for i, problems in reported for p in problems
            ])
        if touched:
            state_rows = [(rid, *state[rid], by_ordinal[chunk[i][0]]) for rid, i in touched.items()]
            if self._sqlite is not None:
                self._sqlite.executemany(_SQLITE_UPSERT_STATE, state_rows)
            else:
                upsert(s, SourceState, [
                    {"record_id": rid, "dept_version": v, "content_hash": h, "op": o, "delivery_id": did}
                    for rid, v, h, o, did in state_rows
                ], key=["record_id"])
        state.clear()

    def _known_states(self, ids: set[str]) -> dict[str, tuple[int, str, str]]:
        """(department version, content hash, op) of the newest taken delivery of each record id."""
        if self._sqlite is not None:
            found: dict[str, tuple[int, str, str]] = {}
            keys = list(ids)
            # SQLite's default limit of host parameters per statement is 32,766 (999 before 3.32).
            for at in range(0, len(keys), 900):
                part = keys[at:at + 900]
                sql = _SQLITE_STATES.format(marks=",".join("?" * len(part)))
                for rid, version, digest, op in self._sqlite.execute(sql, part):
                    found[rid] = (version, digest, op)
            return found
        return {row[0]: (row[1], row[2], row[3]) for row in self.s.execute(
            select(SourceState.record_id, SourceState.dept_version, SourceState.content_hash,
                   SourceState.op).where(SourceState.record_id.in_(ids)))}
