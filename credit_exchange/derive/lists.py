"""Records the hub derives per subject: credit profiles and red / black list entries (data-standard.md 3).

`derive` decides the subjects whose outcome may have changed since the last run, in chunks of
subjects, each chunk one transaction: load the chunk's department records, apply the rules
(`credit_exchange.derive.rules`), build the derived records and write through `versioning.write_versions`
only those whose content hash changed. A second run on the same day with no new input
therefore writes nothing. Derived records are validated against their schema before they are
written; a derived record that fails its schema is a bug in the hub, so the run stops.

Which subjects a run decides (its cost grows with what changed, not with what the hub holds):

- *changed*: subjects merge marked in ``subjects_pending`` (a record of theirs got a new version,
  or a record left them for another subject key). A chunk reads the marks of its subjects before
  their records and deletes exactly those marks, by id, in the transaction that writes the
  derived records: a mark a concurrent merge writes meanwhile stays for the next run;
- *due*: subjects whose review date (``subject_reviews``, `credit_exchange.derive.review`) is
  on or before the run date: time alone may have changed their decision (a window ran out, a
  penalty or licence expired; red entries move their valid-to every run, so they are due every run);
- *full*: every subject, when there is no earlier derive run, the rules (or `DERIVE_FORMAT`) changed
  since the last one, the run date is before the last one's (a replayed day), the last full run did
  not finish, or the caller asks (`derive_all`, the reference the incremental runs must equal).

Any other subject would come out exactly as it was: the same records, no time condition flipped,
so the full path would write nothing for it but move ``list_state.last_decided`` of a listed
subject to the run date, which an incremental run does in one statement.

Derived record ids: ``hub:credit_profile:{subject_key}``, ``hub:blacklist:{subject_key}``,
``hub:redlist:{subject_key}``. A list entry whose subject no longer qualifies gets a new version
with status 已移出 (the county platform sees an update of the same record).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, text, update
from sqlalchemy.orm import Session

from credit_exchange.derive.review import review_on
from credit_exchange.derive.rules import Decision, Finding, RuleSet, evaluate, load_rules
from credit_exchange.merge.versioning import DERIVED_DEPARTMENT, write_versions
from credit_exchange.standard.canonical import content_hash
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import mask_id_number
from credit_exchange.standard.publication import add_months
from credit_exchange.standard.subjects import PLACEHOLDER_USCC, Subject
from credit_exchange.standard.validation import get_validator
from credit_exchange.store import (
    DataQualityIssue,
    DeriveRun,
    ListState,
    Record,
    RecordVersion,
    Store,
    SubjectPending,
    SubjectReview,
)
from credit_exchange.store.upsert import upsert
from credit_exchange.timeutil import LOCAL, now_local

log = logging.getLogger(__name__)

CHUNK = 500  # subjects per transaction
HUB = DERIVED_DEPARTMENT
LIST_NAMES = {"blacklist": "黑名单", "redlist": "红名单"}
CATEGORY_OF_KIND = {"org": "法人及非法人组织", "individual_business": "个体工商户", "person": "自然人"}
LISTED, MOVED_OUT = "有效", "已移出"
# Bump when the code changes what it derives from the same records and rules (a field, a format):
# the next run is then full, as after a change of config/rules.yaml.
DERIVE_FORMAT = "1"
# The PostgreSQL advisory lock one derive run holds, so that two never decide side by side.
DERIVE_LOCK = 0x51_57_44_45_52  # "QWDER"
CHANGED, DUE, FULL = "changed", "due", "full"


class DerivedRecordInvalid(RuntimeError):
    """A record the hub derived fails its own schema: a bug, never sent anywhere."""


@dataclass
class DeriveSummary:
    subjects: int = 0  # subjects decided this run
    new_versions: int = 0
    profiles: int = 0
    listed: int = 0  # list entry versions with status 有效
    moved_out: int = 0  # list entry versions with status 已移出
    data_quality: int = 0  # new data-quality findings
    by_status: dict[str, int] = field(default_factory=dict)  # decided subjects by list status this run
    mode: str = "full"  # full | incremental
    reason: str = ""  # why full: first, rules, replay, unfinished, asked; "" when incremental
    changed: int = 0  # decided because their records changed
    due: int = 0  # decided because their review date came
    full: int = 0  # decided because the run was full
    held_subjects: int = 0  # subjects the hub holds decisions for, after the run

    def as_xcom(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "new_versions": self.new_versions, "profiles": self.profiles,
                "listed": self.listed, "moved_out": self.moved_out, "data_quality": self.data_quality,
                "by_status": dict(self.by_status), "mode": self.mode, "reason": self.reason,
                "changed": self.changed, "due": self.due, "full": self.full, "held_subjects": self.held_subjects}


def derived_id(record_type: str, subject_key: str) -> str:
    return f"{HUB}:{record_type}:{subject_key}"


def rules_hash(rules: RuleSet) -> str:
    """What a run's outcome depends on besides the records and the day: the rules and the derive format."""
    return hashlib.sha256(f"{DERIVE_FORMAT}:{rules.fingerprint()}".encode()).hexdigest()


def derive_all(store: Store, vault: PiiVault, today: dt.date, rules: RuleSet | None = None) -> DeriveSummary:
    """Re-decide every subject for run date ``today``; write the derived records that changed (the reference)."""
    return derive(store, vault, today, rules, full=True)


def derive(store: Store, vault: PiiVault, today: dt.date, rules: RuleSet | None = None, *,
           full: bool = False) -> DeriveSummary:
    """Decide the subjects that changed or are due (all of them when needed, or ``full``) for run date ``today``."""
    rules = rules or load_rules()
    fingerprint = rules_hash(rules)
    deriver = _Deriver(vault, today, rules)
    summary = deriver.summary
    with _one_run_at_a_time(store):
        with store.session() as s:
            reason = "asked" if full else _full_reason(s, today, fingerprint)
            run = DeriveRun(run_date=today.isoformat(), rules_hash=fingerprint,
                            mode="full" if reason else "incremental", reason=reason or "changed+due",
                            subjects=0, changed=0, due=0, new_versions=0, started_at=now_local())
            s.add(run)
            s.flush()
            run_id = run.id
        summary.mode, summary.reason = ("full", reason) if reason else ("incremental", "")
        if reason:
            _all_subjects(store, deriver)
        else:
            _changed_and_due(store, deriver)
        with store.session() as s:
            summary.held_subjects = s.execute(select(func.count()).select_from(SubjectReview)).scalar_one()
            s.execute(update(DeriveRun).where(DeriveRun.id == run_id).values(
                subjects=summary.subjects, changed=summary.changed, due=summary.due,
                new_versions=summary.new_versions, finished_at=now_local()))
    log.info("derive on %s (%s%s): re-decided %d of %d subjects: %d changed, %d due, %d full",
             today, summary.mode, f", {reason}" if reason else "", summary.subjects, summary.held_subjects,
             summary.changed, summary.due, summary.full)
    log.info("derived for %d subjects on %s: %d new versions (%d profiles, %d listed, %d moved out), "
             "%d data-quality findings; list status %s", summary.subjects, today, summary.new_versions,
             summary.profiles, summary.listed, summary.moved_out, summary.data_quality,
             json.dumps(summary.by_status))
    return summary


def _full_reason(s: Session, today: dt.date, fingerprint: str) -> str | None:
    """Why this run must decide every subject, or None when the changed and due ones are enough."""
    last = s.execute(select(DeriveRun).order_by(DeriveRun.id.desc()).limit(1)).scalar_one_or_none()
    if last is None:
        return "first"
    if last.rules_hash != fingerprint:
        return "rules"
    if today < dt.date.fromisoformat(last.run_date):
        return "replay"
    if last.mode == "full" and last.finished_at is None:
        return "unfinished"  # the subjects it did not reach are as the earlier rules or day left them
    return None


@contextmanager
def _one_run_at_a_time(store: Store) -> Iterator[None]:
    """On PostgreSQL, hold the derive lock for the run (SQLite serialises writers by itself)."""
    if store.engine.dialect.name != "postgresql":
        yield
        return
    with store.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": DERIVE_LOCK})
        holder.commit()
        try:
            yield
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": DERIVE_LOCK})
            holder.commit()


def _all_subjects(store: Store, deriver: _Deriver) -> None:
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
            deriver.chunk(s, keys, dict.fromkeys(keys, FULL))


def _changed_and_due(store: Store, deriver: _Deriver) -> None:
    today = deriver.today_iso
    with store.session() as s:
        changed = set(s.execute(select(SubjectPending.subject_key).distinct()).scalars())
        due = set(s.execute(select(SubjectReview.subject_key).where(SubjectReview.review_on <= today)).scalars())
        # What the full path would do for every other subject: move a listing's last decision to today.
        held = exists().where(Record.subject_key == ListState.subject_key, Record.department != HUB)
        s.execute(update(ListState).where(ListState.status == "listed", ListState.last_decided != today, held)
                  .values(last_decided=today).execution_options(synchronize_session=False))
    why = dict.fromkeys(due - changed, DUE) | dict.fromkeys(changed, CHANGED)
    keys = sorted(why)
    for start in range(0, len(keys), CHUNK):
        with store.session() as s:
            deriver.chunk(s, keys[start:start + CHUNK], why)


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
    def chunk(self, s: Session, keys: Sequence[str], why: Mapping[str, str]) -> None:
        """Decide ``keys`` (``why``: changed, due or full, per key) and clear the pending marks seen."""
        now = now_local()
        # Marks first, records after: a mark written after this read stays, whatever the records show.
        seen = list(s.execute(select(SubjectPending.id).where(SubjectPending.subject_key.in_(keys))).scalars())
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
        reviews: list[dict[str, Any]] = []
        for key in keys:
            rows = by_subject.get(key)
            if not rows:
                continue
            self.summary.subjects += 1
            reason = why[key]
            setattr(self.summary, reason, getattr(self.summary, reason) + 1)
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
            review = review_on(current, decision, self.today, self.rules)
            reviews.append({"subject_key": key, "review_on": review.isoformat() if review else None,
                            "decided_on": self.today_iso})

        write_versions(s, versions, now)
        upsert(s, ListState, state_rows, key=["subject_key", "list_type"])
        s.add_all(issues)
        self.summary.data_quality += len(issues)
        upsert(s, SubjectReview, reviews, key=["subject_key"])
        # A subject key no record has any more (its records moved to another key) is decided no more.
        gone = [k for k in keys if k not in by_subject]
        if gone:
            s.execute(delete(SubjectReview).where(SubjectReview.subject_key.in_(gone)))
        for start in range(0, len(seen), 1000):
            s.execute(delete(SubjectPending).where(SubjectPending.id.in_(seen[start:start + 1000])))

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
