"""``qianwei-hub resend {county,city}``: the page's re-send from a shell, audited in Airflow."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange.store import CityState, OutboxItem
from credit_exchange.timeutil import now_local
from hub_messages import text
from tests.integration.ui.conftest import audit_mark, audit_rows
from tests.integration.ui.scenario import FULL_ID, fill


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, Any]:
    return fill(inbox, store, vault, now_local())


def _county(store: Any, status: str) -> list[int]:
    with store.session() as s:
        return list(s.execute(select(OutboxItem.id).where(OutboxItem.platform == "county",
                                                          OutboxItem.status == status).order_by(OutboxItem.id))
                    .scalars())


def test_resend_county_chosen_ids_then_all(hub: Any, store: Any, night: Any, airflow_api_server: Any) -> None:
    first, second = _county(store, "failed")
    mark = audit_mark(airflow_api_server)
    ran = hub("resend", "county", "--ids", str(first))
    assert ran.status == 0, ran.both
    assert text("action_resent_county", resent=1, superseded=0) in ran.out
    assert _county(store, "failed") == [second]
    ran = hub("resend", "county")
    assert ran.status == 0 and text("action_resent_county", resent=1, superseded=0) in ran.out
    assert _county(store, "failed") == []
    entries = audit_rows(airflow_api_server, "resend_failed", mark)
    assert [e["extra"]["details"]["item_ids"] for e in entries] == [[first], [second]]
    assert {e["dag_id"] for e in entries} == {"push_county"} and {e["owner"] for e in entries} == {
        airflow_api_server.login}
    assert all(e["extra"]["actor"] == "wangli" for e in entries)
    assert FULL_ID not in ran.both


def test_resend_city_makes_refused_records_eligible_again(hub: Any, store: Any, night: Any,
                                                          airflow_api_server: Any) -> None:
    mark = audit_mark(airflow_api_server)
    ran = hub("resend", "city")
    assert ran.status == 0, ran.both
    assert text("action_resent_city", adds=1, withdrawals=1) in ran.out
    with store.session() as s:
        # The refused add is forgotten (sent as add again); the refused withdrawal's version is (sent again).
        states = dict(s.execute(select(CityState.record_id, CityState.hub_version)).all())
    assert "market:administrative_penalty:C-1" not in states and states["market:administrative_penalty:C-2"] == 0
    [entry] = audit_rows(airflow_api_server, "resend_failed", mark)
    assert entry["dag_id"] == "push_city" and entry["extra"]["details"]["resent"] == 2


def test_resend_refuses_wrong_usage(hub: Any, store: Any, night: Any) -> None:
    assert hub("resend", "province").status == 2
    bad = hub("resend", "county", "--ids", "x1")
    assert bad.status == 2 and text("admin_bad_ids", ids="x1") in bad.out
    assert len(_county(store, "failed")) == 2
