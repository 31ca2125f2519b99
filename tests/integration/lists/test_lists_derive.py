"""derive_all against the real store (SQLite and PostgreSQL): list entries, profiles, data quality."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

from lists_helpers import Hub, business, org, person, placeholder_business
from sqlalchemy import select

from credit_exchange import config
from credit_exchange.derive.rules import RuleSet, load_rules
from credit_exchange.standard.pii import mask_id_number
from credit_exchange.store import DataQualityIssue, ListState, OutboxItem, Record
from credit_exchange.timeutil import LOCAL

RUN = date(2026, 11, 29)
DAY = timedelta(days=1)


def listed(hub: Hub, list_type: str, key: str) -> tuple[int, dict[str, Any]]:
    found = hub.record(f"hub:{list_type}:{key}")
    assert found is not None, f"no {list_type} entry for {key}"
    return found


def profile(hub: Hub, key: str) -> tuple[int, dict[str, Any]]:
    found = hub.record(f"hub:credit_profile:{key}")
    assert found is not None
    return found


def test_black_listing_then_moved_out_as_an_update(hub: Hub, store: Any) -> None:
    who = org(1)
    pid = hub.put("administrative_penalty", "CF-1", who, penalty_categories=["吊销许可证件", "罚款"],
                  fine_amount=1.5, decision_date="2026-05-06", valid_until="2029-05-06")
    summary = hub.derive(RUN)
    assert summary.new_versions == 2 and summary.listed == 1 and summary.by_status == {"black": 1}
    version, entry = listed(hub, "blacklist", who.key_hint)
    assert version == 1
    assert entry == {
        "subject_name": who.name, "subject_category": "法人及非法人组织", "uscc": who.uscc, "list_type": "黑名单",
        "reason": "B2 36个月内受到吊销许可证件、责令停产停业或责令关闭的行政处罚", "basis": f"B2: {pid}",
        "listed_date": "2026-05-06", "valid_to": "2029-05-06", "decided_by": "县发展和改革局",
        "decided_by_uscc": load_rules().decided_by_uscc, "status": "有效"}
    assert hub.record(f"hub:redlist:{who.key_hint}") is None
    _, prof = profile(hub, who.key_hint)
    assert (prof["list_status"], prof["list_rules"], prof["list_record_ids"]) == ("black", ["B2"], [pid])
    with store.session() as s:
        state = s.get(ListState, (who.key_hint, "blacklist"))
        assert (state.status, state.qualified_since, json.loads(state.rules)) == ("listed", "2026-05-06", ["B2"])

    # The department revokes the penalty: the entry is moved out, same record, next version.
    hub.delete(pid, at=RUN)
    summary = hub.derive(RUN + DAY)
    assert summary.moved_out == 1 and summary.listed == 0
    version, entry = listed(hub, "blacklist", who.key_hint)
    assert version == 2 and entry["status"] == "已移出" and entry["listed_date"] == "2026-05-06"
    assert "已移出" in entry["remark"]
    assert profile(hub, who.key_hint)[1]["list_status"] == "none"
    with store.session() as s:
        owed = s.execute(select(OutboxItem.hub_version, OutboxItem.op).where(
            OutboxItem.record_id == f"hub:blacklist:{who.key_hint}").order_by(OutboxItem.hub_version)).all()
        assert [tuple(o) for o in owed] == [(1, "upsert"), (2, "upsert")]  # pushed as an update
        assert s.get(ListState, (who.key_hint, "blacklist")).status == "removed"
    # Out and staying out: nothing more to write.
    assert hub.derive(RUN + 2 * DAY).new_versions == 0


def test_a_trigger_that_runs_out_of_its_window_moves_the_subject_out(hub: Hub) -> None:
    who = org(2)
    hub.put("payment_risk_event", "E-1", who, event_date="2025-01-10", risk_level="高", action_taken="终止服务")
    hub.derive(date(2027, 1, 10))  # exactly 24 months: still black
    assert listed(hub, "blacklist", who.key_hint)[1]["status"] == "有效"
    hub.derive(date(2027, 1, 11))
    version, entry = listed(hub, "blacklist", who.key_hint)
    assert (version, entry["status"]) == (2, "已移出")


def test_second_run_with_no_new_input_writes_nothing(hub: Hub, store: Any) -> None:
    hub.put("administrative_penalty", "CF-1", org(1), penalty_categories=["责令关闭"], decision_date="2026-02-01",
            valid_until="2029-02-01")
    hub.put("online_shop_registration", "WD-1", org(2))
    hub.put("administrative_license", "XK-1", org(2), status="有效", valid_from="2025-01-01", valid_to="2030-01-01")
    hub.put("fraud_case", "AJ-1", person(3, RUN), serious=True, filed_date="2026-03-01")
    hub.put("courier_rating", "KD-1", org(4), rating_year=2025, grade="B")
    first = hub.derive(RUN)
    assert first.subjects == 4 and first.new_versions == 4 + 3  # four profiles, two black, one red
    before = hub.version_count()
    with store.session() as s:
        owed = len(s.execute(select(OutboxItem.id)).all())
    again = hub.derive(RUN)
    assert again.new_versions == 0 and again.subjects == 4
    assert hub.version_count() == before
    with store.session() as s:
        assert len(s.execute(select(OutboxItem.id)).all()) == owed


def test_red_stretch_kept_across_runs_and_reset_after_a_break(hub: Hub) -> None:
    who = business(1)
    hub.put("online_shop_registration", "WD-1", who)
    hub.put("administrative_license", "XK-1", who, status="有效", valid_from="2025-01-01", valid_to="2030-01-01")
    d1 = RUN
    hub.derive(d1)
    version, entry = listed(hub, "redlist", who.key_hint)
    assert (version, entry["status"], entry["listed_date"], entry["valid_to"]) == (1, "有效", "2026-11-29", "2027-11-29")
    assert entry["subject_category"] == "个体工商户" and entry["list_type"] == "红名单"
    assert entry["reason"].startswith("R2 ") and "online_shop_registration" in entry["basis"]

    hub.derive(d1 + DAY)  # still qualified: same stretch, validity moves with the run date
    version, entry = listed(hub, "redlist", who.key_hint)
    assert (version, entry["listed_date"], entry["valid_to"]) == (2, "2026-11-29", "2027-11-30")

    warning = hub.put("administrative_penalty", "CF-9", who, penalty_categories=["警告"],
                      decision_date=(d1 + 2 * DAY).isoformat(), valid_until="2027-12-31", at=d1 + 2 * DAY)
    hub.derive(d1 + 2 * DAY)  # a penalty breaks the stretch
    version, entry = listed(hub, "redlist", who.key_hint)
    assert (version, entry["status"], entry["listed_date"]) == (3, "已移出", "2026-11-29")
    assert profile(hub, who.key_hint)[1]["list_status"] == "none"

    hub.delete(warning, at=d1 + 3 * DAY)
    hub.derive(d1 + 4 * DAY)  # qualified again: a new stretch
    version, entry = listed(hub, "redlist", who.key_hint)
    assert (version, entry["status"], entry["listed_date"], entry["valid_to"]) == (
        4, "有效", "2026-12-03", "2027-12-03")
    assert "remark" not in entry


def test_red_to_black_moves_the_red_entry_out(hub: Hub) -> None:
    who = org(5)
    hub.put("courier_rating", "KD-2024", who, rating_year=2024, grade="A")
    hub.put("courier_rating", "KD-2025", who, rating_year=2025, grade="A")
    hub.derive(RUN)
    assert listed(hub, "redlist", who.key_hint)[1]["reason"].startswith("R1 ")
    hub.put("courier_rating", "KD-2026", who, rating_year=2026, grade="D")
    hub.derive(RUN + DAY)
    assert listed(hub, "redlist", who.key_hint)[1]["status"] == "已移出"
    entry = listed(hub, "blacklist", who.key_hint)[1]
    assert (entry["status"], entry["listed_date"], entry["valid_to"]) == ("有效", "2027-01-01", "2030-01-01")


def test_a_person_on_the_black_list_carries_the_full_id_number_encrypted(hub: Hub, store: Any) -> None:
    who = person(1, RUN)
    assert who.id_number
    fid = hub.put("fraud_case", "AJ-1", who, serious=True, filed_date="2026-03-01")
    hub.put("online_shop_registration", "WD-1", who)
    hub.put("administrative_license", "XK-1", who, status="有效", valid_from="2025-01-01", valid_to="2030-01-01")
    hub.derive(RUN)
    key = hub.key_of(fid)
    entry = listed(hub, "blacklist", key)[1]
    assert entry["id_number"] == who.id_number and "uscc" not in entry and entry["subject_category"] == "自然人"
    assert hub.record(f"hub:redlist:{key}") is None
    _, prof = profile(hub, key)
    assert prof["subject_kind"] == "person" and prof["id_number_masked"] == mask_id_number(who.id_number)
    assert "uscc" not in prof
    with store.session() as s:
        stored = [r.data_enc for r in s.execute(select(Record).where(Record.department == "hub")).scalars()]
    assert stored and all(who.id_number not in text for text in stored)


def test_persons_are_never_red(hub: Hub) -> None:
    who = person(2, RUN)
    sid = hub.put("online_shop_registration", "WD-1", who)
    hub.put("administrative_license", "XK-1", who, status="有效", valid_from="2025-01-01", valid_to="2030-01-01")
    hub.derive(RUN)
    key = hub.key_of(sid)
    assert hub.record(f"hub:redlist:{key}") is None
    assert profile(hub, key)[1]["list_status"] == "none"


def test_one_uscc_two_names_is_one_subject_and_a_data_quality_warning(hub: Hub, store: Any) -> None:
    first, renamed = org(7, "犍为县岷江茶业有限公司"), org(7, "犍为县岷江茶叶有限公司")
    a = hub.put("administrative_license", "XK-1", first, at=date(2026, 3, 1))
    b = hub.put("online_shop_registration", "WD-1", renamed, at=date(2026, 6, 1))
    hub.derive(RUN)
    _, prof = profile(hub, first.key_hint)
    assert prof["record_ids"] == [a, b] and prof["subject_name"] == renamed.name  # the newest record names it
    with store.session() as s:
        issues = s.execute(select(DataQualityIssue).where(DataQualityIssue.kind == "name_mismatch")).scalars().all()
    assert sorted(json.loads(i.details)["name"] for i in issues) == sorted([first.name, renamed.name])
    assert {i.subject_key for i in issues} == {first.key_hint}
    assert first.key_hint in json.loads(issues[0].details)["message"]
    # Reported once per subject and name, not every night.
    assert hub.derive(RUN + DAY).data_quality == 0
    with store.session() as s:
        assert len(s.execute(select(DataQualityIssue.id)).all()) == 2


def test_credit_profile_content(hub: Hub) -> None:
    who = org(8)
    lic = hub.put("administrative_license", "XK-1", who, at=date(2026, 2, 1))
    old = hub.put("administrative_penalty", "CF-OLD", who, penalty_categories=["警告"], decision_date="2022-01-05",
                  valid_until="2025-01-05", at=date(2026, 2, 1))
    new = hub.put("administrative_penalty", "CF-NEW", who, penalty_categories=["罚款"], fine_amount=0.2,
                  decision_date="2026-04-01", valid_until="2029-04-01", at=date(2026, 4, 2))
    ab = hub.put("abnormal_operation", "YC-1", who, listed_date="2025-01-01", removed_date="2025-06-01",
                 removed_reason="已补报年报", removed_by="犍为县市场监督管理局", at=date(2026, 4, 3))
    gone = hub.put("courier_rating", "KD-1", who, rating_year=2025, grade="B", at=date(2026, 4, 3))
    hub.delete(gone, at=date(2026, 5, 7))
    hub.derive(RUN)
    version, prof = profile(hub, who.key_hint)
    assert version == 1
    assert prof == {
        "subject_key": who.key_hint, "subject_kind": "org", "subject_name": who.name, "uscc": who.uscc,
        # current records only: the expired penalty and the removed abnormal entry are not counted
        "record_counts": {"administrative_license": 1, "administrative_penalty": 1},
        "record_ids": sorted([lic, old, new, ab]),
        "list_status": "none", "list_rules": [], "list_record_ids": [],
        "updated_at": "2026-05-07T23:00:00+08:00",  # the last change of its records, not the run time
    }
    # Days later, nothing changed for the subject: no new profile version.
    assert hub.derive(RUN + 30 * DAY).new_versions == 0
    assert profile(hub, who.key_hint)[0] == 1


def test_an_individual_business_without_uscc_gets_a_profile_but_no_list_entry(hub: Hub, store: Any) -> None:
    who = placeholder_business(1)
    hub.put("administrative_penalty", "CF-1", who, penalty_categories=["责令停产停业"], decision_date="2026-05-06",
            valid_until="2029-05-06")
    hub.derive(RUN)
    _, prof = profile(hub, who.key_hint)
    assert (prof["subject_kind"], prof["uscc"], prof["list_status"]) == ("individual_business", "00000000000000000X",
                                                                         "black")
    assert hub.record(f"hub:blacklist:{who.key_hint}") is None
    hub.derive(RUN + DAY)
    with store.session() as s:
        issues = s.execute(select(DataQualityIssue).where(DataQualityIssue.kind == "list_entry_no_uscc")).scalars().all()
    assert len(issues) == 1 and issues[0].record_id == f"hub:blacklist:{who.key_hint}"
    assert json.loads(issues[0].details)["regno"] == who.regno


def test_a_changed_config_changes_the_lists(hub: Hub) -> None:
    who = org(9)
    for i, day in enumerate(("2026-03-01", "2026-07-01")):
        hub.put("administrative_penalty", f"CF-{i}", who, penalty_categories=["罚款"], fine_amount=0.3,
                decision_date=day, valid_until="2029-01-01")
    assert hub.derive(RUN).by_status == {"none": 1}
    raw = copy.deepcopy(config.load("rules"))
    b3 = next(r for r in raw["black"]["rules"] if r["id"] == "B3")
    b3["count"]["at_least"] = 2
    raw["black"]["valid_years"] = 2
    hub.derive(RUN, rules=RuleSet.from_config(raw))
    entry = listed(hub, "blacklist", who.key_hint)[1]
    assert (entry["basis"].split(":")[0], entry["listed_date"], entry["valid_to"]) == ("B3", "2026-03-01",
                                                                                      "2028-03-01")


def test_derived_versions_are_written_after_the_chunked_scan(hub: Hub, monkeypatch: Any) -> None:
    import credit_exchange.derive.lists as derive

    monkeypatch.setattr(derive, "CHUNK", 2)
    whos = [org(20 + i) for i in range(5)]
    for i, who in enumerate(whos):
        hub.put("administrative_license", f"XK-{i}", who)
    summary = hub.derive(RUN)
    assert summary.subjects == 5 and summary.profiles == 5
    assert all(profile(hub, w.key_hint)[1]["subject_name"] == w.name for w in whos)
    assert hub.derive(RUN).new_versions == 0


def test_profile_timestamp_is_local(hub: Hub) -> None:
    who = org(30)
    hub.put("administrative_license", "XK-1", who, at=date(2026, 8, 8))
    hub.derive(RUN)
    stamp = profile(hub, who.key_hint)[1]["updated_at"]
    from datetime import datetime

    assert datetime.fromisoformat(stamp) == datetime(2026, 8, 8, 23, 0, tzinfo=LOCAL)


def test_derived_records_reach_the_county_platform(hub: Hub, store: Any, vault: Any, county: Any,
                                                   county_client: Any) -> None:
    import urllib.request

    from credit_exchange.publish.county.push import CountyPusher

    black, red, someone = org(40), org(41), person(42, RUN)
    bid = hub.put("administrative_penalty", "CF-1", black, penalty_categories=["吊销许可证件"],
                  decision_date="2026-05-06", valid_until="2029-05-06")
    hub.put("online_shop_registration", "WD-1", red)
    hub.put("administrative_license", "XK-1", red, status="有效", valid_from="2025-01-01", valid_to="2030-01-01")
    fid = hub.put("fraud_case", "AJ-1", someone, serious=True, filed_date="2026-03-01")
    hub.derive(RUN)
    hub.delete(bid, at=RUN)
    hub.derive(RUN + DAY)  # the black entry moved out: a second version
    summary = CountyPusher(store, vault, county_client).run()
    assert set(summary.records) == {"accepted"}
    with urllib.request.urlopen(f"{county.url}/_sandbox/records", timeout=10) as resp:
        held = {r["record_id"]: r for r in json.load(resp)}
    entry = held[f"hub:blacklist:{black.key_hint}"]
    assert entry["version"] == 2 and entry["op"] == "upsert" and entry["data"]["status"] == "已移出"
    assert held[f"hub:redlist:{red.key_hint}"]["data"]["list_type"] == "红名单"
    person_entry = held[f"hub:blacklist:{hub.key_of(fid)}"]
    assert person_entry["data"]["id_number"] == someone.id_number  # the county platform gets it in full
    assert person_entry["subject"]["kind"] == "person"
    assert held[f"hub:credit_profile:{red.key_hint}"]["data"]["list_status"] == "red"
