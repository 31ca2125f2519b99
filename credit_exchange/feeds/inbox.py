"""Taking files from a department's inbox: claim, stream, validate, store, receipt, archive.

Transport-agnostic: ``inbox`` is any object with the SFTP connector's
methods, so the same code serves every inbox server and is tested against a
real sshd. Each file is one transaction in the store; a crash anywhere leaves
the file in ``processing/`` and the next run takes it up again (see
``_recover``), so nothing is lost and nothing is taken twice.

Files still in transit are left exactly where they are (operations.md "Inbox
handling"): ``.tmp`` uploads, and, for a feed with ``quiet_period_seconds``
(the police, whose client has no upload protocol: contracts.md 1.2), files
whose size or modification time changed within the quiet period. Ages are
measured on the server's clock, never the worker's (see ``server_now``). A
file that stays in transit longer than the feed's ``stuck_after_days`` raises
one ``inbox_stuck`` alert.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.sftp import TargetExists
from credit_exchange import alerts
from credit_exchange.config import Feed
from credit_exchange.feeds.registry import FileRejected, get_parser, parser_path
from credit_exchange.feeds.unit import MAX_ATTEMPTS, describe, gave_up, is_transient, poison
from credit_exchange.intake import pipeline, receipts
from credit_exchange.intake.prepare import few_collections
from credit_exchange.intake.records import chunked
from credit_exchange.intake.unit import ReceivedUnit
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import safe_text
from credit_exchange.standard.validation import RecordValidator, get_validator
from credit_exchange.store import Alert, Receipt, ReceivedFile, Store
from credit_exchange.store.claims import Claims, Owner
from credit_exchange.timeutil import local
from hub_messages import text

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
# The file written to learn the server's clock; lives for a moment in processing/.
CLOCK_PROBE_PREFIX = ".hub-clock-probe-"
STUCK_ALERT = "inbox_stuck"
# A department's folders under its root: it drops files in inbox/; the hub makes the others itself.
HUB_FOLDERS = ("processing", "archive", "quarantine", "receipts")
FOLDERS = ("inbox", *HUB_FOLDERS)
# A directory in an inbox: the hub takes plain files only, so an admin is told, once.
DIR_ALERT = "inbox_not_regular"
# A file that could not be finished (receipt written, moved out of processing/).
FINISH_ALERT = "inbox_finish_failed"
# A file refused because reading it failed (not its content's fault as far as we know): admins look.
UNREADABLE_ALERT = "inbox_file_unreadable"
DAY_SECONDS = 86_400
_KIND_LABEL = {kind: text(f"inbox_kind_{kind}") for kind in ("link", "other", "dir")}


class Inbox(Protocol):
    def listdir(self, path: str) -> list[Any]: ...
    def listdir_entries(self, path: str) -> list[Any]: ...
    def stat(self, path: str) -> Any: ...
    def exists(self, path: str) -> bool: ...
    def makedirs(self, path: str) -> None: ...
    def claim(self, src: str, dst: str) -> bool: ...
    def rename(self, src: str, dst: str) -> None: ...
    def open_read(self, path: str) -> BinaryIO: ...
    def upload_atomic(self, src: Any, path: str) -> Any: ...
    def remove(self, path: str, missing_ok: bool = False) -> None: ...


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
    # files in transit for longer than the feed's stuck_after_days (alerted once)
    stuck: list[str] = field(default_factory=list)
    # claimed by another run that is still at work: left to it
    claimed_elsewhere: list[str] = field(default_factory=list)
    # stopped by the network or the store: left in processing/ for the next try (IngestInterrupted)
    interrupted: list[str] = field(default_factory=list)
    # directories in the inbox (alerted), and files that could not be finished (alerted)
    not_regular: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)

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
                "in_transit": len(self.in_transit), "stuck": len(self.stuck),
                "claimed_elsewhere": len(self.claimed_elsewhere), "interrupted": len(self.interrupted),
                "not_regular": len(self.not_regular), "unfinished": len(self.unfinished)}


class IngestInterrupted(RuntimeError):
    """Some files were stopped by the network or the store; the others were taken. The task fails and is
    retried, and the retry takes those files from processing/ (refused after MAX_ATTEMPTS tries)."""

    def __init__(self, summary: IngestSummary) -> None:
        self.summary = summary
        names = ", ".join(safe_text(n) for n in summary.interrupted)
        super().__init__(text("inbox_interrupted", count=len(summary.interrupted)) + f": {names}")


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

    @property
    def chunk_size(self) -> int:
        """The read size that takes whole transfer chunks (an SFTP file's read request), so a
        buffered remote file hands over what it received without joining and slicing copies."""
        size = getattr(self._raw, "MAX_REQUEST_SIZE", None)
        return size if isinstance(size, int) and size > 0 else 1 << 20

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class InboxIngest:
    """One run over one department's inbox."""

    def __init__(self, feed: Feed, inbox: Inbox, store: Store, vault: PiiVault, today: date,
                 run_id: str | None = None, validator: RecordValidator | None = None,
                 owner: Owner | None = None, dag_id: str | None = None) -> None:
        self.feed = feed
        self.inbox = inbox
        self.store = store
        self.vault = vault
        self.today = today
        self.run_id = run_id
        self.dag_id = dag_id
        self.validator = validator or get_validator(today)
        # The pipeline's worker builds its own validator for the run date: only the default one.
        self._pipeline_ok = validator is None
        self.parser = get_parser(feed.parser)
        self.summary = IngestSummary(feed.department)
        self.claims = Claims(store, feed.department, owner or Owner.here(run_id))
        self._server_now: float | None = None

    # -- folders -------------------------------------------------------------------------
    def _dir(self, name: str) -> str:
        return self.feed.folder(name)

    def run(self) -> IngestSummary:
        for name in HUB_FOLDERS:
            self.inbox.makedirs(self._dir(name))
        with self.claims.kept_alive():
            self._recover()
            waiting: list[Any] = []
            directories: list[Any] = []
            for remote in self.inbox.listdir_entries(self._dir("inbox")):
                if remote.kind == "dir":
                    directories.append(remote)
                elif remote.kind != "file":
                    # A link or a special file: never opened (a link could point anywhere), refused.
                    self._take(remote)
                elif remote.name.endswith(TMP_SUFFIX) or not self.is_complete(remote):
                    # An upload still under way: left exactly where it is, no claim, no receipt.
                    self.summary.in_transit.append(remote.name)
                    waiting.append(remote)
                else:
                    self._take(remote)
            self._report_stuck(waiting)
            self._report_directories(directories)
        if self.summary.interrupted:
            raise IngestInterrupted(self.summary)
        return self.summary

    def _take(self, remote: Any) -> None:
        """Claim one inbox entry (in the store, then by moving it to processing/) and read it."""
        name = remote.name
        if not self.claims.take(name):
            self.summary.claimed_elsewhere.append(name)
            return
        src, dst = f"{self._dir('inbox')}/{name}", f"{self._dir('processing')}/{name}"
        try:
            claimed = self.inbox.claim(src, dst)
        except TargetExists:
            # processing/ holds another file of this name that recovery could not finish: that one first.
            log.warning("%s: a file of this name is still in processing/; left in the inbox", safe_text(name))
            self.claims.release(name)
            return
        except BaseException:
            self.claims.release(name)
            raise
        if not claimed:
            log.info("%s: gone from the inbox before it could be claimed", safe_text(name))
            self.claims.release(name)
            return
        self._read(self._register(name, remote.size), name, remote.size, remote.kind)

    # -- files in transit ----------------------------------------------------------------
    @property
    def quiet_period(self) -> float | None:
        """Seconds a file must stay unchanged before it is taken (None: the feed has an upload protocol)."""
        value = self.feed.options.get("quiet_period_seconds")
        return None if value is None else float(value)

    @property
    def stuck_after(self) -> float | None:
        """Seconds in transit after which a file is reported to admins (None: never)."""
        value = self.feed.options.get("stuck_after_days")
        return None if value is None else float(value) * DAY_SECONDS

    def is_complete(self, remote: Any) -> bool:
        """Whether a file in the inbox is fully written.

        Without a quiet period the feed's own protocol (``.tmp`` then rename)
        says so. With one, the file must be older than the quiet period on the
        server's clock, and a second look must find the same size and
        modification time as the listing (a client that keeps the original
        modification time while it writes still changes the size).
        """
        quiet = self.quiet_period
        if quiet is None:
            return True
        again = self.inbox.stat(f"{self._dir('inbox')}/{remote.name}")
        if again is None:
            return True  # gone since the listing: the claim will find out who took it
        if (again.size, again.mtime) != (remote.size, remote.mtime):
            log.info("%s: still being written (%d -> %d bytes)", safe_text(remote.name), remote.size, again.size)
            return False
        age = self.server_now() - again.mtime
        if age < quiet:
            log.info("%s: unchanged for %.0f s of the %.0f s quiet period; left for a later run",
                     safe_text(remote.name), max(age, 0), quiet)
            return False
        return True

    def server_now(self) -> float:
        """The inbox server's clock (epoch seconds), learned once per run.

        SFTP has no "what time is it": a tiny probe file is written to
        ``processing/`` (never seen by the department), its modification time
        read back and the probe removed. File ages are then differences of two
        server timestamps, right whatever the worker's clock says.
        """
        if self._server_now is None:
            probe = f"{self._dir('processing')}/{CLOCK_PROBE_PREFIX}{uuid.uuid4().hex}"
            self.inbox.upload_atomic(b"clock probe\n", probe)
            try:
                found = self.inbox.stat(probe)
            finally:
                self.inbox.remove(probe, missing_ok=True)
            if found is None:
                raise RuntimeError(f"clock probe {probe} vanished before it could be read")
            self._server_now = float(found.mtime)
        return self._server_now

    def _report_stuck(self, waiting: list[Any]) -> None:
        """One alert per file in transit longer than ``stuck_after_days``; resolved once it is gone."""
        limit = self.stuck_after
        if limit is None:
            return
        stuck = [r for r in waiting if self.server_now() - r.mtime >= limit] if waiting else []
        names = {r.name for r in waiting}
        with self.store.session() as s:
            for r in stuck:
                state = text("inbox_state_tmp" if r.name.endswith(TMP_SUFFIX) else "inbox_state_changing")
                days = int((self.server_now() - r.mtime) // DAY_SECONDS)
                alert = message("inbox_stuck", name=r.name, days=days, state=state)
                alerts.raise_alert(s, STUCK_ALERT, self.feed.department, r.name, alert)
                self.summary.stuck.append(r.name)
            self._resolve_gone(s, STUCK_ALERT, names)

    def _report_directories(self, directories: list[Any]) -> None:
        """One alert per directory in the inbox (the hub never descends into one); resolved once it is gone."""
        with self.store.session() as s:
            for d in directories:
                alerts.raise_alert(s, DIR_ALERT, self.feed.department, d.name, message("inbox_not_regular", name=d.name))
                self.summary.not_regular.append(d.name)
            self._resolve_gone(s, DIR_ALERT, {d.name for d in directories})

    def _resolve_gone(self, s: Session, kind: str, present: set[str]) -> None:
        for subject in s.execute(select(Alert.subject).where(
                Alert.kind == kind, Alert.source == self.feed.department, Alert.resolved_at.is_(None))).scalars().all():
            if subject not in present:
                alerts.resolve(s, kind, self.feed.department, subject)

    def _recover(self) -> None:
        """Finish what an earlier run left in processing/, unless that run is still at work on it."""
        entries = self.inbox.listdir_entries(self._dir("processing"))
        self._settle_moved({remote.name for remote in entries})
        for remote in entries:
            if remote.name.startswith(CLOCK_PROBE_PREFIX):
                continue  # another run's clock probe (or one a crash left behind): not a delivery
            if not self.claims.take(remote.name):
                self.summary.claimed_elsewhere.append(remote.name)
                continue
            with self.store.session() as s:
                row = s.execute(
                    select(ReceivedFile).where(
                        ReceivedFile.department == self.feed.department, ReceivedFile.name == remote.name,
                        ReceivedFile.finished.is_(False)).order_by(ReceivedFile.id.desc())
                ).scalars().first()
            name = safe_text(remote.name)
            if row is None:
                log.warning("%s: found in processing/ without a ledger entry; taking it now", name)
                self._read(self._register(remote.name, remote.size), remote.name, remote.size, remote.kind)
            elif row.status == "processing":
                log.warning("%s: an earlier run stopped while reading it; reading it again", name)
                self._read(row.id, remote.name, remote.size, remote.kind)
            else:
                log.warning("%s: an earlier run stored it but did not finish; writing receipt and moving", name)
                self._finish_guarded(row.id, remote.name)

    def _settle_moved(self, in_processing: set[str]) -> None:
        """Mark finished the stored files an earlier run did move out of processing/ but never heard so.

        The move is a rename on the server; when the connection dies after the server made it and
        before its reply came back, the file lies in archive/ (or quarantine/) while the ledger
        still calls it unfinished: the page would list it as waiting for ever, and its place and
        receipt would be untraced. Found where ``_finish`` would have put it (same name and size),
        it is recorded there now; otherwise it is left as it is, for an admin.
        """
        with self.store.session() as s:
            rows = s.execute(select(ReceivedFile.id, ReceivedFile.name).where(
                ReceivedFile.department == self.feed.department, ReceivedFile.finished.is_(False),
                ReceivedFile.status != "processing").order_by(ReceivedFile.id)).all()
        for file_id, name in rows:
            if name in in_processing or not self.claims.take(name):
                continue  # still to finish from processing/ (below), or another run is finishing it
            try:
                target = self._moved_to(file_id)
                if target is None:
                    log.warning("%s: stored but neither in processing/ nor where the hub moves files; "
                                "left for an admin", safe_text(name))
                    self.claims.release(name)
                    continue
                log.warning("%s: an earlier run moved it to %s but did not hear back; recorded now",
                            safe_text(name), safe_text(target))
                with self.store.session() as s:
                    row = s.get(ReceivedFile, file_id)
                    receipt = s.execute(select(Receipt).where(Receipt.file_id == file_id)).scalar_one()
                    assert row is not None
                    receipt_path = self._receipt_path(row.name)
                    if not self.inbox.exists(receipt_path):
                        self.inbox.upload_atomic(receipt.body.encode("utf-8"), receipt_path)
                    self._record_finished(s, row, receipt, target, receipt_path)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._interrupted(file_id, name, exc)

    def _destination(self, row: ReceivedFile) -> str:
        """The folder a finished file goes to: quarantine/ when refused whole, else its archive month."""
        if row.status == "rejected":
            return self._dir("quarantine")
        at = local(row.received_at)
        return f"{self._dir('archive')}/{at:%Y}/{at:%m}"

    def _receipt_path(self, name: str) -> str:
        return f"{self._dir('receipts')}/{receipts.receipt_file_name(name)}"

    def _moved_to(self, file_id: int) -> str | None:
        """Where ``_finish`` put this file, if it is there (None: it is not)."""
        with self.store.session() as s:
            row = s.get(ReceivedFile, file_id)
            assert row is not None
            folder = self._destination(row)
            candidates = [f"{folder}/{row.name}", f"{folder}/{receipts.fit_file_name(row.name, f'.{file_id}')}"]
            taken = set(s.execute(select(ReceivedFile.stored_path).where(
                ReceivedFile.stored_path.in_(candidates), ReceivedFile.id != file_id)).scalars())
            size = row.size
        for path in candidates:
            if path in taken:
                continue  # another delivery of the same name lies there
            found = self.inbox.stat(path)
            if found is not None and not found.is_dir and (size is None or found.size == size):
                return path
        return None

    def _register(self, name: str, size: int | None) -> int:
        with self.store.session() as s:
            return ReceivedUnit.open(s, self.feed, name, size=size, run_id=self.run_id,
                                     dag_id=self.dag_id).file_id

    # -- one file ------------------------------------------------------------------------
    def _read(self, file_id: int, name: str, size: int | None, kind: str = "file") -> None:
        """Read one claimed file to its outcome; whatever happens, only this file is concerned."""
        try:
            self._process(file_id, name, size, kind)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._interrupted(file_id, name, exc)
            return
        self._finish_guarded(file_id, name)

    def _process(self, file_id: int, name: str, size: int | None, kind: str = "file") -> None:
        """Store the file's records, or its refusal: one transaction. Raises only transient errors."""
        path = f"{self._dir('processing')}/{name}"
        sha: str | None = None
        try:
            if kind != "file":
                raise FileRejected("file_not_regular", name=name, kind=_KIND_LABEL.get(kind, kind))
            self._check_attempts(file_id)
            if not self.feed.match_name(name):
                raise FileRejected("file_name", name=name)
            if size is not None and size > self.feed.max_file_bytes:
                raise FileRejected("file_too_large", size=size, limit=self.feed.max_file_bytes)
            with self.inbox.open_read(path) as raw:
                reader = HashingReader(raw, self.feed.max_file_bytes)
                try:
                    with self.store.session() as s:
                        self._take_records(s, file_id, name, reader, size)
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
        except Exception as exc:
            if is_transient(exc):
                raise
            # Poison: hostile bytes made a parser, a mapping or the store raise. This file is refused;
            # the others go on. Admins hear of it, as it may also be the hub's own fault.
            refusal = poison(exc)
            log.error("%s: refused whole, reading it failed: %s", safe_text(name), describe(exc), exc_info=True)
            self._refuse_whole(file_id, name, sha, refusal, alert=UNREADABLE_ALERT)

    def _check_attempts(self, file_id: int) -> None:
        with self.store.session() as s:
            row = s.get(ReceivedFile, file_id)
            assert row is not None
            attempts, last = row.attempts or 0, row.last_error or ""
        if attempts >= MAX_ATTEMPTS:
            raise gave_up(attempts, last)

    def _interrupted(self, file_id: int, name: str, exc: BaseException) -> None:
        """A transient failure: note the attempt, leave the file in processing/ for the next try."""
        detail = describe(exc)
        log.warning("%s: interrupted (%s); left in processing/ for the next try", safe_text(name), detail)
        self.summary.interrupted.append(name)
        try:
            with self.store.session() as s:
                s.execute(update(ReceivedFile).where(ReceivedFile.id == file_id).values(
                    attempts=ReceivedFile.attempts + 1, last_error=detail))
            self.claims.release(name)
        except Exception:  # noqa: BLE001 - the store may be what failed; the lease then runs out by itself
            log.warning("%s: could not record the interrupted try", safe_text(name), exc_info=True)

    def _take_records(self, s: Session, file_id: int, name: str, reader: HashingReader,
                      size: int | None = None) -> None:
        unit = ReceivedUnit.of(s, self.feed, file_id)
        intake = unit.intake(self.vault, self.validator)
        with few_collections():
            if self._pipeline_ok and pipeline.wanted(self.feed, size):
                # Big files: parsing and validation in a worker process, storing here (pipeline.py).
                pipeline.take_records(intake, self.feed, name, self.today, reader, parser_path(self.feed.parser))
            else:
                for chunk in chunked(self.parser(reader, self.feed, name)):  # type: ignore[arg-type]
                    intake.take(chunk)
        reader.drain()
        # Finished once the file is moved (_finish), not here.
        unit.accept(intake, sha256=reader.sha256.hexdigest(), size=reader.size, finished=False)
        # Commits with the records: a run that thought this owner gone cannot take the file over now.
        self.claims.renew(s, name)

    def _refuse_whole(self, file_id: int, name: str, sha: str | None, exc: FileRejected,
                      alert: str | None = None) -> None:
        log.warning("%s: refused whole: %s", safe_text(name), exc.code)
        with self.store.session() as s:
            ReceivedUnit.of(s, self.feed, file_id).refuse(exc, sha256=sha, finished=False)
            if alert is not None:
                alerts.raise_alert(s, alert, self.feed.department, name, exc.message)
            self.claims.renew(s, name)

    def _finish_guarded(self, file_id: int, name: str) -> None:
        """``_finish``, confined to this file: a server that refuses the move is alerted, the run goes on."""
        try:
            self._finish(file_id)
        except Exception as exc:
            if is_transient(exc):
                self._interrupted(file_id, name, exc)
                return
            detail = describe(exc)
            log.error("%s: stored, but its receipt or move failed: %s", safe_text(name), detail)
            self.summary.unfinished.append(name)
            with self.store.session() as s:
                alerts.raise_alert(s, FINISH_ALERT, self.feed.department, name,
                                   text("inbox_finish_failed") + f": {detail}")
            self.claims.release(name)

    def _finish(self, file_id: int) -> None:
        """Write the receipt back, move the file to archive or quarantine, mark it finished."""
        with self.store.session() as s:
            row = s.get(ReceivedFile, file_id)
            receipt = s.execute(select(Receipt).where(Receipt.file_id == file_id)).scalar_one()
            assert row is not None
            receipt_path = self._receipt_path(row.name)
            self.inbox.upload_atomic(receipt.body.encode("utf-8"), receipt_path)
            folder = self._destination(row)
            self.inbox.makedirs(folder)
            target = f"{folder}/{row.name}"
            if self.inbox.exists(target):
                target = f"{folder}/{receipts.fit_file_name(row.name, f'.{file_id}')}"
            self.inbox.rename(f"{self._dir('processing')}/{row.name}", target)
            self._record_finished(s, row, receipt, target, receipt_path)

    def _record_finished(self, s: Session, row: ReceivedFile, receipt: Receipt, target: str,
                         receipt_path: str) -> None:
        """The ledger's side of a finished file: where it lies, where its receipt went; the claim ends."""
        row.stored_path, row.finished = target, True
        receipt.written_to = receipt_path
        self.claims.release(row.name, s)
        self.summary.files.append(FileOutcome(
            name=row.name, status=row.status,
            counts={"total": row.total, "accepted": row.accepted, "rejected": row.rejected,
                    "unchanged": row.unchanged, "stale": row.stale},
            stored_path=target, receipt_path=receipt_path, error_code=row.error_code))
        log.info("%s: %s (%d accepted, %d rejected, %d unchanged, %d stale) -> %s",
                 safe_text(row.name), row.status, row.accepted, row.rejected, row.unchanged, row.stale,
                 safe_text(target))
