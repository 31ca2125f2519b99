"""Red / black list rules (data-standard.md 3.2) on plain record dicts, at their boundaries."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest

from credit_exchange import config
from credit_exchange.derive.rules import Decision, RulesConfigError, RuleSet, evaluate, load_rules
from credit_exchange.standard.publication import add_months

RUN = date(2026, 11, 29)
RULES = load_rules()
DAY = timedelta(days=1)


def months_ago(n: int, extra_days: int = 0) -> date:
    return add_months(RUN, -n) - timedelta(days=extra_days)


def rec(record_type: str, rid: str, op: str = "upsert", **data: Any) -> dict[str, Any]:
    return {"record_id": f"t:{record_type}:{rid}", "record_type": record_type, "op": op, "data": data}


def penalty(rid: str, decided: date, categories: tuple[str, ...] = ("罚款",), valid_until: date | None = None,
            **more: Any) -> dict[str, Any]:
    return rec("administrative_penalty", rid, penalty_categories=list(categories), decision_date=decided.isoformat(),
               valid_until=(valid_until or add_months(decided, 36)).isoformat(), **more)


def fraud(rid: str, filed: date, serious: bool = True) -> dict[str, Any]:
    return rec("fraud_case", rid, filed_date=filed.isoformat(), serious=serious)


def rating(rid: str, year: int, grade: str) -> dict[str, Any]:
    return rec("courier_rating", rid, rating_year=year, grade=grade)


def payment(rid: str, day: date, risk: str = "高", action: str = "终止服务") -> dict[str, Any]:
    return rec("payment_risk_event", rid, event_date=day.isoformat(), risk_level=risk, action_taken=action)


def abnormal(rid: str, listed: date, removed: date | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"listed_date": listed.isoformat()}
    if removed:
        data["removed_date"] = removed.isoformat()
    return rec("abnormal_operation", rid, **data)


def shop(rid: str = "S1", status: str = "正常") -> dict[str, Any]:
    return rec("online_shop_registration", rid, status=status)


def licence(rid: str = "L1", status: str = "有效", valid_from: date = date(2024, 1, 1),
            valid_to: date = date(2029, 1, 1)) -> dict[str, Any]:
    return rec("administrative_license", rid, status=status, valid_from=valid_from.isoformat(),
               valid_to=valid_to.isoformat())


def decide(*records: dict[str, Any], kind: str = "org", rules: RuleSet = RULES, run: date = RUN) -> Decision:
    return evaluate(kind, records, run, rules)


def black_ids(d: Decision) -> list[str]:
    return [f.rule_id for f in d.black]


# -- the shipped configuration -------------------------------------------------------------

def test_the_shipped_rules_are_the_standards_defaults() -> None:
    assert [r.id for r in RULES.black_rules] == ["B1", "B2", "B3", "B4", "B5", "B6"]
    assert [r.id for r in RULES.red_rules] == ["R1", "R2"]
    assert RULES.black_valid_years == 3 and RULES.red_valid_years == 1
    assert RULES.red_subject_kinds == {"org", "individual_business"}
    assert RULES.decided_by == "县发展和改革局"
    from credit_exchange.standard.checks import uscc_problems

    assert RULES.decided_by_uscc and uscc_problems(RULES.decided_by_uscc) == []


# -- black rules ----------------------------------------------------------------------------

def test_b1_serious_fraud_case() -> None:
    filed = date(2025, 3, 4)
    d = decide(fraud("F1", filed))
    assert black_ids(d) == ["B1"] and d.status == "black"
    (f,) = d.black
    assert (f.listed_date, f.valid_to, f.record_ids) == (filed, date(2028, 3, 4), ("t:fraud_case:F1",))
    assert decide(fraud("F1", filed, serious=False)).black == ()
    deleted = fraud("F1", filed)
    deleted["op"] = "delete"
    assert decide(deleted).black == ()


def test_a_trigger_whose_listing_period_ran_out_no_longer_lists_but_still_blocks_red() -> None:
    d = decide(fraud("F1", months_ago(36, extra_days=1)), shop(), licence())
    assert d.black == () and [f.rule_id for f in d.black_expired] == ["B1"]
    assert d.status == "none" and "B1" in d.red_blocked_by


def test_b2_at_36_months_and_one_day_more() -> None:
    at = months_ago(36)
    d = decide(penalty("P1", at, ("吊销许可证件", "罚款")))
    assert black_ids(d) == ["B2"]
    assert (d.black[0].listed_date, d.black[0].valid_to) == (at, RUN)
    assert decide(penalty("P1", at - DAY, ("吊销许可证件",), valid_until=RUN)).black == ()
    for category in ("责令停产停业", "责令关闭"):
        assert black_ids(decide(penalty("P1", RUN - 10 * DAY, (category,)))) == ["B2"]
    assert decide(penalty("P1", RUN - 10 * DAY, ("暂扣许可证件",))).black == ()


def test_b2_needs_a_current_penalty() -> None:
    decided = months_ago(12)
    assert black_ids(decide(penalty("P1", decided, ("吊销许可证件",), valid_until=RUN))) == ["B2"]
    assert decide(penalty("P1", decided, ("吊销许可证件",), valid_until=RUN - DAY)).black == ()


def test_b3_three_penalties_within_12_months_vs_spread_over_13() -> None:
    start = date(2025, 2, 10)
    within = [penalty("P1", start), penalty("P2", start + 100 * DAY), penalty("P3", add_months(start, 12))]
    d = decide(*within)
    assert black_ids(d) == ["B3"]
    assert d.black[0].listed_date == start and len(d.black[0].record_ids) == 3
    spread = [penalty("P1", start), penalty("P2", start + 100 * DAY), penalty("P3", add_months(start, 12) + DAY)]
    assert decide(*spread).black == ()


def test_b3_lists_from_the_earliest_penalty_involved_and_looks_back_36_months() -> None:
    early = penalty("P0", months_ago(30))  # alone in its 12 months: not involved
    burst = [penalty(f"P{i}", months_ago(10) + (i - 1) * 30 * DAY) for i in range(1, 4)]
    d = decide(early, *burst)
    assert d.black[0].listed_date == months_ago(10)
    assert "t:administrative_penalty:P0" not in d.black[0].record_ids
    old = [penalty(f"P{i}", months_ago(37) + i * DAY, valid_until=RUN + DAY) for i in range(3)]
    assert decide(*old).black == ()  # decided more than 36 months ago


def test_b4_latest_rating_grade_d() -> None:
    d = decide(rating("C1", 2024, "B"), rating("C2", 2025, "D"))
    assert black_ids(d) == ["B4"]
    assert (d.black[0].listed_date, d.black[0].valid_to) == (date(2026, 1, 1), date(2029, 1, 1))
    assert decide(rating("C1", 2024, "D"), rating("C2", 2025, "C")).black == ()


def test_b5_at_24_months() -> None:
    at = months_ago(24)
    d = decide(payment("E1", at))
    assert black_ids(d) == ["B5"] and d.black[0].listed_date == at
    assert decide(payment("E1", at - DAY)).black == ()
    assert decide(payment("E1", at, risk="中")).black == ()
    assert decide(payment("E1", at, action="暂停支付")).black == ()


def test_b6_exactly_36_months_vs_one_day_more() -> None:
    assert decide(abnormal("A1", months_ago(36))).black == ()
    listed = months_ago(36, extra_days=1)
    d = decide(abnormal("A1", listed))
    assert black_ids(d) == ["B6"]
    assert d.black[0].listed_date == add_months(listed, 36) == RUN - DAY
    assert d.black[0].valid_to == add_months(RUN - DAY, 36)
    assert decide(abnormal("A1", listed, removed=RUN - 5 * DAY)).black == ()


def test_several_triggers_list_from_the_earliest() -> None:
    d = decide(payment("E1", date(2026, 3, 1)), fraud("F1", date(2025, 6, 1)))
    assert black_ids(d) == ["B1", "B5"]
    assert d.black_listed_date == date(2025, 6, 1)


# -- red rules -------------------------------------------------------------------------------

def test_r1_two_latest_ratings_a_in_consecutive_years() -> None:
    d = decide(rating("C1", 2024, "A"), rating("C2", 2025, "A"))
    assert d.status == "red" and [f.rule_id for f in d.red] == ["R1"]
    assert set(d.red[0].record_ids) == {"t:courier_rating:C1", "t:courier_rating:C2"}
    assert decide(rating("C1", 2023, "A"), rating("C2", 2025, "A")).status == "none"  # a year missing
    assert decide(rating("C1", 2024, "B"), rating("C2", 2025, "A")).status == "none"
    assert decide(rating("C2", 2025, "A")).status == "none"  # only one rating
    # Only the two latest count: an old B does not matter.
    assert decide(rating("C0", 2023, "B"), rating("C1", 2024, "A"), rating("C2", 2025, "A")).status == "red"


def test_r2_shop_and_licence_valid_today() -> None:
    d = decide(shop(), licence())
    assert d.status == "red" and [f.rule_id for f in d.red] == ["R2"]
    assert decide(shop(), licence(valid_to=RUN - DAY)).status == "none"  # expired licence
    assert decide(shop(), licence(valid_to=RUN)).status == "red"  # still valid on its last day
    assert decide(shop(), licence(valid_from=RUN + DAY)).status == "none"  # not yet valid
    assert decide(shop(), licence(status="无效")).status == "none"
    assert decide(shop(status="注销"), licence()).status == "none"
    assert decide(licence()).status == "none"


def test_persons_are_never_red() -> None:
    d = decide(shop(), licence(), kind="person")
    assert d.status == "none" and d.red == ()
    assert decide(shop(), licence(), kind="individual_business").status == "red"


def test_a_black_trigger_blocks_red() -> None:
    d = decide(shop(), licence(), rating("C1", 2025, "D"))
    assert d.status == "black" and d.red == () and "B4" in d.red_blocked_by


@pytest.mark.parametrize(("blocker", "blocks"), [
    (penalty("P1", months_ago(36), ("警告",)), True),
    (penalty("P1", months_ago(36, extra_days=1), ("警告",), valid_until=RUN + DAY), False),
    (penalty("P1", months_ago(6), ("警告",), valid_until=RUN - DAY), False),  # no longer current
    (fraud("F1", months_ago(30), serious=False), True),
    (abnormal("A1", months_ago(3)), True),
    (abnormal("A1", months_ago(3), removed=RUN - DAY), False),
    (payment("E1", months_ago(30), action="风险提示"), True),
    (payment("E1", months_ago(30), risk="中"), False),
])
def test_what_keeps_a_subject_off_the_red_list(blocker: dict[str, Any], blocks: bool) -> None:
    d = decide(shop(), licence(), blocker)
    assert d.black == ()
    assert (d.status == "none") is blocks


# -- the configuration drives the behaviour ---------------------------------------------------

def modified(edit: Any) -> RuleSet:
    raw = copy.deepcopy(config.load("rules"))
    edit(raw)
    return RuleSet.from_config(raw)


def rule_raw(raw: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for part in ("black", "red") for r in raw[part]["rules"] if r["id"] == rule_id)


def test_changing_counts_windows_categories_and_validity_in_the_config() -> None:
    two = [penalty("P1", months_ago(5)), penalty("P2", months_ago(4))]
    assert decide(*two).black == ()
    rules = modified(lambda raw: rule_raw(raw, "B3")["count"].update(at_least=2))
    assert black_ids(decide(*two, rules=rules)) == ["B3"]

    old = penalty("P1", months_ago(14), ("吊销许可证件",))
    assert black_ids(decide(old)) == ["B2"]
    rules = modified(lambda raw: rule_raw(raw, "B2")["where"].update(decision_date={"within_months": 12}))
    assert decide(old, rules=rules).black == ()

    warned = penalty("P1", months_ago(2), ("警告",))
    rules = modified(lambda raw: rule_raw(raw, "B2")["where"]["penalty_categories"]["any_of"].append("警告"))
    assert black_ids(decide(warned, rules=rules)) == ["B2"]

    def five_years(raw: dict[str, Any]) -> None:
        raw["black"]["valid_years"] = 5

    d = decide(fraud("F1", date(2025, 3, 4)), rules=modified(five_years))
    assert d.black[0].valid_to == date(2030, 3, 4)


def test_a_new_rule_in_the_config_applies_without_code() -> None:
    def add_b7(raw: dict[str, Any]) -> None:
        raw["black"]["rules"].append({
            "id": "B7", "description": "24个月内两次以上限制收款的支付风险事件",
            "record_type": "payment_risk_event", "where": {"action_taken": "限制收款",
                                                           "event_date": {"within_months": 24}},
            "count": {"at_least": 2}, "listed_date": {"field": "event_date"}})

    rules = modified(add_b7)
    events = [payment("E1", months_ago(3), risk="中", action="限制收款"),
              payment("E2", months_ago(1), risk="低", action="限制收款")]
    d = decide(*events, rules=rules)
    assert black_ids(d) == ["B7"] and d.black[0].listed_date == months_ago(3)
    assert decide(*events).black == ()


def test_persons_may_be_made_red_by_the_config() -> None:
    rules = modified(lambda raw: raw["red"]["subject_kinds"].append("person"))
    assert decide(shop(), licence(), kind="person", rules=rules).status == "red"


@pytest.mark.parametrize("edit", [
    lambda raw: raw.update(colour="blue"),
    lambda raw: rule_raw(raw, "B2")["where"].update(decision_date={"within_weeks": 3}),
    lambda raw: rule_raw(raw, "B2").update(id="X2"),
    lambda raw: rule_raw(raw, "B2").update(record_type="penalties"),
    lambda raw: rule_raw(raw, "B1").pop("listed_date"),
    lambda raw: rule_raw(raw, "B3")["count"].pop("date_field"),
    lambda raw: rule_raw(raw, "R1").update(id="B1"),
    lambda raw: raw["red"]["subject_kinds"].append("company"),
])
def test_a_mistake_in_the_config_fails_loudly(edit: Any) -> None:
    with pytest.raises(RulesConfigError, match="rules.yaml"):
        modified(edit)
