"""Red and black list rules (data-standard.md 3.2), read from ``config/rules.yaml``.

The rules are data: `RuleSet.from_config` turns the county's YAML into checked objects and
`evaluate` applies them to one subject's records, given as plain dicts
(``{"record_id", "record_type", "data"}``, ``data`` canonical), for one run date. Nothing here
touches the store, so every rule can be tested on a handful of dicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from credit_exchange import config
from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.publication import add_months
from hub_messages import text

# The department record types rules may look at: those of the field table (schemas/fields.json).
RECORD_TYPES = frozenset(FIELDS.department_types())
SUBJECT_KINDS = frozenset({"org", "individual_business", "person"})
_RULE_ID = {"black": re.compile(r"^B[0-9]+$"), "red": re.compile(r"^R[0-9]+$")}
_OPS = frozenset({"equals", "any_of", "present", "within_months", "older_than_months",
                  "not_before_run_date", "not_after_run_date"})
_BLOCK_KEYS = frozenset({"record_type", "where", "latest", "count"})
_RULE_KEYS = _BLOCK_KEYS | {"id", "description", "all_of", "listed_date"}
_BLOCKER_KEYS = _BLOCK_KEYS | {"description", "all_of"}

Record = Mapping[str, Any]


class RulesConfigError(ValueError):
    """config/rules.yaml says something the hub cannot apply."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(text("rules_error", where=where) + f": {problem}")


# -- conditions ---------------------------------------------------------------------------

def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Condition:
    """One condition on one field of a record."""

    field: str
    op: str
    arg: Any

    def holds(self, data: Mapping[str, Any], run_date: dt.date) -> bool:
        value = data.get(self.field)
        op, arg = self.op, self.arg
        if op == "present":
            return (value is not None and value != "" and value != []) is bool(arg)
        if op == "equals":
            return arg in value if isinstance(value, list) else bool(value == arg)
        if op == "any_of":
            if isinstance(value, list):
                return any(v in arg for v in value)
            return value in arg
        day = _date(value)
        if day is None:
            return False
        if op == "within_months":
            return day >= add_months(run_date, -int(arg))
        if op == "older_than_months":
            return day < add_months(run_date, -int(arg))
        if op == "not_before_run_date":
            return day >= run_date
        if op == "not_after_run_date":
            return day <= run_date
        raise AssertionError(op)  # parse() admits only _OPS

    def changes_after(self, data: Mapping[str, Any], run_date: dt.date) -> dt.date | None:
        """The first run date after ``run_date`` on which `holds` gives another answer; None if never.

        Every date condition is monotone in the run date (once flipped it stays flipped), so
        there is at most one such date. Kept next to `holds` so that the two change together.
        """
        if self.op not in {"within_months", "older_than_months", "not_before_run_date", "not_after_run_date"}:
            return None
        day = _date(data.get(self.field))
        if day is None:
            return None
        holds = self.holds(data, run_date)
        if self.op in {"within_months", "older_than_months"}:
            # Both compare the day with run date - N months: the answer changes on the first run
            # date whose N-months-back lies after the day (calendar months clamp, hence the walk).
            months = int(self.arg)
            if holds is (self.op == "older_than_months"):
                return None  # within: already out; older: already in; stays so
            flip = max(run_date + dt.timedelta(days=1), add_months(day, months))
            while add_months(flip, -months) <= day:
                flip += dt.timedelta(days=1)
            return flip
        if self.op == "not_before_run_date":
            return day + dt.timedelta(days=1) if holds else None
        return None if holds else day  # not_after_run_date: holds from the day on


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise RulesConfigError(where, text("rules_conditions_mapping"))
    out = []
    for name, cond in raw.items():
        if not isinstance(cond, Mapping):
            out.append(Condition(str(name), "equals", cond))
            continue
        if not cond:
            raise RulesConfigError(f"{where}.{name}", text("rules_empty_condition"))
        for op, arg in cond.items():
            if op not in _OPS:
                raise RulesConfigError(f"{where}.{name}",
                                       text("rules_unknown_condition", op=op, ops=", ".join(sorted(_OPS))))
            if op == "any_of" and not isinstance(arg, list):
                raise RulesConfigError(f"{where}.{name}", text("rules_any_of_list"))
            if op in {"within_months", "older_than_months"} and (not isinstance(arg, int) or arg < 0):
                raise RulesConfigError(f"{where}.{name}", text("rules_months", op=op))
            out.append(Condition(str(name), str(op), tuple(arg) if op == "any_of" else arg))
    return tuple(out)


def _all_hold(conds: Iterable[Condition], data: Mapping[str, Any], run_date: dt.date) -> bool:
    return all(c.holds(data, run_date) for c in conds)


# -- matching blocks ----------------------------------------------------------------------

@dataclass(frozen=True)
class Latest:
    count: int
    order_by: str
    consecutive: bool = False


@dataclass(frozen=True)
class Matcher:
    """Which of a subject's current records of one type a rule needs, and how many."""

    record_type: str
    where: tuple[Condition, ...] = ()
    latest: Latest | None = None
    at_least: int = 1
    span_months: int | None = None
    date_field: str | None = None

    def involved(self, by_type: Mapping[str, Sequence[Record]], run_date: dt.date) -> list[Record]:
        """The records that make this block hold; empty when it does not."""
        candidates = by_type.get(self.record_type, ())
        if self.latest is not None:
            key = self.latest.order_by
            ordered = sorted((r for r in candidates if r["data"].get(key) is not None),
                             key=lambda r: (r["data"][key], r["record_id"]), reverse=True)
            taken = ordered[: self.latest.count]
            if len(taken) < self.latest.count:
                return []
            if self.latest.consecutive:
                values = [r["data"][key] for r in taken]
                if any(not isinstance(v, int) for v in values) or any(
                        a - b != 1 for a, b in zip(values, values[1:], strict=False)):
                    return []
            if not all(_all_hold(self.where, r["data"], run_date) for r in taken):
                return []
            matched = taken
        else:
            matched = [r for r in candidates if _all_hold(self.where, r["data"], run_date)]
        if self.span_months is None:
            return matched if len(matched) >= self.at_least else []
        return _in_dense_spans(matched, self.date_field or "", self.at_least, self.span_months)


def _in_dense_spans(records: Sequence[Record], field: str, at_least: int, months: int) -> list[Record]:
    """Records that belong to some run of at least ``at_least`` whose dates lie within ``months``."""
    dated = sorted(((d, r["record_id"], r) for r in records if (d := _date(r["data"].get(field))) is not None),
                   key=lambda t: (t[0], t[1]))
    involved: dict[str, Record] = {}
    for i, (start, _, _) in enumerate(dated):
        end = add_months(start, months)
        window = [t for t in dated[i:] if t[0] <= end]
        if len(window) >= at_least:
            involved.update((rid, r) for _, rid, r in window)
    return sorted(involved.values(), key=lambda r: r["record_id"])


def _matcher(raw: Mapping[str, Any], where: str) -> Matcher:
    record_type = raw.get("record_type")
    if record_type not in RECORD_TYPES:
        types = ", ".join(sorted(RECORD_TYPES))
        raise RulesConfigError(f"{where}.record_type",
                               text("rules_unknown_record_type", record_type=record_type, types=types))
    latest = None
    if raw.get("latest") is not None:
        lr = raw["latest"]
        if not isinstance(lr, Mapping) or not lr.get("order_by") or set(lr) - {"count", "order_by", "consecutive"}:
            raise RulesConfigError(f"{where}.latest", text("rules_latest_shape"))
        latest = Latest(count=int(lr.get("count", 1)), order_by=str(lr["order_by"]),
                        consecutive=bool(lr.get("consecutive", False)))
    count = raw.get("count") or {}
    if not isinstance(count, Mapping) or set(count) - {"at_least", "span_months", "date_field"}:
        raise RulesConfigError(f"{where}.count", text("rules_count_shape"))
    if ("span_months" in count) != ("date_field" in count):
        raise RulesConfigError(f"{where}.count", text("rules_span_with_date"))
    return Matcher(
        record_type=str(record_type),
        where=_conditions(raw.get("where"), f"{where}.where"),
        latest=latest,
        at_least=int(count.get("at_least", 1)),
        span_months=int(count["span_months"]) if "span_months" in count else None,
        date_field=str(count["date_field"]) if "date_field" in count else None,
    )


def _matchers(raw: Mapping[str, Any], where: str) -> tuple[Matcher, ...]:
    if "all_of" in raw:
        if set(raw) & _BLOCK_KEYS:
            raise RulesConfigError(where, text("rules_all_of_alone"))
        blocks = raw["all_of"]
        if not isinstance(blocks, list) or not blocks:
            raise RulesConfigError(f"{where}.all_of", text("rules_all_of_list"))
        return tuple(_matcher(b, f"{where}.all_of[{i}]") for i, b in enumerate(blocks))
    return (_matcher(raw, where),)


# -- rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListedDate:
    """How a black rule dates its listing from the records involved (the earliest wins)."""

    field: str
    add_months: int = 0
    year_after: bool = False

    def of(self, data: Mapping[str, Any]) -> dt.date | None:
        value = data.get(self.field)
        if self.year_after:
            return dt.date(int(value) + 1, 1, 1) if isinstance(value, int) else None
        day = _date(value)
        return None if day is None else add_months(day, self.add_months)


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    matchers: tuple[Matcher, ...]
    listed_date: ListedDate | None = None

    def involved(self, by_type: Mapping[str, Sequence[Record]], run_date: dt.date) -> list[Record]:
        """The records that make the rule hold (every block must), or empty."""
        out: dict[str, Record] = {}
        for m in self.matchers:
            found = m.involved(by_type, run_date)
            if not found:
                return []
            out.update((r["record_id"], r) for r in found)
        return sorted(out.values(), key=lambda r: r["record_id"])

    def listed(self, involved: Sequence[Record], run_date: dt.date) -> dt.date:
        assert self.listed_date is not None
        days = [d for r in involved if (d := self.listed_date.of(r["data"])) is not None]
        return min(days) if days else run_date


def _listed_date(raw: Any, where: str) -> ListedDate:
    if not isinstance(raw, Mapping):
        raise RulesConfigError(where, text("rules_listed_date_missing"))
    if "year_after" in raw:
        if set(raw) != {"year_after"}:
            raise RulesConfigError(where, text("rules_year_after_alone"))
        return ListedDate(field=str(raw["year_after"]), year_after=True)
    if not raw.get("field") or set(raw) - {"field", "add_months"}:
        raise RulesConfigError(where, text("rules_listed_date_shape"))
    return ListedDate(field=str(raw["field"]), add_months=int(raw.get("add_months", 0)))


def _rule(raw: Any, where: str, list_name: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise RulesConfigError(where, text("rules_rule_mapping"))
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RulesConfigError(where, text("rules_unknown_keys", keys=sorted(unknown)))
    rule_id = str(raw.get("id") or "")
    if not _RULE_ID[list_name].match(rule_id):
        letter = "B" if list_name == "black" else "R"
        raise RulesConfigError(f"{where}.id", text("rules_rule_id", rule_id=rule_id, letter=letter))
    if not raw.get("description"):
        raise RulesConfigError(f"{where}.description", text("rules_description_missing"))
    listed = _listed_date(raw.get("listed_date"), f"{where}.listed_date") if list_name == "black" else None
    if list_name == "red" and "listed_date" in raw:
        raise RulesConfigError(where, text("rules_red_listed_date"))
    return Rule(id=rule_id, description=str(raw["description"]), matchers=_matchers(raw, where),
                listed_date=listed)


def _blocker(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping) or set(raw) - _BLOCKER_KEYS:
        raise RulesConfigError(where, text("rules_blocker_shape", keys=sorted(_BLOCKER_KEYS)))
    return Rule(id="", description=str(raw.get("description") or ""), matchers=_matchers(raw, where))


@dataclass(frozen=True)
class RuleSet:
    decided_by: str
    decided_by_uscc: str | None
    current: Mapping[str, tuple[Condition, ...]]
    black_rules: tuple[Rule, ...]
    black_valid_years: int
    red_rules: tuple[Rule, ...]
    red_valid_years: int
    red_subject_kinds: frozenset[str]
    red_blocked_by: tuple[Rule, ...]

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> RuleSet:
        """Check and compile the rules configuration (the parsed YAML)."""
        unknown = set(raw) - {"decided_by", "decided_by_uscc", "current", "black", "red"}
        if unknown:
            raise RulesConfigError("", text("rules_unknown_keys", keys=sorted(unknown)))
        if not raw.get("decided_by"):
            raise RulesConfigError("decided_by", text("rules_decided_by_missing"))
        current_raw = raw.get("current") or {}
        for rt in current_raw:
            if rt not in RECORD_TYPES:
                raise RulesConfigError(f"current.{rt}", text("rules_current_record_type"))
        black, red = raw.get("black") or {}, raw.get("red") or {}
        if set(black) - {"valid_years", "rules"}:
            raise RulesConfigError("black",
                                   text("rules_unknown_keys", keys=sorted(set(black) - {"valid_years", "rules"})))
        red_keys = {"valid_years", "subject_kinds", "blocked_by", "rules"}
        if set(red) - red_keys:
            raise RulesConfigError("red", text("rules_unknown_keys", keys=sorted(set(red) - red_keys)))
        kinds = frozenset(red.get("subject_kinds") or ())
        if kinds - SUBJECT_KINDS:
            raise RulesConfigError("red.subject_kinds",
                                   text("rules_subject_kind", kinds=sorted(SUBJECT_KINDS)))
        black_rules = tuple(_rule(r, f"black.rules[{i}]", "black") for i, r in enumerate(black.get("rules") or ()))
        red_rules = tuple(_rule(r, f"red.rules[{i}]", "red") for i, r in enumerate(red.get("rules") or ()))
        ids = [r.id for r in black_rules + red_rules]
        if len(ids) != len(set(ids)):
            raise RulesConfigError("rules", text("rules_duplicate_ids"))
        return cls(
            decided_by=str(raw["decided_by"]),
            decided_by_uscc=str(raw["decided_by_uscc"]) if raw.get("decided_by_uscc") else None,
            current={rt: _conditions(c, f"current.{rt}") for rt, c in current_raw.items()},
            black_rules=black_rules,
            black_valid_years=int(black.get("valid_years", 3)),
            red_rules=red_rules,
            red_valid_years=int(red.get("valid_years", 1)),
            red_subject_kinds=kinds,
            red_blocked_by=tuple(_blocker(b, f"red.blocked_by[{i}]") for i, b in enumerate(red.get("blocked_by") or ())),
        )

    def is_current(self, record: Record, run_date: dt.date) -> bool:
        """Not deleted by its department and, per type, as `current` in the configuration says."""
        if record.get("op", "upsert") != "upsert":
            return False
        return _all_hold(self.current.get(record["record_type"], ()), record["data"], run_date)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.black_rules + self.red_rules if r.id == rule_id)

    def conditions(self, record_type: str) -> tuple[Condition, ...]:
        """Every condition the rules or the `current` definition put on records of one type."""
        out = list(self.current.get(record_type, ()))
        for rule in self.black_rules + self.red_rules + self.red_blocked_by:
            out += [c for m in rule.matchers if m.record_type == record_type for c in m.where]
        return tuple(dict.fromkeys(out))

    def fingerprint(self) -> str:
        """sha256 of the rules as loaded: equal for equal rules, whatever the YAML's layout or comments."""
        body = json.dumps(_plain(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """JSON-able form of the rule objects; sets sorted, so the same on every process."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"_": type(value).__name__} | {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def load_rules() -> RuleSet:
    """The county's rules (config/rules.yaml)."""
    return RuleSet.from_config(config.load("rules"))


# -- evaluation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """A rule that holds for a subject, with the records behind it."""

    rule_id: str
    description: str
    record_ids: tuple[str, ...]
    listed_date: dt.date | None = None  # black rules
    valid_to: dt.date | None = None  # black rules


@dataclass(frozen=True)
class Decision:
    """What the rules say about one subject on one run date."""

    black: tuple[Finding, ...] = ()  # triggers in force (their listing period not run out)
    black_expired: tuple[Finding, ...] = ()  # triggers that still hold but whose listing period ran out
    red: tuple[Finding, ...] = ()  # red rules that hold, only when the subject may be red at all
    red_blocked_by: tuple[str, ...] = ()  # why the subject may not be red (rule ids, descriptions)

    @property
    def status(self) -> str:
        """``black``, ``red`` or ``none`` (as in the credit profile)."""
        if self.black:
            return "black"
        return "red" if self.red else "none"

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings behind the status."""
        return self.black if self.black else self.red

    @property
    def black_listed_date(self) -> dt.date | None:
        """The earliest date at which a trigger still in force began."""
        return min((f.listed_date for f in self.black if f.listed_date), default=None)


def evaluate(subject_kind: str, records: Iterable[Record], run_date: dt.date, rules: RuleSet) -> Decision:
    """Apply the rules to one subject's records (``{"record_id", "record_type", "data"[, "op"]}``)."""
    by_type: dict[str, list[Record]] = {}
    for r in records:
        if rules.is_current(r, run_date):
            by_type.setdefault(r["record_type"], []).append(r)
    for group in by_type.values():
        group.sort(key=lambda r: r["record_id"])

    in_force: list[Finding] = []
    expired: list[Finding] = []
    for rule in rules.black_rules:
        involved = rule.involved(by_type, run_date)
        if not involved:
            continue
        listed = rule.listed(involved, run_date)
        valid_to = add_months(listed, 12 * rules.black_valid_years)
        finding = Finding(rule.id, rule.description, tuple(r["record_id"] for r in involved), listed, valid_to)
        (in_force if valid_to >= run_date else expired).append(finding)

    blocked = [f.rule_id for f in in_force + expired]
    if subject_kind not in rules.red_subject_kinds:
        blocked.append(f"subject_kind:{subject_kind}")
    blocked += [b.description or b.matchers[0].record_type for b in rules.red_blocked_by
                if b.involved(by_type, run_date)]
    red: list[Finding] = []
    if not blocked:
        for rule in rules.red_rules:
            involved = rule.involved(by_type, run_date)
            if involved:
                red.append(Finding(rule.id, rule.description, tuple(r["record_id"] for r in involved)))
    return Decision(black=tuple(in_force), black_expired=tuple(expired), red=tuple(red),
                    red_blocked_by=tuple(blocked))
