"""Taking PBoC data/control file pairs from their read-only outbox (contracts.md 1.4).

Their server is read-only for the hub: it lists and reads ``/outbox/`` and
never writes, renames or deletes there. So what other feeds get from moving a
file (claimed, archived, quarantined) comes here from the ledger
(``SourcePair``: department, name, announced SM3):

- A data file without its ``.ok`` is still in transit: left alone, nothing recorded.
- A pair whose name and announced SM3 are in the ledger as ``taken`` is skipped
  without reading the data file; a changed digest is a new pair and is taken again
  (its records are then accepted / unchanged / stale by id + version as usual).
- The data file is streamed once: parsed while it downloads, SM3 (the check) and
  SHA-256 (the receipt and lineage) computed over the same bytes, and its records
  taken inside ONE store transaction that is rolled back when, at the end, the
  count or the SM3 does not match the control file.
- A pair failing a check is ``pending`` (attempts + 1, the problem noted) and is
  checked again on the next runs: it may still be in transit. On the
  ``recheck_runs``-th failing run it becomes ``corrupt`` and an alert is raised.
  A corrupt pair is still checked on later runs, silently (the PBoC may re-upload
  the data file under the same control file); if it then passes it is taken and
  its alert resolved.
- A pair with more rejected records than the feed's ``reject_threshold`` is
  refused whole, with a receipt and an alert; it counts as taken (the same bytes
  would be refused again; a corrected file has another digest).

Each taken pair is one ``ReceivedFile`` row (name = the ``.dat`` name, SHA-256
of its bytes, ``stored_path`` = the remote path) with its receipt in the store
only (``Receipt.written_to`` stays empty: there is nowhere to write it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import hub_messages
from connectors.sftp import TransferChanged
from credit_exchange import alerts
from credit_exchange.config import Feed
from credit_exchange.feeds import envelope
from credit_exchange.feeds.pboc.parser import RECORD_TYPE, DatParser
from credit_exchange.feeds.unit import describe, is_transient, poison
from credit_exchange.intake import receipts
from credit_exchange.intake.records import CHUNK, RecordIntake
from credit_exchange.intake.unit import ReceivedUnit
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import safe_text
from credit_exchange.standard.records import FileRejected, SourceRecord
from credit_exchange.standard.validation import RecordValidator, get_validator
from credit_exchange.store import Alert, SourcePair, Store
from credit_exchange.store.claims import Claims, Owner
from credit_exchange.timeutil import now_local

log = logging.getLogger(__name__)

ALERT_CORRUPT = "pboc_pair_corrupt"
ALERT_REFUSED = "pboc_pair_refused"
# A control file is one short line; anything longer is not read.
MAX_CONTROL_BYTES = 4096
DEFAULT_RECHECK_RUNS = 3
_SM3_HEX = re.compile(r"[0-9a-fA-F]{64}")


class Outbox(Protocol):
    """What the pair reader needs of an SFTP connector (``connectors.sftp.SftpConnector``)."""

    def listdir(self, path: str) -> list[Any]: ...
    def read_bytes(self, path: str) -> bytes: ...
    def download(self, path: str, dest: Any, hasher_names: Any = ...) -> Any: ...


# -- control files -------------------------------------------------------------------------

@dataclass(frozen=True)
class ControlLine:
    """What a ``.ok`` file announces."""

    name: str
    count: int
    sm3: str


class PairCheckFailed(Exception):
    """A pair failed a check (control file, count, digest); re-checked on the next run.

    ``sm3`` / ``count`` are what the control file announced, as far as it could be read:
    the ledger keys the pair by them (``""`` when even the digest is unreadable).
    """

    def __init__(self, code: str, sm3: str = "", count: int | None = None, **params: Any) -> None:
        self.code = code
        self.sm3 = sm3
        self.count = count
        self.message = message(code, **params)
        super().__init__(f"{code}: {self.message}")


def parse_control(raw: bytes, data_name: str, control_name: str = "") -> ControlLine:
    """The one line ``{data file name}|{record count}|{SM3 hex}`` of a control file (optional trailing LF)."""
    where = control_name or data_name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PairCheckFailed("pboc_control_malformed", name=where,
                              detail=hub_messages.text("pboc_control_not_utf8")) from None
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text or "\r" in text:
        raise PairCheckFailed("pboc_control_malformed", name=where,
                              detail=hub_messages.text("pboc_control_lines"))
    parts = text.split("|")
    if len(parts) != 3:
        raise PairCheckFailed("pboc_control_malformed", name=where,
                              detail=hub_messages.text("pboc_control_parts", parts=len(parts)))
    name, raw_count, raw_sm3 = parts
    sm3 = raw_sm3.lower() if _SM3_HEX.fullmatch(raw_sm3) else ""
    count = envelope.count(raw_count) if raw_count == raw_count.strip() else None
    if not sm3:
        raise PairCheckFailed("pboc_control_malformed", name=where, count=count,
                              detail=hub_messages.text("pboc_control_sm3"))
    if count is None:
        raise PairCheckFailed("pboc_control_malformed", sm3=sm3, name=where,
                              detail=hub_messages.text("pboc_control_count"))
    if name != data_name:
        raise PairCheckFailed("pboc_control_name", sm3=sm3, count=count, found=name[:255], expected=data_name)
    return ControlLine(name, count, sm3)


# -- outcomes -------------------------------------------------------------------------------

@dataclass
class PairOutcome:
    name: str
    status: str  # accepted | partially_accepted | rejected (the receipt's)
    counts: dict[str, int]
    sha256: str | None
    file_id: int
    error_code: str | None = None


@dataclass
class PbocSummary:
    department: str
    taken: list[PairOutcome] = field(default_factory=list)
    already_taken: list[str] = field(default_factory=list)
    in_transit: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    # being taken by another run right now: left to it
    claimed_elsewhere: list[str] = field(default_factory=list)
    # stopped by the network or the store: taken again on the next try (PbocInterrupted)
    interrupted: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out = {"files": len(self.taken), "total": 0, "accepted": 0, "rejected": 0, "unchanged": 0, "stale": 0}
        for p in self.taken:
            for k, v in p.counts.items():
                out[k] += v
        return out

    def as_xcom(self) -> dict[str, Any]:
        """Counts only: XComs never carry record data."""
        return {"department": self.department, **self.totals(),
                "files_refused": sum(p.error_code is not None for p in self.taken),
                "already_taken": len(self.already_taken), "in_transit": len(self.in_transit),
                "pending": len(self.pending), "corrupt": len(self.corrupt), "ignored": len(self.ignored),
                "claimed_elsewhere": len(self.claimed_elsewhere), "interrupted": len(self.interrupted),
                "alerts": len(self.alerts)}


class PbocInterrupted(RuntimeError):
    """Some pairs were stopped by the network or the store; the others were taken. The task fails and is retried."""

    def __init__(self, summary: PbocSummary) -> None:
        self.summary = summary
        names = ", ".join(safe_text(n) for n in summary.interrupted)
        super().__init__(hub_messages.text("pboc_interrupted", count=len(summary.interrupted)) + f": {names}")


class _Refused(Exception):
    """The pair is intact but refused whole (size, reject threshold): recorded in its own transaction."""

    def __init__(self, exc: FileRejected, sha256: str | None, size: int | None) -> None:
        super().__init__(exc.code)
        self.exc, self.sha256, self.size = exc, sha256, size


class _TakenElsewhere(Exception):
    """Another worker took this pair while we were reading it."""


class _PairSink:
    """The download's destination: parses the bytes as they arrive and hands records to the intake in chunks."""

    def __init__(self, intake: RecordIntake, record_type: str, limit: int) -> None:
        self.intake = intake
        self.parser = DatParser(record_type)
        self.limit = limit
        self.size = 0
        self._chunk: list[SourceRecord] = []

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise FileRejected("file_too_large", size=self.size, limit=self.limit)
        self._add(self.parser.feed(data))
        return len(data)

    def finish(self) -> None:
        self._add(self.parser.finish())
        if self._chunk:
            self.intake.take(self._chunk)
            self._chunk = []

    def _add(self, records: list[SourceRecord]) -> None:
        for rec in records:
            self._chunk.append(rec)
            if len(self._chunk) >= CHUNK:
                self.intake.take(self._chunk)
                self._chunk = []


# -- one run ---------------------------------------------------------------------------------

class PbocIngest:
    """One run over the PBoC outbox."""

    def __init__(self, feed: Feed, outbox: Outbox, store: Store, vault: PiiVault, today: date,
                 run_id: str | None = None, validator: RecordValidator | None = None,
                 owner: Owner | None = None, dag_id: str | None = None) -> None:
        self.feed = feed
        self.outbox = outbox
        self.store = store
        self.vault = vault
        self.today = today
        self.run_id = run_id
        self.dag_id = dag_id
        self.validator = validator or get_validator(today)
        self.record_type = feed.record_type or RECORD_TYPE
        self.control_suffix = str(feed.options.get("control_suffix", ".ok"))
        self.recheck_runs = max(1, int(feed.options.get("recheck_runs", DEFAULT_RECHECK_RUNS)))
        self.summary = PbocSummary(feed.department)
        self.claims = Claims(store, feed.department, owner or Owner.here(run_id))
        self._announced: dict[str, ControlLine] = {}

    def _path(self, name: str) -> str:
        return f"{self.feed.root.rstrip('/')}/{name}"

    def _data_name(self, control: str) -> str:
        return control[: -len(self.control_suffix)] + ".dat"

    def _control_name(self, data: str) -> str:
        return data.removesuffix(".dat") + self.control_suffix

    def run(self) -> PbocSummary:
        entries = {f.name: f for f in self.outbox.listdir(self.feed.root)}
        data_names = sorted(n for n in entries if self.feed.match_name(n))
        orphan_controls = sorted(
            n for n in entries if n.endswith(self.control_suffix)
            and self.feed.match_name(self._data_name(n)) and self._data_name(n) not in entries)
        known = set(data_names) | {self._control_name(n) for n in data_names} | set(orphan_controls)
        for name in sorted(set(entries) - known):
            # Not ours to move or judge on their server: noted in the log and the counts.
            log.warning("%s: not a PBoC data or control file name; left alone", safe_text(name))
            self.summary.ignored.append(name)
        with self.claims.kept_alive():
            for name in sorted([*data_names, *(self._data_name(c) for c in orphan_controls)]):
                control = self._control_name(name)
                if control not in entries:
                    # Complete only once its control file exists: left alone, nothing recorded.
                    log.info("%s: no %s yet; still in transit", name, control)
                    self.summary.in_transit.append(name)
                    continue
                if not self.claims.take(name):
                    self.summary.claimed_elsewhere.append(name)
                    continue
                try:
                    self._guarded_pair(name, entries.get(name), entries[control])
                finally:
                    self.claims.release(name)
        if self.summary.interrupted:
            raise PbocInterrupted(self.summary)
        return self.summary

    def _guarded_pair(self, name: str, data: Any, control: Any) -> None:
        """One pair; whatever it raises concerns that pair alone."""
        try:
            self._pair(name, data, control)
        except Exception as exc:
            if is_transient(exc):
                log.warning("%s: interrupted (%s); taken again on the next try", name, describe(exc))
                self.summary.interrupted.append(name)
                return
            # Poison: their bytes made the reader or the store raise. Recorded as refused (their outbox is
            # read-only: nothing to move), with a receipt and an alert; a corrected pair has another digest.
            log.error("%s: refused whole, reading it failed: %s", name, describe(exc), exc_info=True)
            announced = self._announced.get(name)
            if announced is None:
                # Not even the control file could be read: a failed check, re-checked and in time called corrupt.
                self._failed(name, PairCheckFailed("pboc_control_malformed", name=self._control_name(name),
                                                   detail=describe(exc)))
                return
            self._refuse_whole(name, announced, _Refused(poison(exc), None, getattr(data, "size", None)))

    # -- one pair ------------------------------------------------------------------------------
    def _pair(self, name: str, data: Any, control: Any) -> None:
        try:
            if control.size > MAX_CONTROL_BYTES:
                raise PairCheckFailed("pboc_control_malformed", name=control.name,
                                      detail=hub_messages.text("pboc_control_too_long", size=control.size))
            announced = parse_control(self.outbox.read_bytes(self._path(control.name)), name, control.name)
            self._announced[name] = announced
        except PairCheckFailed as exc:
            self._failed(name, exc)
            return
        except FileNotFoundError:
            log.info("%s: control file vanished while listing; next run", control.name)
            return
        with self.store.session() as s:
            row = self._ledger(s, name, announced.sm3)
            status = row.status if row is not None else None
        if status == "taken":
            log.info("%s: already taken (SM3 %s…)", name, announced.sm3[:12])
            self.summary.already_taken.append(name)
            return
        if data is None:
            self._failed(name, PairCheckFailed("pboc_data_missing", sm3=announced.sm3, count=announced.count,
                                               control=control.name, name=name))
            return
        try:
            self._take(name, data, announced)
        except PairCheckFailed as exc:
            self._failed(name, exc)
        except _Refused as refused:
            self._refuse_whole(name, announced, refused)
        except (_TakenElsewhere, IntegrityError):
            log.info("%s: taken by another worker", name)
            self.summary.already_taken.append(name)

    def _ledger(self, s: Session, name: str, sm3: str) -> SourcePair | None:
        return s.execute(select(SourcePair).where(
            SourcePair.department == self.feed.department, SourcePair.name == name,
            SourcePair.announced_sm3 == sm3)).scalar_one_or_none()

    def _new_pair(self, s: Session, name: str, sm3: str, count: int | None, status: str,
                  now: datetime) -> SourcePair:
        row = SourcePair(department=self.feed.department, name=name, announced_sm3=sm3, announced_count=count,
                         status=status, attempts=0, first_seen_at=now, updated_at=now)
        s.add(row)
        return row

    def _claim(self, s: Session, name: str, announced: ControlLine) -> SourcePair:
        """Mark the pair taken inside the caller's transaction; another worker's claim makes this one fail."""
        now = now_local()
        row = self._ledger(s, name, announced.sm3)
        if row is None:
            row = self._new_pair(s, name, announced.sm3, announced.count, "taken", now)
            s.flush()  # a concurrent claim of the same pair fails here on the unique key
            return row
        # Conditional, so two workers that both saw "pending" cannot both take it.
        result = s.execute(update(SourcePair).where(SourcePair.id == row.id, SourcePair.status != "taken").values(
            status="taken", announced_count=announced.count, updated_at=now))
        done = cast("CursorResult[Any]", result).rowcount
        if done != 1:
            raise _TakenElsewhere(name)
        s.refresh(row)
        return row

    def _take(self, name: str, data: Any, announced: ControlLine) -> None:
        path = self._path(name)
        if data.size > self.feed.max_file_bytes:
            raise _Refused(FileRejected("file_too_large", size=data.size, limit=self.feed.max_file_bytes),
                           None, data.size)
        received = now_local()
        with self.store.session() as s:
            pair = self._claim(s, name, announced)
            unit = ReceivedUnit.open(s, self.feed, name, size=data.size, run_id=self.run_id, received_at=received,
                                     stored_path=path, dag_id=self.dag_id)
            intake = unit.intake(self.vault, self.validator)
            sink = _PairSink(intake, self.record_type, self.feed.max_file_bytes)
            try:
                result = self.outbox.download(path, sink, ("sm3", "sha256"))
            except FileRejected as exc:
                raise _Refused(exc, None, sink.size) from exc
            except TransferChanged as exc:
                raise PairCheckFailed("pboc_changed", sm3=announced.sm3, count=announced.count) from exc
            except FileNotFoundError as exc:
                raise PairCheckFailed("pboc_data_missing", sm3=announced.sm3, count=announced.count,
                                      control=self._control_name(name), name=name) from exc
            sink.finish()
            sm3, sha = result.digests["sm3"], result.digests["sha256"]
            # Leaving the block by an exception rolls every record of this pair back.
            if sm3 != announced.sm3:
                raise PairCheckFailed("pboc_digest_mismatch", sm3=announced.sm3, count=announced.count,
                                      found=sm3, declared=announced.sm3)
            if sink.parser.records != announced.count:
                raise PairCheckFailed("pboc_count_mismatch", sm3=announced.sm3, count=announced.count,
                                      found=sink.parser.records, declared=announced.count)
            try:  # too many rejected records: refused whole, before anything of the outcome is written
                receipt = unit.accept(intake, sha256=sha, size=result.size, finished=True)
            except FileRejected as exc:
                raise _Refused(exc, sha, result.size) from None
            counts, row, processed = intake.counts, unit.row, now_local()
            pair.file_id, pair.last_problem, pair.updated_at = row.id, None, processed
            alerts.resolve(s, ALERT_CORRUPT, self.feed.department, name)
            outcome = PairOutcome(name, receipt["status"], counts.as_dict(), sha, row.id)
        self.summary.taken.append(outcome)
        log.info("%s: %s (%d accepted, %d rejected, %d unchanged, %d stale; SM3 verified)", name, outcome.status,
                 counts.accepted, counts.rejected, counts.unchanged, counts.stale)

    def _refuse_whole(self, name: str, announced: ControlLine, refused: _Refused) -> None:
        exc = refused.exc
        log.warning("%s: refused whole: %s", name, exc.code)
        try:
            with self.store.session() as s:
                pair = self._claim(s, name, announced)
                unit = ReceivedUnit.open(s, self.feed, name, size=refused.size, run_id=self.run_id,
                                         stored_path=self._path(name), dag_id=self.dag_id)
                unit.refuse(exc, sha256=refused.sha256, finished=True)
                row, now = unit.row, now_local()
                pair.file_id, pair.last_problem, pair.updated_at = row.id, exc.message, now
                alert = alerts.raise_alert(s, ALERT_REFUSED, self.feed.department, name,
                                           message("pboc_pair_refused", name=name, problem=exc.message))
                outcome = PairOutcome(name, "rejected", receipts.Counts().as_dict(), refused.sha256, row.id,
                                      error_code=exc.code)
        except (_TakenElsewhere, IntegrityError):
            self.summary.already_taken.append(name)
            return
        self.summary.taken.append(outcome)
        if alert is not None:
            self.summary.alerts.append(alert)

    def _failed(self, name: str, exc: PairCheckFailed) -> None:
        """Note a failed check; on the ``recheck_runs``-th failing run the pair is corrupt and alerted."""
        now = now_local()
        with self.store.session() as s:
            row = self._ledger(s, name, exc.sm3)
            if row is None:
                row = self._new_pair(s, name, exc.sm3, exc.count, "pending", now)
            row.attempts = (row.attempts or 0) + 1
            row.last_problem, row.updated_at = exc.message, now
            if exc.count is not None:
                row.announced_count = exc.count
            alert = None
            if row.attempts >= self.recheck_runs:
                if row.status != "corrupt":
                    # Raised once, on the run that calls it corrupt; later re-checks only log.
                    alert = alerts.raise_alert(s, ALERT_CORRUPT, self.feed.department, name, message(
                        "pboc_pair_corrupt", name=name, runs=row.attempts, problem=exc.message))
                row.status = "corrupt"
            else:
                row.status = "pending"
            attempts, status = row.attempts, row.status
        if status == "corrupt":
            log.error("%s: CORRUPT after %d failing runs: %s", name, attempts, exc.message)
            self.summary.corrupt.append(name)
        else:
            log.warning("%s: check failed (run %d of %d), re-checked next run: %s", name, attempts,
                        self.recheck_runs, exc.message)
            self.summary.pending.append(name)
        if alert is not None:
            self.summary.alerts.append(alert)
