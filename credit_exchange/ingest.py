"""Taking files from a department's inbox: claim, stream, validate, store, receipt, archive.

Transport-agnostic: ``inbox`` is any object with the SFTP connector's
methods, so the same code serves every inbox server and is tested against a
real sshd. Each file is one transaction in the store; a crash anywhere leaves
the file in ``processing/`` and the next run takes it up again (see
``_recover``), so nothing is lost and nothing is taken twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from credit_exchange import receipts
from credit_exchange.canonical import EMPTY_HASH, content_hash
from credit_exchange.config import Feed
from credit_exchange.crypto import PiiVault
from credit_exchange.messages import message
from credit_exchange.parsers import FileRejected, SourceRecord, get_parser
from credit_exchange.store import Delivery, Receipt, ReceivedFile, Reject, SourceState, Store
from credit_exchange.store.upsert import upsert
from credit_exchange.timeutil import local, now_local
from credit_exchange.validation import RecordValidator, get_validator

log = logging.getLogger(__name__)

CHUNK = 2000


class Inbox(Protocol):
    def listdir(self, path: str) -> list[Any]: ...
    def stat(self, path: str) -> Any: ...
    def exists(self, path: str) -> bool: ...
    def makedirs(self, path: str) -> None: ...
    def claim(self, src: str, dst: str) -> bool: ...
    def rename(self, src: str, dst: str) -> None: ...
    def open_read(self, path: str) -> BinaryIO: ...
    def upload_atomic(self, src: Any, path: str) -> Any: ...


@dataclass
class FileOutcome:
    name: str
    status: str
    counts: dict[str, int]
    stored_path: str
    receipt_path: str
    error_code: str | None = None


@dataclass
class IngestSummary:
    department: str
    files: list[FileOutcome] = field(default_factory=list)
    in_transit: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out = {"files": len(self.files), "total": 0, "accepted": 0, "rejected": 0, "unchanged": 0, "stale": 0}
        for f in self.files:
            for k, v in f.counts.items():
                out[k] += v
        return out

    def as_xcom(self) -> dict[str, Any]:
        """Counts and names only: XComs never carry record data."""
        return {"department": self.department, **self.totals(),
                "files_quarantined": sum(f.status == "rejected" for f in self.files),
                "in_transit": len(self.in_transit)}


class HashingReader:
    """A read-through stream that hashes and counts what passes, and enforces a size limit."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n if n and n > 0 else 1 << 20)
        self.size += len(data)
        if self.size > self._limit:
            raise FileRejected("file_too_large", size=self.size, limit=self._limit)
        self.sha256.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _chunks(items: Iterable[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class InboxIngest:
    """One run over one department's inbox."""

    def __init__(self, feed: Feed, inbox: Inbox, store: Store, vault: PiiVault, today: date,
                 run_id: str | None = None, validator: RecordValidator | None = None) -> None:
        self.feed = feed
        self.inbox = inbox
        self.store = store
        self.vault = vault
        self.today = today
        self.run_id = run_id
        self.validator = validator or get_validator(today)
        self.parser = get_parser(feed.parser)
        self.summary = IngestSummary(feed.department)

    # -- folders -------------------------------------------------------------------------
    def _dir(self, name: str) -> str:
        return self.feed.folder(name)

    def run(self) -> IngestSummary:
        for name in ("processing", "archive", "quarantine", "receipts"):
            self.inbox.makedirs(self._dir(name))
        self._recover()
        for remote in sorted(self.inbox.listdir(self._dir("inbox")), key=lambda f: f.name):
            if remote.name.endswith(".tmp"):
                # An upload still under way (contracts.md 1.1): left exactly where it is.
                self.summary.in_transit.append(remote.name)
                continue
            if not self.is_complete(remote):
                self.summary.in_transit.append(remote.name)
                continue
            src = f"{self._dir('inbox')}/{remote.name}"
            dst = f"{self._dir('processing')}/{remote.name}"
            if not self.inbox.claim(src, dst):
                log.info("%s: taken by another worker", remote.name)
                continue
            file_id = self._register(remote.name, remote.size)
            self._process(file_id, remote.name, remote.size)
        return self.summary

    def is_complete(self, remote: Any) -> bool:
        """Whether a file in the inbox is fully written (feeds with a quiet period override this)."""
        return True

    def _recover(self) -> None:
        """Finish what a crashed run left in processing/."""
        for remote in sorted(self.inbox.listdir(self._dir("processing")), key=lambda f: f.name):
            with self.store.session() as s:
                row = s.execute(
                    select(ReceivedFile).where(
                        ReceivedFile.department == self.feed.department, ReceivedFile.name == remote.name,
                        ReceivedFile.finished.is_(False)).order_by(ReceivedFile.id.desc())
                ).scalars().first()
            if row is None:
                file_id = self._register(remote.name, remote.size)
                log.warning("%s: found in processing/ without a ledger entry; taking it now", remote.name)
                self._process(file_id, remote.name, remote.size)
            elif row.status == "processing":
                log.warning("%s: an earlier run stopped while reading it; reading it again", remote.name)
                self._process(row.id, remote.name, remote.size)
            else:
                log.warning("%s: an earlier run stored it but did not finish; writing receipt and moving", remote.name)
                self._finish(row.id)

    def _register(self, name: str, size: int | None) -> int:
        with self.store.session() as s:
            row = ReceivedFile(department=self.feed.department, name=name, size=size, status="processing",
                               received_at=now_local(), run_id=self.run_id, finished=False)
            s.add(row)
            s.flush()
            return row.id

    # -- one file ------------------------------------------------------------------------
    def _process(self, file_id: int, name: str, size: int | None) -> None:
        path = f"{self._dir('processing')}/{name}"
        sha: str | None = None
        try:
            if not self.feed.file_pattern.match(name):
                raise FileRejected("file_name", name=name)
            if size is not None and size > self.feed.max_file_bytes:
                raise FileRejected("file_too_large", size=size, limit=self.feed.max_file_bytes)
            with self.inbox.open_read(path) as raw:
                reader = HashingReader(raw, self.feed.max_file_bytes)
                try:
                    with self.store.session() as s:
                        self._take_records(s, file_id, name, reader)
                except FileRejected:
                    # The receipt names the file by its digest even when it was refused early.
                    try:
                        reader.drain()
                        sha = reader.sha256.hexdigest()
                    except FileRejected:
                        sha = None
                    raise
        except FileRejected as exc:
            self._refuse_whole(file_id, name, sha, exc)
        self._finish(file_id)

    def _take_records(self, s: Session, file_id: int, name: str, reader: HashingReader) -> None:
        counts = receipts.Counts()
        errors = receipts.ReceiptErrors()
        state: dict[str, tuple[int, str, str]] = {}
        for chunk in _chunks(self.parser(reader, self.feed, name), CHUNK):  # type: ignore[arg-type]
            self._take_chunk(s, file_id, chunk, state, counts, errors)
        reader.drain()
        if self.feed.reject_threshold.exceeded(counts.rejected, counts.total):
            raise FileRejected("reject_threshold", rejected=counts.rejected, total=counts.total,
                               limit=_describe_threshold(self.feed))
        sha = reader.sha256.hexdigest()
        processed = now_local()
        row = s.get(ReceivedFile, file_id)
        assert row is not None
        receipt = receipts.build(name, sha, local(row.received_at), processed, counts, errors, refused_whole=False)
        s.execute(update(ReceivedFile).where(ReceivedFile.id == file_id).values(
            sha256=sha, size=reader.size, status=receipt["status"], processed_at=processed,
            **counts.as_dict()))
        s.add(Receipt(file_id=file_id, department=self.feed.department, status=receipt["status"],
                      body=receipts.dumps(receipt).decode("utf-8"), created_at=processed))

    def _take_chunk(self, s: Session, file_id: int, chunk: list[SourceRecord],
                    state: dict[str, tuple[int, str, str]], counts: receipts.Counts,
                    errors: receipts.ReceiptErrors) -> None:
        dept = self.feed.department
        # Validate every upsert without structural problems in one call (the fast path).
        to_check = [r for r in chunk if r.op == "upsert" and not r.problems]
        by_type: dict[str, list[SourceRecord]] = {}
        for r in to_check:
            by_type.setdefault(r.record_type, []).append(r)
        for record_type, recs in by_type.items():
            for r, problems in zip(recs, self.validator.check_many(record_type, [r.data for r in recs]), strict=True):
                r.problems.extend(problems)

        ids = {self._record_id(r) for r in chunk if r.dept_record_id} - state.keys()
        if ids:
            for row in s.execute(select(SourceState.record_id, SourceState.dept_version, SourceState.content_hash,
                                        SourceState.op).where(SourceState.record_id.in_(ids))):
                state[row[0]] = (row[1], row[2], row[3])

        rows: list[dict[str, Any]] = []
        for r in chunk:
            counts.total += 1
            rid = self._record_id(r) if r.dept_record_id else None
            outcome, digest = "rejected", None
            if not r.problems and rid is not None and r.dept_version is not None and r.op is not None:
                digest = content_hash(r.data) if r.op == "upsert" else EMPTY_HASH
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
                    r.problems.append(_version_conflict(r.dept_version))
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
                "data_enc": self.vault.seal(r.record_type, r.data) if keep_data else None, "merged": False,
            })
        ids_out = s.execute(insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True), rows).scalars().all()
        reject_rows = [
            {"file_id": file_id, "delivery_id": did, "position": r.position, "dept_record_id": r.dept_record_id,
             "field": p.label or None, "field_code": p.field_code or None, "code": p.code, "message": p.message}
            for r, did in zip(chunk, ids_out, strict=True) for p in r.problems
        ]
        if reject_rows:
            s.execute(insert(Reject), reject_rows)
        touched = {self._record_id(r): did for r, did, row in zip(chunk, ids_out, rows, strict=True)
                   if row["outcome"] in {"accepted", "unchanged"}}
        if touched:
            upsert(s, SourceState, [
                {"record_id": rid, "dept_version": state[rid][0], "content_hash": state[rid][1],
                 "op": state[rid][2], "delivery_id": did} for rid, did in touched.items()
            ], key=["record_id"])

    def _record_id(self, r: SourceRecord) -> str:
        return f"{self.feed.department}:{r.record_type}:{r.dept_record_id}"

    def _refuse_whole(self, file_id: int, name: str, sha: str | None, exc: FileRejected) -> None:
        log.warning("%s: refused whole: %s", name, exc.code)
        processed = now_local()
        with self.store.session() as s:
            row = s.get(ReceivedFile, file_id)
            assert row is not None
            errors = receipts.ReceiptErrors()
            errors.add("file", None, "", "", exc.code, exc.message)
            receipt = receipts.build(name, sha, local(row.received_at), processed, receipts.Counts(), errors,
                                     refused_whole=True)
            row.sha256, row.status, row.processed_at = sha, "rejected", processed
            row.error_code, row.error_message = exc.code, exc.message
            s.add(Reject(file_id=file_id, position="file", code=exc.code, message=exc.message))
            s.add(Receipt(file_id=file_id, department=self.feed.department, status="rejected",
                          body=receipts.dumps(receipt).decode("utf-8"), created_at=processed))

    def _finish(self, file_id: int) -> None:
        """Write the receipt back, move the file to archive or quarantine, mark it finished."""
        with self.store.session() as s:
            row = s.get(ReceivedFile, file_id)
            receipt = s.execute(select(Receipt).where(Receipt.file_id == file_id)).scalar_one()
            assert row is not None
            receipt_path = f"{self._dir('receipts')}/{row.name}.receipt.json"
            self.inbox.upload_atomic(receipt.body.encode("utf-8"), receipt_path)
            if row.status == "rejected":
                folder = self._dir("quarantine")
            else:
                at = local(row.received_at)
                folder = f"{self._dir('archive')}/{at:%Y}/{at:%m}"
            self.inbox.makedirs(folder)
            target = f"{folder}/{row.name}"
            if self.inbox.exists(target):
                target = f"{folder}/{row.name}.{file_id}"
            self.inbox.rename(f"{self._dir('processing')}/{row.name}", target)
            row.stored_path, row.finished = target, True
            receipt.written_to = receipt_path
            self.summary.files.append(FileOutcome(
                name=row.name, status=row.status,
                counts={"total": row.total, "accepted": row.accepted, "rejected": row.rejected,
                        "unchanged": row.unchanged, "stale": row.stale},
                stored_path=target, receipt_path=receipt_path, error_code=row.error_code))
            log.info("%s: %s (%d accepted, %d rejected, %d unchanged, %d stale) -> %s",
                     row.name, row.status, row.accepted, row.rejected, row.unchanged, row.stale, target)


def _version_conflict(version: int) -> Any:
    from credit_exchange.parsers.base import record_problem

    return record_problem("version_conflict", version=version)


def _describe_threshold(feed: Feed) -> str:
    thr = feed.reject_threshold
    parts = []
    if thr.count is not None:
        parts.append(f"{thr.count} 条 (records)")
    if thr.share is not None:
        parts.append(f"{thr.share:.0%}")
    return " / ".join(parts)
