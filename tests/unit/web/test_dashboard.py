"""The Exchange page's numbers, on a real store (SQLite and PostgreSQL) filled by the real ingest."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from credit_exchange.store import ReceivedFile
from credit_exchange.timeutil import now_local
from credit_exchange.web import dashboard
from tests.integration.ui.scenario import EXPECTED, FULL_ID, REFUSED_NAME, fill


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, Any]:
    now = now_local()
    names = fill(inbox, store, vault, now)
    return {"now": now, **names}


def rows_by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {i[key]: i for i in items}


def test_overview_counts_every_department_and_platform(store: Any, night: dict[str, Any]) -> None:
    with store.session() as s:
        o = dashboard.overview(s, night["now"])
    depts = rows_by(o["departments"], "department")
    assert list(depts) == ["market", "police", "transport", "pboc"]
    for dept in depts:
        for field, value in EXPECTED[dept].items():
            assert depts[dept][field] == value, (dept, field)
    plats = rows_by(o["platforms"], "platform")
    for plat in ("county", "city"):
        for field, value in EXPECTED[plat].items():
            assert plats[plat][field] == value, (plat, field)
    assert o["alerts_open"] == EXPECTED["alerts_open"] and o["data_quality"] == EXPECTED["data_quality"]
    assert depts["market"]["last_success"] is not None and depts["police"]["last_success"] is None
    assert plats["county"]["last_success"] is not None and plats["city"]["last_success"] is not None
    codes = {r["code"]: r for r in depts["market"]["rejects_by_code"]}
    assert "uscc_checksum" in codes and "id_number_checksum" in codes
    assert all("(" in r["message"] for r in codes.values())  # Chinese with the English gloss
    assert sum(r["count"] for r in codes.values()) >= 3


def test_details_name_file_position_field_and_reason(store: Any, night: dict[str, Any]) -> None:
    now = night["now"]
    with store.session() as s:
        quarantined = dashboard.details(s, "quarantined", now, department="market")
        rejects = dashboard.details(s, "rejects", now, department="market")
        pboc_q = dashboard.details(s, "quarantined", now, department="pboc")
        waiting = dashboard.details(s, "waiting", now, department="pboc")
        failed_county = dashboard.details(s, "failed-records", now, platform="county")
        failed_city = dashboard.details(s, "failed-records", now, platform="city")
        batches = dashboard.details(s, "batches", now, platform="county")
        unreceipted = dashboard.details(s, "unreceipted", now, platform="city")
        alerts = dashboard.details(s, "alerts", now)
        quality = dashboard.details(s, "data-quality", now)
    [q] = quarantined
    assert q["name"] == REFUSED_NAME and q["error_code"] == "file_name" and q["requeue_possible"]
    assert q["stored_path"] == f"/market/quarantine/{REFUSED_NAME}" and "(" in q["reason"]
    assert {r["file"] for r in rejects} == {night["good"]}
    positions = {r["position"] for r in rejects}
    assert {"record 2", "record 3", "record 4"} <= positions
    by_code = rows_by(rejects, "code")
    assert by_code["uscc_checksum"]["field"] == "统一社会信用代码"
    assert [p["requeue_possible"] for p in pboc_q] == [False]
    assert [w["kind"] for w in waiting] == ["pair"]
    assert {f["code"] for f in failed_county} == {"bad_subject"}
    assert {f["op"] for f in failed_city} == {"add", "delete"}
    assert {b["batch_id"]: b["status"] for b in batches} == {"b-failed": "failed", "b-prepared": "prepared"}
    assert [u["overdue"] for u in unreceipted] == [True, False]
    assert len(alerts) == 2 and len(quality) == 1


def test_no_full_id_number_anywhere(store: Any, night: dict[str, Any]) -> None:
    now = night["now"]
    with store.session() as s:
        everything: list[Any] = [dashboard.overview(s, now)]
        for kind, (_, whose) in dashboard.DETAIL_KINDS.items():
            owners = dashboard.departments() if whose == "department" else dashboard.PLATFORMS if whose == "platform" \
                else (None,)
            for owner in owners:
                args = {whose: owner} if whose in {"department", "platform"} else {}
                everything.append(dashboard.details(s, kind, now, **args))
    text = json.dumps(everything, ensure_ascii=False)
    assert FULL_ID not in text and FULL_ID[:-1] + "9" not in text
    assert "511123********1234" in text  # the masked form is what people see


def test_requeued_file_leaves_the_quarantine_count(store: Any, night: dict[str, Any]) -> None:
    with store.session() as s:
        row = s.query(ReceivedFile).filter_by(name=REFUSED_NAME).one()
        row.stored_path = f"/market/inbox/{REFUSED_NAME}"
    with store.session() as s:
        market = rows_by(dashboard.overview(s, night["now"])["departments"], "department")["market"]
    assert market["quarantined"] == 0


def test_reject_window_and_empty_store(store: Any, night: dict[str, Any]) -> None:
    later = night["now"] + dashboard.REJECT_WINDOW + timedelta(days=1)
    with store.session() as s:
        market = rows_by(dashboard.overview(s, later)["departments"], "department")["market"]
        city = rows_by(dashboard.overview(s, later)["platforms"], "platform")["city"]
    assert market["rejected_records"] == 0 and market["rejects_by_code"] == []
    assert market["quarantined"] == 1  # still needs an admin, whatever its age
    assert city["receipts_overdue"] == 2


def test_unknown_lists_are_refused(sqlite_store: Any) -> None:
    with sqlite_store.session() as s:
        with pytest.raises(KeyError):
            dashboard.details(s, "everything", now_local())
        with pytest.raises(ValueError):
            dashboard.details(s, "quarantined", now_local(), department="../etc")
        empty = dashboard.overview(s, now_local())
    assert all(d["quarantined"] == 0 and d["last_success"] is None for d in empty["departments"])
