"""The admin actions without the web layer: a real sshd for re-queueing, a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.sftp import SftpConnector
from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.publish.city.push import Held, decide
from credit_exchange.store import CityState, OutboxItem, ReceivedFile
from credit_exchange.timeutil import now_local
from credit_exchange.web import actions as admin_actions
from credit_exchange.web.actions import ActionRefused, requeue_file, resend_failed
from tests.helpers import as_conn
from tests.integration.ui.scenario import REFUSED_NAME, fill


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, Any]:
    return fill(inbox, store, vault, now_local())


@pytest.fixture
def opener(inbox_server: Any) -> Any:
    return lambda conn_id: SftpConnector.from_connection(as_conn(inbox_server.airflow_connection(), conn_id),
                                                         **admin_actions.SFTP_TIMEOUTS)


def file_id(store: Any, name: str) -> int:
    with store.session() as s:
        return int(s.execute(select(ReceivedFile.id).where(ReceivedFile.name == name)
                             .order_by(ReceivedFile.id)).scalars().first())


def test_requeue_moves_the_file_back_and_the_next_ingest_takes_it(store: Any, vault: Any, inbox: Any,
                                                                  inbox_root: Path, night: Any, opener: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    fid = file_id(store, REFUSED_NAME)
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()
    with caplog.at_level("INFO", logger="credit_exchange.web.actions"):
        result = requeue_file(store, fid, "alice", department="market", open_sftp=opener)
    assert result.actor == "alice" and result.details["to"] == f"/market/inbox/{REFUSED_NAME}"
    assert "alice" in caplog.text and "requeue_file" in caplog.text
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()
    assert not (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()
    with store.session() as s:
        assert s.get(ReceivedFile, fid).stored_path == f"/market/inbox/{REFUSED_NAME}"
    # A second click changes nothing.
    again = requeue_file(store, fid, "alice", open_sftp=opener)
    assert "已在收件箱" in again.message
    # The next ingest run takes it again: a new ledger entry for the same name.
    InboxIngest(config.feed("market"), inbox, store, vault, now_local().date(), run_id="again").run()
    with store.session() as s:
        rows = s.execute(select(ReceivedFile).where(ReceivedFile.name == REFUSED_NAME)
                         .order_by(ReceivedFile.id)).scalars().all()
    assert len(rows) == 2 and rows[1].finished
    assert not (inbox_root / "market" / "inbox" / REFUSED_NAME).exists()


def test_requeue_refuses_what_it_must_not_do(store: Any, inbox: Any, inbox_root: Path, night: Any,
                                             opener: Any) -> None:
    fid = file_id(store, REFUSED_NAME)
    with pytest.raises(ActionRefused, match="no received file"):
        requeue_file(store, 999_999, "alice", open_sftp=opener)
    with pytest.raises(ActionRefused, match="no received file"):
        requeue_file(store, fid, "alice", department="police", open_sftp=opener)
    with pytest.raises(ActionRefused, match="only files refused whole"):
        requeue_file(store, file_id(store, night["good"]), "alice", open_sftp=opener)
    with store.session() as s:
        pboc = s.execute(select(ReceivedFile.id).where(ReceivedFile.department == "pboc")).scalar_one()
    with pytest.raises(ActionRefused, match="no inbox"):
        requeue_file(store, pboc, "alice", open_sftp=opener)
    # A file of the same name already waits in the inbox: never overwritten.
    (inbox_root / "market" / "inbox" / REFUSED_NAME).write_bytes(b"newer")
    with pytest.raises(ActionRefused, match="not overwritten"):
        requeue_file(store, fid, "alice", open_sftp=opener)
    assert (inbox_root / "market" / "inbox" / REFUSED_NAME).read_bytes() == b"newer"
    assert (inbox_root / "market" / "quarantine" / REFUSED_NAME).exists()
    # Gone from quarantine (handled by hand): nothing moved, nothing recorded.
    (inbox_root / "market" / "inbox" / REFUSED_NAME).unlink()
    (inbox_root / "market" / "quarantine" / REFUSED_NAME).unlink()
    with pytest.raises(ActionRefused, match="no longer in quarantine"):
        requeue_file(store, fid, "alice", open_sftp=opener)
    with store.session() as s:
        assert s.get(ReceivedFile, fid).stored_path == f"/market/quarantine/{REFUSED_NAME}"


def test_requeue_reports_an_unreachable_server(store: Any, night: Any, inbox_server: Any) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    conn = {**inbox_server.airflow_connection(), "port": closed}

    def unreachable(conn_id: str) -> Any:
        return SftpConnector.from_connection(as_conn(conn, conn_id), connect_timeout=2)

    fid = file_id(store, REFUSED_NAME)
    with pytest.raises(ActionRefused, match="could not be reached"):
        requeue_file(store, fid, "alice", open_sftp=unreachable)
    with store.session() as s:
        assert s.get(ReceivedFile, fid).stored_path == f"/market/quarantine/{REFUSED_NAME}"


def test_resend_county_flips_failed_to_pending_unless_superseded(store: Any, night: Any) -> None:
    now = now_local()
    with store.session() as s:
        # F-2 has a newer version already owed: its old failed version must not go out after it.
        s.add(OutboxItem(platform="county", record_id="market:administrative_penalty:F-2", hub_version=2,
                         op="upsert", status="pending", created_at=now, updated_at=now))
    result = resend_failed(store, "county", "bob")
    assert result.details["resent"] == 1 and result.details["superseded"] == 1
    with store.session() as s:
        states = {(i.record_id[-3:], i.hub_version): i.status for i in s.execute(
            select(OutboxItem).where(OutboxItem.record_id.like("%:F-%"))).scalars()}
    assert states == {("F-1", 1): "pending", ("F-2", 1): "superseded", ("F-2", 2): "pending"}
    assert resend_failed(store, "county", "bob").details["resent"] == 0  # idempotent


def test_resend_county_only_the_chosen_ids(store: Any, night: Any) -> None:
    with store.session() as s:
        ids = s.execute(select(OutboxItem.id).where(OutboxItem.status == "failed").order_by(OutboxItem.id)).scalars().all()
    assert resend_failed(store, "county", "bob", [ids[0]]).details["item_ids"] == [ids[0]]
    with store.session() as s:
        assert s.get(OutboxItem, ids[1]).status == "failed"


def test_resend_city_makes_refused_records_go_out_again(store: Any, night: Any) -> None:
    result = resend_failed(store, "city", "carol")
    assert result.details["as_add"] == ["market:administrative_penalty:C-1"]
    assert result.details["withdrawals"] == ["market:administrative_penalty:C-2"]
    with store.session() as s:
        states = {c.record_id[-3:]: c for c in s.execute(select(CityState)).scalars()}
    assert "C-1" not in states  # not held: push_city sends it as add
    assert decide(None, True, 2) == "add"
    held = states["C-2"]
    # The refused withdrawal is sent again (the record is still on the platform).
    assert decide(Held(held.hub_version, held.op, held.status), False, 3) == "delete"
    assert states["C-3"].status == "sent"


def test_resend_unknown_platform_is_refused(store: Any) -> None:
    with pytest.raises(ActionRefused):
        resend_failed(store, "province", "bob")
