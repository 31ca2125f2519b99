"""Alerts that really arrive (issue 10, point 7): e-mail through Airflow's SMTP provider with verified TLS
(465 and STARTTLS) against a local mail server, and chat robots that refuse with an errcode.

The stand-ins (sandbox/mail_server.py, sandbox/chat_robot.py) present a certificate of a private CA;
the connections name that CA, as an admin would for a county server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange.alerts import deliver_pending, raise_alert
from credit_exchange.store import Alert
from sandbox import chat_robot, mail_server
from sandbox.tls import Certificate, make_certificate

ID = "11010519491231002X"
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=["ssl", "starttls"])
def mail(request: pytest.FixtureRequest, cert: Certificate) -> Iterator[mail_server.MailServer]:
    server = mail_server.start(cert.server_context(), request.param, "hub@qianwei.gov.cn", "mail-secret")
    yield server
    server.stop()


@pytest.fixture
def robot(cert: Certificate) -> Iterator[chat_robot.ChatRobot]:
    server = chat_robot.start(cert.server_context(), "robot-token", SECRET)
    yield server
    server.stop()


def connect(monkeypatch: pytest.MonkeyPatch, **conns: dict[str, Any]) -> None:
    for name in ("ALERT_SMTP", "ALERT_WEBHOOK"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    for conn_id, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def smtp_conn(server: mail_server.MailServer, cert: Certificate, **extra: Any) -> dict[str, Any]:
    return {"conn_type": "smtp", "host": "127.0.0.1", "port": server.port, "login": server.login,
            "password": server.password,
            "extra": {"from_email": "hub@qianwei.gov.cn", "to": "admin@qianwei.gov.cn", "ca_file": str(cert.ca_file),
                      # the stand-in listens on a free port, not 465: say which TLS it speaks
                      "disable_ssl": server.mode == "starttls", **extra}}


def dingtalk_conn(server: chat_robot.ChatRobot, cert: Certificate, **extra: Any) -> dict[str, Any]:
    return {"conn_type": "http", "host": f"{server.url}/robot/send", "password": server.token,
            "extra": {"kind": "dingtalk", "secret": SECRET, "ca_bundle": str(cert.ca_file), **extra}}


def alert(store: Any) -> None:
    with store.session() as s:
        raise_alert(s, "pboc_pair_corrupt", "pboc", "PBOC_PAYRISK_20261128_01.dat", f"摘要不符 (digest mismatch) {ID}")


def pending(store: Any) -> int:
    with store.session() as s:
        return len(s.execute(select(Alert).where(Alert.notified_at.is_(None))).scalars().all())


def no_sleep(seconds: float) -> None:
    pass


def test_mail_goes_out_over_verified_tls(mail, cert, sqlite_store, monkeypatch) -> None:
    connect(monkeypatch, alert_smtp=smtp_conn(mail, cert))
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 1
    (msg,) = mail.messages
    from email.header import decode_header, make_header

    assert msg["To"] == "admin@qianwei.gov.cn"
    assert str(make_header(decode_header(msg["Subject"]))) == "[犍为信用交换] 1 条告警 (alerts)"
    body = "".join(part.get_payload(decode=True).decode("utf-8") for part in msg.walk()
                   if part.get_content_type() == "text/html")
    assert "PBOC_PAYRISK_20261128_01.dat" in body and ID not in body and "110105********002X" in body
    assert pending(sqlite_store) == 0


def test_a_certificate_the_hub_does_not_trust_is_refused_and_the_alert_kept(mail, cert, sqlite_store,
                                                                           monkeypatch) -> None:
    conn = smtp_conn(mail, cert)
    del conn["extra"]["ca_file"]
    connect(monkeypatch, alert_smtp=conn)
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 0
    assert mail.messages == [] and pending(sqlite_store) == 1  # offered again at the end of the next task


@pytest.mark.parametrize("extra", [{"ssl_context": "none"}, {"disable_ssl": True, "disable_tls": True},
                                   {"disable_ssl": "true", "disable_tls": "yes"}])
def test_plain_text_or_unverified_mail_is_refused(mail, cert, sqlite_store, monkeypatch, extra) -> None:
    connect(monkeypatch, alert_smtp=smtp_conn(mail, cert, **extra))
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 0 and mail.messages == []


def test_a_wrong_mail_password_does_not_count_as_sent(mail, cert, sqlite_store, monkeypatch) -> None:
    connect(monkeypatch, alert_smtp={**smtp_conn(mail, cert), "password": "wrong"})
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 0 and pending(sqlite_store) == 1


def test_a_signed_dingtalk_message_arrives(robot, cert, sqlite_store, monkeypatch) -> None:
    connect(monkeypatch, alert_webhook=dingtalk_conn(robot, cert))
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 1
    (msg,) = robot.messages
    assert msg["msgtype"] == "text" and "PBOC_PAYRISK_20261128_01.dat" in msg["text"]["content"]
    assert ID not in msg["text"]["content"]


def test_an_errcode_is_a_failure_retried_until_the_robot_takes_it(robot, cert, sqlite_store, monkeypatch) -> None:
    connect(monkeypatch, alert_webhook=dingtalk_conn(robot, cert))
    robot.refuse(2, 130101)  # "send too fast": HTTP 200 all the same
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 1
    assert robot.answers == [130101, 130101, 0] and len(robot.messages) == 1


@pytest.mark.parametrize("broken", ["secret", "token"])
def test_a_robot_that_keeps_refusing_leaves_the_alert_pending(robot, cert, sqlite_store, monkeypatch,
                                                              broken) -> None:
    conn = dingtalk_conn(robot, cert)
    if broken == "secret":
        conn["extra"]["secret"] = "SECwrong"
    else:
        conn["password"] = "not-the-token"
    connect(monkeypatch, alert_webhook=conn)
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 0
    assert robot.answers == [310000 if broken == "secret" else 300001] * 3 and pending(sqlite_store) == 1


def test_a_wecom_robot_takes_its_key_from_the_password(cert, sqlite_store, monkeypatch) -> None:
    server = chat_robot.start(cert.server_context(), "wecom-key")
    try:
        connect(monkeypatch, alert_webhook={"conn_type": "http", "host": f"{server.url}/cgi-bin/webhook/send",
                                            "password": "wecom-key",
                                            "extra": {"kind": "wecom", "ca_bundle": str(cert.ca_file)}})
        alert(sqlite_store)
        assert deliver_pending(sqlite_store, sleep=no_sleep) == 1 and server.answers == [0]
    finally:
        server.stop()


def test_with_no_channel_the_page_is_the_channel(sqlite_store, monkeypatch) -> None:
    connect(monkeypatch)
    alert(sqlite_store)
    assert deliver_pending(sqlite_store, sleep=no_sleep) == 1 and pending(sqlite_store) == 0


def test_the_token_is_in_the_password_where_airflow_masks_it(robot) -> None:
    from types import SimpleNamespace

    from connectors.chat_robot import robot_url

    conn = SimpleNamespace(host=f"{robot.url}/robot/send", schema=None, password="robot-token",
                           extra_dejson={"secret": SECRET})
    url = robot_url(conn, now_ms=1_700_000_000_000)
    assert url.startswith(f"{robot.url}/robot/send?access_token=robot-token&timestamp=1700000000000&sign=")
    assert chat_robot.dingtalk_sign(SECRET, 1_700_000_000_000) in __import__("urllib.parse").parse.unquote(url)


def test_certificates_are_written_to_a_folder(cert: Certificate) -> None:
    assert Path(cert.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
