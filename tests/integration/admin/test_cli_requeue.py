"""``qianwei-hub requeue FILE_ID``: the page's re-queue from a shell, against the real sshd, audited in Airflow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.store import ReceivedFile
from credit_exchange.timeutil import now_local
from hub_messages import text
from tests.integration.admin.conftest import FULL_ID, MASKED_ID, closed_port
from tests.integration.ui.conftest import audit_mark, audit_rows
from tests.integration.ui.scenario import REFUSED_NAME, fill


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, Any]:
    return fill(inbox, store, vault, now_local())


def file_id(store: Any, name: str) -> int:
    with store.session() as s:
        return int(s.execute(select(ReceivedFile.id).where(ReceivedFile.name == name)
                             .order_by(ReceivedFile.id)).scalars().first())


def test_requeue_moves_the_file_and_writes_the_audit_log(hub: Any, store: Any, vault: Any, inbox: Any,
                                                        inbox_root: Path, night: Any, airflow_api_server: Any) -> None:
    fid = file_id(store, REFUSED_NAME)
    mark = audit_mark(airflow_api_server)
    ran = hub("requeue", str(fid), "--actor", "li.ming")
    assert ran.status == 0, ran.both
    assert text("action_requeued", name=REFUSED_NAME) in ran.out and text("audit_written") in ran.out
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    assert not (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()
    [entry] = audit_rows(airflow_api_server, "requeue_file", mark)
    assert entry["owner"] == airflow_api_server.login and entry["dag_id"] == "ingest_market"
    assert entry["extra"]["actor"] == "li.ming" and entry["extra"]["os_user"] == "wangli"
    assert entry["extra"]["details"]["to"] == f"/market/inbox/{REFUSED_NAME}"
    # Asked again: nothing moves, the answer says so (and it is audited as asked).
    again = hub("requeue", str(fid))
    assert again.status == 0 and text("action_already_requeued", name=REFUSED_NAME) in again.out
    # The next ingest takes it again, as the page's re-queue does.
    InboxIngest(config.feed("market"), inbox, store, vault, now_local().date(), run_id="again").run()
    with store.session() as s:
        assert len(s.execute(select(ReceivedFile.id).where(ReceivedFile.name == REFUSED_NAME)).all()) == 2


def test_requeue_refuses_what_it_must_not_do(hub: Any, store: Any, night: Any, inbox_root: Path) -> None:
    unknown = hub("requeue", "999999")
    assert unknown.status == 1 and text("action_no_file", file_id=999999) in unknown.err
    taken = file_id(store, night["good"])  # partly accepted, archived: not in quarantine
    ran = hub("requeue", str(taken))
    assert ran.status == 1 and "Traceback" not in ran.both
    with store.session() as s:
        pboc = s.execute(select(ReceivedFile.id).where(ReceivedFile.department == "pboc")).scalar_one()
    refused = hub("requeue", str(pboc))  # a read-only outbox: the hub may not write there
    assert refused.status == 1 and text("action_no_inbox", department="pboc") in refused.err
    assert hub("requeue", "abc").status == 2
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()


def test_a_name_with_an_id_number_is_masked_in_the_output_and_the_audit_log(
        hub: Any, store: Any, vault: Any, inbox: Any, inbox_root: Path, airflow_api_server: Any) -> None:
    name = f"{FULL_ID}_处罚.xml"
    inbox.write_bytes(f"/market/inbox/{name}", b"<x/>")
    InboxIngest(config.feed("market"), inbox, store, vault, now_local().date(), run_id="pii").run()
    listing = hub("status", "--json")
    assert FULL_ID not in listing.both
    mark = audit_mark(airflow_api_server)
    ran = hub("requeue", str(file_id(store, name)))
    assert ran.status == 0, ran.both
    assert FULL_ID not in ran.both and MASKED_ID in ran.out
    assert (inbox_root / "market" / "inbox" / name).exists()  # the real file moved, under its real name
    [entry] = audit_rows(airflow_api_server, "requeue_file", mark)
    assert FULL_ID not in json.dumps(entry, ensure_ascii=False) and MASKED_ID in entry["extra"]["details"]["name"]


def test_requeue_without_the_api_server_moves_the_file_and_exits_3(
        hub: Any, store: Any, night: Any, inbox_root: Path, monkeypatch: pytest.MonkeyPatch,
        airflow_api_server: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(
        airflow_api_server.connection(host=f"http://127.0.0.1:{closed_port()}")))
    ran = hub("requeue", str(file_id(store, REFUSED_NAME)))
    assert ran.status == 3, ran.both
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    assert text("action_requeued", name=REFUSED_NAME) in ran.out
    assert text("audit_not_written") in ran.err and text("audit_fix_unreachable") in ran.err


@pytest.mark.parametrize("broken", [{"host": ""}, {"extra": {"timeout": "soon"}}], ids=["no-host", "bad-timeout"])
def test_requeue_with_a_broken_airflow_api_connection_moves_the_file_and_exits_3(
        hub: Any, store: Any, night: Any, inbox_root: Path, monkeypatch: pytest.MonkeyPatch,
        airflow_api_server: Any, broken: dict[str, Any]) -> None:
    # A connection that cannot even make a client: the action stands, exit 3 with the fix, no traceback.
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(airflow_api_server.connection(**broken)))
    ran = hub("requeue", str(file_id(store, REFUSED_NAME)))
    assert ran.status == 3, ran.both
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    assert text("audit_not_written") in ran.err and text("audit_fix_not_configured") in ran.err
    assert text("audit_entry_below") in ran.err and "Traceback" not in ran.both
