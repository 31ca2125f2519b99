"""The pre-flight check's plan, texts and scrubbing, without servers (the real checks: tests/integration/admin)."""

from __future__ import annotations

from types import SimpleNamespace

from credit_exchange import config
from credit_exchange.runtime.preflight import (
    FAILED,
    NOT_CONFIGURED,
    OK,
    Plan,
    as_json,
    plan,
    render,
    run_checks,
)
from hub_messages import text


def test_the_plan_follows_the_departments_and_the_code() -> None:
    plans = {p.conn_id: p for p in plan()}
    for feed in config.feeds():
        assert feed.connection in plans, feed.department
    assert {p.conn_id for p in plans.values() if p.optional} == {"alert_smtp", "alert_webhook"}
    assert {"county_platform", "city_platform_sftp", "pii_key", "exchange_db"} <= set(plans)
    inbox = dict(plans["inbox_sftp"].folders)
    assert inbox["/market/inbox"] is True and inbox["/police/quarantine"] is False  # the hub makes quarantine/
    assert dict(plans["city_platform_sftp"].folders) == {"/upload/511123": True, "/receipt/511123": True}
    assert [name for name, _ in plans["transport_api"].requests] == ["/api/v1/courier-enterprises",
                                                                     "/api/v1/courier-violations"]


def test_a_missing_connection_fails_unless_optional_and_no_secret_or_id_number_is_shown() -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    secret = "s3cret-app-secret"
    conns = {"pii_key": SimpleNamespace(conn_id="pii_key", password=f"{secret}11010519491231002X",
                                        extra_dejson={"app_secret": secret})}

    def get(conn_id: str) -> object:
        if conn_id in conns:
            return conns[conn_id]
        raise AirflowNotFoundException(conn_id)

    rows = run_checks([Plan("pii_key", "pii_key"), Plan("exchange_db", "store"),
                       Plan("alert_smtp", "smtp", optional=True)], get_connection=get, timeout=1)
    assert [r.status for r in rows] == [FAILED, FAILED, NOT_CONFIGURED]
    assert rows[0].problem == text("pii_key_format") and rows[0].fix == text("preflight_fix_pii_new")
    assert "AIRFLOW_CONN_EXCHANGE_DB" in rows[1].fix
    shown = render(rows) + str(as_json(rows))
    assert secret not in shown and "11010519491231002X" not in shown
    assert text("preflight_some_failed", count=2) in render(rows)
    assert as_json(rows)["ok"] is False and as_json(rows[2:])["ok"] is True


def test_the_table_keeps_its_columns_with_chinese_text() -> None:
    from credit_exchange.runtime.preflight import Row
    from hub_messages import width as _width

    rows = [Row("inbox_sftp", "sftp", "CHECKED-A", OK), Row("alert_webhook", "robot", "CHECKED-B", NOT_CONFIGURED)]
    lines = render(rows).splitlines()[1:4]
    starts = {_width(line[:line.index(checked)]) for line, checked in zip(lines, ["检查内容", "CHECKED-A", "CHECKED-B"], strict=True)}
    assert len(starts) == 1  # the third column starts at the same place on every line
