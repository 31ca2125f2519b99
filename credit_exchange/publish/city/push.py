"""Publishing to the city platform, Credit China (Leshan): contracts.md 2.2, data-standard.md 4.

The city platform is kept equal to a *desired state* computed from the hub's
records on the run date:

- ``administrative_license`` while its status is 有效;
- ``administrative_penalty`` within its publicity window (``publicity_until``,
  computed by the hub at merge, present and not before the run date; decision
  date not after the run date; a penalty without ``publicity_until`` is 警告
  only and never published);
- ``abnormal_operation`` while it has no ``removed_date``;
- ``redlist`` / ``blacklist`` entries while their status is 有效;
- nothing whose current version is a source delete.

``city_state`` says what the platform holds from us. The diff of the two gives
``add`` (not held now: never sent, withdrawn, or refused in a receipt),
``update`` (held at an older version) and ``delete`` (held, no longer wanted).
A record refused in a receipt stays failed until a new version of it exists.

``push_city`` sends the whole diff; ``publicity_expiry`` is the same machinery
restricted to the withdrawals of penalties past their publicity end, so the
daily run withdraws them even on days when nothing was merged.

Exactly once, in the manner of ``push_county``:
1. a file is built, checked against the XSD, and stored (``city_files``, body
   and SM3) together with its records' ``city_state`` (``sent``, file name) in
   ONE transaction, BEFORE anything is uploaded;
2. ``{name}.tmp`` is uploaded and renamed to ``{name}``; then ``{name}.ok`` is
   written with ``{name}|{count}|{sm3}``;
3. the file is marked ``uploaded``.
A run interrupted between 1 and 3 leaves the file ``prepared``; the next run
completes it from the stored bytes (the platform loads only files with a
matching ``.ok``, so a half upload is invisible to it). Because the records are
already ``sent`` under that file, no second file is ever made for the same
record versions.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from credit_exchange import alerts
from credit_exchange.publish.city.xml import (
    CITY_TYPE_OF,
    MAX_RECORDS,
    OK_SUFFIX,
    RECEIPT_SUFFIX,
    REGION,
    CityRecord,
    CityXmlError,
    check_exchange,
    file_name,
    ok_line,
    parse_receipt,
    sm3_hex,
    write_exchange,
)
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import mask_text
from credit_exchange.store import Alert, CityFile, CityState, Record, Store
from credit_exchange.timeutil import now_local

log = logging.getLogger(__name__)

PLATFORM = "city"
UPLOAD_DIR = f"/upload/{REGION}"
RECEIPT_DIR = f"/receipt/{REGION}"
SCAN_CHUNK = 2000
RECEIPT_OVERDUE = timedelta(hours=24)
# A receipt larger than this is not read (hostile input; 5,000 items are far smaller).
MAX_RECEIPT_BYTES = 32 * 1024 * 1024


class CityTransport(Protocol):
    """What the city code needs of an SFTP connector (``connectors.sftp.SftpConnector``)."""

    def upload_atomic(self, src: Any, path: str, hasher_names: Sequence[str] = ...) -> Any: ...

    def write_bytes(self, path: str, data: bytes) -> Any: ...

    def exists(self, path: str) -> bool: ...

    def read_bytes(self, path: str) -> bytes: ...

    def listdir(self, path: str, include_dirs: bool = ...) -> Any: ...


# -- what the city must hold ------------------------------------------------------------------

def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def published(record_type: str, op: str, data: dict[str, Any], run_date: date) -> bool:
    """Whether the city platform should hold this record version on ``run_date`` (data-standard.md 4)."""
    if op == "delete" or record_type not in CITY_TYPE_OF:
        return False
    if record_type == "administrative_license":
        return data.get("status") == "有效"
    if record_type == "administrative_penalty":
        until, decided = _date(data.get("publicity_until")), _date(data.get("decision_date"))
        return until is not None and decided is not None and decided <= run_date <= until
    if record_type == "abnormal_operation":
        return not data.get("removed_date")
    return data.get("status") == "有效"  # redlist / blacklist entries


def past_publicity(record_type: str, op: str, data: dict[str, Any], run_date: date) -> bool:
    """A penalty whose publicity period ended before ``run_date`` (what publicity_expiry withdraws)."""
    if record_type != "administrative_penalty" or op == "delete":
        return False
    until = _date(data.get("publicity_until"))
    return until is not None and until < run_date


@dataclass(frozen=True)
class Held:
    """The ``city_state`` of a record as far as the diff needs it."""

    hub_version: int
    op: str
    status: str


def holds(state: Held | None) -> bool:
    """Whether the platform holds the record from us now."""
    if state is None:
        return False
    if state.status == "error":
        # A refused add/update was not taken; a refused delete left the record there.
        return state.op == "delete"
    return state.op in ("add", "update")


def decide(state: Held | None, publish: bool, version: int) -> str | None:
    """The op to send for a record at ``version`` (None: nothing to send)."""
    if state is not None and state.status == "error" and version <= state.hub_version:
        return None  # refused: stays failed until the source sends a corrected version
    held = holds(state)
    if publish:
        if not held or (state is not None and state.status == "error"):
            return "add"
        assert state is not None
        return "update" if state.hub_version < version else None
    return "delete" if held else None


@dataclass(frozen=True)
class Change:
    record_id: str
    record_type: str
    op: str
    version: int
    publish: bool
    data_enc: str | None


# -- results -----------------------------------------------------------------------------------

@dataclass
class CitySummary:
    files_sent: int = 0
    files_resumed: int = 0
    records: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # files complete on the platform after this run (sent and resumed; the qianwei.batches.sent metric)
    files_uploaded: int = 0

    def as_xcom(self) -> dict[str, Any]:
        # Counts only; the file names are in the task log and in city_files.
        return {"files_sent": self.files_sent, "files_resumed": self.files_resumed, "records": dict(self.records)}


@dataclass
class ReceiptSummary:
    receipts: int = 0
    ok: int = 0
    error: int = 0
    invalid: int = 0
    overdue: int = 0
    waiting: int = 0
    new_alerts: list[Alert] = field(default_factory=list)

    def as_xcom(self) -> dict[str, int]:
        return {"receipts": self.receipts, "ok": self.ok, "error": self.error, "invalid": self.invalid,
                "overdue": self.overdue, "waiting": self.waiting, "alerts": len(self.new_alerts)}


# -- pushing ----------------------------------------------------------------------------------

class CityPusher:
    """Brings the city platform to the desired state of ``run_date`` (or only withdraws expired penalties)."""

    def __init__(self, store: Store, vault: PiiVault, sftp: CityTransport, run_date: date, *,
                 only_expired: bool = False, max_records: int = MAX_RECORDS,
                 dag_id: str | None = None, run_id: str | None = None) -> None:
        if not 1 <= max_records <= MAX_RECORDS:
            raise ValueError(f"max_records must be 1..{MAX_RECORDS}")
        self.store = store
        self.vault = vault
        self.sftp = sftp
        self.run_date = run_date
        self.only_expired = only_expired
        self.max_records = max_records
        self.summary = CitySummary()
        self.dag_id, self.run_id = dag_id, run_id  # the Airflow run, kept with each file it writes

    def run(self) -> CitySummary:
        self.resume()
        pending: dict[str, list[Change]] = {}
        for change in self._changes():
            city_type = CITY_TYPE_OF[change.record_type]
            bucket = pending.setdefault(city_type, [])
            bucket.append(change)
            if len(bucket) >= self.max_records:
                self._send(city_type, pending.pop(city_type))
        for city_type, changes in pending.items():
            self._send(city_type, changes)
        log.info("city platform (run date %s%s): %d files sent, %d resumed, records %s", self.run_date,
                 ", expirations only" if self.only_expired else "", self.summary.files_sent,
                 self.summary.files_resumed, json.dumps(self.summary.records))
        return self.summary

    # -- the diff, streamed in chunks of records ------------------------------------------
    def _changes(self) -> Iterator[Change]:
        types = ["administrative_penalty"] if self.only_expired else list(CITY_TYPE_OF)
        last = ""
        while True:
            with self.store.session() as s:
                rows = s.execute(
                    select(Record.record_id, Record.record_type, Record.hub_version, Record.op, Record.data_enc,
                           CityState.hub_version, CityState.op, CityState.status)
                    .outerjoin(CityState, CityState.record_id == Record.record_id)
                    .where(Record.record_type.in_(types), Record.record_id > last)
                    .order_by(Record.record_id).limit(SCAN_CHUNK)
                ).all()
            if not rows:
                return
            last = rows[-1][0]
            for rid, rtype, version, op, data_enc, st_version, st_op, st_status in rows:
                data = self.vault.open(rtype, data_enc) if op != "delete" else {}
                publish = published(rtype, op, data, self.run_date)
                state = Held(st_version, st_op, st_status) if st_version is not None else None
                chosen = decide(state, publish, version)
                if chosen is None:
                    continue
                if self.only_expired and not (chosen == "delete" and past_publicity(rtype, op, data, self.run_date)):
                    continue
                yield Change(rid, rtype, chosen, version, publish, data_enc if chosen != "delete" else None)

    # -- one file: store, then upload ------------------------------------------------------
    def _send(self, city_type: str, changes: list[Change]) -> None:
        prepared = self._prepare(city_type, changes)
        if prepared is None:
            return
        name, body, count, sm3 = prepared
        self.summary.files_sent += 1
        self.summary.files.append(name)
        self._upload(name, body, count, sm3)

    def _prepare(self, city_type: str, changes: list[Change]) -> tuple[str, bytes, int, str] | None:
        """Build, check and store one file with its records' state, in one transaction."""
        with self.store.session() as s:
            ids = [c.record_id for c in changes]
            # Re-read (and on PostgreSQL lock) the state: a concurrent run may have sent some of them.
            states = {st.record_id: st for st in s.execute(
                select(CityState).where(CityState.record_id.in_(ids)).with_for_update()).scalars()}
            final: list[Change] = []
            for c in changes:
                st = states.get(c.record_id)
                op = decide(Held(st.hub_version, st.op, st.status) if st else None, c.publish, c.version)
                if op is None or (self.only_expired and op != "delete"):
                    continue
                final.append(c if op == c.op else Change(c.record_id, c.record_type, op, c.version, c.publish,
                                                         c.data_enc))
            if not final:
                return None
            now = now_local()
            name = self._next_name(s, city_type, now)
            out = io.BytesIO()
            write_exchange(out, city_type, batch_id=name.removesuffix(".xml"), created_at=now,
                           records=self._records(final), count=len(final))
            body = out.getvalue()
            check_exchange(body, name)  # a file that fails is a bug: raise, store nothing, upload nothing
            sm3 = sm3_hex(body)
            s.add(CityFile(name=name, file_type=city_type, record_count=len(final), sm3=sm3, body=body,
                           status="prepared", created_at=now, dag_id=self.dag_id, run_id=self.run_id))
            for c in final:
                st = states.get(c.record_id)
                city_id = self.vault.masked_id(c.record_id)
                if st is None:
                    s.add(CityState(record_id=c.record_id, record_type=c.record_type, hub_version=c.version,
                                    op=c.op, status="sent", file_name=name, city_id=city_id, updated_at=now))
                else:
                    st.record_type, st.hub_version, st.op, st.status = c.record_type, c.version, c.op, "sent"
                    st.file_name, st.code, st.message, st.updated_at = name, None, None, now
                    st.city_id = city_id
                self.summary.records[c.op] = self.summary.records.get(c.op, 0) + 1
        log.info("city file %s: %d records stored, uploading", name, len(final))
        return name, body, len(final), sm3

    def _records(self, changes: list[Change]) -> Iterator[CityRecord]:
        for c in changes:
            data = self.vault.open(c.record_type, c.data_enc) if c.data_enc is not None else None
            # The platform knows the record by an id with any personal data masked (and a keyed tag).
            yield CityRecord(self.vault.masked_id(c.record_id), c.record_type, c.op, c.version, data)

    @staticmethod
    def _next_name(s: Session, city_type: str, now: datetime) -> str:
        prefix = file_name(city_type, now, 1)[: -len("0001.xml")]
        used = s.execute(select(CityFile.name).where(CityFile.name.like(prefix + "%"))).scalars().all()
        seq = max((int(n[len(prefix):len(prefix) + 4]) for n in used), default=0) + 1
        return file_name(city_type, now, seq)

    def _upload(self, name: str, body: bytes, count: int, sm3: str) -> None:
        path = f"{UPLOAD_DIR}/{name}"
        result = self.sftp.upload_atomic(body, path, hasher_names=("sm3",))
        sent = getattr(result, "digests", {}).get("sm3")
        if sent is not None and sent != sm3:
            raise RuntimeError(f"city file {name}: uploaded bytes differ from the stored file (SM3 {sent} != {sm3})")
        self.sftp.write_bytes(path + OK_SUFFIX, ok_line(name, count, sm3))
        self._mark_uploaded(name)

    def _mark_uploaded(self, name: str) -> None:
        with self.store.session() as s:
            s.execute(update(CityFile).where(CityFile.name == name, CityFile.status == "prepared")
                      .values(status="uploaded", uploaded_at=now_local()))
        self.summary.files_uploaded += 1
        log.info("city file %s uploaded with its .ok", name)

    # -- completing interrupted uploads ------------------------------------------------------
    def resume(self) -> None:
        """Complete every file stored earlier whose upload did not finish (same name, same bytes)."""
        with self.store.session() as s:
            names = s.execute(select(CityFile.name).where(CityFile.status == "prepared")
                              .order_by(CityFile.created_at, CityFile.name)).scalars().all()
        for name in names:
            with self.store.session() as s:
                f = s.get(CityFile, name)
                assert f is not None
                body, count, sm3 = f.body, f.record_count, f.sm3
            path = f"{UPLOAD_DIR}/{name}"
            if self._ok_written(path, name, count, sm3) or self.sftp.exists(f"{RECEIPT_DIR}/{name}{RECEIPT_SUFFIX}"):
                log.info("city file %s: its .ok was written before the interruption; nothing to resend", name)
                self._mark_uploaded(name)
            else:
                log.info("city file %s: upload was interrupted; completing it from the stored bytes", name)
                self._upload(name, body, count, sm3)
            self.summary.files_resumed += 1

    def _ok_written(self, path: str, name: str, count: int, sm3: str) -> bool:
        try:
            return self.sftp.read_bytes(path + OK_SUFFIX) == ok_line(name, count, sm3)
        except FileNotFoundError:
            return False


# -- receipts ---------------------------------------------------------------------------------

def overdue_receipts(s: Session, now: datetime) -> int:
    """Uploaded files still without the platform's receipt after ``RECEIPT_OVERDUE`` (at ``now``)."""
    return int(s.execute(select(func.count()).select_from(CityFile).where(
        CityFile.status == "uploaded", CityFile.uploaded_at < now - RECEIPT_OVERDUE)).scalar_one())


class CityReceiptCollector:
    """Reads the platform's receipts for uploaded files; alerts once for a receipt overdue 24 hours."""

    def __init__(self, store: Store, sftp: CityTransport, *, now: datetime | None = None) -> None:
        self.store = store
        self.sftp = sftp
        self.now = now or now_local()
        self.summary = ReceiptSummary()

    def run(self) -> ReceiptSummary:
        with self.store.session() as s:
            waiting = s.execute(select(CityFile.name, CityFile.uploaded_at).where(CityFile.status == "uploaded")
                                .order_by(CityFile.uploaded_at, CityFile.name)).all()
        if not waiting:
            return self.summary
        present = {f.name: f.size for f in self.sftp.listdir(RECEIPT_DIR)}
        for name, uploaded_at in waiting:
            receipt_name = name + RECEIPT_SUFFIX
            if receipt_name in present:
                self._collect(name, f"{RECEIPT_DIR}/{receipt_name}", present[receipt_name])
            else:
                self.summary.waiting += 1
                self._check_overdue(name, uploaded_at)
        log.info("city receipts: %s", self.summary.as_xcom())
        return self.summary

    def _check_overdue(self, name: str, uploaded_at: datetime | None) -> None:
        if uploaded_at is None:
            return
        if self.now - uploaded_at < RECEIPT_OVERDUE:
            return
        self.summary.overdue += 1
        with self.store.session() as s:
            alert = alerts.raise_alert(s, "city_receipt_overdue", PLATFORM, name,
                                       message("city_receipt_overdue", name=name,
                                               hours=int(RECEIPT_OVERDUE.total_seconds() // 3600)))
        if alert is not None:
            self.summary.new_alerts.append(alert)

    def _invalid(self, name: str, detail: str) -> None:
        self.summary.invalid += 1
        log.error("city receipt for %s not applied: %s", name, detail)
        with self.store.session() as s:
            alert = alerts.raise_alert(s, "city_receipt_invalid", PLATFORM, name,
                                       message("city_receipt_invalid", name=name, detail=detail[:500]))
        if alert is not None:
            self.summary.new_alerts.append(alert)

    def _collect(self, name: str, path: str, size: int) -> None:
        if size > MAX_RECEIPT_BYTES:
            self._invalid(name, f"{size} bytes, more than {MAX_RECEIPT_BYTES}")
            return
        body = self.sftp.read_bytes(path)
        try:
            receipt = parse_receipt(body, expected_file=name)
        except CityXmlError as exc:
            self._invalid(name, str(exc))
            return
        now = now_local()
        with self.store.session() as s:
            # Items name records by the id sent (city_id: masked when the record id holds personal data).
            states = {st.city_id or st.record_id: st for st in s.execute(
                select(CityState).where(CityState.file_name == name)).scalars()}
            seen: set[str] = set()
            for item in receipt.items:
                st = states.get(item.record_id)
                if st is None or item.record_id in seen:
                    # Not in this file, or sent again in a newer one since: that file's receipt decides.
                    continue
                seen.add(item.record_id)
                self._set(st, "ok" if item.status == "ok" else "error", item.code,
                          mask_text(item.message) if item.message else None, now)
            for rid, st in states.items():
                if rid in seen or st.status != "sent":
                    continue
                if receipt.status == "rejected":
                    self._set(st, "error", "file_rejected", message("city_file_rejected", name=name), now)
                else:
                    self._set(st, "ok", None, None, now)
            s.execute(update(CityFile).where(CityFile.name == name).values(
                status="receipted", receipt_status=receipt.status, receipt_at=now))
            alerts.resolve(s, "city_receipt_overdue", PLATFORM, name)
            alerts.resolve(s, "city_receipt_invalid", PLATFORM, name)
        self.summary.receipts += 1
        log.info("city receipt %s: %s", name, receipt.status)

    def _set(self, st: CityState, status: str, code: str | None, text: str | None, now: datetime) -> None:
        st.status, st.code, st.message, st.updated_at = status, code, text, now
        if status == "ok":
            self.summary.ok += 1
        else:
            self.summary.error += 1
            log.warning("city platform refused %s v%d (%s): %s", st.record_id, st.hub_version, code or "-",
                        text or "")
