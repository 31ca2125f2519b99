"""Incremental derive gives exactly what a full re-decision gives, and costs what changed.

The equivalence test feeds two stores the same random history (seeded, so a failure replays):
merges of new, changed, re-keyed and deleted records of every type, about subjects that move
between red, black and neither, with dates placed around the rules' boundaries, and derive runs
on run dates that step over those boundaries, sometimes back to an earlier day (a replay) and
sometimes under changed rules. After every run the incremental store (`derive`) must hold what
the reference (`derive_all` on the twin) holds: every version of every derived record, list_state
and the data-quality findings. Dates are fixed, never the host's clock.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lists_helpers import Hub, Who, business, org, person, placeholder_business
from sqlalchemy import select

from credit_exchange import config
from credit_exchange.derive import lists
from credit_exchange.derive.lists import DeriveSummary, derive, derive_all
from credit_exchange.derive.rules import RuleSet, load_rules
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.publication import add_months
from credit_exchange.store import (
    DataQualityIssue,
    ListState,
    OutboxItem,
    Record,
    RecordVersion,
    Store,
    SubjectPending,
)

START = date(2026, 11, 20)
DAY = timedelta(days=1)
STEPS = (0, 1, 1, 1, 1, 1, 1, 2, 3, 5, 9, 31, 95, 366)


def snapshot(store: Store, vault: PiiVault) -> dict[str, Any]:
    """Everything derive writes, without write times and database ids."""
    with store.session() as s:
        records = {r.record_id: (r.hub_version, r.op, r.content_hash, r.subject_key, r.subject_kind, r.subject_name,
                                 vault.open(r.record_type, r.data_enc))
                   for r in s.execute(select(Record).where(Record.department == "hub")).scalars()}
        versions = sorted((v.record_id, v.hub_version, v.op, v.content_hash) for v in s.execute(
            select(RecordVersion).where(RecordVersion.record_id.like("hub:%"))).scalars())
        owed = sorted((o.record_id, o.hub_version, o.op, o.platform) for o in s.execute(
            select(OutboxItem).where(OutboxItem.record_id.like("hub:%"))).scalars())
        states = sorted((st.subject_key, st.list_type, st.status, st.qualified_since, st.last_decided, st.rules)
                        for st in s.execute(select(ListState)).scalars())
        issues = sorted((i.kind, i.subject_key, i.record_id or "", i.details)
                        for i in s.execute(select(DataQualityIssue)).scalars())
    return {"records": records, "versions": versions, "outbox": owed, "list_state": states, "data_quality": issues}


def variant_rules() -> RuleSet:
    """The county edits its rules: shorter windows, a longer black period."""
    raw = copy.deepcopy(config.load("rules"))
    raw["black"]["valid_years"] = 2
    for rule in raw["black"]["rules"]:
        if rule["id"] == "B2":
            rule["where"]["decision_date"] = {"within_months": 24}
        if rule["id"] == "B5":
            rule["where"]["event_date"] = {"within_months": 30}
    raw["red"]["blocked_by"][0]["where"]["decision_date"] = {"within_months": 12}
    return RuleSet.from_config(raw)


@dataclass
class Twins:
    """Two stores fed the same history: ``inc`` derives incrementally, ``ref`` re-decides every subject."""

    inc: Hub
    ref: Hub
    rng: random.Random
    subjects: list[Who] = field(default_factory=list)
    live: dict[str, str] = field(default_factory=dict)  # record id -> record type, not deleted
    summaries: list[DeriveSummary] = field(default_factory=list)

    def put(self, record_type: str, rid: str, who: Who, at: date, **data: Any) -> None:
        for hub in (self.inc, self.ref):
            record_id = hub.put(record_type, rid, who, at=at, **data)
        self.live[record_id] = record_type

    def delete(self, record_id: str, at: date) -> None:
        for hub in (self.inc, self.ref):
            hub.delete(record_id, at=at)
        del self.live[record_id]

    def derive(self, day: date, rules: RuleSet, full: bool = False) -> None:
        got = derive(self.inc.store, self.inc.vault, day, rules, full=full)
        derive_all(self.ref.store, self.ref.vault, day, rules)
        self.summaries.append(got)
        inc, ref = snapshot(self.inc.store, self.inc.vault), snapshot(self.ref.store, self.ref.vault)
        for part in ref:
            assert inc[part] == ref[part], f"{part} differs after the run on {day} ({got.mode} {got.reason})"


def months_ago(day: date, months: int, rng: random.Random) -> str:
    """A date near the boundary of a ``months`` window back from ``day``: the next runs step over it."""
    return (add_months(day, -months) + timedelta(days=rng.randint(-3, 8))).isoformat()


def soon(day: date, rng: random.Random, before: int = 2, after: int = 8) -> str:
    return (day + timedelta(days=rng.randint(-before, after))).isoformat()


# Record types a subject kind can have here (a person has no courier rating; a business known only by
# its registration number is named by the categorised types).
TYPES = {
    "org": ("administrative_penalty", "fraud_case", "abnormal_operation", "payment_risk_event", "courier_rating",
            "online_shop_registration", "administrative_license"),
    "person": ("administrative_penalty", "fraud_case", "online_shop_registration", "administrative_license"),
    "regno": ("administrative_penalty", "online_shop_registration", "administrative_license"),
    # subjects with a clean record, to be red (R1, R2) and then not
    "clean": ("online_shop_registration", "administrative_license", "administrative_license", "courier_rating"),
}
CLEAN = {org(5).key_hint, business(3).key_hint}


def record_for(record_type: str, day: date, rng: random.Random) -> dict[str, Any]:
    """Field values that put the record near a boundary of the default and the variant rules."""
    if record_type == "administrative_penalty":
        decided = months_ago(day, rng.choice((12, 24, 36)), rng) if rng.random() < 0.7 else soon(day, rng, 200, 0)
        until = soon(day, rng) if rng.random() < 0.5 else add_months(date.fromisoformat(decided), 36).isoformat()
        cats = rng.choice((["警告"], ["罚款"], ["吊销许可证件", "罚款"], ["责令关闭"], ["责令停产停业", "罚款"]))
        return {"penalty_categories": cats, "fine_amount": 0.5, "decision_date": decided, "valid_until": until}
    if record_type == "fraud_case":
        return {"serious": rng.random() < 0.5, "filed_date": months_ago(day, 36, rng) if rng.random() < 0.6
                else soon(day, rng, 300, 0)}
    if record_type == "abnormal_operation":
        data: dict[str, Any] = {"listed_date": months_ago(day, 36, rng)}
        if rng.random() < 0.25:
            data["removed_date"] = soon(day, rng, 20, 0)
        return data
    if record_type == "payment_risk_event":
        return {"risk_level": rng.choice(("高", "高", "中")), "action_taken": rng.choice(("终止服务", "风险提示")),
                "event_date": months_ago(day, rng.choice((24, 30, 36)), rng)}
    if record_type == "courier_rating":
        return {"rating_year": day.year - rng.randint(0, 3), "grade": rng.choice(("A", "A", "A", "D", "B"))}
    if record_type == "online_shop_registration":
        return {"status": rng.choice(("正常", "正常", "正常", "注销"))}
    assert record_type == "administrative_license"
    return {"status": rng.choice(("有效", "有效", "无效")), "valid_from": soon(day, rng, 400, 0) if rng.random() < 0.6 else soon(day, rng, 0, 5),
            "valid_to": soon(day, rng) if rng.random() < 0.7 else "2099-12-31"}


def kind_of(who: Who) -> str:
    if who.key_hint in CLEAN:
        return "clean"
    return "person" if who.id_number else "regno" if who.regno else "org"


def merge_some(t: Twins, day: date) -> None:
    """What one night's merges bring: new and changed records, a record moving subject, deletes."""
    rng = t.rng
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 4))):
        roll = rng.random()
        if roll < 0.15 and t.live:
            t.delete(rng.choice(sorted(t.live)), at=day)
            continue
        who = rng.choice(t.subjects)
        if roll < 0.22:  # the same USCC under another name: a data-quality finding
            who = Who(who.name + "分店", who.category, who.uscc, who.id_number, who.regno)
        record_type = rng.choice(TYPES[kind_of(who)])
        # A small pool of ids per type: a put is often a new version of a record, sometimes of one
        # that belonged to another subject (its subject key changes).
        rid = f"{record_type[:4]}-{rng.randint(1, 6)}"
        t.put(record_type, rid, who, at=day, **record_for(record_type, day, rng))


def history(t: Twins, runs: int) -> None:
    rules = {"default": load_rules(), "variant": variant_rules()}
    now_rules = "default"
    latest = START
    for i in range(runs):
        roll = t.rng.random()
        if roll < 0.1 and latest > START:
            day = latest - timedelta(days=t.rng.randint(1, 40))  # a replayed earlier day
        else:
            latest = day = latest + timedelta(days=t.rng.choice(STEPS))
        if t.rng.random() < 0.06 or i in (runs // 3, 2 * runs // 3):
            now_rules = "variant" if now_rules == "default" else "default"
        merge_some(t, day)
        t.derive(day, rules[now_rules], full=t.rng.random() < 0.04 and bool(t.summaries))


@pytest.fixture
def twin_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    yield s
    s.dispose()


def twins(store: Store, twin_store: Store, vault: PiiVault, seed: int) -> Twins:
    t = Twins(Hub(store, vault), Hub(twin_store, vault), random.Random(seed))
    t.subjects = [org(1), org(2), org(3), org(4), org(5), business(1), business(2), business(3),
                  placeholder_business(1), person(1, date(2026, 1, 1)), person(2, date(2026, 1, 1))]
    return t


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_incremental_derive_equals_the_full_re_decision(store: Store, twin_store: Store, vault: PiiVault,
                                                         seed: int) -> None:
    t = twins(store, twin_store, vault, seed)
    history(t, 80)
    # The history did what it is for: incremental runs that skipped subjects, time-due subjects,
    # replays and rule changes, and subjects on and off both lists.
    modes = [(s.mode, s.reason) for s in t.summaries]
    incremental = [s for s in t.summaries if s.mode == "incremental"]
    assert len(incremental) > len(t.summaries) // 2, modes
    assert any(s.subjects < s.held_subjects for s in incremental)
    assert sum(s.due for s in incremental) > 0
    assert sum(s.changed for s in incremental) > 0
    assert t.summaries[0].reason == "first", modes
    assert {"replay", "rules"} <= {s.reason for s in t.summaries}, modes
    assert sum(s.listed for s in t.summaries) > 0 and sum(s.moved_out for s in t.summaries) > 0


def test_every_time_boundary_is_met_on_its_day(sqlite_store: Store, twin_store: Store, vault: PiiVault) -> None:
    """One subject per time-dependent condition, its boundary in the walk; a run every day, nothing merged."""
    t = twins(sqlite_store, twin_store, vault, 0)
    at = date(2026, 12, 1)
    shop = {"status": "正常"}
    licence = {"status": "有效", "valid_from": "2025-01-01", "valid_to": "2099-12-31"}
    # a penalty's valid_until: current until 3 January (the profile's record counts change on the 4th)
    t.put("administrative_penalty", "A", org(11), at, penalty_categories=["警告"], decision_date="2026-06-01",
          valid_until="2027-01-03")
    # a licence's valid_from and valid_to: red from 5 January to 27 February (R2)
    t.put("online_shop_registration", "B", business(11), at, **shop)
    t.put("administrative_license", "B", business(11), at, **{**licence, "valid_from": "2027-01-05",
                                                               "valid_to": "2027-02-27"})
    # B2 within 36 months of the decision: black until 2 January
    t.put("administrative_penalty", "C", org(12), at, penalty_categories=["吊销许可证件", "罚款"], fine_amount=1.0,
          decision_date="2024-01-02", valid_until="2029-01-02")
    # a penalty of 29 February blocks red up to 28 February three years on (months clamp): red from 1 March
    t.put("administrative_penalty", "D", org(13), at, penalty_categories=["罚款"], fine_amount=0.2,
          decision_date="2024-02-29", valid_until="2029-01-01")
    t.put("online_shop_registration", "D", org(13), at, **shop)
    t.put("administrative_license", "D", org(13), at, **licence)
    # B1 runs out after its valid years (6 January), the fraud blocks red until then: red (R1) from the 7th
    t.put("fraud_case", "E", org(14), at, serious=True, filed_date="2024-01-06")
    t.put("courier_rating", "E1", org(14), at, rating_year=2024, grade="A")
    t.put("courier_rating", "E2", org(14), at, rating_year=2025, grade="A")
    # B6: listed on 10 January 2024 and not removed: black from 11 January, listed date 10 January
    t.put("abnormal_operation", "F", org(15), at, listed_date="2024-01-10")
    # B5 within 24 months: black until 8 January
    t.put("payment_risk_event", "G", org(16), at, risk_level="高", action_taken="终止服务", event_date="2025-01-08")
    # B4: grade D for 2023, listed 1 January 2024 for three years: in force until 1 January 2027
    t.put("courier_rating", "H", org(17), at, rating_year=2023, grade="D")
    # B3: three penalties within 12 months; the first leaves the 36 months on 5 January
    for n, day in enumerate(("2024-01-04", "2024-06-01", "2024-12-01")):
        t.put("administrative_penalty", f"J{n}", org(18), at, penalty_categories=["罚款"], fine_amount=0.2,
              decision_date=day, valid_until="2029-01-01")
    # a licence valid from 2 March: red from then
    t.put("online_shop_registration", "K", org(19), at, **shop)
    t.put("administrative_license", "K", org(19), at, **{**licence, "valid_from": "2027-03-02"})

    rules = load_rules()
    day = date(2026, 12, 28)
    while day <= date(2027, 3, 4):
        t.derive(day, rules)
        day += DAY
    incremental = t.summaries[1:]
    assert all(s.mode == "incremental" and s.changed == 0 for s in incremental)
    assert sum(s.subjects for s in incremental) < len(incremental) * 10 // 2  # most days decide few subjects
    assert sum(s.listed + s.moved_out for s in t.summaries) >= 10


def test_replays_rule_changes_and_asked_full_runs_are_full(sqlite_store: Store, twin_store: Store,
                                                           vault: PiiVault) -> None:
    t = twins(sqlite_store, twin_store, vault, 7)
    merge_some(t, START)
    t.put("administrative_penalty", "CF-X", org(1), at=START, penalty_categories=["责令关闭"],
          decision_date="2026-05-01", valid_until="2029-05-01")
    default, variant = load_rules(), variant_rules()
    t.derive(START, default)
    t.derive(START + DAY, default)
    t.derive(START + 2 * DAY, variant)
    t.derive(START + 3 * DAY, variant)
    t.derive(START + DAY, variant)  # replayed
    t.derive(START + 4 * DAY, variant, full=True)
    t.derive(START + 5 * DAY, variant)
    assert [(s.mode, s.reason) for s in t.summaries] == [
        ("full", "first"), ("incremental", ""), ("full", "rules"), ("incremental", ""), ("full", "replay"),
        ("full", "asked"), ("incremental", "")]


def test_the_equivalence_check_catches_a_late_review_date(sqlite_store: Store, twin_store: Store, vault: PiiVault,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof can fail: with review dates switched off, time-due subjects are missed and it says so."""
    monkeypatch.setattr(lists, "review_on", lambda *args: None)
    t = twins(sqlite_store, twin_store, vault, 1)
    with pytest.raises(AssertionError, match="differs"):
        history(t, 45)


def test_the_equivalence_check_catches_a_lost_mark(sqlite_store: Store, twin_store: Store, vault: PiiVault,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """... and with the marks of changed subjects dropped, changed subjects are missed."""
    from credit_exchange.merge import versioning

    monkeypatch.setattr(versioning, "_mark_subjects", lambda *args: None)
    t = twins(sqlite_store, twin_store, vault, 1)
    with pytest.raises(AssertionError, match="differs"):
        history(t, 45)


# -- cost ------------------------------------------------------------------------------------

def test_a_night_with_one_percent_changed_re_decides_about_one_percent(sqlite_store: Store, vault: PiiVault) -> None:
    hub = Hub(sqlite_store, vault)
    day = date(2026, 11, 29)
    for n in range(400):
        who = org(100 + n)
        # Nothing here changes with time before 2027: a licence and shop (red), or a late rating.
        if n % 20 == 0:
            hub.put("online_shop_registration", f"WD-{n}", who, at=day)
            hub.put("administrative_license", f"XK-{n}", who, at=day, status="有效", valid_from="2025-01-01",
                    valid_to="2099-12-31")
        else:
            hub.put("courier_rating", f"KD-{n}", who, at=day, rating_year=2025, grade="B")
    first = derive(sqlite_store, vault, day)
    assert (first.mode, first.subjects, first.full) == ("full", 400, 400)
    red = first.by_status["red"]
    assert red == 20

    for n in range(1, 400, 100):  # 1%: four subjects that are not red get a new record version
        hub.put("courier_rating", f"KD-{n}", org(100 + n), at=day + DAY, rating_year=2025, grade="C")
    second = derive(sqlite_store, vault, day + DAY)
    assert (second.mode, second.changed, second.due, second.subjects) == ("incremental", 4, red, 4 + red)
    assert second.held_subjects == 400
    assert second.new_versions == 4 + red  # four profiles; every red entry's valid-to moved one day

    third = derive(sqlite_store, vault, day + DAY)  # the same day again
    assert (third.subjects, third.new_versions) == (0, 0)


def test_a_mark_written_while_derive_runs_is_kept(sqlite_store: Store, vault: PiiVault,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Derive clears the marks it read before the records, not the ones a merge adds meanwhile."""
    hub = Hub(sqlite_store, vault)
    day = date(2026, 11, 29)
    who = org(1)
    rid = hub.put("courier_rating", "KD-1", who, at=day, rating_year=2025, grade="B")
    derive(sqlite_store, vault, day)
    hub.put("courier_rating", "KD-1", who, at=day, rating_year=2025, grade="C")

    loaded = lists._Deriver._load_records

    def merge_meanwhile(self: Any, s: Any, keys: Any) -> Any:
        out = loaded(self, s, keys)
        # A merge commits a new version of the subject's record after derive read its marks; on
        # SQLite the session's own transaction stands in for the concurrent one.
        s.add(SubjectPending(subject_key=who.key_hint, marked_at=hub.clock))
        return out

    monkeypatch.setattr(lists._Deriver, "_load_records", merge_meanwhile)
    got = derive(sqlite_store, vault, day + DAY)
    assert got.changed == 1
    with sqlite_store.session() as s:
        left = s.execute(select(SubjectPending.subject_key)).scalars().all()
    assert left == [who.key_hint]  # the mark derive did not see stays for the next run
    monkeypatch.undo()
    assert derive(sqlite_store, vault, day + DAY).changed == 1
    with sqlite_store.session() as s:
        assert s.execute(select(SubjectPending.id)).scalars().all() == []
    assert hub.key_of(rid) == who.key_hint


def test_a_record_moving_to_another_subject_re_decides_both(sqlite_store: Store, vault: PiiVault) -> None:
    hub = Hub(sqlite_store, vault)
    day = date(2026, 11, 29)
    a, b = org(1), org(2)
    hub.put("fraud_case", "AJ-1", a, at=day, serious=True, filed_date="2026-03-01")
    hub.put("courier_rating", "KD-1", a, at=day, rating_year=2025, grade="B")
    hub.put("courier_rating", "KD-2", b, at=day, rating_year=2025, grade="B")
    assert derive(sqlite_store, vault, day).by_status == {"black": 1, "none": 1}
    hub.put("fraud_case", "AJ-1", b, at=day + DAY, serious=True, filed_date="2026-03-01")  # corrected subject
    got = derive(sqlite_store, vault, day + DAY)
    assert (got.changed, got.by_status) == (2, {"black": 1, "none": 1})
    assert hub.record(f"hub:blacklist:{a.key_hint}")[1]["status"] == "已移出"  # type: ignore[index]
    assert hub.record(f"hub:blacklist:{b.key_hint}")[1]["status"] == "有效"  # type: ignore[index]
