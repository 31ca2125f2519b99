"""Lineage: from a record id, a subject (USCC or ID number) or a file name to everything the hub did with it.

One read-only function, ``lineage(session, query, vault)``, shared by the Exchange page's search
and ``qianwei-hub lineage``. What the query is, is decided by its shape (``classify``):

- ``department:record_type:id`` (or ``hub:…`` for a derived list entry): a record id;
- 18 characters of a USCC's alphabet: a USCC; 17 digits and a check character: a person's ID
  number (found by its keyed hash, ``PiiVault.subject_hash``, for every ID type of the data
  standard); 18 digits fit both, and both are searched;
- anything else: a file name (or a pull's ``endpoint@time``) and a department's own record id,
  both searched.

The answer says what was searched and what matched. For a record: the deliveries that brought it
(file, department, received time, status, stored path, the Airflow run that took the file, the
record's position in it: ordinal and the parser's position, a line or an element number), each
with its outcome (accepted / unchanged / stale / rejected) and the hub version it made, the
rejects, the county outbox (version, status, batch and its status, the platform's answer), the
city state (status, file, op, code) and the receipts of the files. For a file: the same file
facts, its counts, its receipt, its rejects and the records it delivered.

Every string of the answer is masked (``pii.mask_obj``): ID numbers never leave it in clear, not
even the one asked for. Records that never merged (rejected on intake) carry no subject: a
search by USCC or ID number finds merged records only; search the file or the record id for the
rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from credit_exchange import config
from credit_exchange.merge.versioning import DERIVED_DEPARTMENT
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.fields import SCHEMAS_DIR
from credit_exchange.standard.pii import mask_id_number, mask_obj, safe_text
from credit_exchange.store import (
    Batch,
    CityFile,
    CityState,
    Delivery,
    OutboxItem,
    Receipt,
    ReceivedFile,
    Record,
    RecordVersion,
    Reject,
)
from credit_exchange.timeutil import local
from hub_messages import label, text

# At most this many records (a subject's) or files (one name, taken many times) per answer.
MAX_RECORDS = 50
MAX_FILES = 20
# At most this many deliveries and rejects of one file (and rejects of one run).
MAX_FILE_ROWS = 200
# At most this many deliveries, hub versions, rejects and county pushes of one record.
MAX_RECORD_ROWS = 200
# At most this many files, batches and city files of one run.
MAX_RUN_ROWS = 200
# The run view's record outcomes are the records' state now (run_view's docstring says why).
OUTCOMES_BASIS = "current"
RESENT = "resent"

KINDS = ("record", "uscc", "id_number", "file", "dept_record")
_RECORD_ID = re.compile(r"^(?P<dept>[a-z][a-z0-9_]*):(?P<type>[a-z][a-z0-9_]*):(?P<id>.+)$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")


def classify(query: str) -> tuple[str, ...]:
    """Which kinds of thing ``query`` may be, by its shape (more than one: all are searched)."""
    q = query.strip()
    m = _RECORD_ID.match(q)
    if m and (m["dept"] in config.departments() or m["dept"] == DERIVED_DEPARTMENT):
        return ("record",)
    # A USCC has upper-case letters only (lower case is an error of the code); an ID number's X may be either.
    kinds = tuple(kind for kind, shape, value in (("uscc", _USCC, q), ("id_number", _ID_NUMBER, q.upper()))
                  if shape.match(value))
    return kinds or ("file", "dept_record")


def _id_types() -> list[str]:
    """The ID types of the data standard (a person's subject key hashes the type with the number)."""
    common = json.loads((SCHEMAS_DIR / "common.schema.json").read_text(encoding="utf-8"))
    return list(common["$defs"]["id_type"]["enum"])


def _kind_names(kinds: Iterable[str]) -> tuple[str, str]:
    """The kinds searched or matched, in Chinese and in English (for the two halves of a message)."""
    names = [label(f"lineage_kind_{k}") for k in kinds]
    return "\u3001".join(zh for zh, _ in names), ", ".join(en for _, en in names)


def shown_query(query: str) -> str:
    """The query as the answer repeats it: an ID number masked."""
    q = query.strip()
    return mask_id_number(q.upper()) if _ID_NUMBER.match(q.upper()) else safe_text(q)


def _iso(dt: datetime | None) -> str | None:
    return local(dt).isoformat(timespec="seconds") if dt is not None else None


def _text(value: str | None) -> str | None:
    return safe_text(value) if value else value


# --------------------------------------------------------------------------- rows

def file_facts(f: ReceivedFile) -> dict[str, Any]:
    """A received file as lineage and the run view show it (masked later, with the whole answer)."""
    return {"file_id": f.id, "department": f.department, "name": f.name, "received_at": _iso(f.received_at),
            "processed_at": _iso(f.processed_at), "status": f.status, "stored_path": f.stored_path,
            "dag_id": f.dag_id, "run_id": f.run_id, "total": f.total, "accepted": f.accepted,
            "rejected": f.rejected, "unchanged": f.unchanged, "stale": f.stale,
            "error_code": f.error_code, "reason": _text(f.error_message)}


def receipt_facts(r: Receipt | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"status": r.status, "written_to": r.written_to, "created_at": _iso(r.created_at)}


def reject_facts(r: Reject, file_name: str | None = None) -> dict[str, Any]:
    return {"file_id": r.file_id, "file": file_name, "position": r.position, "dept_record_id": r.dept_record_id,
            "field": r.field, "field_code": r.field_code, "code": r.code, "message": _text(r.message)}


# --------------------------------------------------------------------------- bounded reads

def _count(s: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``stmt`` selects, counted by the database (nothing loaded)."""
    return int(s.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one())


def _first(s: Session, stmt: Select[*tuple[Any, ...]], limit: int) -> tuple[list[Any], int]:
    """The first ``limit`` rows of ``stmt`` and how many more there are ("and N more")."""
    rows = list(s.execute(stmt.limit(limit)).all())
    return rows, (_count(s, stmt) - len(rows) if len(rows) >= limit else 0)


# --------------------------------------------------------------------------- records

def _record_ids_of_subjects(s: Session, keys: Iterable[str]) -> tuple[list[str], int]:
    rows, more = _first(s, select(Record.record_id).where(Record.subject_key.in_(list(keys)))
                        .order_by(Record.record_id), MAX_RECORDS)
    return [r for (r,) in rows], more


def _known_record_ids(s: Session, record_ids: list[str]) -> list[str]:
    """The ids of ``record_ids`` the store knows (merged, delivered or owed to a platform)."""
    wanted = set(record_ids)
    found: set[str] = set()
    for column in (Record.record_id, Delivery.record_id, OutboxItem.record_id, CityState.record_id):
        if wanted - found:
            found.update(r for r in s.execute(select(column).where(column.in_(wanted - found)).distinct()
                                              .limit(len(wanted))).scalars() if r is not None)
    return [r for r in record_ids if r in found]


def record_lineage(s: Session, record_id: str) -> dict[str, Any]:
    """Everything the store holds about one record, oldest first (at most ``MAX_RECORD_ROWS`` of each kind).

    The hub versions are a list by hub version: a derived record (a list entry, a credit profile)
    has versions of no delivery, so they are never keyed by delivery; which version a delivery made
    is looked up per delivery.
    """
    current = s.get(Record, record_id)
    rows, deliveries_more = _first(s, select(Delivery, ReceivedFile)
                                   .join(ReceivedFile, ReceivedFile.id == Delivery.file_id)
                                   .where(Delivery.record_id == record_id)
                                   .order_by(ReceivedFile.received_at, Delivery.id), MAX_RECORD_ROWS)
    delivery_ids = [d.id for d, _ in rows]
    made = dict(s.execute(select(RecordVersion.delivery_id, RecordVersion.hub_version).where(
        RecordVersion.record_id == record_id, RecordVersion.delivery_id.in_(delivery_ids))).all()) \
        if delivery_ids else {}
    file_ids = {f.id for _, f in rows}
    receipts = {r.file_id: r for r in s.execute(select(Receipt).where(Receipt.file_id.in_(file_ids))).scalars()} \
        if file_ids else {}
    deliveries = [{"file": file_facts(f), "ordinal": d.ordinal, "position": d.position,
                   "dept_version": d.dept_version, "op": d.op, "outcome": d.outcome,
                   "hub_version": made.get(d.id), "receipt": receipt_facts(receipts.get(f.id))} for d, f in rows]
    names = {f.id: f.name for _, f in rows}
    reject_rows, rejects_more = _first(s, select(Reject).where(Reject.delivery_id.in_(delivery_ids))
                                       .order_by(Reject.id), MAX_RECORD_ROWS) if delivery_ids else ([], 0)
    rejects = [reject_facts(r, names.get(r.file_id)) for (r,) in reject_rows]
    version_rows, versions_more = _first(s, select(RecordVersion.hub_version, RecordVersion.op,
                                                   RecordVersion.created_at, ReceivedFile.name)
                                         .outerjoin(Delivery, Delivery.id == RecordVersion.delivery_id)
                                         .outerjoin(ReceivedFile, ReceivedFile.id == Delivery.file_id)
                                         .where(RecordVersion.record_id == record_id)
                                         .order_by(RecordVersion.hub_version, RecordVersion.id), MAX_RECORD_ROWS)
    versions = [{"hub_version": v, "op": op, "created_at": _iso(at), "file": name}
                for v, op, at, name in version_rows]
    county_rows, county_more = _first(s, select(OutboxItem, Batch)
                                      .outerjoin(Batch, Batch.batch_id == OutboxItem.batch_id)
                                      .where(OutboxItem.platform == "county", OutboxItem.record_id == record_id)
                                      .order_by(OutboxItem.hub_version, OutboxItem.id), MAX_RECORD_ROWS)
    county = [{"hub_version": i.hub_version, "op": i.op, "status": i.status, "batch_id": i.batch_id,
               "batch_status": b.status if b else None, "batch_run": _run(b.dag_id, b.run_id) if b else None,
               "result": i.result, "code": i.result_code, "message": _text(i.result_message),
               "updated_at": _iso(i.updated_at)} for i, b in county_rows]
    city = None
    state = s.get(CityState, record_id)
    if state is not None:
        cf = s.get(CityFile, state.file_name)
        city = {"hub_version": state.hub_version, "op": state.op, "state": state.status, "file": state.file_name,
                "city_id": state.city_id, "code": state.code, "message": _text(state.message),
                "updated_at": _iso(state.updated_at),
                "file_status": cf.status if cf else None, "receipt_status": cf.receipt_status if cf else None,
                "receipt_at": _iso(cf.receipt_at) if cf else None,
                "file_run": _run(cf.dag_id, cf.run_id) if cf else None}
    return {"record_id": record_id,
            "department": current.department if current else (rows[0][0].department if rows else None),
            "record_type": current.record_type if current else (rows[0][0].record_type if rows else None),
            "current": {"hub_version": current.hub_version, "op": current.op, "updated_at": _iso(current.updated_at),
                        "subject_kind": current.subject_kind} if current else None,
            "deliveries": deliveries, "versions": versions, "rejects": rejects, "county": county, "city": city,
            "deliveries_more": deliveries_more, "versions_more": versions_more, "rejects_more": rejects_more,
            "county_more": county_more}


def _run(dag_id: str | None, run_id: str | None) -> dict[str, str] | None:
    return {"dag_id": dag_id, "run_id": run_id} if dag_id and run_id else None


# --------------------------------------------------------------------------- files

def file_lineage(s: Session, f: ReceivedFile) -> dict[str, Any]:
    """One received file: its facts, receipt, rejects and the records it delivered (first rows)."""
    receipt = s.execute(select(Receipt).where(Receipt.file_id == f.id)).scalar_one_or_none()
    reject_rows, rejects_more = _first(s, select(Reject).where(Reject.file_id == f.id).order_by(Reject.id),
                                       MAX_FILE_ROWS)
    rejects = [reject_facts(r, f.name) for (r,) in reject_rows]
    delivery_rows, records_more = _first(s, select(Delivery).where(Delivery.file_id == f.id)
                                         .order_by(Delivery.ordinal), MAX_FILE_ROWS)
    deliveries = [d for (d,) in delivery_rows]
    versions = dict(s.execute(select(RecordVersion.delivery_id, RecordVersion.hub_version).where(
        RecordVersion.delivery_id.in_([d.id for d in deliveries]))).all()) if deliveries else {}
    records = [{"ordinal": d.ordinal, "position": d.position, "record_id": d.record_id,
                "dept_record_id": d.dept_record_id, "dept_version": d.dept_version, "op": d.op,
                "outcome": d.outcome, "hub_version": versions.get(d.id)} for d in deliveries]
    return {"file": file_facts(f), "receipt": receipt_facts(receipt), "rejects": rejects, "records": records,
            "records_shown": len(records), "rejects_shown": len(rejects),
            "records_more": records_more, "rejects_more": rejects_more}


# --------------------------------------------------------------------------- search

def lineage(s: Session, query: str, vault: PiiVault | None) -> dict[str, Any]:
    """Search by record id, USCC / ID number or file name (``classify``); the answer, masked.

    ``vault`` is needed only for an ID number (its keyed hash is the subject key); without it such a
    query reports ``lineage_needs_key`` instead of a silent "nothing found".
    """
    q = query.strip()
    kinds = classify(q) if q else ()
    matched: list[str] = []
    record_ids: list[str] = []
    files: list[dict[str, Any]] = []
    notes: list[str] = []
    records_more = files_more = 0
    for kind in kinds:
        found: list[str] = []
        more = 0
        if kind == "record":
            found = _known_record_ids(s, [q])
        elif kind == "uscc":
            found, more = _record_ids_of_subjects(s, [q])
        elif kind == "id_number":
            if vault is None:
                notes.append(text("lineage_needs_key"))
                continue
            found, more = _record_ids_of_subjects(s, [vault.subject_hash(t, q) for t in _id_types()])
        elif kind == "dept_record":
            rows, more = _first(s, select(Delivery.record_id).where(
                Delivery.dept_record_id == q, Delivery.record_id.is_not(None)).distinct()
                .order_by(Delivery.record_id), MAX_RECORDS)
            found = [r for (r,) in rows if r is not None]
        elif kind == "file":
            file_rows, files_more = _first(s, select(ReceivedFile).where(
                or_(ReceivedFile.name == q, ReceivedFile.stored_path == q))
                .order_by(ReceivedFile.received_at, ReceivedFile.id), MAX_FILES)
            files.extend(file_lineage(s, f) for (f,) in file_rows)
            if file_rows:
                matched.append(kind)
            continue
        records_more += more
        if found:
            matched.append(kind)
            record_ids.extend(r for r in found if r not in record_ids)
    records_more += max(0, len(record_ids) - MAX_RECORDS)
    records = [record_lineage(s, rid) for rid in record_ids[:MAX_RECORDS]]
    if not q:
        message = text("lineage_empty_query")
    elif not matched:
        zh, en = _kind_names(kinds)
        message = text("lineage_not_found", query=shown_query(q), searched_zh=zh, searched=en)
    else:
        zh, en = _kind_names(matched)
        message = text("lineage_found", records=len(records), files=len(files), matched_zh=zh, matched=en)
    if records_more or files_more:
        notes.append(text("lineage_more", records=records_more, files=files_more))
    answer = mask_obj({"searched": list(kinds), "matched": matched, "message": message, "notes": notes,
                       "records": records, "files": files, "records_more": records_more, "files_more": files_more})
    answer["query"] = shown_query(q)
    return dict(answer)


# --------------------------------------------------------------------------- one Airflow run

def run_view(s: Session, dag_id: str, run_id: str) -> dict[str, Any]:
    """What one Airflow dag run did in the hub: files taken (counts, rejects, receipts), batches and city files.

    At most ``MAX_RUN_ROWS`` files, batches and city files (``*_more`` says how many more) and
    ``MAX_FILE_ROWS`` rejects; the totals are summed by the database over all of the run's files.

    The record outcomes of a batch or a city file are the *current* state of its records: the store
    keeps neither the county platform's answer nor the city receipt's items per batch or file, only
    each record's latest outcome. A record sent again since (re-sent, re-queued by reconcile, or in
    a later city file) is counted under ``resent`` (``RESENT``), so the counts still add up to the
    records the batch or file held, and ``outcomes_basis`` / the note say the numbers are current.

    Rows written before the store recorded the DAG id (migration 0006) are found by run id and the
    department of an ``ingest_{department}`` DAG.
    """
    took_it = ReceivedFile.dag_id == dag_id
    dept = dag_id.removeprefix("ingest_") if dag_id.startswith("ingest_") else None
    if dept is not None:
        took_it = or_(took_it, (ReceivedFile.dag_id.is_(None)) & (ReceivedFile.department == dept))
    of_run = (ReceivedFile.run_id == run_id, took_it)
    file_rows, files_more = _first(s, select(ReceivedFile).where(*of_run)
                                   .order_by(ReceivedFile.received_at, ReceivedFile.id), MAX_RUN_ROWS)
    files = [f for (f,) in file_rows]
    counted = ("total", "accepted", "rejected", "unchanged", "stale")
    sums = s.execute(select(*(func.coalesce(func.sum(getattr(ReceivedFile, k)), 0) for k in counted))
                     .where(*of_run)).one()
    totals = {k: int(v) for k, v in zip(counted, sums, strict=True)}
    ids = [f.id for f in files]
    receipts = {r.file_id: r for r in s.execute(select(Receipt).where(Receipt.file_id.in_(ids))).scalars()} \
        if ids else {}
    # Rejects of every file of the run (not only the files shown), by the files' own key.
    run_files = select(ReceivedFile.id).where(*of_run)
    reject_rows, rejects_more = _first(s, select(Reject, ReceivedFile.name)
                                       .join(ReceivedFile, ReceivedFile.id == Reject.file_id)
                                       .where(Reject.file_id.in_(run_files)).order_by(Reject.file_id, Reject.id),
                                       MAX_FILE_ROWS)
    rejects = [reject_facts(r, name) for r, name in reject_rows]

    batch_rows, batches_more = _first(s, select(Batch).where(Batch.dag_id == dag_id, Batch.run_id == run_id)
                                      .order_by(Batch.created_at, Batch.batch_id), MAX_RUN_ROWS)
    batch_list = [b for (b,) in batch_rows]
    by_batch = _tally(s, OutboxItem.batch_id, OutboxItem.status, [b.batch_id for b in batch_list])
    batches = [{"batch_id": b.batch_id, "platform": b.platform, "status": b.status,
                "records": b.record_count, "attempts": b.attempts, "last_error": _text(b.last_error),
                "created_at": _iso(b.created_at), "completed_at": _iso(b.completed_at),
                "outcomes": _outcomes(by_batch.get(b.batch_id, {}), b.record_count)} for b in batch_list]

    city_rows, city_more = _first(s, select(CityFile).where(CityFile.dag_id == dag_id, CityFile.run_id == run_id)
                                  .order_by(CityFile.created_at, CityFile.name), MAX_RUN_ROWS)
    city_list = [cf for (cf,) in city_rows]
    by_file = _tally(s, CityState.file_name, CityState.status, [cf.name for cf in city_list])
    city_files = [{"name": cf.name, "file_type": cf.file_type, "records": cf.record_count,
                   "status": cf.status, "created_at": _iso(cf.created_at),
                   "uploaded_at": _iso(cf.uploaded_at), "receipt_status": cf.receipt_status,
                   "receipt_at": _iso(cf.receipt_at),
                   "record_states": _outcomes(by_file.get(cf.name, {}), cf.record_count)} for cf in city_list]

    n_files, n_batches, n_city = len(files) + files_more, len(batches) + batches_more, len(city_files) + city_more
    found = bool(n_files or n_batches or n_city)
    notes = [text("run_outcomes_now")] if batches or city_files else []
    if files_more or batches_more or city_more:
        notes.append(text("run_more", files=files_more, batches=batches_more, city_files=city_more))
    return dict(mask_obj({
        "dag_id": dag_id, "run_id": run_id, "found": found,
        "message": text("run_found", files=n_files, batches=n_batches, city_files=n_city)
        if found else text("run_nothing", dag_id=dag_id, run_id=run_id),
        "notes": notes, "outcomes_basis": OUTCOMES_BASIS,
        "files": [{**file_facts(f), "receipt": receipt_facts(receipts.get(f.id))} for f in files],
        "files_more": files_more,
        "totals": totals, "rejects": rejects, "rejects_shown": len(rejects), "rejects_more": rejects_more,
        "batches": batches, "batches_more": batches_more, "city_files": city_files, "city_files_more": city_more,
    }))


def _tally(s: Session, key: Any, status: Any, keys: list[str]) -> dict[str, dict[str, int]]:
    """Records per status for each of ``keys`` (a batch id, a city file name), counted by the database."""
    out: dict[str, dict[str, int]] = {}
    if keys:
        for k, st, n in s.execute(select(key, status, func.count()).where(key.in_(keys)).group_by(key, status)):
            out.setdefault(k, {})[st] = int(n)
    return out


def _outcomes(now: dict[str, int], records: int) -> dict[str, int]:
    """The current outcomes of a batch's or file's records, plus those sent again since (``RESENT``)."""
    out = dict(sorted(now.items()))
    gone = records - sum(now.values())
    if gone > 0:
        out[RESENT] = gone
    return out
