"""The pre-flight check (issue 13, point 1) against the real stand-ins: real sshds, the county and
transport sandboxes, a TLS mail server, a chat robot, a SQLite store and PostgreSQL.

All good first; then a wrong host key, wrong secrets, stopped servers and a server that never
answers: each is reported on its own row with what to fix, and every other row is still checked.
Connections reach the check as ``AIRFLOW_CONN_*`` variables, as in a deployment.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paramiko
import pytest

from credit_exchange.admin.cli import main
from credit_exchange.runtime.preflight import FAILED, NOT_CONFIGURED, OK, Row, as_json, render, run_checks
from credit_exchange.store.db import head_revision
from credit_exchange.timeutil import LOCAL
from hub_messages import text
from sandbox import chat_robot, mail_server
from sandbox.tls import Certificate, make_certificate
from tests.helpers import COUNTY_SECRET, connection_env, county_conn

pytestmark = pytest.mark.sshd

TRANSPORT_KEY, TRANSPORT_SECRET = "qw-transport-key", "qw-transport-secret-0123456789abcdef"
ROBOT_TOKEN = "robot-token-0123456789"
ROBOT_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
MAIL_PASSWORD = "mail-secret-0123456789"
EVERY_CONNECTION = ["inbox_sftp", "transport_api", "pboc_sftp", "county_platform", "city_platform_sftp", "pii_key",
                    "exchange_db", "alert_smtp", "alert_webhook"]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def outbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One sshd with the PBoC outbox and the city platform's folders (the check lists each connection's own)."""
    from sandbox.sshd import CITY_FOLDERS, PBOC_FOLDERS, start_sshd

    base = tmp_path_factory.mktemp("outbox-sshd")
    server = start_sshd(base / "state", base / "data", folders=PBOC_FOLDERS + CITY_FOLDERS)
    yield server
    server.stop()


@pytest.fixture
def transport() -> Iterator[Any]:
    from sandbox.transport_api import start

    server = start(TRANSPORT_KEY, TRANSPORT_SECRET)
    yield server
    server.shutdown()


@pytest.fixture
def mail(cert: Certificate) -> Iterator[mail_server.MailServer]:
    server = mail_server.start(cert.server_context(), "ssl", "hub@qianwei.gov.cn", MAIL_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def robot(cert: Certificate) -> Iterator[chat_robot.ChatRobot]:
    server = chat_robot.start(cert.server_context(), ROBOT_TOKEN, ROBOT_SECRET)
    yield server
    server.stop()


@pytest.fixture
def sealed_store(tmp_path: Path, pii_key: str) -> Path:
    """A migrated SQLite store holding one record sealed with ``pii_key``."""
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.store import Record, Store

    path = tmp_path / "exchange.db"
    store = Store(f"sqlite:///{path}")
    vault = PiiVault(pii_key)
    with store.session() as s:
        s.add(Record(record_id="transport:courier_rating:R-1", department="transport", record_type="courier_rating",
                     hub_version=1, op="upsert", content_hash="0" * 64,
                     data_enc=vault.seal("courier_rating", {"rating": "A"}), subject_key=None, subject_kind=None,
                     subject_name=None, delivery_id=None, updated_at=datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL)))
    store.dispose()
    return path


@pytest.fixture
def conns(inbox_server: Any, inbox_root: Path, outbox_server: Any, county: Any, transport: Any,
          mail: mail_server.MailServer, robot: chat_robot.ChatRobot, cert: Certificate, sealed_store: Path,
          pii_key: str) -> dict[str, dict[str, Any]]:
    """Every connection of the hub, pointing at the stand-ins; a test breaks the ones it means to."""
    return {
        "inbox_sftp": inbox_server.airflow_connection(),
        "pboc_sftp": outbox_server.airflow_connection(),
        "city_platform_sftp": outbox_server.airflow_connection(),
        "county_platform": county_conn(county),
        "transport_api": {"conn_type": "http", "host": transport.url,
                          "extra": {"app_key": TRANSPORT_KEY, "app_secret": TRANSPORT_SECRET}},
        "exchange_db": {"conn_type": "sqlite", "host": str(sealed_store)},
        "pii_key": {"conn_type": "generic", "password": pii_key},
        "alert_smtp": {"conn_type": "smtp", "host": "127.0.0.1", "port": mail.port, "login": mail.login,
                       "password": mail.password,
                       "extra": {"from_email": "hub@qianwei.gov.cn", "to": "admin@qianwei.gov.cn",
                                 "ca_file": str(cert.ca_file), "disable_ssl": False}},
        "alert_webhook": {"conn_type": "http", "host": f"{robot.url}/robot/send", "password": ROBOT_TOKEN,
                          "extra": {"kind": "dingtalk", "secret": ROBOT_SECRET, "ca_bundle": str(cert.ca_file)}},
    }


def check(monkeypatch: pytest.MonkeyPatch, conns: dict[str, dict[str, Any]], timeout: float = 5.0) -> dict[str, Row]:
    for conn_id in EVERY_CONNECTION:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    for name, value in connection_env(**conns).items():
        monkeypatch.setenv(name, value)
    rows = run_checks(timeout=timeout)
    assert [r.conn_id for r in rows] == EVERY_CONNECTION  # every one, configured or not
    return {r.conn_id: r for r in rows}


def statuses(rows: dict[str, Row]) -> dict[str, str]:
    return {conn_id: row.status for conn_id, row in rows.items()}


def fingerprint(line: str) -> str:
    kind, blob = line.split()[:2]
    key = paramiko.PKey.from_type_string(kind, __import__("base64").b64decode(blob))
    return f"{key.get_name()} {key.fingerprint}"


def shown(rows: dict[str, Row]) -> str:
    """Everything an admin or a script sees: the table and the JSON."""
    listed = list(rows.values())
    return render(listed) + json.dumps(as_json(listed), ensure_ascii=False)


# -------------------------------------------------------------------------------- all good

def test_every_connection_of_the_stand_ins_works(monkeypatch, conns, inbox_server, outbox_server, mail, robot,
                                                 capsys) -> None:
    rows = check(monkeypatch, conns)
    assert statuses(rows) == dict.fromkeys(EVERY_CONNECTION, OK), {r.conn_id: r.problem for r in rows.values()}
    assert fingerprint(inbox_server.host_key_line) in rows["inbox_sftp"].note
    assert rows["inbox_sftp"].checked == text("preflight_checked_sftp", count=10)  # market and police, 5 each
    assert rows["pboc_sftp"].checked == text("preflight_checked_sftp", count=1)
    assert rows["city_platform_sftp"].checked == text("preflight_checked_sftp", count=2)
    assert "/api/v1/courier-enterprises" in rows["transport_api"].checked
    assert rows["pii_key"].note == text("preflight_note_pii_sample")  # it opened the stored record
    assert rows["exchange_db"].note == text("preflight_note_revision", revision=head_revision())
    # No spam: the robot and the mail server were knocked on, and nothing was posted or sent.
    assert robot.messages == [] and len(robot.answers) == 1 and robot.answers[0] not in (0, 300001, 310000)
    assert mail.messages == []
    table = shown(rows)
    for secret in (COUNTY_SECRET, TRANSPORT_SECRET, ROBOT_TOKEN, ROBOT_SECRET, MAIL_PASSWORD, conns["pii_key"]["password"]):
        assert secret not in table

    # The command: the same rows, exit 0, a table for people and JSON for scripts.
    assert main(["check", "--timeout", "5"]) == 0
    out = capsys.readouterr().out
    assert text("preflight_title") in out and text("preflight_all_ok") in out
    assert main(["check", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is True and [r["conn_id"] for r in answer["rows"]] == EVERY_CONNECTION


def test_alert_channels_not_configured_are_not_failures(monkeypatch, conns) -> None:
    del conns["alert_smtp"], conns["alert_webhook"]
    rows = check(monkeypatch, conns)
    assert statuses(rows) == {**dict.fromkeys(EVERY_CONNECTION, OK), "alert_smtp": NOT_CONFIGURED,
                              "alert_webhook": NOT_CONFIGURED}
    assert rows["alert_smtp"].note == text("preflight_note_optional")
    assert main(["check"]) == 0


def test_a_required_connection_missing_says_how_to_add_it(monkeypatch, conns) -> None:
    del conns["pii_key"]
    rows = check(monkeypatch, conns)
    assert rows["pii_key"].status == FAILED
    assert rows["pii_key"].problem == text("preflight_conn_missing", conn_id="pii_key")
    assert "AIRFLOW_CONN_PII_KEY" in rows["pii_key"].fix
    assert {c: s for c, s in statuses(rows).items() if c != "pii_key"} == {
        c: OK for c in EVERY_CONNECTION if c != "pii_key"}


def test_a_connection_variable_airflow_cannot_parse_is_not_called_missing(monkeypatch, conns) -> None:
    """Airflow answers "isn't defined" for an AIRFLOW_CONN_* it cannot parse: the row says it is set but unreadable."""
    for conn_id in EVERY_CONNECTION:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    for name, value in connection_env(**conns).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIRFLOW_CONN_TRANSPORT_API", '{"conn_type": "http", "host": ')  # cut-off JSON
    rows = {r.conn_id: r for r in run_checks(timeout=5.0)}
    assert rows["transport_api"].status == FAILED
    assert rows["transport_api"].problem == text("preflight_conn_env_unreadable", env="AIRFLOW_CONN_TRANSPORT_API")
    assert rows["transport_api"].fix == text("preflight_fix_conn_json")
    assert rows["county_platform"].status == OK


# -------------------------------------------------------------------------------- what goes wrong

def test_a_wrong_host_key_is_refused_and_both_fingerprints_shown(monkeypatch, conns, inbox_server, inbox_root) -> None:
    other = paramiko.ECDSAKey.generate()
    pinned = f"{other.get_name()} {other.get_base64()}"
    conns["inbox_sftp"] = inbox_server.airflow_connection(host_key=pinned)
    rows = check(monkeypatch, conns)
    row = rows["inbox_sftp"]
    assert row.status == FAILED
    assert row.problem == text("preflight_host_key_mismatch", seen=fingerprint(inbox_server.host_key_line),
                               pinned=fingerprint(pinned))
    assert row.fix == text("preflight_fix_host_key")
    assert {c: s for c, s in statuses(rows).items() if c != "inbox_sftp"} == {
        c: OK for c in EVERY_CONNECTION if c != "inbox_sftp"}
    # Never accepted: nothing was claimed or written on the server it reached.
    assert sorted(p.name for p in (inbox_root / "market" / "inbox").iterdir()) == []
    assert main(["check"]) == 1


def test_a_connection_without_a_pinned_key_is_not_even_tried(monkeypatch, conns, outbox_server) -> None:
    conn = outbox_server.airflow_connection()
    del conn["extra"]["host_key"]
    conns["city_platform_sftp"] = conn
    row = check(monkeypatch, conns)["city_platform_sftp"]
    assert row.status == FAILED and row.fix == text("preflight_fix_pin") and "host_key" in row.problem


def test_wrong_secrets_are_reported_each_with_its_fix(monkeypatch, conns, outbox_server, tmp_path, robot,
                                                     mail) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from credit_exchange.standard.crypto import PiiVault

    # A real key, as ssh-keygen writes it, that the server does not know.
    (tmp_path / "stranger_key").write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
    conns["pboc_sftp"] = outbox_server.airflow_connection(key_file=str(tmp_path / "stranger_key"))
    conns["county_platform"]["extra"]["app_secret"] = "not-the-county-secret-0123"
    conns["alert_webhook"]["password"] = "not-the-robot-token"
    conns["alert_smtp"]["password"] = "not-the-mail-password"
    other_key = PiiVault.generate_key()
    conns["pii_key"]["password"] = other_key  # a valid key, but not the one the store's records were sealed with
    rows = check(monkeypatch, conns)

    assert rows["pboc_sftp"].status == FAILED and rows["pboc_sftp"].fix == text("preflight_fix_sftp_auth")
    assert rows["county_platform"].status == FAILED
    assert rows["county_platform"].problem == text("preflight_http_refused", status=401, error=" BAD_SIGNATURE")
    assert rows["county_platform"].fix == text("preflight_fix_signature")
    assert rows["alert_webhook"].problem == text("preflight_robot_token", errcode=300001)
    assert rows["alert_webhook"].fix == text("preflight_fix_robot_token")
    assert rows["alert_smtp"].problem == text("preflight_smtp_auth", reply=535)
    assert rows["alert_smtp"].fix == text("preflight_fix_smtp_auth")
    # The problem names the key the store's records were sealed with (standard/crypto.py key ids).
    assert rows["pii_key"].problem.startswith(text("pii_decrypt_record"))
    assert "pii_key" in rows["pii_key"].problem and "previous" in rows["pii_key"].problem
    assert rows["pii_key"].fix == text("preflight_fix_pii_restore")
    # The rest were checked all the same.
    broken = {"pboc_sftp", "county_platform", "alert_webhook", "alert_smtp", "pii_key"}
    assert {c: s for c, s in statuses(rows).items() if c not in broken} == {
        c: OK for c in EVERY_CONNECTION if c not in broken}
    assert robot.messages == [] and mail.messages == []
    table = shown(rows)
    for secret in ("not-the-county-secret-0123", "not-the-robot-token", "not-the-mail-password", other_key,
                   TRANSPORT_SECRET):
        assert secret not in table


def test_a_wrong_signing_secret_of_the_robot(monkeypatch, conns, robot) -> None:
    conns["alert_webhook"]["extra"]["secret"] = "SECnot-the-secret"
    row = check(monkeypatch, conns)["alert_webhook"]
    assert row.problem == text("preflight_robot_sign", errcode=310000) and row.fix == text("preflight_fix_robot_sign")
    assert robot.messages == []


def test_stopped_servers_are_reported_and_the_others_still_checked(monkeypatch, conns, transport,
                                                                   tmp_path_factory) -> None:
    from sandbox.sshd import PBOC_FOLDERS, start_sshd

    base = tmp_path_factory.mktemp("stopped-sshd")
    pboc = start_sshd(base / "state", base / "data", folders=PBOC_FOLDERS, read_only=True)
    conns["pboc_sftp"] = pboc.airflow_connection()
    pboc.stop()
    transport.shutdown()
    started = time.monotonic()
    rows = check(monkeypatch, conns)
    assert time.monotonic() - started < 15
    assert rows["pboc_sftp"].status == FAILED and rows["pboc_sftp"].fix == text("preflight_fix_unreachable")
    assert f":{pboc.port}" in rows["pboc_sftp"].problem
    assert rows["transport_api"].status == FAILED and rows["transport_api"].fix == text("preflight_fix_unreachable")
    assert {c: s for c, s in statuses(rows).items() if c not in ("pboc_sftp", "transport_api")} == {
        c: OK for c in EVERY_CONNECTION if c not in ("pboc_sftp", "transport_api")}
    assert main(["check"]) == 1


def test_a_server_that_never_answers_is_cut_off_by_the_time_out(monkeypatch, conns, outbox_server) -> None:
    mute = socket.create_server(("127.0.0.1", 0))  # accepts connections (the kernel does) and never speaks
    try:
        conns["city_platform_sftp"] = {**outbox_server.airflow_connection(), "port": mute.getsockname()[1]}
        started = time.monotonic()
        rows = check(monkeypatch, conns, timeout=1.0)
        assert time.monotonic() - started < 8
    finally:
        mute.close()
    row = rows["city_platform_sftp"]
    assert row.status == FAILED and row.fix == text("preflight_fix_timeout"), row
    assert {c: s for c, s in statuses(rows).items() if c != "city_platform_sftp"} == {
        c: OK for c in EVERY_CONNECTION if c != "city_platform_sftp"}


@pytest.mark.postgres
def test_a_postgresql_store_not_migrated_says_to_migrate(monkeypatch, conns, pg_url) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    conns["exchange_db"] = {"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
                            "schema": url.database}
    rows = check(monkeypatch, conns)
    assert rows["exchange_db"].status == FAILED and rows["exchange_db"].fix == text("preflight_fix_migrate")
    assert rows["pii_key"].status == OK  # an empty store has no record to try the key on: not its failure


@pytest.mark.postgres
def test_a_postgresql_store_at_head_passes(monkeypatch, conns, pg_url) -> None:
    from sqlalchemy.engine import make_url

    from credit_exchange.store import Store

    Store(pg_url).dispose()  # migrated, as the deployment's init step does
    url = make_url(pg_url)
    conns["exchange_db"] = {"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
                            "schema": url.database}
    row = check(monkeypatch, conns)["exchange_db"]
    assert row.status == OK, row


def test_a_postgresql_server_that_is_down(monkeypatch, conns) -> None:
    with socket.socket() as s:  # a free port, nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conns["exchange_db"] = {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "postgres",
                            "password": "pg-password-0123", "schema": "exchange"}
    rows = check(monkeypatch, conns)
    assert rows["exchange_db"].status == FAILED and rows["exchange_db"].fix == text("preflight_fix_store")
    assert "pg-password-0123" not in shown(rows)


# -------------------------------------------------------------------------------- the DAG

class Collect(logging.Handler):
    """The task's own log lines (dag.test() runs the task in this process)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.slow
def test_the_dag_check_connections_through_airflow(monkeypatch, conns, airflow_db) -> None:
    from tests.helpers import run_dag

    task_log = Collect()
    logger = logging.getLogger("credit_exchange.runtime.preflight")
    logger.addHandler(task_log)
    try:
        check(monkeypatch, conns)  # sets the connections as AIRFLOW_CONN_* for the run
        dr, states = run_dag("check_connections", datetime(2026, 11, 28, 9, 0, tzinfo=LOCAL))
        assert dr.state == "success" and states == {"check_every_connection": "success"}
        assert any(text("preflight_title") in line and text("preflight_all_ok") in line for line in task_log.lines)

        task_log.lines.clear()
        conns["county_platform"]["extra"]["app_secret"] = "not-the-county-secret-0123"
        check(monkeypatch, conns)
        dr, states = run_dag("check_connections", datetime(2026, 11, 28, 9, 5, tzinfo=LOCAL))
        assert dr.state == "failed" and states == {"check_every_connection": "failed"}
    finally:
        logger.removeHandler(task_log)
    (table,) = [line for line in task_log.lines if text("preflight_title") in line]
    assert text("preflight_some_failed", count=1) in table and text("preflight_fix_signature") in table
    assert "not-the-county-secret-0123" not in table
