"""Pulling the transport bureau's REST API (contracts.md 1.3): one received unit per endpoint pull.

Each endpoint has a watermark (the ``server_time`` of its last completed pull).
A pull asks ``updated_since`` = watermark minus the overlap, reads every page
into a spool (no store work while the network is involved), and only when the
last page has arrived takes the records through ``RecordIntake`` and moves the
watermark, in one transaction. So:

- a client that gives up (429 / 5xx retried to the end) or a malformed answer
  commits nothing of that endpoint: the watermark stays and the next try reads
  the same window again;
- an expired page token discards the spool and starts that endpoint again from
  its watermark (a few times at most): no duplicates, nothing skipped;
- repeats from the overlap are recognised by id + version (``unchanged``), a
  lower version is ``stale``.

Every endpoint pull with items is a ``ReceivedFile`` row named
``{endpoint}@{server_time}`` with a receipt kept in the store (there is no
inbox to write it to), so lineage is the same as for files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import hub_messages
from connectors.http_api import HttpApiError
from connectors.transport_api import PageTokenExpired
from credit_exchange import alerts
from credit_exchange.config import Feed
from credit_exchange.feeds.unit import describe, is_transient
from credit_exchange.intake import receipts
from credit_exchange.intake.records import chunked
from credit_exchange.intake.unit import ReceivedUnit
from credit_exchange.standard.canonical import canonical_json
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.mapping import from_canonical_json
from credit_exchange.standard.messages import message
from credit_exchange.standard.records import FileRejected, SourceRecord, record_problem
from credit_exchange.standard.validation import RecordValidator, get_validator
from credit_exchange.store import Alert, ReceivedFile, Store, Watermark
from credit_exchange.store.claims import Claims, Owner
from credit_exchange.timeutil import now_local

log = logging.getLogger(__name__)

# Keys of an item that are about the record, not fields of it (contracts.md 1.3).
ENVELOPE = frozenset({"id", "version", "updated_at", "deleted"})
# Where the first pull of an endpoint starts.
BEGINNING = "1970-01-01T00:00:00+08:00"
# How often an expired page token may restart one endpoint within one run.
MAX_RESTARTS = 3
MAX_ID_LENGTH = 128
# Longest unknown key quoted in a reject (the store's column is 128 characters).
_KEY_QUOTE = 64
# Spools stay in memory up to this size, then go to a temporary file.
_SPOOL_MEMORY = 8 * 1024 * 1024

ALERT_REFUSED = "transport_pull_refused"
ALERT_FAILED = "transport_pull_failed"


class PageSource(Protocol):
    """What a pull needs from the API: ``connectors.transport_api.TransportApi`` or a stand-in."""

    def pages(self, endpoint: str, updated_since: str, page_size: int = ...) -> Iterator[dict[str, Any]]: ...


def watermark_key(endpoint: str) -> str:
    return f"transport:{endpoint}"


def updated_since(watermark: str | None, overlap: timedelta) -> str:
    """The ``updated_since`` to ask for: the watermark minus the overlap, or the beginning."""
    if watermark is None:
        return BEGINNING
    # Truncating to milliseconds only ever moves it earlier: updated_since is inclusive.
    return (datetime.fromisoformat(watermark) - overlap).isoformat(timespec="milliseconds")


def _timestamp(value: Any) -> str:
    """A page's server_time, checked: an ISO 8601 timestamp with offset."""
    if not isinstance(value, str):
        raise ValueError(hub_messages.text("transport_no_server_time"))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(hub_messages.text("transport_bad_server_time") + f": {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(hub_messages.text("transport_server_time_offset") + f": {value[:40]!r}")
    return value


def source_record(record_type: str, item: Any, ordinal: int, position: str) -> SourceRecord:
    """One API item → a SourceRecord with its structural problems (the schema checks the rest)."""
    rec = SourceRecord(ordinal=ordinal, position=position, record_type=record_type, dept_record_id=None,
                       dept_version=None, op=None)
    if not isinstance(item, dict):
        rec.problems.append(record_problem("api_item_not_object"))
        return rec
    raw_id = item.get("id")
    dept_id = str(raw_id).strip() if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
    if not dept_id:
        rec.problems.append(record_problem("record_id_missing"))
    elif len(dept_id) > MAX_ID_LENGTH:
        rec.problems.append(record_problem("record_id_too_long"))
    else:
        rec.dept_record_id = dept_id
    version = item.get("version")
    # The store keeps versions as 32-bit integers: a bigger one must be a record problem, not a
    # database error that would fail the whole pull night after night.
    if type(version) is int and 1 <= version < 2**31:
        rec.dept_version = version
    else:
        rec.problems.append(record_problem("record_version", value=str(version)[:20]))
    deleted = item.get("deleted")
    if deleted is True:
        rec.op = "delete"
        return rec  # a delete carries no content: whatever else it says is not read
    if deleted is False:
        rec.op = "upsert"
    else:
        rec.problems.append(record_problem("record_deleted_flag", value=json.dumps(deleted)[:20]))
    mapped = from_canonical_json(record_type, {k: v for k, v in item.items() if k not in ENVELOPE})
    rec.data = mapped.data
    for key in mapped.unknown:
        quoted = key[:_KEY_QUOTE]
        rec.problems.append(record_problem("unknown_field", field_name=quoted, label=quoted, field=quoted))
    return rec


class Spool:
    """The items of one endpoint pull as they arrive, with the digest and size of the pages.

    The digest is SHA-256 over the canonical JSON of each page's ``items``, one
    line per page: page tokens and server times differ from request to request,
    the content does not, so the same data pulled twice has the same digest.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY, mode="w+b")
        self._sha = hashlib.sha256()
        self.size = 0
        self.pages = 0
        self.items = 0
        self.server_time: str | None = None

    def add(self, page: dict[str, Any]) -> None:
        items = page.get("items")
        if not isinstance(items, list):
            raise ValueError(hub_messages.text("transport_no_items"))
        server_time = _timestamp(page.get("server_time"))
        if self.server_time is None:
            # The pull's first answer: anything changed after it comes on a later page or the next pull.
            self.server_time = server_time
        self.pages += 1
        body = canonical_json(items) + b"\n"
        self._sha.update(body)
        self.size += len(body)
        for n, item in enumerate(items, start=1):
            self._file.write(canonical_json([self.pages, n, item]) + b"\n")
            self.items += 1

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def records(self, record_type: str) -> Iterator[SourceRecord]:
        self._file.seek(0)
        for ordinal, line in enumerate(self._file, start=1):
            page, n, item = json.loads(line)
            yield source_record(record_type, item, ordinal, f"page {page} item {n}")

    def close(self) -> None:
        self._file.close()


@dataclass
class EndpointOutcome:
    """What became of one endpoint in one run (counts and names only)."""

    endpoint: str
    record_type: str
    # accepted | partially_accepted | rejected (records or refused whole) | empty | failed
    # | claimed_elsewhere (another run is pulling it right now)
    status: str
    updated_since: str
    counts: dict[str, int] = field(default_factory=lambda: receipts.Counts().as_dict())
    server_time: str | None = None
    name: str | None = None
    file_id: int | None = None
    restarts: int = 0
    error_code: str | None = None
    error: str | None = None

    def as_xcom(self) -> dict[str, Any]:
        return {"status": self.status, "name": self.name, "restarts": self.restarts,
                "error_code": self.error_code, **self.counts}


@dataclass
class PullSummary:
    department: str
    endpoints: list[EndpointOutcome] = field(default_factory=list)
    # accepted records of every try of this DAG run (a retried run must still announce what its
    # first try committed before another endpoint failed)
    accepted_in_run: int = 0
    new_alerts: list[Alert] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> list[EndpointOutcome]:
        return [e for e in self.endpoints if e.status == "failed"]

    def totals(self) -> dict[str, int]:
        out = receipts.Counts().as_dict()
        for e in self.endpoints:
            for k, v in e.counts.items():
                out[k] += v
        return out

    def as_xcom(self) -> dict[str, Any]:
        """Counts and names only: XComs never carry record data."""
        return {"department": self.department, "pulls": sum(e.file_id is not None for e in self.endpoints),
                **self.totals(), "accepted_in_run": self.accepted_in_run,
                "pulls_refused": sum(e.error_code is not None and e.status == "rejected" for e in self.endpoints),
                "endpoints_failed": [e.endpoint for e in self.failed],
                "endpoints": {e.endpoint: e.as_xcom() for e in self.endpoints}}


class TransportPullFailed(Exception):
    """At least one endpoint could not be pulled completely; nothing of it was committed.

    ``fail_fast`` (schedule.FailFast): every failed endpoint was refused (a 4xx other than
    408/429, e.g. a wrong signature): a retry would be refused the same way.
    """

    def __init__(self, summary: PullSummary) -> None:
        self.summary = summary
        self.fail_fast = all(e.error_code == "PermanentHttpError" for e in summary.failed)
        self.fail_fast_reason = hub_messages.text("transport_refused")
        detail = "; ".join(f"{e.endpoint}: {e.error}" for e in summary.failed)
        super().__init__(hub_messages.text("transport_pull_incomplete") + f": {detail}")


class TransportPull:
    """One run over every endpoint of the transport API."""

    def __init__(self, feed: Feed, api: PageSource, store: Store, vault: PiiVault, today: date, *,
                 run_id: str | None = None, validator: RecordValidator | None = None,
                 page_size: int | None = None, max_restarts: int = MAX_RESTARTS,
                 alert_failures: bool = False, owner: Owner | None = None, dag_id: str | None = None) -> None:
        self.feed = feed
        self.api = api
        self.store = store
        self.vault = vault
        self.today = today
        self.run_id = run_id
        self.dag_id = dag_id
        self.validator = validator or get_validator(today)
        self.endpoints: dict[str, str] = dict(feed.options.get("endpoints") or {})
        if not self.endpoints:
            raise ValueError(f"{feed.department}: config/departments.yaml lists no endpoints")
        self.page_size = int(page_size or feed.options.get("page_size") or 100)
        self.overlap = timedelta(minutes=int(feed.options.get("overlap_minutes", 5)))
        self.max_restarts = max_restarts
        # Raise an alert for a failed endpoint (the task body sets this on its last try only:
        # earlier failures are retried by Airflow and are no news for admins).
        self.alert_failures = alert_failures
        self.summary = PullSummary(feed.department)
        # One pull per endpoint at a time: two overlapping runs never both spool and take the same window.
        self.claims = Claims(store, feed.department, owner or Owner.here(run_id))

    def run(self) -> PullSummary:
        """Pull every endpoint; raise TransportPullFailed at the end if one could not be pulled."""
        with self.claims.kept_alive():
            for endpoint, record_type in self.endpoints.items():
                if not self.claims.take(endpoint):
                    self.summary.endpoints.append(EndpointOutcome(endpoint, record_type, "claimed_elsewhere", ""))
                    continue
                try:
                    self.summary.endpoints.append(self._pull_guarded(endpoint, record_type))
                finally:
                    self.claims.release(endpoint)
        self.summary.accepted_in_run = self._accepted_in_run()
        if self.summary.failed:
            if self.alert_failures:
                with self.store.session() as s:
                    for e in self.summary.failed:
                        self._alert(s, ALERT_FAILED, e.endpoint, e.error or "")
            raise TransportPullFailed(self.summary)
        return self.summary

    # -- one endpoint ------------------------------------------------------------------------
    def _pull_guarded(self, endpoint: str, record_type: str) -> EndpointOutcome:
        """``pull``, confined to its endpoint: an unexpected error fails this endpoint, not the others."""
        try:
            return self.pull(endpoint, record_type)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.error("%s: pull failed unexpectedly: %s", endpoint, describe(exc), exc_info=True)
            return self._failed(endpoint, record_type, "", None, 0, "unit_unreadable", describe(exc))

    def pull(self, endpoint: str, record_type: str) -> EndpointOutcome:
        key = watermark_key(endpoint)
        with self.store.session() as s:
            row = s.get(Watermark, key)
            mark = row.value if row is not None else None
        since = updated_since(mark, self.overlap)
        for attempt in range(self.max_restarts + 1):
            log.info("%s: pulling updated_since=%s (watermark %s)", endpoint, since, mark or "none yet")
            received_at = now_local()
            spool = Spool()
            try:
                try:
                    for page in self.api.pages(endpoint, since, self.page_size):
                        spool.add(page)
                except PageTokenExpired:
                    if attempt < self.max_restarts:
                        log.warning("%s: page token expired after %d page(s); starting again from the watermark "
                                    "(restart %d of at most %d)", endpoint, spool.pages, attempt + 1,
                                    self.max_restarts)
                    continue
                except (HttpApiError, ValueError) as exc:
                    # HttpApiError: the client gave up (TransientHttpError) or was refused; ValueError: a
                    # malformed answer. Either way the pull is incomplete and nothing of it is kept.
                    return self._failed(endpoint, record_type, since, mark, attempt, type(exc).__name__, str(exc))
                return self._take(endpoint, record_type, since, spool, received_at, attempt)
            finally:
                spool.close()
        return self._failed(endpoint, record_type, since, mark, self.max_restarts, "page_token_expired",
                            message("page_token_expired_repeatedly", times=self.max_restarts + 1))

    def _failed(self, endpoint: str, record_type: str, since: str, mark: str | None, restarts: int,
                code: str, reason: str) -> EndpointOutcome:
        text = message("pull_failed", endpoint=endpoint, watermark=mark or BEGINNING, reason=reason)
        log.error("%s: pull failed (%s), nothing committed, watermark stays at %s: %s",
                  endpoint, code, mark or "none yet", reason)
        return EndpointOutcome(endpoint, record_type, "failed", since, restarts=restarts, error_code=code,
                               error=text)

    def _take(self, endpoint: str, record_type: str, since: str, spool: Spool, received_at: datetime,
              restarts: int) -> EndpointOutcome:
        assert spool.server_time is not None  # a completed pull had at least one page
        server_time = spool.server_time
        outcome = EndpointOutcome(endpoint, record_type, "empty", since, server_time=server_time, restarts=restarts)
        if spool.items == 0:
            with self.store.session() as s:
                self._set_watermark(s, endpoint, server_time)
            log.info("%s: nothing changed since %s; watermark now %s", endpoint, since, server_time)
            return outcome
        name = f"{endpoint}@{server_time}"
        outcome.name = name
        try:
            with self.store.session() as s:
                unit = ReceivedUnit.open(s, self.feed, name, size=spool.size, sha256=spool.sha256,
                                         received_at=received_at, run_id=self.run_id, dag_id=self.dag_id)
                outcome.file_id = unit.file_id
                intake = unit.intake(self.vault, self.validator)
                for chunk in chunked(spool.records(record_type)):
                    intake.take(chunk)
                counts = intake.counts
                receipt = unit.accept(intake, sha256=spool.sha256, size=spool.size, finished=True,
                                      threshold_code="pull_reject_threshold")
                # Same transaction as the records: the watermark moves only with them.
                self._set_watermark(s, endpoint, server_time)
                for kind in (ALERT_REFUSED, ALERT_FAILED):
                    alerts.resolve(s, kind, self.feed.department, endpoint)
        except FileRejected as exc:
            return self._refuse_whole(outcome, spool, received_at, exc)
        outcome.status, outcome.counts = receipt["status"], counts.as_dict()
        log.info("%s: %s from %s (%d accepted, %d rejected, %d unchanged, %d stale); watermark now %s",
                 name, outcome.status, since, counts.accepted, counts.rejected, counts.unchanged, counts.stale,
                 server_time)
        return outcome

    def _refuse_whole(self, outcome: EndpointOutcome, spool: Spool, received_at: datetime,
                      exc: FileRejected) -> EndpointOutcome:
        """Too many bad records: keep the pull's ledger entry, receipt and an alert; no records, same watermark."""
        assert outcome.name is not None
        with self.store.session() as s:
            unit = ReceivedUnit.open(s, self.feed, outcome.name, size=spool.size, received_at=received_at,
                                     run_id=self.run_id, dag_id=self.dag_id)
            unit.refuse(exc, sha256=spool.sha256, finished=True)
            row = unit.row
            self._alert(s, ALERT_REFUSED, outcome.endpoint, f"{outcome.name}: {exc.message}")
        log.warning("%s: refused whole (%s); watermark not moved", outcome.name, exc.message)
        outcome.status, outcome.file_id = "rejected", row.id
        outcome.error_code, outcome.error = exc.code, exc.message
        return outcome

    # -- store helpers -------------------------------------------------------------------------
    def _set_watermark(self, s: Session, endpoint: str, server_time: str) -> None:
        key = watermark_key(endpoint)
        row = s.get(Watermark, key)
        if row is None:
            s.add(Watermark(key=key, value=server_time, updated_at=now_local()))
        else:
            # The server's own clock, even if it went backwards: a lower watermark only re-reads.
            row.value, row.updated_at = server_time, now_local()

    def _alert(self, s: Session, kind: str, endpoint: str, text: str) -> None:
        alert = alerts.raise_alert(s, kind, self.feed.department, endpoint, text)
        if alert is not None:
            self.summary.new_alerts.append(alert)

    def _accepted_in_run(self) -> int:
        if self.run_id is None:
            return sum(e.counts["accepted"] for e in self.summary.endpoints)
        with self.store.session() as s:
            return int(s.execute(select(func.coalesce(func.sum(ReceivedFile.accepted), 0)).where(
                ReceivedFile.department == self.feed.department, ReceivedFile.run_id == self.run_id)).scalar_one())
