"""The Exchange app inside Airflow's own API app (plugin mounted, real auth manager, real tokens)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange.store import OutboxItem, ReceivedFile
from credit_exchange.timeutil import now_local
from hub_messages import text
from tests.integration.ui.conftest import audit_mark, audit_rows, make_token
from tests.integration.ui.scenario import EXPECTED, FULL_ID, REFUSED_NAME, fill

P = "/qianwei-exchange"
SAME_ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, Any]:
    return fill(inbox, store, vault, now_local())


@pytest.fixture
def admin(client: Any) -> Any:
    client.cookies.set("_token", make_token("admin", "ADMIN"))
    return client


def cell(html: str, row_attr: str, field: str) -> str:
    """The text of one cell of the overview, found by its row's data attribute and its field."""
    row = re.search(rf'<tr {row_attr}>(.*?)</tr>', html, re.S)
    assert row, row_attr
    found = re.search(rf'data-field="{field}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found, (row_attr, field)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_plugin_is_registered_with_a_nav_entry() -> None:
    from airflow import plugins_manager

    views, _ = plugins_manager._get_ui_plugins()
    [view] = [v for v in views if v.get("url_route") == "qianwei-exchange"]
    assert view["name"] == "信用交换 Exchange" and view["href"] == "qianwei-exchange/"
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"].startswith("Qianwei")] == [P]


@pytest.mark.parametrize("path", ["/", "/api/overview", "/details/quarantined?department=market",
                                  "/api/details/alerts", "/api/live/market"])
def test_every_page_refuses_a_request_without_a_valid_token(client: Any, path: str) -> None:
    assert client.get(P + path).status_code == 401
    client.cookies.set("_token", "not-a-token")
    assert client.get(P + path).status_code == 401
    client.cookies.clear()
    tampered = make_token("admin", "ADMIN")[:-4] + "AAAA"
    assert client.get(P + path, headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_a_browser_without_a_token_is_sent_to_the_login_page(client: Any) -> None:
    r = client.get(P + "/", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"].startswith("/auth/login?next=") and "qianwei-exchange" in r.headers["location"]


def test_actions_refuse_a_request_without_a_token(client: Any, store: Any, night: Any, inbox_root: Path) -> None:
    r = client.post(P + "/actions/requeue", data={"department": "market", "file_id": "1"}, headers=SAME_ORIGIN)
    assert r.status_code == 401
    r = client.post(P + "/actions/resend", data={"platform": "county"}, headers=SAME_ORIGIN)
    assert r.status_code == 401
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()


def test_the_page_shows_the_night(admin: Any, night: Any) -> None:
    r = admin.get(P + "/")
    assert r.status_code == 200, r.text
    html = r.text
    assert "信用交换" in html and "Exchange" in html
    for dept in ("market", "police", "transport", "pboc"):
        for field, value in EXPECTED[dept].items():
            assert cell(html, f'data-department="{dept}"', field) == str(value), (dept, field)
    for plat in ("county", "city"):
        for field, value in EXPECTED[plat].items():
            assert cell(html, f'data-platform="{plat}"', field) == str(value), (plat, field)
    assert 'href="details/quarantined?department=market"' in html
    assert "uscc_checksum" in html and night["good"] in html  # rule codes and the latest rejects
    assert FULL_ID not in html and FULL_ID[:-1] + "9" not in html
    assert admin.get(P + "/api/overview").json()["alerts_open"] == EXPECTED["alerts_open"]


def test_detail_lists_in_html_and_json(admin: Any, night: Any) -> None:
    page = admin.get(P + "/details/quarantined?department=market")
    assert page.status_code == 200 and REFUSED_NAME in page.text and 'action="../actions/requeue"' in page.text
    rows = admin.get(P + "/api/details/rejects?department=market").json()["rows"]
    assert {r["file"] for r in rows} == {night["good"]} and all(r["position"] for r in rows)
    failed = admin.get(P + "/details/failed-records?platform=city")
    assert failed.status_code == 200 and 'id="resend-all"' in failed.text
    assert admin.get(P + "/api/details/nothing").status_code == 404
    assert admin.get(P + "/api/details/quarantined?department=nobody").status_code == 400
    text = admin.get(P + "/api/details/data-quality").text + admin.get(P + "/api/details/alerts").text
    assert FULL_ID not in text


def test_live_count_comes_from_the_inbox_server(admin: Any, night: Any, inbox: Any) -> None:
    inbox.write_bytes("/market/inbox/MARKET_PENALTY_20990101_001.xml.tmp", b"<?xml")
    live = admin.get(P + "/api/live/market").json()
    assert live["waiting"] == 1 and live["uploading"] == 1
    assert admin.get(P + "/api/live/transport").status_code == 404


def test_requeue_through_the_page_is_done_and_audited(admin: Any, store: Any, night: Any,
                                                      inbox_root: Path, airflow_api_server: Any) -> None:
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).scalar_one()
    before = audit_mark(airflow_api_server)
    r = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": str(fid)},
                   headers={**SAME_ORIGIN, "Accept": "text/html"})
    assert r.status_code == 200 and 'class="msg ok"' in r.text, r.text
    assert text("audit_not_written") not in r.text
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    [entry] = audit_rows(airflow_api_server, "requeue_file", before)
    # Written by Airflow's API server as the page's user, who is also the actor.
    assert entry["owner"] == "admin" and entry["dag_id"] == "ingest_market"
    assert entry["extra"]["actor"] == "admin" and entry["extra"]["via"] == "page"
    assert entry["extra"]["details"]["to"] == f"/market/inbox/{REFUSED_NAME}"
    # Asked again: refused politely, nothing else moves.
    again = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": "999999"},
                       headers=SAME_ORIGIN)
    assert again.status_code == 409


def test_a_name_with_an_id_number_is_masked_in_the_reply_and_the_audit_log(admin: Any, store: Any, vault: Any,
                                                                          inbox: Any, inbox_root: Path,
                                                                          airflow_api_server: Any) -> None:
    import json

    from credit_exchange import config
    from credit_exchange.feeds.inbox import InboxIngest

    name = "11010519491231002X_处罚.xml"
    inbox.write_bytes(f"/market/inbox/{name}", b"<x/>")
    InboxIngest(config.feed("market"), inbox, store, vault, now_local().date(), run_id="pii").run()
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == name)).scalar_one()
    listing = admin.get(P + "/api/details/quarantined?department=market").text
    assert "11010519491231002X" not in listing and "110105********002X" in listing
    before = audit_mark(airflow_api_server)
    r = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": str(fid)},
                   headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert "11010519491231002X" not in r.text and "110105********002X" in r.text
    assert (inbox_root / "market" / "inbox" / name).exists()  # the real file moved, under its real name
    [entry] = audit_rows(airflow_api_server, "requeue_file", before)
    assert "11010519491231002X" not in json.dumps(entry, ensure_ascii=False)
    assert "110105********002X" in entry["extra"]["details"]["name"]


def test_posts_from_another_site_are_refused(admin: Any, store: Any, night: Any, inbox_root: Path) -> None:
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).scalar_one()
    form = {"department": "market", "file_id": str(fid)}
    for headers in ({"Origin": "http://evil.example"}, {}, {"Referer": "https://evil.example/x"},
                    {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"}):
        assert admin.post(P + "/actions/requeue", data=form, headers=headers).status_code == 403, headers
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()


def test_a_viewer_may_look_but_not_act(client: Any, store: Any, night: Any) -> None:
    client.cookies.set("_token", make_token("vera", "VIEWER"))
    assert client.get(P + "/").status_code == 200
    r = client.post(P + "/actions/resend", data={"platform": "county"}, headers=SAME_ORIGIN)
    assert r.status_code == 403
    with store.session() as s:
        assert s.execute(select(OutboxItem.id).where(OutboxItem.status == "failed")).scalars().all()


def test_resend_with_a_bearer_token_answers_json(client: Any, store: Any, night: Any,
                                                 airflow_api_server: Any) -> None:
    token = make_token("ops", "OP")
    r = client.post(P + "/actions/resend", data={"platform": "county"},
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["result"]["actor"] == "ops" and body["result"]["details"]["resent"] == 2
    with store.session() as s:
        assert not s.execute(select(OutboxItem.id).where(OutboxItem.status == "failed")).scalars().all()
    assert any(e["owner"] == "ops" for e in audit_rows(airflow_api_server, "resend_failed"))


def test_a_store_that_cannot_be_read_is_reported_not_hidden(admin: Any, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    # An empty database file: the page never migrates the store, it says what is wrong.
    monkeypatch.setenv("AIRFLOW_CONN_EXCHANGE_DB", f'{{"conn_type": "sqlite", "host": "{tmp_path / "none.db"}"}}')
    r = admin.get(P + "/api/overview")
    assert r.status_code == 503 and "exchange_db" in r.json()["detail"]


def test_an_action_stands_when_the_audit_log_cannot_be_written_and_the_page_says_so(
        admin: Any, store: Any, night: Any, inbox_root: Path, monkeypatch: pytest.MonkeyPatch,
        airflow_api_server: Any) -> None:
    import json
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API",
                       json.dumps(airflow_api_server.connection(host=f"http://127.0.0.1:{port}")))
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).scalar_one()
    r = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": str(fid)},
                   headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert text("audit_not_written") in r.json()["message"]
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()


def test_alerts_are_resolved_from_the_page_with_a_note_and_audited(admin: Any, client: Any, store: Any, night: Any,
                                                                   airflow_api_server: Any) -> None:
    from credit_exchange.store import Alert

    page = admin.get(P + "/details/alerts")
    assert page.status_code == 200 and 'action="../actions/resolve-alerts"' in page.text
    with store.session() as s:
        ids = sorted(s.execute(select(Alert.id).where(Alert.resolved_at.is_(None))).scalars())
    no_note = admin.post(P + "/actions/resolve-alerts", data={"id": [str(ids[0])], "note": " "}, headers=SAME_ORIGIN)
    assert no_note.status_code == 409
    mark = audit_mark(airflow_api_server)
    r = admin.post(P + "/actions/resolve-alerts", data={"id": [str(i) for i in ids], "note": f"handled {FULL_ID}"},
                   headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert r.json()["result"]["resolved"] == ids and FULL_ID not in r.text
    with store.session() as s:
        assert not s.execute(select(Alert.id).where(Alert.resolved_at.is_(None))).all()
    [entry] = audit_rows(airflow_api_server, "resolve_alerts", mark)
    assert entry["owner"] == "admin" and entry["extra"]["via"] == "page" and entry["extra"]["details"]["resolved"] == ids
    assert FULL_ID not in entry["extra"]["note"]
    # A viewer may read the list but not close anything.
    client.cookies.set("_token", make_token("vera", "VIEWER"))
    assert client.post(P + "/actions/resolve-alerts", data={"id": [str(ids[0])], "note": "x"},
                       headers=SAME_ORIGIN).status_code == 403


def test_a_user_who_may_run_dags_but_not_create_asset_events_is_refused_before_acting(
        client: Any, store: Any, night: Any, inbox_root: Path, airflow_api_server: Any) -> None:
    # Simple auth manager: role User may trigger DAG runs, asset events need Op. The audit entry is
    # an asset event made with the user's token, so acting would leave no entry: refused, nothing moves.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from credit_exchange.web.auth import RESOURCE_NAME

    user = SimpleAuthManagerUser(username="uma", role="USER")
    am = get_auth_manager()
    assert am.is_authorized_custom_view(method="POST", resource_name=RESOURCE_NAME, user=user)
    assert am.is_authorized_dag(method="PUT", user=user) and not am.is_authorized_asset(method="POST", user=user)
    client.cookies.set("_token", make_token("uma", "USER"))
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).scalar_one()
    mark = audit_mark(airflow_api_server)
    r = client.post(P + "/actions/requeue", data={"department": "market", "file_id": str(fid)},
                    headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert r.status_code == 403 and r.json()["detail"] == text("web_forbidden_audit")
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()
    r = client.post(P + "/actions/resend", data={"platform": "county"}, headers=SAME_ORIGIN)
    assert r.status_code == 403 and text("web_forbidden_audit") in r.text
    with store.session() as s:
        assert len(s.execute(select(OutboxItem.id).where(OutboxItem.status == "failed")).scalars().all()) == 2
    assert not audit_rows(airflow_api_server, "requeue_file", mark)
    assert not audit_rows(airflow_api_server, "resend_failed", mark)


@pytest.mark.parametrize("broken", [{"host": ""}, {"extra": {"timeout": "soon"}}], ids=["no-host", "bad-timeout"])
def test_an_action_stands_and_says_not_audited_when_the_airflow_api_connection_is_broken(
        admin: Any, store: Any, night: Any, inbox_root: Path, monkeypatch: pytest.MonkeyPatch,
        airflow_api_server: Any, broken: dict[str, Any]) -> None:
    import json

    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(airflow_api_server.connection(**broken)))
    with store.session() as s:
        fid = s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).scalar_one()
    r = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": str(fid)},
                   headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert text("audit_not_written") in r.json()["message"] and text("audit_fix_not_configured") in r.json()["message"]
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    r = admin.post(P + "/actions/resend", data={"platform": "county"}, headers={**SAME_ORIGIN, "Accept": "text/html"})
    assert r.status_code == 200 and 'class="msg ok"' in r.text and text("audit_not_written").split(" (")[0] in r.text


def test_the_page_masks_its_log_lines_in_the_api_server_process(admin: Any, store: Any, night: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the page installs the hub's log mask in the API server process (``_LazyApp._build``)."""
    import io
    import logging

    from airflow import plugins_manager

    apps, _ = plugins_manager.get_fastapi_plugins()
    [lazy] = [a["app"] for a in apps if a["url_prefix"] == P]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a handler of the API server's, there before the page is built
    logging.getLogger().addHandler(handler)
    try:
        monkeypatch.setattr(lazy, "_app", None)  # as after a restart: the next request builds the page
        # A user whose name holds an ID number is refused a re-queue: the page logs the refusal, with the name.
        admin.cookies.set("_token", make_token(FULL_ID, "ADMIN"))
        r = admin.post(P + "/actions/requeue", data={"department": "market", "file_id": "999999"},
                       headers=SAME_ORIGIN)
        assert r.status_code == 409
    finally:
        logging.getLogger().removeHandler(handler)
    logged = stream.getvalue()
    assert "re-queue of file 999999 refused" in logged
    assert FULL_ID not in logged and FULL_ID[:6] + "********" + FULL_ID[-4:] in logged
