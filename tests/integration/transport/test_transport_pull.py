"""Pulling the transport API (contracts.md 1.3) into a real store, against the in-process sandbox."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from transport_support import (
    Sleeps,
    Watched,
    deliveries,
    faults,
    make_api,
    pull,
    received,
    seed,
    source_state,
    stats,
    today,
    watermarks,
)

from credit_exchange.feeds.transport.source import (
    BEGINNING,
    ENVELOPE,
    TransportPullFailed,
    source_record,
    watermark_key,
)
from credit_exchange.standard.canonical import EMPTY_HASH
from credit_exchange.store import Alert, Delivery, Receipt, Store
from credit_exchange.timeutil import now_local
from sandbox.transport_api import TransportApiServer, start
from sandbox.transport_data import demo_items, envelope, rating, rating_id

ENT, VIO = "courier-enterprises", "courier-violations"
WM_ENT, WM_VIO = watermark_key(ENT), watermark_key(VIO)


def content(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ENVELOPE}


def new_rating(n: int, version: int = 1, grade: str = "A", at: datetime | None = None) -> dict[str, Any]:
    rec = rating(100 + n, today().year - 1, grade, today())
    return envelope(rating_id(rec["uscc"], rec["rating_year"]), version, at or now_local()) | rec


# --- the normal night -------------------------------------------------------------------------


def test_both_endpoints_are_pulled_with_lineage_and_watermarks(store: Any, vault: Any,
                                                               transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    summary = pull(store, vault, make_api(transport_server))

    xcom = summary.as_xcom()
    assert xcom["endpoints"][ENT] | {"name": None} == {
        "status": "accepted", "name": None, "restarts": 0, "error_code": None,
        "total": 10, "accepted": 10, "rejected": 0, "unchanged": 0, "stale": 0}
    assert xcom["endpoints"][VIO]["status"] == "partially_accepted"
    assert (xcom["total"], xcom["accepted"], xcom["rejected"], xcom["pulls"]) == (16, 15, 1, 2)
    ids = {item.get("legal_rep_id_number") for item in items[VIO]} - {None}
    assert ids and not any(i in json.dumps(xcom, ensure_ascii=False) for i in ids)

    files = {f.name.split("@")[0]: f for f in received(store)}
    assert set(files) == {ENT, VIO}
    marks = watermarks(store)
    for endpoint, f in files.items():
        # Each pull is one received unit named by its server time, which is also the new watermark.
        assert f.department == "transport" and f.finished and len(f.sha256) == 64 and f.size > 0
        assert f.name == f"{endpoint}@{marks[watermark_key(endpoint)]}"
        assert datetime.fromisoformat(marks[watermark_key(endpoint)]).utcoffset() == timedelta(hours=8)

    with store.session() as s:
        rows = {d.record_id: d for d in s.execute(select(Delivery)).scalars()}
        receipt = json.loads(s.execute(select(Receipt.body).where(Receipt.file_id == files[VIO].id)).scalar_one())
        written_to = s.execute(select(Receipt.written_to).where(Receipt.file_id == files[VIO].id)).scalar_one()
    first = items[ENT][0]
    d = rows[f"transport:courier_rating:{first['id']}"]
    assert (d.file_id, d.position, d.ordinal, d.dept_version, d.op, d.outcome) == (
        files[ENT].id, "page 1 item 1", 1, 1, "upsert", "accepted")
    assert vault.open("courier_rating", d.data_enc) == content(first)
    deleted = next(i for i in items[VIO] if i["deleted"])
    d = rows[f"transport:administrative_penalty:{deleted['id']}"]
    assert (d.op, d.outcome, d.dept_version, d.content_hash) == ("delete", "accepted", 2, EMPTY_HASH)

    # The receipt is kept in the store (no inbox to write it to), with the bad item's position.
    assert written_to is None
    assert receipt["file"] == files[VIO].name and receipt["sha256"] == files[VIO].sha256
    assert receipt["records"] == {"total": 6, "accepted": 5, "rejected": 1, "unchanged": 0, "stale": 0}
    assert [(e["position"], e["code"], e["field"]) for e in receipt["errors"]] == [
        ("page 1 item 6", "unknown_field", "fine_amout")]
    assert not any(i in json.dumps(receipt, ensure_ascii=False) for i in ids)


def test_a_second_pull_with_nothing_new_changes_nothing(store: Any, vault: Any,
                                                        transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    # One item changed a minute ago: inside the overlap, so the next pull sees it again.
    items[ENT].append(new_rating(1, at=now_local() - timedelta(minutes=1)))
    seed(transport_server, items)
    first = Watched(make_api(transport_server))
    pull(store, vault, first)
    assert [c[1] for c in first.calls] == [BEGINNING, BEGINNING]
    before_marks, before_state, before_deliveries = watermarks(store), source_state(store), deliveries(store)

    again = Watched(make_api(transport_server))
    summary = pull(store, vault, again)

    # It asked for everything since the watermark minus five minutes ...
    asked = dict((c[0], c[1]) for c in again.calls)
    for endpoint, key in ((ENT, WM_ENT), (VIO, WM_VIO)):
        assert datetime.fromisoformat(asked[endpoint]) == datetime.fromisoformat(before_marks[key]) - timedelta(
            minutes=5)
    # ... got the recent item again, recognised it as a repeat, and changed no record.
    xcom = summary.as_xcom()
    assert (xcom["total"], xcom["accepted"], xcom["unchanged"], xcom["accepted_in_run"]) == (1, 0, 1, 0)
    assert xcom["endpoints"][VIO]["status"] == "empty" and xcom["endpoints"][VIO]["name"] is None
    assert source_state(store) == before_state
    assert deliveries(store)[: len(before_deliveries)] == before_deliveries
    assert [d[3] for d in deliveries(store)[len(before_deliveries):]] == ["unchanged"]
    after = watermarks(store)
    assert all(datetime.fromisoformat(after[k]) >= datetime.fromisoformat(before_marks[k]) for k in after)


def test_a_higher_version_is_accepted_and_a_lower_one_is_stale(store: Any, vault: Any,
                                                               transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    pull(store, vault, make_api(transport_server))
    item = items[ENT][0]
    record_id = f"transport:courier_rating:{item['id']}"
    assert source_state(store)[record_id][0] == 1

    seed(transport_server, {ENT: [item | {"version": 2, "grade": "B", "score": 80,
                                          "updated_at": now_local().isoformat()}]})
    summary = pull(store, vault, make_api(transport_server))
    assert summary.as_xcom()["endpoints"][ENT] | {"name": None} == {
        "status": "accepted", "name": None, "restarts": 0, "error_code": None,
        "total": 1, "accepted": 1, "rejected": 0, "unchanged": 0, "stale": 0}
    state = source_state(store)[record_id]
    assert state[0] == 2

    # The department's system serves an older version again: ignored, and said so in the receipt.
    seed(transport_server, {ENT: [item | {"grade": "C", "updated_at": (now_local() + timedelta(seconds=1)).isoformat()}]})
    summary = pull(store, vault, make_api(transport_server))
    assert summary.as_xcom()["endpoints"][ENT]["stale"] == 1
    assert source_state(store)[record_id] == state
    with store.session() as s:
        body = s.execute(select(Receipt.body).order_by(Receipt.id.desc()).limit(1)).scalar_one()
    assert [e["code"] for e in json.loads(body)["errors"]] == ["stale_version"]


def test_a_deleted_item_becomes_a_delete(store: Any, vault: Any, transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    pull(store, vault, make_api(transport_server))
    live = items[VIO][0]
    seed(transport_server, {VIO: [envelope(live["id"], 2, now_local(), deleted=True)]})
    summary = pull(store, vault, make_api(transport_server))
    assert summary.as_xcom()["endpoints"][VIO]["accepted"] == 1
    record_id = f"transport:administrative_penalty:{live['id']}"
    assert source_state(store)[record_id] == (2, EMPTY_HASH, "delete")
    assert [d[1:4] for d in deliveries(store) if d[0] == record_id] == [(1, "upsert", "accepted"),
                                                                       (2, "delete", "accepted")]


# --- a disturbed night ------------------------------------------------------------------------


def test_a_disturbed_pull_ends_with_exactly_the_records_of_an_undisturbed_one(
        store: Any, vault: Any, tmp_path: Path, sleeps: Sleeps) -> None:
    items = demo_items(today())
    # Two pages of enterprises, one of violations: five counted requests even with the restart,
    # inside the sandbox's real limit of five a second.
    page_size = max((len(items[ENT]) + 1) // 2, len(items[VIO]))
    assert len(items[VIO]) <= page_size < len(items[ENT]) <= 2 * page_size
    calm_server, rough_server = start("transport-pull-key", "transport-pull-secret-0123456789"), \
        start("transport-pull-key", "transport-pull-secret-0123456789")
    calm_store = Store(f"sqlite:///{tmp_path / 'calm.db'}")
    try:
        seed(calm_server, items)
        seed(rough_server, items)
        calm = pull(calm_store, vault, make_api(calm_server), page_size=page_size)

        # 503 and 429 on the first request, then after the first page a 500 and an expired token.
        faults(rough_server, {"kind": "status", "status": 503}, {"kind": "status", "status": 429, "retry_after": 0})

        def disturb(endpoint: str, attempt: int, page: int) -> None:
            if (endpoint, attempt, page) == (ENT, 1, 1):
                faults(rough_server, {"kind": "expire_tokens"}, {"kind": "status", "status": 500})

        rough = pull(store, vault, Watched(make_api(rough_server, sleeps), disturb), page_size=page_size)
        assert stats(rough_server)["by_status"] == {"200": 4, "400": 1, "429": 1, "500": 1, "503": 1}
        assert len(sleeps.calls) == 3 and rough.endpoints[0].restarts == 1

        assert deliveries(store) == deliveries(calm_store)
        assert source_state(store) == source_state(calm_store)
        assert len(deliveries(store)) == len(items[ENT]) + len(items[VIO])  # no duplicates
        unit = [(f.name.split("@")[0], f.sha256, f.size, f.status, f.total, f.accepted, f.rejected)
                for f in received(store)]
        assert unit == [(f.name.split("@")[0], f.sha256, f.size, f.status, f.total, f.accepted, f.rejected)
                        for f in received(calm_store)]
        assert set(watermarks(store)) == set(watermarks(calm_store)) == {WM_ENT, WM_VIO}
        assert {k: v for k, v in rough.totals().items()} == calm.totals()
    finally:
        calm_store.dispose()
        calm_server.shutdown()
        rough_server.shutdown()


def test_the_client_giving_up_commits_nothing_and_keeps_the_watermark(
        store: Any, vault: Any, transport_server: TransportApiServer, caplog: pytest.LogCaptureFixture) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    pull(store, vault, make_api(transport_server))
    marks, state, files = watermarks(store), source_state(store), len(received(store))

    fresh = [new_rating(n) for n in range(3)]
    new_violation = items[VIO][0] | {"id": "JTCF-NEW-000001", "updated_at": now_local().isoformat()}
    seed(transport_server, {ENT: fresh, VIO: [new_violation]})

    def give_up(endpoint: str, attempt: int, page: int) -> None:
        if (endpoint, page) == (ENT, 1):  # the second page of enterprises fails for good
            faults(transport_server, {"kind": "status", "status": 503, "times": 3})

    api = Watched(make_api(transport_server, max_attempts=3), give_up)
    with caplog.at_level(logging.ERROR, logger="credit_exchange.feeds.transport.source"), \
            pytest.raises(TransportPullFailed) as caught:
        pull(store, vault, api, page_size=2, alert_failures=True)  # as on the task's last try

    assert "courier-enterprises" in str(caught.value) and "HTTP 503" in str(caught.value)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("courier-enterprises" in m and "HTTP 503" in m and "nothing committed" in m for m in errors)
    failed = caught.value.summary.failed
    assert [(e.endpoint, e.error_code) for e in failed] == [(ENT, "TransientHttpError")]

    # Enterprises: watermark, ledger and records as before the pull. Violations went ahead.
    after = watermarks(store)
    assert after[WM_ENT] == marks[WM_ENT] and after[WM_VIO] != marks[WM_VIO]
    assert [f.name.split("@")[0] for f in received(store)[files:]] == [VIO]
    new_state = source_state(store)
    assert {k: v for k, v in new_state.items() if k in state} == state
    assert set(new_state) - set(state) == {f"transport:administrative_penalty:{new_violation['id']}"}

    with store.session() as s:
        [alert] = s.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.subject, alert.resolved_at) == ("transport_pull_failed", ENT, None)
    assert "HTTP 503" in alert.message and [a.id for a in caught.value.summary.new_alerts] == [alert.id]

    # Airflow's retry: the same window again, every new rating taken once; the alert is closed.
    summary = pull(store, vault, make_api(transport_server))
    assert summary.as_xcom()["endpoints"][ENT]["accepted"] == 3
    with store.session() as s:
        assert s.execute(select(Alert.resolved_at)).scalar_one() is not None
    accepted = [d[0] for d in deliveries(store) if d[3] == "accepted"]
    assert len(accepted) == len(set(accepted)) == len(items[ENT]) + len(items[VIO]) - 1 + 4


def test_a_token_expiring_every_time_fails_after_a_few_restarts(
        store: Any, vault: Any, transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    page_size = max((len(items[ENT]) + 1) // 2, len(items[VIO]))

    def expire(endpoint: str, attempt: int, page: int) -> None:
        if (endpoint, page) == (ENT, 1):
            faults(transport_server, {"kind": "expire_tokens"})

    api = Watched(make_api(transport_server), expire)
    with pytest.raises(TransportPullFailed) as caught:
        pull(store, vault, api, page_size=page_size, max_restarts=1)
    assert [(e.endpoint, e.error_code, e.restarts) for e in caught.value.summary.failed] == [
        (ENT, "page_token_expired", 1)]
    assert [c[:2] for c in api.calls] == [(ENT, BEGINNING), (ENT, BEGINNING), (VIO, BEGINNING)]
    assert set(watermarks(store)) == {WM_VIO}
    assert {d[0].split(":")[1] for d in deliveries(store)} == {"administrative_penalty"}


def test_too_many_bad_items_refuse_the_pull_whole_with_an_alert(
        store: Any, vault: Any, transport_server: TransportApiServer) -> None:
    at = now_local() - timedelta(hours=1)
    good = [new_rating(n, at=at + timedelta(seconds=n)) for n in range(25)]
    bad = [item | {"grade_level": "A"} for item in good[:15]] + good[15:]
    seed(transport_server, {ENT: bad})
    summary = pull(store, vault, make_api(transport_server))

    xcom = summary.as_xcom()
    assert xcom["pulls_refused"] == 1 and xcom["endpoints"][ENT]["error_code"] == "pull_reject_threshold"
    assert deliveries(store) == [] and set(watermarks(store)) == {WM_VIO}  # the refused pull is read again
    [f] = received(store)
    assert (f.status, f.error_code, f.total) == ("rejected", "pull_reject_threshold", 0)
    with store.session() as s:
        receipt = json.loads(s.execute(select(Receipt.body)).scalar_one())
        [alert] = s.execute(select(Alert)).scalars().all()
    assert receipt["status"] == "rejected" and receipt["errors"][0]["position"] == "file"
    assert (alert.kind, alert.source, alert.subject) == ("transport_pull_refused", "transport", ENT)
    assert "15" in alert.message and "25" in alert.message and "50%" in alert.message

    # The department corrects the items (new versions): the next pull takes them and closes the alert.
    seed(transport_server, {ENT: [item | {"version": 2} for item in good[:15]]})
    summary = pull(store, vault, make_api(transport_server))
    assert summary.as_xcom()["accepted"] == 25
    with store.session() as s:
        assert s.execute(select(Alert.resolved_at)).scalar_one() is not None


# --- items that break the envelope --------------------------------------------------------------


@pytest.mark.parametrize(("item", "codes"), [
    ("not an object", ["api_item_not_object"]),
    ({"version": 1, "deleted": False}, ["record_id_missing"]),
    ({"id": "X" * 129, "version": 1, "deleted": True}, ["record_id_too_long"]),
    ({"id": "A-1", "version": "2", "deleted": False}, ["record_version"]),
    ({"id": "A-1", "version": True, "deleted": False}, ["record_version"]),
    ({"id": "A-1", "version": 2**31, "deleted": True}, ["record_version"]),
    ({"id": "A-1", "version": 1, "deleted": "no"}, ["record_deleted_flag"]),
    ({"id": "A-1", "version": 1, "deleted": False, "grade": "A", "colour": "red"}, ["unknown_field"]),
    ({"id": "A-1", "version": 1, "deleted": True, "colour": "red"}, []),
])
def test_envelope_problems_are_record_problems(item: Any, codes: list[str]) -> None:
    rec = source_record("courier_rating", item, 7, "page 2 item 3")
    assert [p.code for p in rec.problems] == codes
    assert (rec.ordinal, rec.position) == (7, "page 2 item 3")
    if not codes:
        assert (rec.op, rec.dept_record_id, rec.dept_version, rec.data) == ("delete", "A-1", 1, {})
