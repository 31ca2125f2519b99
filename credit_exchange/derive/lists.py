"""Records the hub derives per subject: credit profiles and red / black list entries (data-standard.md 3).

Every run looks at every subject (time windows move even when no record does), in chunks of
subjects, each chunk one transaction: load the chunk's department records, apply the rules
(`credit_exchange.derive.rules`), build the derived records and write through `versioning.write_versions`
only those whose content hash changed. A second run on the same day with no new input
therefore writes nothing. Derived records are validated against their schema before they are
written; a derived record that fails its schema is a bug in the hub, so the run stops.

Derived record ids: ``hub:credit_profile:{subject_key}``, ``hub:blacklist:{subject_key}``,
``hub:redlist:{subject_key}``. A list entry whose subject no longer qualifies gets a new version
with status 已移出 (the county platform sees an update of the same record).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from credit_exchange.derive.rules import Decision, Finding, RuleSet, evaluate, load_rules
from credit_exchange.merge.versioning import write_versions
from credit_exchange.standard.canonical import content_hash
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import mask_id_number
from credit_exchange.standard.publication import add_months
from credit_exchange.standard.subjects import PLACEHOLDER_USCC, Subject
from credit_exchange.standard.validation import get_validator
from credit_exchange.store import DataQualityIssue, ListState, Record, RecordVersion, Store
from credit_exchange.store.upsert import upsert
from credit_exchange.timeutil import LOCAL, now_local

log = logging.getLogger(__name__)

CHUNK = 500  # subjects per transaction
HUB = "hub"
LIST_NAMES = {"blacklist": "黑名单", "redlist": "红名单"}
CATEGORY_OF_KIND = {"org": "法人及非法人组织", "individual_business": "个体工商户", "person": "自然人"}
LISTED, MOVED_OUT = "有效", "已移出"


class DerivedRecordInvalid(RuntimeError):
    """A record the hub derived fails its own schema: a bug, never sent anywhere."""


@dataclass
class DeriveSummary:
    subjects: int = 0
    new_versions: int = 0
    profiles: int = 0
    listed: int = 0  # list entry versions with status 有效
    moved_out: int = 0  # list entry versions with status 已移出
    data_quality: int = 0  # new data-quality findings
    by_status: dict[str, int] = field(default_factory=dict)  # subjects by list status this run

    def as_xcom(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "new_versions": self.new_versions, "profiles": self.profiles,
                "listed": self.listed, "moved_out": self.moved_out, "data_quality": self.data_quality,
                "by_status": dict(self.by_status)}


def derived_id(record_type: str, subject_key: str) -> str:
    return f"{HUB}:{record_type}:{subject_key}"


def derive_all(store: Store, vault: PiiVault, today: dt.date, rules: RuleSet | None = None) -> DeriveSummary:
    """Re-decide every subject for run date ``today``; write the derived records that changed."""
    rules = rules or load_rules()
    deriver = _Deriver(vault, today, rules)
    last = ""
    while True:
        with store.session() as s:
            keys: list[str] = [k for k in s.execute(
                select(Record.subject_key)
                .where(Record.department != HUB, Record.subject_key.is_not(None), Record.subject_key > last)
                .group_by(Record.subject_key).order_by(Record.subject_key).limit(CHUNK)
            ).scalars() if k is not None]
            if not keys:
                break
            last = keys[-1]
            deriver.chunk(s, keys)
    summary = deriver.summary
    log.info("derived for %d subjects on %s: %d new versions (%d profiles, %d listed, %d moved out), "
             "%d data-quality findings; list status %s", summary.subjects, today, summary.new_versions,
             summary.profiles, summary.listed, summary.moved_out, summary.data_quality,
             json.dumps(summary.by_status))
    return summary


@dataclass
class _Row:
    """One department record of a subject, as loaded for the chunk."""

    record_id: str
    record_type: str
    op: str
    data: dict[str, Any]
    kind: str | None
    name: str | None
    updated_at: dt.datetime
    subject_enc: str


@dataclass
class _Existing:
    record_id: str
    hub_version: int
    op: str
    content_hash: str
    data_enc: str


class _Deriver:
    def __init__(self, vault: PiiVault, today: dt.date, rules: RuleSet) -> None:
        self.vault = vault
        self.today = today
        self.today_iso = today.isoformat()
        self.rules = rules
        self.validator = get_validator(today)
        self.summary = DeriveSummary()
        # Only records some rule or the `current` definition reads need opening.
        self.read_types = {m.record_type for r in rules.black_rules + rules.red_rules + rules.red_blocked_by
                           for m in r.matchers} | set(rules.current)

    # -- one chunk of subjects, one transaction ---------------------------------------------
    def chunk(self, s: Session, keys: Sequence[str]) -> None:
        now = now_local()
        by_subject = self._load_records(s, keys)
        ids = [derived_id(rt, k) for k in keys for rt in ("credit_profile", "blacklist", "redlist")]
        existing = {r.record_id: _Existing(r.record_id, r.hub_version, r.op, r.content_hash, r.data_enc)
                    for r in s.execute(select(Record).where(Record.record_id.in_(ids))).scalars()}
        states = {(st.subject_key, st.list_type): st
                  for st in s.execute(select(ListState).where(ListState.subject_key.in_(keys))).scalars()}
        noted = self._noted_issues(s, keys)

        versions: list[dict[str, Any]] = []
        state_rows: list[dict[str, Any]] = []
        issues: list[DataQualityIssue] = []
        for key in keys:
            rows = by_subject.get(key)
            if not rows:
                continue
            self.summary.subjects += 1
            subject = self._subject(key, rows)
            issues += self._name_mismatches(key, subject, rows, noted, now)
            current = [{"record_id": r.record_id, "record_type": r.record_type, "op": r.op, "data": r.data}
                       for r in rows if r.op == "upsert"]
            decision = evaluate(subject.kind, current, self.today, self.rules)
            self.summary.by_status[decision.status] = self.summary.by_status.get(decision.status, 0) + 1

            black = self._black_entry(subject, decision, existing, states, state_rows)
            red = self._red_entry(subject, decision, existing, states, state_rows)
            for list_type, data in (("blacklist", black), ("redlist", red)):
                if data is None:
                    continue
                if subject.kind != "person" and subject.uscc == PLACEHOLDER_USCC:
                    # The standard requires a real USCC (or a person's ID number) on every list
                    # entry; an individual business known only by its 工商注册号 cannot have one.
                    issues += self._note(noted, key, "list_entry_no_uscc", derived_id(list_type, key), now,
                                         regno=key.removeprefix("regno:"), list_type=LIST_NAMES[list_type])
                    continue
                self._write(versions, existing, list_type, subject, data)
            self._write(versions, existing, "credit_profile", subject, self._profile(subject, rows, current, decision))

        write_versions(s, versions, now)
        upsert(s, ListState, state_rows, key=["subject_key", "list_type"])
        s.add_all(issues)
        self.summary.data_quality += len(issues)

    def _load_records(self, s: Session, keys: Sequence[str]) -> dict[str, list[_Row]]:
        q = (select(Record.record_id, Record.record_type, Record.op, Record.data_enc, Record.subject_key,
                    Record.subject_kind, Record.subject_name, Record.updated_at, RecordVersion.subject_enc)
             .join(RecordVersion, and_(RecordVersion.record_id == Record.record_id,
                                       RecordVersion.hub_version == Record.hub_version))
             .where(Record.subject_key.in_(keys), Record.department != HUB))
        out: dict[str, list[_Row]] = defaultdict(list)
        for rid, rt, op, data_enc, key, kind, name, updated_at, subject_enc in s.execute(q):
            data = self.vault.open(rt, data_enc) if op == "upsert" and rt in self.read_types else {}
            out[str(key)].append(_Row(rid, rt, op, data, kind, name, updated_at, subject_enc))
        for rows in out.values():
            rows.sort(key=lambda r: r.record_id)
        return out

    # -- the subject ----------------------------------------------------------------------
    def _subject(self, key: str, rows: Sequence[_Row]) -> Subject:
        """Who the subject is: the newest current record names it; the record kinds say what it is."""
        live = [r for r in rows if r.op == "upsert"] or list(rows)
        newest = max(live, key=lambda r: (r.updated_at, r.record_id))
        sealed = Subject.open(newest.subject_enc, self.vault)
        kinds = {r.kind for r in rows}
        # Some record types carry no subject category and say "org"; a category elsewhere wins.
        kind = "person" if "person" in kinds else "individual_business" if "individual_business" in kinds else "org"
        return Subject(key=key, kind=kind, name=newest.name or sealed.name, uscc=sealed.uscc,
                       id_type=sealed.id_type, id_number=sealed.id_number)

    # -- list entries -----------------------------------------------------------------------
    def _black_entry(self, subject: Subject, decision: Decision, existing: dict[str, _Existing],
                     states: dict[tuple[str, str], ListState], state_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        listed = decision.black_listed_date
        if listed is not None:
            self._state(states, state_rows, subject.key, "blacklist", "listed", listed.isoformat(), decision.black)
            return self._entry(subject, "blacklist", decision.black, listed,
                               add_months(listed, 12 * self.rules.black_valid_years))
        self._state(states, state_rows, subject.key, "blacklist", "removed", None, ())
        return self._moved_out(existing, "blacklist", subject.key)

    def _red_entry(self, subject: Subject, decision: Decision, existing: dict[str, _Existing],
                   states: dict[tuple[str, str], ListState], state_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        if decision.status == "red":
            state = states.get((subject.key, "redlist"))
            since = self.today_iso
            # The stretch goes on while every run finds the subject qualified; a replayed earlier
            # day cannot start it later than that day.
            if state is not None and state.status == "listed" and state.qualified_since:
                since = min(state.qualified_since, self.today_iso)
            self._state(states, state_rows, subject.key, "redlist", "listed", since, decision.red)
            return self._entry(subject, "redlist", decision.red, dt.date.fromisoformat(since),
                               add_months(self.today, 12 * self.rules.red_valid_years))
        self._state(states, state_rows, subject.key, "redlist", "removed", None, ())
        return self._moved_out(existing, "redlist", subject.key)

    def _entry(self, subject: Subject, list_type: str, findings: Sequence[Finding], listed: dt.date,
               valid_to: dt.date) -> dict[str, Any]:
        data: dict[str, Any] = {
            "subject_name": subject.name,
            "subject_category": CATEGORY_OF_KIND[subject.kind],
            "list_type": LIST_NAMES[list_type],
            "reason": "；".join(f"{f.rule_id} {f.description}" for f in findings),
            "basis": "; ".join(f"{f.rule_id}: {', '.join(f.record_ids)}" for f in findings),
            "listed_date": listed.isoformat(),
            "valid_to": valid_to.isoformat(),
            "decided_by": self.rules.decided_by,
            "status": LISTED,
        }
        if self.rules.decided_by_uscc:
            data["decided_by_uscc"] = self.rules.decided_by_uscc
        if subject.kind == "person":
            data["id_number"] = subject.id_number  # in full: the county gets it, the city writer masks it
        else:
            data["uscc"] = subject.uscc
        return data

    def _moved_out(self, existing: dict[str, _Existing], list_type: str, key: str) -> dict[str, Any] | None:
        """The entry as it stood, now moved out; None when there is none or it is already out."""
        held = existing.get(derived_id(list_type, key))
        if held is None or held.op != "upsert":
            return None
        data = self.vault.open(list_type, held.data_enc)
        if data.get("status") != LISTED:
            return None
        return {**data, "status": MOVED_OUT,
                "remark": f"{self.today_iso}起不再符合{LIST_NAMES[list_type]}认定条件，已移出"}

    def _state(self, states: dict[tuple[str, str], ListState], out: list[dict[str, Any]], key: str, list_type: str,
               status: str, since: str | None, findings: Sequence[Finding]) -> None:
        held = states.get((key, list_type))
        if held is None and status == "removed":
            return  # never listed: nothing to remember
        rules = json.dumps([f.rule_id for f in findings]) if findings else None
        if held is not None and (held.status, held.qualified_since, held.rules, held.last_decided) == (
                status, since, rules, self.today_iso):
            return
        if held is not None and held.status == status == "removed":
            return  # out and staying out: keep the date it was last decided in
        out.append({"subject_key": key, "list_type": list_type, "status": status, "qualified_since": since,
                    "last_decided": self.today_iso, "rules": rules})

    # -- the credit profile ---------------------------------------------------------------
    def _profile(self, subject: Subject, rows: Sequence[_Row], current: Sequence[dict[str, Any]],
                 decision: Decision) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in current:
            if self.rules.is_current(r, self.today):
                counts[r["record_type"]] = counts.get(r["record_type"], 0) + 1
        findings = decision.findings
        data: dict[str, Any] = {
            "subject_key": subject.key,
            "subject_kind": subject.kind,
            "subject_name": subject.name,
            "record_counts": dict(sorted(counts.items())),
            "record_ids": [r["record_id"] for r in current],
            "list_status": decision.status,
            "list_rules": [f.rule_id for f in findings],
            "list_record_ids": sorted({rid for f in findings for rid in f.record_ids}),
            # The last change of the subject's own records, so an unchanged subject keeps its profile.
            "updated_at": max(r.updated_at for r in rows).astimezone(LOCAL).isoformat(timespec="seconds"),
        }
        if subject.kind == "person":
            data["id_number_masked"] = mask_id_number(subject.id_number or "")
        else:
            data["uscc"] = subject.uscc
        return data

    # -- writing --------------------------------------------------------------------------
    def _write(self, versions: list[dict[str, Any]], existing: dict[str, _Existing], record_type: str,
               subject: Subject, data: dict[str, Any]) -> None:
        record_id = derived_id(record_type, subject.key)
        problems = self.validator.check(schema_type(record_type), data)
        if problems:
            raise DerivedRecordInvalid(f"{record_id}: " + "; ".join(f"{p.field or 'record'} {p.code}: {p.message}"
                                                                    for p in problems))
        digest = content_hash(data)
        held = existing.get(record_id)
        if held is not None and held.op == "upsert" and held.content_hash == digest:
            return
        versions.append({
            "record_id": record_id, "department": HUB, "record_type": record_type,
            "hub_version": held.hub_version + 1 if held else 1, "op": "upsert", "content_hash": digest,
            "data_enc": self.vault.seal(record_type, data), "subject_key": subject.key,
            "subject_kind": subject.kind, "subject_name": subject.name, "subject_enc": subject.seal(self.vault),
            "delivery_id": None,
        })
        self.summary.new_versions += 1
        if record_type == "credit_profile":
            self.summary.profiles += 1
        elif data["status"] == LISTED:
            self.summary.listed += 1
        else:
            self.summary.moved_out += 1

    # -- data quality ---------------------------------------------------------------------
    def _noted_issues(self, s: Session, keys: Sequence[str]) -> set[tuple[str, str, str]]:
        """(kind, subject key, what) of the findings already recorded for these subjects."""
        out: set[tuple[str, str, str]] = set()
        for kind, key, record_id, details in s.execute(
                select(DataQualityIssue.kind, DataQualityIssue.subject_key, DataQualityIssue.record_id,
                       DataQualityIssue.details)
                .where(DataQualityIssue.subject_key.in_(keys),
                       DataQualityIssue.kind.in_(["name_mismatch", "list_entry_no_uscc"]))):
            what = json.loads(details).get("name", "") if kind == "name_mismatch" else record_id or ""
            out.add((kind, key, what))
        return out

    def _name_mismatches(self, key: str, subject: Subject, rows: Sequence[_Row], noted: set[tuple[str, str, str]],
                         now: dt.datetime) -> list[DataQualityIssue]:
        """One subject, several names: merged all the same, and each name reported once."""
        by_name: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            if r.op == "upsert" and r.name:
                by_name[r.name].append(r.record_id)
        if len(by_name) < 2:
            return []
        names = sorted(by_name)
        shown = (mask_id_number(subject.id_number or "") if subject.kind == "person"
                 else key.removeprefix("regno:") if key.startswith("regno:") else key)
        out = []
        for name in names:
            if ("name_mismatch", key, name) in noted:
                continue
            noted.add(("name_mismatch", key, name))
            text = message("name_mismatch", subject=shown, names="、".join(names))
            log.warning("data quality: %s", text)
            out.append(DataQualityIssue(
                kind="name_mismatch", subject_key=key, record_id=by_name[name][0], created_at=now,
                details=json.dumps({"name": name, "names": names, "record_ids": by_name[name][:50], "message": text},
                                   ensure_ascii=False, sort_keys=True)))
        return out

    def _note(self, noted: set[tuple[str, str, str]], key: str, kind: str, record_id: str, now: dt.datetime,
              **params: Any) -> list[DataQualityIssue]:
        if (kind, key, record_id) in noted:
            return []
        noted.add((kind, key, record_id))
        text = message(kind, **params)
        log.warning("data quality: %s", text)
        return [DataQualityIssue(kind=kind, subject_key=key, record_id=record_id, created_at=now,
                                 details=json.dumps({**params, "message": text}, ensure_ascii=False, sort_keys=True))]
