"""Lineage and the run view on a real store (SQLite and PostgreSQL) filled by the real ingest, merge and county push."""

from __future__ import annotations

import json
from typing import Any

import pytest

from credit_exchange.publish.county.push import CountyPusher, PushIncomplete, reconcile
from credit_exchange.web import actions
from credit_exchange.web import lineage as lineage_module
from credit_exchange.web.lineage import RESENT, classify, lineage, run_view
from hub_messages import text
from tests.integration.ui.lineage_scenario import (
    CITY_DAG,
    CITY_FILE,
    CITY_RUN,
    FILE_1,
    FILE_2,
    FILE_3,
    INGEST,
    PERSON_ID,
    PUSH,
    PUSH_1,
    RUN_1,
    RUN_2,
    RUN_3,
    derived_nights,
    lineage_nights,
)

PUSH_2 = "manual__2026-11-29T02:00:00+00:00"
PUSH_3 = "scheduled__2026-11-29T15:20:00+00:00"


@pytest.fixture
def nights(inbox: Any, store: Any, vault: Any, county_client: Any) -> dict[str, Any]:
    return lineage_nights(inbox, store, vault, county_client)


def ask(store: Any, query: str, vault: Any) -> dict[str, Any]:
    with store.session() as s:
        return lineage(s, query, vault)


@pytest.mark.parametrize(("query", "kinds"), [
    ("market:administrative_penalty:SCJG-CF-2026-000001", ("record",)),
    ("hub:redlist:91511123DJJM80002P", ("record",)),
    ("91511123DJJM80002P", ("uscc",)),
    ("511123199001011230", ("uscc", "id_number")),  # 18 digits: both shapes
    ("51112319900101123x", ("id_number",)),  # lower case: no USCC
    ("51112319900101123X", ("uscc", "id_number")),
    ("MARKET_PENALTY_20261128_001.xml", ("file", "dept_record")),
    ("courier-violations@2026-11-28T10:00:00+08:00", ("file", "dept_record")),  # a pull, colons and all
    ("unknown:administrative_penalty:X", ("file", "dept_record")),  # no such department: not a record id
])
def test_the_query_shape_decides_what_is_searched(query: str, kinds: tuple[str, ...]) -> None:
    assert classify(query) == kinds


def test_a_record_id_gives_files_positions_versions_pushes_and_receipts(store: Any, vault: Any,
                                                                         nights: dict[str, Any]) -> None:
    a = ask(store, nights["org"], vault)
    assert (a["searched"], a["matched"]) == (["record"], ["record"])
    [r] = a["records"]
    assert r["record_id"] == nights["org"] and r["current"]["hub_version"] == 2
    got = [(d["file"]["name"], d["ordinal"], d["position"], d["dept_version"], d["outcome"], d["hub_version"])
           for d in r["deliveries"]]
    assert got == [(FILE_1, 1, "record 1", 1, "accepted", 1), (FILE_2, 1, "record 1", 2, "accepted", 2),
                   (FILE_2, 3, "record 3", 1, "stale", None)]
    first = r["deliveries"][0]["file"]
    assert (first["department"], first["status"], first["dag_id"], first["run_id"]) == (
        "market", "partially_accepted", INGEST, RUN_1)
    assert first["stored_path"].startswith("/market/archive/") and first["received_at"]
    assert r["deliveries"][1]["file"]["run_id"] == RUN_2
    assert r["deliveries"][0]["receipt"]["status"] == "partially_accepted"
    assert r["deliveries"][0]["receipt"]["written_to"].endswith(".receipt.json")
    assert [(v["hub_version"], v["file"]) for v in r["versions"]] == [(1, FILE_1), (2, FILE_2)]
    county = {c["hub_version"]: c for c in r["county"]}
    assert county[1]["status"] == "done" and county[1]["batch_status"] == "done"
    assert county[1]["batch_id"].startswith("qwhub-county-") and county[1]["batch_run"] == {
        "dag_id": PUSH, "run_id": PUSH_1}
    assert county[2]["status"] == "pending" and county[2]["batch_id"] is None  # merged after the push
    assert r["city"]["state"] == "ok" and r["city"]["file"] == CITY_FILE and r["city"]["op"] == "add"
    assert r["city"]["receipt_status"] == "ok" and r["city"]["file_run"] == {"dag_id": CITY_DAG, "run_id": CITY_RUN}
    assert r["rejects"] == []


def test_a_uscc_finds_the_subjects_records(store: Any, vault: Any, nights: dict[str, Any]) -> None:
    a = ask(store, nights["org_uscc"], vault)
    assert a["matched"] == ["uscc"]
    assert [r["record_id"] for r in a["records"]] == [nights["org"]]
    assert text("lineage_kind_uscc").split(" ")[0] in a["message"]


def test_a_persons_id_number_is_found_by_its_keyed_hash_and_never_shown(store: Any, vault: Any,
                                                                         nights: dict[str, Any]) -> None:
    a = ask(store, PERSON_ID, vault)
    assert a["searched"] == ["uscc", "id_number"] and a["matched"] == ["id_number"]
    [r] = a["records"]
    assert r["record_id"] == nights["person"] and r["current"]["subject_kind"] == "person"
    assert [d["outcome"] for d in r["deliveries"]] == ["accepted", "unchanged"]
    assert a["query"] == "511123********1230"
    assert PERSON_ID not in json.dumps(a, ensure_ascii=False)
    # Spaces around it do not matter.
    assert ask(store, f"  {PERSON_ID} ", vault)["matched"] == ["id_number"]


def test_without_the_key_an_id_number_query_says_so(store: Any, nights: dict[str, Any]) -> None:
    a = ask(store, PERSON_ID, None)
    assert a["matched"] == [] and a["records"] == []
    assert a["notes"] == [text("lineage_needs_key")]


def test_a_file_name_gives_the_file_its_receipt_rejects_and_records(store: Any, vault: Any,
                                                                    nights: dict[str, Any]) -> None:
    a = ask(store, FILE_1, vault)
    assert a["matched"] == ["file"] and a["records"] == []
    [f] = a["files"]
    facts = f["file"]
    assert (facts["status"], facts["total"], facts["accepted"], facts["rejected"]) == ("partially_accepted", 4, 3, 1)
    assert (facts["dag_id"], facts["run_id"]) == (INGEST, RUN_1)
    assert f["receipt"]["status"] == "partially_accepted"
    assert [(j["position"], j["code"]) for j in f["rejects"]] == [("record 3", "uscc_checksum")]
    assert "(" in f["rejects"][0]["message"]  # the reason, Chinese with its gloss
    assert [(d["ordinal"], d["outcome"], d["hub_version"]) for d in f["records"]] == [
        (1, "accepted", 1), (2, "accepted", 1), (3, "rejected", None), (4, "accepted", 1)]


def test_a_departments_own_record_id_finds_a_rejected_record(store: Any, vault: Any, nights: dict[str, Any]) -> None:
    a = ask(store, nights["broken_dept_id"], vault)
    assert a["matched"] == ["dept_record"]
    [r] = a["records"]
    assert r["record_id"] == nights["broken"] and r["current"] is None and r["versions"] == []
    assert [d["outcome"] for d in r["deliveries"]] == ["rejected"]
    assert [(j["file"], j["position"], j["code"]) for j in r["rejects"]] == [(FILE_1, "record 3", "uscc_checksum")]


@pytest.mark.parametrize("query", ["NO_SUCH_FILE.xml", "market:administrative_penalty:NOPE", "91511123MA62T0XX1X"])
def test_an_unknown_query_gives_a_clear_message(store: Any, vault: Any, nights: dict[str, Any], query: str) -> None:
    a = ask(store, query, vault)
    assert a["matched"] == [] and a["records"] == [] and a["files"] == []
    assert a["message"].startswith("未找到") and query in a["message"] and "nothing found" in a["message"]


def test_an_empty_query_asks_for_one(store: Any, vault: Any) -> None:
    a = ask(store, "   ", vault)
    assert a["searched"] == [] and a["message"] == text("lineage_empty_query")


def test_the_run_view_of_an_ingest_run(store: Any, nights: dict[str, Any]) -> None:
    with store.session() as s:
        one = run_view(s, INGEST, RUN_1)
        two = run_view(s, INGEST, RUN_2)
        # The same run id in another DAG is another run: it took nothing.
        other = run_view(s, "ingest_police", RUN_1)
    assert one["found"] and [f["name"] for f in one["files"]] == [FILE_1]
    assert one["totals"] == {"total": 4, "accepted": 3, "rejected": 1, "unchanged": 0, "stale": 0}
    assert [(j["file"], j["code"]) for j in one["rejects"]] == [(FILE_1, "uscc_checksum")]
    assert one["files"][0]["receipt"]["status"] == "partially_accepted"
    assert two["totals"] == {"total": 3, "accepted": 1, "rejected": 0, "unchanged": 1, "stale": 1}
    assert [f["name"] for f in two["files"]] == [FILE_2]
    # A stale version is counted and named on the receipt, but it is no reject.
    assert two["rejects"] == []
    assert not other["found"] and other["files"] == [] and other["message"] == text("run_nothing")


def test_the_run_view_of_push_runs(store: Any, nights: dict[str, Any]) -> None:
    with store.session() as s:
        county = run_view(s, PUSH, PUSH_1)
        city = run_view(s, CITY_DAG, CITY_RUN)
    [b] = county["batches"]
    assert b["status"] == "done" and b["records"] == 3 and b["outcomes"] == {"done": 3} and county["files"] == []
    [c] = city["city_files"]
    assert (c["name"], c["status"], c["receipt_status"], c["record_states"]) == (CITY_FILE, "receipted", "ok", {"ok": 1})


def test_older_rows_without_a_dag_id_are_found_by_the_ingest_dags_department(store: Any, vault: Any,
                                                                             nights: dict[str, Any]) -> None:
    from sqlalchemy import update

    from credit_exchange.store import ReceivedFile

    with store.session() as s:
        s.execute(update(ReceivedFile).values(dag_id=None))
    with store.session() as s:
        assert [f["name"] for f in run_view(s, INGEST, RUN_1)["files"]] == [FILE_1]
        assert run_view(s, "ingest_police", RUN_1)["files"] == []


def test_a_derived_record_shows_every_version(store: Any, vault: Any, inbox: Any, nights: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Derived versions come from no delivery: they must not collapse onto one (None) key.
    profile = derived_nights(inbox, store, vault, nights)
    a = ask(store, profile, vault)
    assert a["matched"] == ["record"]
    [r] = a["records"]
    assert r["department"] == "hub" and r["record_type"] == "credit_profile"
    assert r["current"]["hub_version"] == 2 and r["deliveries"] == []
    assert [(v["hub_version"], v["op"], v["file"]) for v in r["versions"]] == [(1, "upsert", None), (2, "upsert", None)]
    assert r["versions_more"] == 0
    # The penalty's own versions keep their files, and each delivery the version it made.
    [org] = ask(store, nights["org"], vault)["records"]
    assert [(v["hub_version"], v["file"]) for v in org["versions"]] == [(1, FILE_1), (2, FILE_2), (3, FILE_3)]
    assert [(d["file"]["name"], d["hub_version"]) for d in org["deliveries"]] == [
        (FILE_1, 1), (FILE_2, 2), (FILE_2, None), (FILE_3, 3)]
    assert org["deliveries"][-1]["file"]["run_id"] == RUN_3
    # The subject now has two penalties, its profile and its black list entry; an answer holds two.
    subject = ask(store, nights["org_uscc"], vault)
    assert len(subject["records"]) == 4 and subject["records_more"] == 0
    black = next(r for r in subject["records"] if r["record_id"].startswith("hub:blacklist:"))
    assert black["current"]["hub_version"] == 2 and [(v["hub_version"], v["file"]) for v in black["versions"]] == [
        (1, None), (2, None)]
    monkeypatch.setattr(lineage_module, "MAX_RECORDS", 2)
    few = ask(store, nights["org_uscc"], vault)
    assert len(few["records"]) == 2 and few["records_more"] == 2
    assert text("lineage_more", records=2, files=0) in few["notes"]


def _counts_add_up(view: dict[str, Any]) -> None:
    assert view["outcomes_basis"] == "current" and text("run_outcomes_now") in view["notes"]
    for b in view["batches"]:
        assert sum(b["outcomes"].values()) == b["records"], b
    for c in view["city_files"]:
        assert sum(c["record_states"].values()) == c["records"], c


def test_an_earlier_push_keeps_its_records_after_a_resend(store: Any, vault: Any, county: Any, county_client: Any,
                                                          nights: dict[str, Any]) -> None:
    """The outcomes of a batch are the records' state now; a record sent again since counts as resent."""
    county.add_faults([{"kind": "status", "status": 400}])  # the platform refuses night two's batch
    with pytest.raises(PushIncomplete):
        CountyPusher(store, vault, county_client, dag_id=PUSH, run_id=PUSH_2).run()
    with store.session() as s:
        refused = run_view(s, PUSH, PUSH_2)
    [b] = refused["batches"]
    assert (b["status"], b["records"], b["outcomes"]) == ("failed", 1, {"failed": 1})
    _counts_add_up(refused)

    actions.resend_failed(store, "county", "tester")
    CountyPusher(store, vault, county_client, dag_id=PUSH, run_id=PUSH_3).run()
    # The platform loses what it held; reconcile queues it again (outside any batch) and a push sends it.
    county.reset()
    assert reconcile(store, county_client).requeued == 3
    CountyPusher(store, vault, county_client, dag_id=PUSH, run_id=PUSH_3).run()
    with store.session() as s:
        first, second = run_view(s, PUSH, PUSH_1), run_view(s, PUSH, PUSH_2)
    [b1], [b2] = first["batches"], second["batches"]
    assert (b2["batch_id"], b2["status"], b2["records"]) == (b["batch_id"], "failed", 1)
    assert b2["outcomes"] == {RESENT: 1}
    assert b1["records"] == 3 and b1["outcomes"] == {"done": 1, RESENT: 2}
    _counts_add_up(first)
    _counts_add_up(second)


def test_a_city_file_keeps_its_records_after_a_resend(store: Any, nights: dict[str, Any]) -> None:
    from sqlalchemy import update

    from credit_exchange.store import CityState

    with store.session() as s:
        s.execute(update(CityState).values(status="error", code="E01"))  # the receipt refused it
    actions.resend_failed(store, "city", "tester")
    with store.session() as s:
        view = run_view(s, CITY_DAG, CITY_RUN)
    [c] = view["city_files"]
    assert (c["records"], c["record_states"]) == (1, {RESENT: 1})
    _counts_add_up(view)


def test_every_list_is_bounded_and_says_how_many_more(store: Any, vault: Any, inbox: Any, county: Any,
                                                      county_client: Any, nights: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from credit_exchange import config
    from credit_exchange.feeds.inbox import InboxIngest
    from sandbox.market_files import good_records, market_xml
    from tests.integration.ui.lineage_scenario import AT, TODAY

    # One run taking two files; three batches of one record in another run.
    for n in (1, 2):
        recs = good_records("PENALTY", TODAY, 2, start=10 * n)
        inbox.upload_atomic(market_xml("PENALTY", recs, AT + timedelta(hours=n)),
                            f"/market/inbox/MARKET_PENALTY_20261129_00{n + 1}.xml")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id=RUN_3, dag_id=INGEST).run()
    county.reset()
    reconcile(store, county_client)
    CountyPusher(store, vault, county_client, max_records=1, dag_id=PUSH, run_id=PUSH_2).run()
    for name, value in (("MAX_RUN_ROWS", 1), ("MAX_RECORD_ROWS", 1), ("MAX_FILE_ROWS", 2), ("MAX_FILES", 1)):
        monkeypatch.setattr(lineage_module, name, value)
    with store.session() as s:
        files, pushes = run_view(s, INGEST, RUN_3), run_view(s, PUSH, PUSH_2)
        first = run_view(s, INGEST, RUN_1)
    assert len(files["files"]) == 1 and files["files_more"] == 1
    assert files["totals"] == {"total": 4, "accepted": 4, "rejected": 0, "unchanged": 0, "stale": 0}  # all files
    assert files["message"] == text("run_found", files=2, batches=0, city_files=0)
    assert text("run_more", files=1, batches=0, city_files=0) in files["notes"]
    assert len(pushes["batches"]) == 1 and pushes["batches_more"] == 2
    assert pushes["message"] == text("run_found", files=0, batches=3, city_files=0)
    assert first["rejects_more"] == 0 and first["files_more"] == 0

    [org] = ask(store, nights["org"], vault)["records"]
    assert (len(org["deliveries"]), org["deliveries_more"]) == (1, 2)
    assert (len(org["versions"]), org["versions_more"]) == (1, 1)
    assert (len(org["county"]), org["county_more"]) == (1, 1)
    [f] = ask(store, FILE_1, vault)["files"]
    assert (len(f["records"]), f["records_more"], f["rejects_more"]) == (2, 2, 0)
