"""The pre-flight check: every connection the hub uses, tested, and reported on one row each.

The same function serves the DAG ``check_connections`` and ``qianwei-hub check``. The list of
connections comes from the county's configuration and the code that uses them, never from a list
of its own: each department's ``connection`` in ``config/departments.yaml`` (SFTP inboxes with
their folders, the PBoC outbox, the transport API), the county and city platforms (the push
task bodies' connection ids), the two optional alert channels (``credit_exchange.alerts``),
``pii_key`` and the store ``exchange_db``.

What a row tests:

- SFTP: the server's host key against the pinned one (never accepted otherwise; a mismatch names
  both fingerprints), the login, and a listing of every folder the hub reads or writes there;
- the REST APIs: one signed GET each, through the connectors' own signing (the transport API's
  first page of each endpoint, one item; the county platform's reconciliation look-up of a record
  id that does not exist, answered 404);
- mail: TLS, login and NOOP, no message; the chat robot: a POST with an empty body to its signed
  URL, which the robot refuses as a message after judging the token and the signature;
- ``pii_key``: it decodes, a value encrypted with it decrypts, and it opens a record of the store;
- the store: reachable, and at the code's Alembic head revision (a SQLite store that is behind or
  not there yet is fine: the first task migrates it, as ``Store.from_conn_id`` does).

Connections are looked up first, one after the other; then every check runs in its own thread
with short network time-outs and an overall limit, so one failing or hanging server never stops
or delays the others. Texts are the catalogue's; every secret of the connections and anything
that looks like personal data is blanked out of them before they are shown.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from credit_exchange.standard.pii import safe_text
from hub_messages import text, width

log = logging.getLogger(__name__)

OK, FAILED, NOT_CONFIGURED = "ok", "failed", "not_configured"
# Seconds for each network step of a check (connect, handshake, login, one request).
DEFAULT_TIMEOUT = 10.0
# A check's steps are a few; one still running after this many time-outs has hung.
LIMIT_FACTOR = 3.0
# The county platform's reconciliation look-up of this id answers 404: a signed GET that changes nothing.
COUNTY_PROBE_RECORD = "hub:preflight:no-such-record"
# Extras that hold secrets (besides the password), blanked out of every text shown.
SECRET_EXTRAS = ("app_secret", "secret", "private_key", "private_key_passphrase", "passphrase", "password",
                 "token", "access_token", "sslpassword")


class PreflightFailed(RuntimeError):
    """At least one connection failed its check; the message carries the table. Never retried."""

    fail_fast = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.fail_fast_reason = message.splitlines()[0]


@dataclass(frozen=True)
class Row:
    """One connection's verdict, in the catalogue's words."""

    conn_id: str
    kind: str  # sftp | http | smtp | robot | pii_key | store
    checked: str
    status: str  # ok | failed | not_configured
    problem: str = ""
    fix: str = ""
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


@dataclass(frozen=True)
class Plan:
    """What to check on one connection."""

    conn_id: str
    kind: str
    optional: bool = False
    # sftp: (folder, must exist); a folder the hub makes itself may be missing before its first run
    folders: tuple[tuple[str, bool], ...] = ()
    # http: (what the row names, a call on the connector's client that makes one signed GET)
    requests: tuple[tuple[str, Callable[[Any], Any]], ...] = ()


class _Verdict(Exception):
    """A check's failure: what is wrong and what to fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


# -------------------------------------------------------------------------------- the plan

def plan() -> list[Plan]:
    """Every connection the hub uses, with what to check on each (configuration and code, in order)."""
    from connectors.county_platform import CONN_ID as COUNTY_CONN
    from connectors.county_platform import CountyPlatform
    from connectors.transport_api import TransportApi
    from credit_exchange import alerts, config
    from credit_exchange.feeds.inbox import FOLDERS, HUB_FOLDERS
    from credit_exchange.publish.city.push import RECEIPT_DIR, UPLOAD_DIR
    from credit_exchange.runtime.city import CITY_CONN
    from credit_exchange.timeutil import now_local

    folders: dict[str, list[tuple[str, bool]]] = {}
    requests: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}
    order: list[tuple[str, str]] = []

    def want(conn_id: str, kind: str) -> None:
        if (conn_id, kind) not in order:
            order.append((conn_id, kind))

    for feed in config.feeds():
        if feed.source == "sftp_inbox":
            want(feed.connection, "sftp")
            folders.setdefault(feed.connection, []).extend(
                (feed.folder(name), name not in HUB_FOLDERS) for name in FOLDERS)
        elif feed.source == "sftp_outbox_pairs":
            want(feed.connection, "sftp")
            folders.setdefault(feed.connection, []).append((feed.root, True))
        elif feed.source == "rest_api":
            want(feed.connection, "http")
            since = now_local().isoformat(timespec="seconds")
            for endpoint in feed.options.get("endpoints") or {}:
                requests.setdefault(feed.connection, []).append(
                    (f"/api/v1/{endpoint}", _first_page(TransportApi, endpoint, since)))
    want(COUNTY_CONN, "http")
    requests.setdefault(COUNTY_CONN, []).append(
        ("/api/v1/records/…", lambda client: CountyPlatform(client).get_record(COUNTY_PROBE_RECORD)))
    want(CITY_CONN, "sftp")
    folders.setdefault(CITY_CONN, []).extend([(UPLOAD_DIR, True), (RECEIPT_DIR, True)])

    plans = [Plan(conn_id, kind, folders=tuple(dict.fromkeys(folders.get(conn_id, ()))),
                  requests=tuple(requests.get(conn_id, ()))) for conn_id, kind in order]
    plans += [Plan("pii_key", "pii_key"), Plan("exchange_db", "store"),
              Plan(alerts.SMTP_CONN, "smtp", optional=True), Plan(alerts.WEBHOOK_CONN, "robot", optional=True)]
    return plans


def _first_page(api: Any, endpoint: str, since: str) -> Callable[[Any], Any]:
    def call(client: Any) -> Any:
        pages = api(client).pages(endpoint, since, page_size=1)
        try:
            return next(pages)
        finally:
            pages.close()

    return call


# -------------------------------------------------------------------------------- running

def run_checks(plans: list[Plan] | None = None, *, timeout: float = DEFAULT_TIMEOUT,
               get_connection: Callable[[str], Any] | None = None) -> list[Row]:
    """Check every planned connection; one row each, in the plan's order."""
    if plans is None:
        plans = plan()
    if get_connection is None:
        from credit_exchange.airflow_conn import get_connection as _get

        get_connection = _get
    rows: list[Row | None] = [None] * len(plans)
    conns: dict[str, Any] = {}
    secrets: set[str] = set()
    for i, p in enumerate(plans):
        try:
            conns[p.conn_id] = conn = get_connection(p.conn_id)
        except Exception as exc:  # noqa: BLE001 - every failure is a row, never the end of the check
            rows[i] = _lookup_failed(p, exc)
            continue
        secrets |= _secrets_of(conn)
    threads: list[tuple[int, threading.Thread]] = []
    for i, p in enumerate(plans):
        if rows[i] is not None:
            continue

        def work(i: int = i, p: Plan = p) -> None:
            rows[i] = _run_one(p, conns[p.conn_id], conns, timeout)

        thread = threading.Thread(target=work, name=f"preflight-{p.conn_id}", daemon=True)
        thread.start()
        threads.append((i, thread))
    limit = timeout * LIMIT_FACTOR + 1
    deadline = time.monotonic() + limit
    for i, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive() or rows[i] is None:
            p = plans[i]
            rows[i] = Row(p.conn_id, p.kind, _checked(p), FAILED, text("preflight_check_limit", seconds=limit),
                          text("preflight_fix_timeout"))
    return [_scrubbed(row, secrets) for row in rows if row is not None]


def _lookup_failed(p: Plan, exc: Exception) -> Row:
    env = f"AIRFLOW_CONN_{p.conn_id.upper()}"
    if type(exc).__name__ == "AirflowNotFoundException" and os.environ.get(env, "").strip():
        # Airflow says "isn't defined" for a variable it could not parse (bad JSON or URI): it is there.
        return Row(p.conn_id, p.kind, _checked(p), FAILED, text("preflight_conn_env_unreadable", env=env),
                   text("preflight_fix_conn_json"))
    if type(exc).__name__ == "AirflowNotFoundException":
        if p.optional:
            return Row(p.conn_id, p.kind, _checked(p), NOT_CONFIGURED, note=text("preflight_note_optional"))
        return Row(p.conn_id, p.kind, _checked(p), FAILED, text("preflight_conn_missing", conn_id=p.conn_id),
                   text("preflight_fix_add_conn", conn_id=p.conn_id, env=env))
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    return Row(p.conn_id, p.kind, _checked(p), FAILED,
               text("preflight_conn_unreadable", conn_id=p.conn_id, detail=detail), text("preflight_fix_conn_json"))


def _run_one(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> Row:
    check = CHECKS[p.kind]
    try:
        note = check(p, conn, conns, timeout) or ""
    except _Verdict as verdict:
        return Row(p.conn_id, p.kind, _checked(p), FAILED, verdict.problem, verdict.fix)
    except Exception as exc:  # noqa: BLE001 - an unexpected error is this row's failure, not the run's
        log.debug("pre-flight check of %s failed", p.conn_id, exc_info=True)
        return Row(p.conn_id, p.kind, _checked(p), FAILED,
                   text("preflight_unexpected", detail=f"{type(exc).__name__}: {str(exc)[:300]}"),
                   text("preflight_fix_log"))
    return Row(p.conn_id, p.kind, _checked(p), OK, note=note)


def _checked(p: Plan) -> str:
    if p.kind == "sftp":
        return text("preflight_checked_sftp", count=len(p.folders))
    if p.kind == "http":
        return text("preflight_checked_http", paths=", ".join(name for name, _ in p.requests))
    if p.kind == "smtp":
        return text("preflight_checked_smtp")
    if p.kind == "robot":
        return text("preflight_checked_robot")
    if p.kind == "pii_key":
        return text("preflight_checked_pii")
    from credit_exchange.store.db import head_revision

    return text("preflight_checked_store", head=head_revision())


def _secrets_of(conn: Any) -> set[str]:
    found = {str(getattr(conn, "password", None) or "")}
    extra = getattr(conn, "extra_dejson", None) or {}
    if isinstance(extra, dict):
        found |= {str(extra.get(key) or "") for key in SECRET_EXTRAS}
    return {s for s in found if len(s) >= 3}


def _scrubbed(row: Row, secrets: Iterable[str]) -> Row:
    ordered = sorted(secrets, key=len, reverse=True)

    def clean(value: str) -> str:
        for secret in ordered:
            value = value.replace(secret, "***")
        return safe_text(value)

    return Row(row.conn_id, row.kind, clean(row.checked), row.status, clean(row.problem), clean(row.fix),
               clean(row.note))


def _server(conn: Any) -> str:
    port = getattr(conn, "port", None)
    return f"{conn.host}:{port}" if port else str(conn.host or "")


# -------------------------------------------------------------------------------- the checks

def _check_sftp(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    from connectors.sftp import (
        HostKeyMismatch,
        HostKeyNotPinned,
        SftpAuthError,
        SftpConnectError,
        SftpConnector,
        SftpError,
        SftpTimeout,
    )

    fixes = ((HostKeyNotPinned, "preflight_fix_pin"), (SftpAuthError, "preflight_fix_sftp_auth"),
             (SftpTimeout, "preflight_fix_timeout"), (SftpConnectError, "preflight_fix_unreachable"),
             (SftpError, "preflight_fix_settings"))
    sftp: SftpConnector | None = None
    try:
        sftp = SftpConnector.from_connection(conn, connect_timeout=timeout, banner_timeout=timeout,
                                             auth_timeout=timeout, channel_timeout=timeout)
        _ = sftp.sftp  # connects: host key, login, the SFTP channel
    except SftpError as exc:
        if sftp is not None:
            sftp.close()
        if isinstance(exc, HostKeyMismatch) and sftp is not None:
            raise _Verdict(text("preflight_host_key_mismatch", seen=exc.seen, pinned=" / ".join(sftp.pinned)),
                           text("preflight_fix_host_key")) from exc
        raise _Verdict(str(exc), text(next(fix for cls, fix in fixes if isinstance(exc, cls)))) from exc
    with sftp:
        made_later: list[str] = []
        missing: list[str] = []
        denied: list[str] = []
        other: list[str] = []
        for path, must_exist in p.folders:
            try:
                sftp.listdir_entries(path)
            except FileNotFoundError:
                (missing if must_exist else made_later).append(path)
            except PermissionError:
                denied.append(path)
            except SftpTimeout as exc:
                raise _Verdict(str(exc), text("preflight_fix_timeout")) from exc
            except SftpError as exc:  # the session dropped while listing
                raise _Verdict(str(exc), text("preflight_fix_unreachable")) from exc
            except OSError as exc:
                other.append(text("preflight_folder_failed", path=path, detail=exc))
    problems = ([text("preflight_folder_missing", path=path) for path in missing]
                + [text("preflight_folder_denied", path=path) for path in denied] + other)
    if problems:
        advice = ([text("preflight_fix_folder_missing")] if missing else []) + (
            [text("preflight_fix_folder_denied")] if denied else []) + ([text("preflight_fix_log")] if other else [])
        raise _Verdict("; ".join(problems), " ".join(advice))
    notes = [text("preflight_note_host_key", key=" / ".join(sftp.pinned))]
    if made_later:
        notes.append(text("preflight_note_folders_made", paths=", ".join(made_later)))
    return "; ".join(notes)


def _check_http(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    from connectors.http_api import HttpApiError, PermanentHttpError, SignedApiClient, TransientHttpError

    try:
        # A second try only for an answer that asks for one soon (429 with Retry-After, 503), within the limit.
        client = SignedApiClient.from_connection(conn, connect_timeout=timeout, read_timeout=timeout,
                                                 max_attempts=2, deadline_s=timeout * 1.5, backoff_base_s=0.5)
    except ValueError as exc:
        raise _Verdict(str(exc), text("preflight_fix_settings")) from exc
    with client:
        for _name, call in p.requests:
            try:
                call(client)
            except PermanentHttpError as exc:
                error = f" {exc.error_code}" if exc.error_code else ""
                problem = text("preflight_http_refused", status=exc.status, error=error)
                raise _Verdict(problem, text("preflight_fix_signature" if exc.status == 401
                                             else "preflight_fix_http_refused")) from exc
            except TransientHttpError as exc:
                if exc.status is None:
                    raise _Verdict(text("preflight_http_unreachable", url=client.base_url, detail=exc),
                                   text("preflight_fix_unreachable")) from exc
                raise _Verdict(text("preflight_http_unavailable", status=exc.status),
                               text("preflight_fix_http_unavailable")) from exc
            except HttpApiError as exc:
                fix = "preflight_fix_tls" if isinstance(exc.__cause__, Exception) and "SSL" in type(
                    exc.__cause__).__name__ else "preflight_fix_answer"
                raise _Verdict(str(exc), text(fix)) from exc
            except ValueError as exc:
                raise _Verdict(text("preflight_http_answer", detail=exc), text("preflight_fix_answer")) from exc
    return ""


def _check_smtp(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    import smtplib
    import ssl

    from connectors.mail import MailRefused, check_login

    extra = getattr(conn, "extra_dejson", None) or {}
    if not str(extra.get("to") or "").strip():
        raise _Verdict(text("mail_no_recipients", conn_id=p.conn_id), text("preflight_fix_recipients"))
    server = _server(conn)
    try:
        check_login(conn, timeout)
    except MailRefused as exc:
        raise _Verdict(str(exc), text("preflight_fix_settings")) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise _Verdict(text("preflight_smtp_auth", reply=exc.smtp_code), text("preflight_fix_smtp_auth")) from exc
    except ssl.SSLCertVerificationError as exc:
        raise _Verdict(text("preflight_smtp_tls", detail=exc.verify_message or exc.reason),
                       text("preflight_fix_smtp_tls")) from exc
    except ssl.SSLError as exc:
        raise _Verdict(text("preflight_smtp_tls", detail=exc.reason or type(exc).__name__),
                       text("preflight_fix_smtp_tls")) from exc
    except TimeoutError as exc:
        raise _Verdict(text("preflight_timed_out", server=server, seconds=timeout),
                       text("preflight_fix_timeout")) from exc
    except smtplib.SMTPException as exc:
        raise _Verdict(text("preflight_smtp_refused", detail=f"{type(exc).__name__}: {exc}"),
                       text("preflight_fix_settings")) from exc
    except OSError as exc:
        raise _Verdict(text("preflight_unreachable", server=server, detail=exc),
                       text("preflight_fix_unreachable")) from exc
    return ""


def _check_robot(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    import requests

    from connectors.chat_robot import SIGN_REFUSED, TOKEN_REFUSED, probe

    server = str(conn.host or "")
    try:
        status, errcode = probe(conn, timeout)
    except ValueError as exc:
        raise _Verdict(str(exc), text("preflight_fix_settings")) from exc
    except requests.exceptions.SSLError as exc:
        raise _Verdict(text("http_tls_failed"), text("preflight_fix_tls")) from exc
    except requests.Timeout as exc:
        raise _Verdict(text("preflight_timed_out", server=server, seconds=timeout),
                       text("preflight_fix_timeout")) from exc
    except requests.RequestException as exc:
        raise _Verdict(text("preflight_unreachable", server=server, detail=type(exc).__name__),
                       text("preflight_fix_unreachable")) from exc
    if errcode in TOKEN_REFUSED:
        raise _Verdict(text("preflight_robot_token", errcode=errcode), text("preflight_fix_robot_token"))
    if errcode in SIGN_REFUSED:
        raise _Verdict(text("preflight_robot_sign", errcode=errcode), text("preflight_fix_robot_sign"))
    if status != 200 or errcode is None:
        raise _Verdict(text("preflight_robot_http", status=status), text("preflight_fix_robot_http"))
    return ""


def _check_pii(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    from credit_exchange.standard.crypto import PiiKeyMissing, PiiVault

    if not conn.password:
        raise _Verdict(text("pii_key_empty", conn_id=p.conn_id), text("preflight_fix_pii_new"))
    try:
        vault = PiiVault(conn.password)
    except PiiKeyMissing as exc:
        raise _Verdict(str(exc), text("preflight_fix_pii_new")) from exc
    canary = "preflight"
    if vault.decrypt(vault.encrypt(canary)) != canary:
        raise _Verdict(text("pii_decrypt_field"), text("preflight_fix_pii_new"))
    sample = _sealed_sample(conns.get("exchange_db"), timeout)
    if sample is None:
        return text("preflight_note_pii_no_sample")
    try:
        vault.open(*sample)
    except PiiKeyMissing as exc:
        raise _Verdict(str(exc), text("preflight_fix_pii_restore")) from exc
    return text("preflight_note_pii_sample")


def _sealed_sample(store_conn: Any, timeout: float) -> tuple[str, str] | None:
    """One sealed record of the store (record type, sealed data), or None: no store, none there, unreachable."""
    if store_conn is None:
        return None
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from credit_exchange.store import Record
    from credit_exchange.store.db import sqlalchemy_url

    try:
        url = sqlalchemy_url(store_conn)
        if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
            return None
        engine = _engine(url, timeout)
        try:
            with engine.connect() as connection:
                row = connection.execute(select(Record.record_type, Record.data_enc)
                                         .where(Record.op != "delete").limit(1)).first()
        finally:
            engine.dispose()
    except (SQLAlchemyError, ValueError):
        return None  # the store's own row says what is wrong with it
    return (row[0], row[1]) if row is not None else None


def _engine(url: str, timeout: float) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    if url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": timeout})
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": max(1, int(timeout))})


def _check_store(p: Plan, conn: Any, conns: dict[str, Any], timeout: float) -> str:
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from credit_exchange.store.db import MIGRATIONS, current_revision, head_revision, sqlalchemy_url

    try:
        url = sqlalchemy_url(conn)
    except ValueError as exc:
        raise _Verdict(str(exc), text("preflight_fix_settings")) from exc
    head = head_revision()
    sqlite = url.startswith("sqlite:///")
    if sqlite:
        path = url[len("sqlite:///"):]
        if not os.path.exists(path):
            folder = os.path.dirname(path)
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                raise _Verdict(text("preflight_sqlite_folder", path=folder), text("preflight_fix_sqlite_folder"))
            return text("preflight_note_sqlite_new", path=path)
    engine = _engine(url, timeout)
    try:
        found = current_revision(engine)
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise _Verdict(text("preflight_store_unreachable", detail=detail), text("preflight_fix_store")) from exc
    except SQLAlchemyError as exc:
        raise _Verdict(text("preflight_store_unreachable", detail=type(exc).__name__),
                       text("preflight_fix_store")) from exc
    finally:
        engine.dispose()
    if found == head:
        return text("preflight_note_revision", revision=head)
    known = {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    if found is not None and found not in known:
        raise _Verdict(text("preflight_store_unknown_revision", found=found, head=head),
                       text("preflight_fix_code_version"))
    if sqlite:
        return text("preflight_note_sqlite_behind", found=found or "-", head=head)
    raise _Verdict(text("store_not_migrated", found=found or "-", wanted=head), text("preflight_fix_migrate"))


CHECKS: dict[str, Callable[[Plan, Any, dict[str, Any], float], str]] = {
    "sftp": _check_sftp, "http": _check_http, "smtp": _check_smtp, "robot": _check_robot,
    "pii_key": _check_pii, "store": _check_store,
}


# -------------------------------------------------------------------------------- showing

def _pad(s: str, columns: int) -> str:
    return s + " " * max(1, columns - width(s))


def failures(rows: list[Row]) -> int:
    return sum(row.failed for row in rows)


def render(rows: list[Row]) -> str:
    """The table: one line per connection, then what is wrong and what to fix under a failed one."""
    status = {OK: text("preflight_status_ok"), FAILED: text("preflight_status_failed"),
              NOT_CONFIGURED: text("preflight_status_not_configured")}
    first = max([width(text("preflight_col_conn"))] + [width(r.conn_id) for r in rows]) + 2
    second = max([width(text("preflight_col_result"))] + [width(s) for s in status.values()]) + 2
    indent = " " * (first + second)
    lines = [f"== {text('preflight_title')} ==",
             _pad(text("preflight_col_conn"), first) + _pad(text("preflight_col_result"), second)
             + text("preflight_col_checked")]
    for row in rows:
        lines.append(_pad(row.conn_id, first) + _pad(status[row.status], second) + row.checked)
        if row.problem:
            lines.append(f"{indent}{text('preflight_problem')}: {row.problem}")
        if row.fix:
            lines.append(f"{indent}{text('preflight_fix')}: {row.fix}")
        if row.note:
            lines.append(f"{indent}{text('preflight_note')}: {row.note}")
    count = failures(rows)
    lines.append("== " + (text("preflight_some_failed", count=count) if count else text("preflight_all_ok")) + " ==")
    return "\n".join(lines)


def as_json(rows: list[Row]) -> dict[str, Any]:
    """For scripts: ``{"ok": bool, "failed": n, "rows": [{conn_id, kind, checked, status, problem, fix, note}]}``."""
    return {"ok": failures(rows) == 0, "failed": failures(rows), "rows": [asdict(row) for row in rows]}


# -------------------------------------------------------------------------------- the task body

def check_connections(context: dict[str, Any] | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Task body of ``check_connections``: the table goes to the task's log; any failure fails the task."""
    rows = run_checks(timeout=timeout)
    table = render(rows)
    log.info("%s", table)
    count = failures(rows)
    if count:
        raise PreflightFailed(text("preflight_failed_task", count=count) + "\n" + table)
    return {"ok": sum(r.status == OK for r in rows), "not_configured": sum(r.status == NOT_CONFIGURED for r in rows)}


__all__ = ["DEFAULT_TIMEOUT", "FAILED", "NOT_CONFIGURED", "OK", "Plan", "PreflightFailed", "Row", "as_json",
           "check_connections", "failures", "plan", "render", "run_checks"]
