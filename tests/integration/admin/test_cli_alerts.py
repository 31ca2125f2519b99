"""``qianwei-hub alerts list`` / ``alerts resolve``: the rows the page lists; closing them is audited in Airflow."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange import alerts
from credit_exchange.store import Alert
from credit_exchange.timeutil import now_local
from hub_messages import text
from tests.integration.admin.conftest import FULL_ID, MASKED_ID, closed_port
from tests.integration.ui.conftest import audit_mark, audit_rows


@pytest.fixture
def three(store: Any) -> dict[str, int]:
    """Open alerts for market (one naming a file with an ID number), for ingest_market and for county; one closed."""
    with store.session() as s:
        stuck = alerts.raise_alert(s, "inbox_stuck", "market", f"{FULL_ID}_处罚.xml.tmp",
                                   f"{FULL_ID}_处罚.xml.tmp 上传未完成 upload not finished")
        failed = alerts.raise_alert(s, "task_failed", "ingest_market", "take_market_files@r1", "boom")
        county = alerts.raise_alert(s, "county_version_ahead", "county", "market:x:1", "ahead")
        old = Alert(kind="old", source="police", subject=None, message="done", created_at=now_local(),
                    resolved_at=now_local())
        s.add(old)
        s.flush()
        assert stuck and failed and county
        return {"stuck": stuck.id, "failed": failed.id, "county": county.id, "old": old.id}


def _open(store: Any) -> set[int]:
    with store.session() as s:
        return set(s.execute(select(Alert.id).where(Alert.resolved_at.is_(None))).scalars())


def test_list_open_all_and_by_department(hub: Any, three: dict[str, int]) -> None:
    ran = hub("alerts", "list", "--json")
    assert ran.status == 0, ran.both
    assert {r["alert_id"] for r in json.loads(ran.out)} == {three["stuck"], three["failed"], three["county"]}
    every = json.loads(hub("alerts", "list", "--all", "--json").out)
    assert {r["alert_id"] for r in every} == set(three.values())
    assert [r["resolved_at"] is not None for r in every if r["alert_id"] == three["old"]] == [True]
    market = json.loads(hub("alerts", "list", "--department", "market", "--json").out)
    assert {r["alert_id"] for r in market} == {three["stuck"], three["failed"]}  # the feed and its DAG
    table = hub("alerts", "list").out
    assert text("alerts_col_message") in table and "county_version_ahead" in table
    assert text("alerts_col_resolved") not in table
    assert text("alerts_col_resolved") in hub("alerts", "list", "--all").out
    assert hub("alerts", "list", "--department", "nobody").status == 2
    assert hub("alerts", "list", "--open", "--all").status == 2


def test_an_id_number_in_an_alert_never_reaches_the_output(hub: Any, three: dict[str, int]) -> None:
    for args in (("alerts", "list"), ("alerts", "list", "--json"), ("alerts", "list", "--all")):
        ran = hub(*args)
        assert FULL_ID not in ran.both and MASKED_ID in ran.out, args


def test_resolve_closes_them_and_writes_the_audit_log(hub: Any, store: Any, three: dict[str, int],
                                                     airflow_api_server: Any) -> None:
    mark = audit_mark(airflow_api_server)
    ticket = uuid.uuid4().hex[:8]
    ran = hub("alerts", "resolve", str(three["stuck"]), str(three["failed"]),
              "--note", f"部门已重传 {FULL_ID} re-sent by the department, ticket {ticket}")
    assert ran.status == 0, ran.both
    assert text("alerts_resolved", resolved=2, already=0) in ran.out and text("audit_written") in ran.out
    assert _open(store) == {three["county"]}
    [entry] = audit_rows(airflow_api_server, "resolve_alerts", mark)
    # Airflow's owner is the account the command logs in with; the actor is the OS user (no --actor).
    assert entry["owner"] == airflow_api_server.login
    extra = entry["extra"]
    assert extra["actor"] == "wangli" and extra["os_user"] == "wangli" and extra["via"] == "cli"
    assert extra["details"]["resolved"] == sorted([three["stuck"], three["failed"]])
    assert MASKED_ID in extra["note"] and FULL_ID not in json.dumps(entry, ensure_ascii=False)
    # The same action announced as an event of the hub's asset (Assets view), with the same extra.
    api = airflow_api_server.api()
    [event] = [e for e in api.asset_events(api.asset_id("qianwei://hub/admin-actions"))
               if ticket in e["extra"].get("note", "")]
    assert event["extra"]["note"] == extra["note"]
    assert event["extra"]["action"] == "qianwei_exchange.resolve_alerts"

    # The store keeps who closed them and the note (masked) next to the alerts: alerts list --all.
    closed = {r["alert_id"]: r for r in json.loads(hub("alerts", "list", "--all", "--json").out)}
    assert closed[three["stuck"]]["resolved_by"] == "wangli"
    assert ticket in closed[three["stuck"]]["resolution_note"] and MASKED_ID in closed[three["stuck"]]["resolution_note"]
    assert closed[three["county"]]["resolved_by"] is None and closed[three["county"]]["resolved_at"] is None
    listing = hub("alerts", "list", "--all").out
    assert text("alerts_col_resolved_by") in listing and ticket in listing and FULL_ID not in listing

    # Again: nothing changes, nothing is audited.
    again = hub("alerts", "resolve", str(three["stuck"]), "--note", "again")
    assert again.status == 0 and text("alerts_resolved", resolved=0, already=1) in again.out
    assert len(audit_rows(airflow_api_server, "resolve_alerts", mark)) == 1
    with store.session() as s:  # the first close stands
        assert ticket in (s.get(Alert, three["stuck"]).resolution_note or "")


def test_resolve_with_actor_keeps_the_os_user_too(hub: Any, three: dict[str, int], airflow_api_server: Any) -> None:
    mark = audit_mark(airflow_api_server)
    ran = hub("alerts", "resolve", str(three["county"]), "--note", "checked with the county", "--actor", "li.ming")
    assert ran.status == 0, ran.both
    [entry] = audit_rows(airflow_api_server, "resolve_alerts", mark)
    assert entry["extra"]["actor"] == "li.ming" and entry["extra"]["os_user"] == "wangli"


def test_resolve_refuses_unknown_ids_and_changes_nothing(hub: Any, store: Any, three: dict[str, int]) -> None:
    before = _open(store)
    ran = hub("alerts", "resolve", str(three["stuck"]), "999999", "--note", "x")
    assert ran.status == 1 and text("alerts_unknown", ids="999999") in ran.err
    assert _open(store) == before
    assert hub("alerts", "resolve", str(three["stuck"]), "--note", "   ").status == 1
    assert hub("alerts", "resolve", str(three["stuck"])).status == 2  # --note is required
    assert hub("alerts", "resolve", "abc", "--note", "x").status == 2
    assert _open(store) == before


def test_resolve_without_the_api_server_is_done_and_says_the_audit_is_missing(
        hub: Any, store: Any, three: dict[str, int], monkeypatch: pytest.MonkeyPatch,
        airflow_api_server: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(
        airflow_api_server.connection(host=f"http://127.0.0.1:{closed_port()}")))
    ran = hub("alerts", "resolve", str(three["stuck"]), "--note", f"done for {FULL_ID}")
    assert ran.status == 3, ran.both
    assert three["stuck"] not in _open(store)  # the action stands
    assert text("audit_not_written") in ran.err and text("audit_fix_unreachable") in ran.err
    assert FULL_ID not in ran.both
    entry = json.loads(ran.err.strip().splitlines()[-1])  # the entry, for the ticket
    assert entry["action"] == "qianwei_exchange.resolve_alerts" and entry["details"]["resolved"] == [three["stuck"]]


def test_resolve_without_an_airflow_api_connection_says_how_to_add_it(
        hub: Any, store: Any, three: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_AIRFLOW_API")
    ran = hub("alerts", "resolve", str(three["county"]), "--note", "ok")
    assert ran.status == 3 and text("audit_fix_not_configured") in ran.err
    assert three["county"] not in _open(store)


def test_resolve_with_a_wrong_password_says_so(hub: Any, three: dict[str, int], monkeypatch: pytest.MonkeyPatch,
                                              airflow_api_server: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(airflow_api_server.connection(password="wrong")))
    ran = hub("alerts", "resolve", str(three["county"]), "--note", "ok")
    assert ran.status == 3 and text("audit_fix_login_refused") in ran.err
