"""Alerts: stored once, delivered once, and a task that fails for good becomes one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from credit_exchange.alerts import deliver_pending, on_task_failure, raise_alert
from credit_exchange.store import Alert


def test_the_same_open_alert_is_not_raised_twice(sqlite_store: Any) -> None:
    with sqlite_store.session() as s:
        first = raise_alert(s, "inbox_stuck", "market", "A.xml", "卡住 (stuck)")
        again = raise_alert(s, "inbox_stuck", "market", "A.xml", "卡住 (stuck)")
    assert first is not None and again is None


def test_alerts_are_handed_to_the_channels_once(sqlite_store: Any) -> None:
    sent: list[str] = []

    class Webhook:
        host, schema, password, extra_dejson = "https://robot.example/robot/send", "", "token", {}

    def connections(conn_id: str) -> Any:
        if conn_id == "alert_webhook":
            return Webhook()
        raise KeyError(conn_id)

    import requests

    original = requests.post
    requests.post = lambda url, json, timeout, verify: (  # type: ignore[assignment]
        sent.append(json["text"]["content"]),
        SimpleNamespace(status_code=200, content=b"{}", json=lambda: {"errcode": 0, "errmsg": "ok"}))[1]
    try:
        with sqlite_store.session() as s:
            raise_alert(s, "pboc_pair_corrupt", "pboc", "P.dat", "摘要不符 (digest mismatch) 511123199001011234")
        assert deliver_pending(sqlite_store, connections) == 1
        assert deliver_pending(sqlite_store, connections) == 0  # already notified
    finally:
        requests.post = original
    assert len(sent) == 1 and "P.dat" in sent[0]
    assert "511123199001011234" not in sent[0]  # masked before it is stored or sent


def test_a_task_that_failed_for_good_becomes_an_alert(sqlite_store: Any) -> None:
    ti = SimpleNamespace(dag_id="push_county", task_id="push_county_batches", run_id="scheduled__2026-11-29")
    alert = on_task_failure({"ti": ti, "exception": RuntimeError("county platform down")}, store=sqlite_store)
    assert alert is not None
    with sqlite_store.session() as s:
        (row,) = s.execute(select(Alert)).scalars().all()
    assert (row.kind, row.source, row.subject) == ("task_failed", "push_county",
                                                   "push_county_batches@scheduled__2026-11-29")
    assert "county platform down" in row.message and row.notified_at is not None


def test_resolve_alerts_closes_all_the_ids_or_none(sqlite_store: Any) -> None:
    import pytest

    from credit_exchange.alerts import AlertsRefused, resolve_alerts

    with sqlite_store.session() as s:
        a = raise_alert(s, "inbox_stuck", "market", "A.xml", "卡住 (stuck)")
        b = raise_alert(s, "task_failed", "ingest_market", "t@r", "boom")
        s.flush()
        ids = [a.id, b.id]  # type: ignore[union-attr]
    with pytest.raises(AlertsRefused):
        resolve_alerts(sqlite_store, [ids[0], 999], "alice", "done")
    with pytest.raises(AlertsRefused):
        resolve_alerts(sqlite_store, ids, "alice", "  ")
    with sqlite_store.session() as s:
        assert s.execute(select(Alert.id).where(Alert.resolved_at.is_(None))).scalars().all() == ids
    done = resolve_alerts(sqlite_store, ids, "alice", "re-sent by holder 11010519491231002X")
    assert done.resolved == ids and done.already == [] and "11010519491231002X" not in done.note
    again = resolve_alerts(sqlite_store, [ids[1]], "bob", "again")
    assert again.resolved == [] and again.already == [ids[1]]
