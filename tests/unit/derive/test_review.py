"""Review dates: the first run date on which time alone could change a subject's decision.

Checked against the rules themselves: for every date condition and every record near its
boundary, the decision on each day before the review date equals the decision on the run date,
and the review date is never after the first day on which it differs.
"""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest

from credit_exchange import config
from credit_exchange.derive.review import review_on
from credit_exchange.derive.rules import Condition, RuleSet, evaluate, load_rules
from credit_exchange.standard.publication import add_months
from tests.helpers import REPO

RULES = load_rules()
DAY = timedelta(days=1)


@pytest.mark.parametrize(("op", "arg", "value", "run", "flip"), [
    ("within_months", 36, "2024-01-02", date(2027, 1, 1), date(2027, 1, 3)),
    ("within_months", 36, "2024-02-29", date(2027, 2, 1), date(2027, 3, 1)),  # 28 Feb 2027 is still within
    ("within_months", 1, "2027-01-31", date(2027, 2, 1), date(2027, 3, 1)),  # 28 Feb - 1 month = 28 Jan: within
    ("within_months", 36, "2020-01-01", date(2027, 1, 1), None),  # already out: stays out
    ("older_than_months", 36, "2024-01-10", date(2027, 1, 1), date(2027, 1, 11)),
    ("older_than_months", 36, "2020-01-10", date(2027, 1, 1), None),  # already older: stays so
    ("not_before_run_date", True, "2027-01-03", date(2027, 1, 1), date(2027, 1, 4)),
    ("not_before_run_date", True, "2026-12-31", date(2027, 1, 1), None),
    ("not_after_run_date", True, "2027-01-05", date(2027, 1, 1), date(2027, 1, 5)),
    ("not_after_run_date", True, "2026-01-05", date(2027, 1, 1), None),
    ("equals", "A", "A", date(2027, 1, 1), None),
])
def test_a_condition_changes_on_its_boundary_day(op: str, arg: Any, value: str, run: date, flip: date | None) -> None:
    cond = Condition("d", op, arg)
    assert cond.changes_after({"d": value}, run) == flip
    if flip is not None:
        assert cond.holds({"d": value}, flip - DAY) == cond.holds({"d": value}, run)
        assert cond.holds({"d": value}, flip) != cond.holds({"d": value}, run)


def test_condition_flips_agree_with_holds_day_by_day() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        op = rng.choice(("within_months", "older_than_months", "not_before_run_date", "not_after_run_date"))
        cond = Condition("d", op, rng.choice((1, 12, 24, 36)) if "months" in op else True)
        run = date(2026, 12, 20) + timedelta(days=rng.randint(0, 90))
        value = {"d": (run + timedelta(days=rng.randint(-1200, 60))).isoformat()}
        flip = cond.changes_after(value, run)
        now = cond.holds(value, run)
        end = flip if flip is not None else run + timedelta(days=1200)
        day = run + DAY
        while day < end:
            assert cond.holds(value, day) == now, (cond, value, run, day)
            day += DAY
        if flip is not None:
            assert cond.holds(value, flip) != now


def _rec(record_type: str, rid: str, **data: Any) -> dict[str, Any]:
    return {"record_id": f"t:{record_type}:{rid}", "record_type": record_type, "op": "upsert", "data": data}


def _random_records(rng: random.Random, run: date) -> list[dict[str, Any]]:
    def near(months: int) -> str:
        return (add_months(run, -months) + timedelta(days=rng.randint(-5, 10))).isoformat()

    def soon() -> str:
        return (run + timedelta(days=rng.randint(-3, 15))).isoformat()

    out: list[dict[str, Any]] = []
    for n in range(rng.randint(0, 5)):
        kind = rng.choice(("penalty", "fraud", "abnormal", "payment", "rating", "shop", "licence"))
        if kind == "penalty":
            out.append(_rec("administrative_penalty", str(n), penalty_categories=rng.choice((["罚款"], ["责令关闭"])),
                            decision_date=near(rng.choice((12, 24, 36))), valid_until=soon()))
        elif kind == "fraud":
            out.append(_rec("fraud_case", str(n), serious=rng.random() < 0.5, filed_date=near(36)))
        elif kind == "abnormal":
            out.append(_rec("abnormal_operation", str(n), listed_date=near(36)))
        elif kind == "payment":
            out.append(_rec("payment_risk_event", str(n), risk_level="高", action_taken="终止服务",
                            event_date=near(rng.choice((24, 36)))))
        elif kind == "rating":
            out.append(_rec("courier_rating", str(n), rating_year=run.year - rng.randint(1, 4),
                            grade=rng.choice(("A", "A", "D"))))
        elif kind == "shop":
            out.append(_rec("online_shop_registration", str(n), status="正常"))
        else:
            out.append(_rec("administrative_license", str(n), status="有效", valid_from=soon(), valid_to=soon()))
    return out


def _outcome(records: list[dict[str, Any]], day: date, rules: RuleSet) -> Any:
    d = evaluate("org", records, day, rules)
    counts = sorted(r["record_id"] for r in records if rules.is_current(r, day))
    black = [(f.rule_id, f.record_ids, f.listed_date, f.valid_to) for f in d.black]
    red = [(f.rule_id, f.record_ids) for f in d.red]
    return d.status, black, red, d.red_blocked_by, counts


@pytest.mark.parametrize("rules", [RULES, "variant"], ids=["default", "variant"])
def test_the_decision_holds_until_the_review_date(rules: RuleSet | str) -> None:
    if rules == "variant":
        raw = copy.deepcopy(config.load("rules"))
        raw["black"]["valid_years"] = 1
        raw["red"]["blocked_by"][0]["where"]["decision_date"] = {"within_months": 6}
        rules = RuleSet.from_config(raw)
    assert isinstance(rules, RuleSet)
    rng = random.Random(5)
    for _ in range(400):
        run = date(2026, 12, 1) + timedelta(days=rng.randint(0, 120))
        records = _random_records(rng, run)
        decision = evaluate("org", records, run, rules)
        review = review_on(records, decision, run, rules)
        assert review is None or review > run
        now = _outcome(records, run, rules)
        end = review if review is not None else run + timedelta(days=4 * 366)
        day = run + DAY
        while day < end:
            assert _outcome(records, day, rules) == now, (records, run, day, review)
            day += timedelta(days=1 if day < run + timedelta(days=60) else 7)


def test_a_red_subject_is_reviewed_every_run() -> None:
    run = date(2026, 11, 29)
    records = [_rec("online_shop_registration", "1", status="正常"),
               _rec("administrative_license", "1", status="有效", valid_from="2025-01-01", valid_to="2099-12-31")]
    decision = evaluate("org", records, run, RULES)
    assert decision.status == "red" and review_on(records, decision, run, RULES) == run + DAY


def test_the_rules_fingerprint_is_the_same_in_every_process_and_changes_with_the_rules() -> None:
    code = "from credit_exchange.derive.rules import load_rules; print(load_rules().fingerprint())"
    seen = {subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout.strip() for seed in ("1", "2", "3")}
    assert seen == {RULES.fingerprint()}
    raw = copy.deepcopy(config.load("rules"))
    raw["red"]["valid_years"] = 2
    assert RuleSet.from_config(raw).fingerprint() != RULES.fingerprint()
    raw = copy.deepcopy(config.load("rules"))
    raw["red"]["subject_kinds"] = list(reversed(raw["red"]["subject_kinds"]))
    assert RuleSet.from_config(raw).fingerprint() == RULES.fingerprint()
