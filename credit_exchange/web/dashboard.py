"""What the Exchange page shows: read-only queries on the hub's store, answered as plain dicts.

One function per number on the page (``overview``) and one per detail list
(``details``), so the web layer only renders and the numbers are tested on a
real store. Nothing here writes. Every free text that reaches a person
(reject messages, alert texts, quality findings) goes through
``credit_exchange.standard.pii.mask_text`` once more: a full ID number never reaches
the page, even from a row written before masking rules changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from credit_exchange import config
from credit_exchange.feeds.inbox import STUCK_ALERT
from credit_exchange.standard.pii import mask_obj, safe_text
from credit_exchange.store import (
    Alert,
    Batch,
    CityFile,
    CityState,
    DataQualityIssue,
    Delivery,
    OutboxItem,
    ReceivedFile,
    Reject,
    SourcePair,
)
from credit_exchange.timeutil import local
from hub_messages import text

PLATFORMS = ("county", "city")
PLATFORM_LABELS = {"county": text("platform_county"), "city": text("platform_city")}
RECEIPT_OVERDUE = timedelta(hours=24)
# Record rejects are counted over this window; files and batches that still need an admin are counted whatever their age.
REJECT_WINDOW = timedelta(days=30)
LATEST_REJECTS = 10
DETAIL_LIMIT = 200
TAKEN = ("accepted", "partially_accepted")

# Detail lists the page links to: kind -> (Chinese title (English gloss), whose: department or platform).
DETAIL_KINDS: dict[str, tuple[str, str]] = {
    "waiting": (text("page_waiting"), "department"),
    "quarantined": (text("page_quarantined"), "department"),
    "rejects": (text("page_rejects"), "department"),
    "pending": (text("page_pending"), "platform"),
    "failed-records": (text("page_failed_records"), "platform"),
    "batches": (text("page_batches"), "platform"),
    "unreceipted": (text("page_unreceipted"), "platform"),
    "alerts": (text("page_alerts"), "any"),
    "data-quality": (text("page_data_quality"), "any"),
}


def _iso(dt: datetime | None) -> str | None:
    return local(dt).isoformat(timespec="seconds") if dt is not None else None


def _text(value: str | None) -> str | None:
    return safe_text(value) if value else value


def departments() -> tuple[str, ...]:
    """The departments of config/departments.yaml, in its order: one card each on the page."""
    return config.departments()


def department_label(department: str) -> str:
    try:
        return config.feed(department).label
    except KeyError:
        return department


def quarantine_folder(department: str) -> str | None:
    """``/{dept}/quarantine`` for departments whose files the hub moves (an inbox); None otherwise."""
    try:
        feed = config.feed(department)
    except KeyError:
        return None
    return feed.folder("quarantine") if feed.source == "sftp_inbox" else None


def live_possible(department: str) -> bool:
    """Whether the page can look at the department's server right now (an SFTP source of either kind)."""
    try:
        return config.feed(department).source in {"sftp_inbox", "sftp_outbox_pairs"}
    except KeyError:
        return False


# --------------------------------------------------------------------------- conditions

def _quarantined(department: str) -> Any:
    """Files refused whole that still lie in quarantine (a re-queued file lies in the inbox again).

    Where the hub cannot move files (a read-only outbox such as PBoC's, an API)
    every unit refused whole counts: it stays refused until the department sends it again.
    """
    folder = quarantine_folder(department)
    lies_there = true() if folder is None else or_(
        ReceivedFile.stored_path.is_(None), ReceivedFile.stored_path.like(f"{folder}/%"))
    return and_(ReceivedFile.department == department, ReceivedFile.status == "rejected",
                ReceivedFile.finished.is_(True), lies_there)


def _waiting(department: str) -> Any:
    """Files claimed but not finished: in ``processing/`` (a run is reading them, or crashed and will resume)."""
    return and_(ReceivedFile.department == department, ReceivedFile.finished.is_(False))


def _failed_batch() -> Any:
    """A failed batch still needs an admin while one of its records is still failed."""
    still_failed = select(OutboxItem.id).where(
        OutboxItem.batch_id == Batch.batch_id, OutboxItem.status == "failed").exists()
    return and_(Batch.status == "failed", still_failed)


def _count(s: Session, stmt: Any) -> int:
    return int(s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())


# --------------------------------------------------------------------------- overview

def overview(s: Session, now: datetime) -> dict[str, Any]:
    """Every number of the page, per department and per platform."""
    now = local(now)
    since = now - REJECT_WINDOW
    alerts_by_source = dict(s.execute(
        select(Alert.source, func.count()).where(Alert.resolved_at.is_(None)).group_by(Alert.source)).all())
    departments = [_department(s, d, since, alerts_by_source.get(d, 0)) for d in config.departments()]
    platforms = [_county(s, alerts_by_source.get("county", 0)), _city(s, now, alerts_by_source.get("city", 0))]
    # Everything a department sent (names, paths, ids) may hold personal data: masked, every string.
    return mask_obj({
        "generated_at": _iso(now),
        "reject_window_days": REJECT_WINDOW.days,
        "departments": departments,
        "platforms": platforms,
        "alerts_open": int(sum(alerts_by_source.values())),
        "data_quality": _count(s, select(DataQualityIssue.id)),
    })


def _department(s: Session, dept: str, since: datetime, alerts: int) -> dict[str, Any]:
    last = s.execute(select(func.max(ReceivedFile.processed_at)).where(
        ReceivedFile.department == dept, ReceivedFile.status.in_(TAKEN))).scalar_one()
    pairs_pending = _count(s, select(SourcePair.id).where(
        SourcePair.department == dept, SourcePair.status == "pending"))
    pairs_corrupt = _count(s, select(SourcePair.id).where(
        SourcePair.department == dept, SourcePair.status == "corrupt"))
    rejected_records = _count(s, select(Delivery.id).join(ReceivedFile, ReceivedFile.id == Delivery.file_id).where(
        Delivery.department == dept, Delivery.outcome == "rejected", ReceivedFile.received_at >= since))
    return {
        "department": dept,
        "label": department_label(dept),
        "last_success": _iso(last),
        "waiting": _count(s, select(ReceivedFile.id).where(_waiting(dept))) + pairs_pending,
        "quarantined": _count(s, select(ReceivedFile.id).where(_quarantined(dept))) + pairs_corrupt,
        "requeue_possible": quarantine_folder(dept) is not None,
        "live_possible": live_possible(dept),
        "rejected_records": rejected_records,
        "rejects_by_code": reject_codes(s, dept, since),
        "stuck_in_inbox": _count(s, select(Alert.id).where(
            Alert.kind == STUCK_ALERT, Alert.source == dept, Alert.resolved_at.is_(None))),
        "last_ingest": last_ingest(s, dept),
        "alerts_open": alerts,
    }


def last_ingest(s: Session, department: str) -> dict[str, Any] | None:
    """The department's latest ingest run that finished a file: files taken / refused / still in
    quarantine and records accepted / rejected / unchanged (None: nothing finished yet)."""
    latest = s.execute(select(ReceivedFile.run_id, ReceivedFile.id).where(
        ReceivedFile.department == department, ReceivedFile.finished.is_(True))
        .order_by(ReceivedFile.processed_at.desc(), ReceivedFile.id.desc()).limit(1)).first()
    if latest is None:
        return None
    run_id, file_id = latest
    same_run = ReceivedFile.run_id == run_id if run_id is not None else ReceivedFile.id == file_id
    files = s.execute(select(ReceivedFile).where(ReceivedFile.department == department,
                                                 ReceivedFile.finished.is_(True), same_run)).scalars().all()
    folder = quarantine_folder(department)
    refused = [f for f in files if f.status == "rejected"]
    return {
        "run_id": run_id,
        "finished_at": _iso(max((f.processed_at for f in files if f.processed_at), default=None)),
        "files_taken": sum(f.status in TAKEN for f in files),
        "files_rejected": len(refused),
        "files_quarantined": sum(folder is None or not f.stored_path or f.stored_path.startswith(folder + "/")
                                 for f in refused),
        "records_accepted": sum(f.accepted or 0 for f in files),
        "records_rejected": sum(f.rejected or 0 for f in files),
        "records_unchanged": sum(f.unchanged or 0 for f in files),
    }


def _county(s: Session, alerts: int) -> dict[str, Any]:
    by_status = dict(s.execute(select(OutboxItem.status, func.count()).where(
        OutboxItem.platform == "county").group_by(OutboxItem.status)).all())
    last = s.execute(select(func.max(Batch.completed_at)).where(
        Batch.platform == "county", Batch.status == "done")).scalar_one()
    return {
        "platform": "county",
        "label": PLATFORM_LABELS["county"],
        "last_success": _iso(last),
        "pending_records": int(by_status.get("pending", 0) + by_status.get("batched", 0)),
        "sent_records": int(by_status.get("done", 0)),
        "failed_records": int(by_status.get("failed", 0)),
        "batches_prepared": _count(s, select(Batch.batch_id).where(
            Batch.platform == "county", Batch.status == "prepared")),
        "batches_failed": _count(s, select(Batch.batch_id).where(Batch.platform == "county", _failed_batch())),
        "files_unreceipted": None,
        "receipts_overdue": None,
        "alerts_open": alerts,
    }


def _city(s: Session, now: datetime, alerts: int) -> dict[str, Any]:
    states = dict(s.execute(select(CityState.status, func.count()).group_by(CityState.status)).all())
    last = s.execute(select(func.max(CityFile.uploaded_at)).where(
        CityFile.status.in_(("uploaded", "receipted")))).scalar_one()
    return {
        "platform": "city",
        "label": PLATFORM_LABELS["city"],
        "last_success": _iso(last),
        "pending_records": int(states.get("sent", 0)),
        "sent_records": int(states.get("ok", 0)),
        "failed_records": int(states.get("error", 0)),
        "batches_prepared": _count(s, select(CityFile.name).where(CityFile.status == "prepared")),
        "batches_failed": None,
        "files_unreceipted": _count(s, select(CityFile.name).where(CityFile.status == "uploaded")),
        "receipts_overdue": _count(s, select(CityFile.name).where(
            CityFile.status == "uploaded", CityFile.uploaded_at < now - RECEIPT_OVERDUE)),
        "alerts_open": alerts,
    }


def reject_codes(s: Session, department: str, since: datetime) -> list[dict[str, Any]]:
    """Record rejects by rule code, most frequent first, each with its latest message as the example."""
    rows = s.execute(
        select(Reject.code, func.count(), func.max(Reject.id))
        .join(ReceivedFile, ReceivedFile.id == Reject.file_id)
        .where(ReceivedFile.department == department, Reject.delivery_id.is_not(None),
               ReceivedFile.received_at >= since)
        .group_by(Reject.code)).all()
    if not rows:
        return []
    examples = dict(s.execute(select(Reject.id, Reject.message).where(Reject.id.in_([r[2] for r in rows]))).all())
    out = [{"code": code, "count": int(n), "message": _text(examples.get(last_id))} for code, n, last_id in rows]
    return sorted(out, key=lambda r: (-r["count"], r["code"]))


# --------------------------------------------------------------------------- detail lists

def details(s: Session, kind: str, now: datetime, *, department: str | None = None,
            platform: str | None = None, limit: int = DETAIL_LIMIT) -> list[dict[str, Any]]:
    """The rows behind one number of the page."""
    if kind not in DETAIL_KINDS:
        raise KeyError(kind)
    now = local(now)
    whose = DETAIL_KINDS[kind][1]
    if whose == "department" and department not in departments():
        raise ValueError(f"unknown department {department!r}")
    if whose == "platform" and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    fn: Callable[..., list[dict[str, Any]]] = _DETAILS[kind]
    # File names, stored paths, record ids, messages: every string masked, control characters escaped.
    return mask_obj(fn(s, now=now, department=department, platform=platform, limit=limit))


def _file_row(f: ReceivedFile) -> dict[str, Any]:
    return {"file_id": f.id, "department": f.department, "name": f.name, "size": f.size, "sha256": f.sha256,
            "status": f.status, "received_at": _iso(f.received_at), "processed_at": _iso(f.processed_at),
            "stored_path": f.stored_path, "error_code": f.error_code, "reason": _text(f.error_message),
            "total": f.total, "accepted": f.accepted, "rejected": f.rejected}


def _pair_row(p: SourcePair) -> dict[str, Any]:
    return {"pair_id": p.id, "department": p.department, "name": p.name, "status": p.status,
            "attempts": p.attempts, "reason": _text(p.last_problem), "first_seen_at": _iso(p.first_seen_at),
            "updated_at": _iso(p.updated_at)}


def _waiting_list(s: Session, *, department: str, limit: int, **_: Any) -> list[dict[str, Any]]:
    files = s.execute(select(ReceivedFile).where(_waiting(department))
                      .order_by(ReceivedFile.received_at).limit(limit)).scalars()
    pairs = s.execute(select(SourcePair).where(SourcePair.department == department, SourcePair.status == "pending")
                      .order_by(SourcePair.first_seen_at).limit(limit)).scalars()
    return ([{"kind": "file", **_file_row(f)} for f in files] + [{"kind": "pair", **_pair_row(p)} for p in pairs])


def _quarantined_list(s: Session, *, department: str, limit: int, **_: Any) -> list[dict[str, Any]]:
    folder = quarantine_folder(department)
    files = s.execute(select(ReceivedFile).where(_quarantined(department))
                      .order_by(ReceivedFile.processed_at.desc(), ReceivedFile.id.desc()).limit(limit)).scalars()
    out = [{"kind": "file", **_file_row(f),
            "requeue_possible": bool(folder and f.stored_path and f.stored_path.startswith(folder + "/"))}
           for f in files]
    pairs = s.execute(select(SourcePair).where(SourcePair.department == department, SourcePair.status == "corrupt")
                      .order_by(SourcePair.updated_at.desc()).limit(limit)).scalars()
    return out + [{"kind": "pair", **_pair_row(p), "requeue_possible": False} for p in pairs]


def _rejects_list(s: Session, *, department: str, now: datetime, limit: int, **_: Any) -> list[dict[str, Any]]:
    return latest_rejects(s, department, now - REJECT_WINDOW, limit)


def latest_rejects(s: Session, department: str, since: datetime, limit: int = LATEST_REJECTS) -> list[dict[str, Any]]:
    """The newest record rejects: file, position, field, rule code and the (masked) message."""
    rows = s.execute(
        select(Reject, ReceivedFile.name, ReceivedFile.received_at)
        .join(ReceivedFile, ReceivedFile.id == Reject.file_id)
        .where(ReceivedFile.department == department, Reject.delivery_id.is_not(None),
               ReceivedFile.received_at >= since)
        .order_by(Reject.id.desc()).limit(limit)).all()
    return mask_obj([{"reject_id": r.id, "file_id": r.file_id, "file": name, "received_at": _iso(at),
             "position": r.position, "record_id": _text(r.dept_record_id), "field": r.field,
             "field_code": r.field_code, "code": r.code, "message": _text(r.message)} for r, name, at in rows])


def _outbox_row(i: OutboxItem) -> dict[str, Any]:
    return {"item_id": i.id, "record_id": i.record_id, "version": i.hub_version, "op": i.op, "status": i.status,
            "batch_id": i.batch_id, "result": i.result, "code": i.result_code,
            "message": _text(i.result_message), "updated_at": _iso(i.updated_at)}


def _city_row(c: CityState) -> dict[str, Any]:
    return {"record_id": c.record_id, "record_type": c.record_type, "version": c.hub_version, "op": c.op,
            "status": c.status, "file": c.file_name, "code": c.code, "message": _text(c.message),
            "updated_at": _iso(c.updated_at)}


def _pending_list(s: Session, *, platform: str, limit: int, **_: Any) -> list[dict[str, Any]]:
    if platform == "county":
        items = s.execute(select(OutboxItem).where(
            OutboxItem.platform == "county", OutboxItem.status.in_(("pending", "batched")))
            .order_by(OutboxItem.id).limit(limit)).scalars()
        return [_outbox_row(i) for i in items]
    states = s.execute(select(CityState).where(CityState.status == "sent")
                       .order_by(CityState.updated_at).limit(limit)).scalars()
    return [_city_row(c) for c in states]


def _failed_records_list(s: Session, *, platform: str, limit: int, **_: Any) -> list[dict[str, Any]]:
    if platform == "county":
        items = s.execute(select(OutboxItem).where(OutboxItem.platform == "county", OutboxItem.status == "failed")
                          .order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc()).limit(limit)).scalars()
        return [_outbox_row(i) for i in items]
    states = s.execute(select(CityState).where(CityState.status == "error")
                       .order_by(CityState.updated_at.desc()).limit(limit)).scalars()
    return [_city_row(c) for c in states]


def _batches_list(s: Session, *, platform: str, limit: int, **_: Any) -> list[dict[str, Any]]:
    if platform == "county":
        batches = s.execute(select(Batch).where(
            Batch.platform == "county", or_(Batch.status == "prepared", _failed_batch()))
            .order_by(Batch.created_at.desc()).limit(limit)).scalars()
        return [{"batch_id": b.batch_id, "status": b.status, "records": b.record_count, "attempts": b.attempts,
                 "last_error": _text(b.last_error), "created_at": _iso(b.created_at)} for b in batches]
    files = s.execute(select(CityFile).where(CityFile.status == "prepared")
                      .order_by(CityFile.created_at.desc()).limit(limit)).scalars()
    return [_city_file_row(f, None) for f in files]


def _city_file_row(f: CityFile, now: datetime | None) -> dict[str, Any]:
    overdue = bool(now and f.uploaded_at is not None and f.uploaded_at < now - RECEIPT_OVERDUE)
    return {"name": f.name, "file_type": f.file_type, "records": f.record_count, "sm3": f.sm3,
            "status": f.status, "created_at": _iso(f.created_at), "uploaded_at": _iso(f.uploaded_at),
            "overdue": overdue}


def _unreceipted_list(s: Session, *, platform: str, now: datetime, limit: int, **_: Any) -> list[dict[str, Any]]:
    if platform != "city":
        return []
    files = s.execute(select(CityFile).where(CityFile.status == "uploaded")
                      .order_by(CityFile.uploaded_at).limit(limit)).scalars()
    return [_city_file_row(f, now) for f in files]


def _alerts_list(s: Session, *, department: str | None, platform: str | None, limit: int,
                 **_: Any) -> list[dict[str, Any]]:
    source = department or platform
    return alert_rows(s, sources=[source] if source else None, limit=limit)


def alert_rows(s: Session, *, open_only: bool = True, sources: list[str] | None = None,
               limit: int = DETAIL_LIMIT) -> list[dict[str, Any]]:
    """Alerts, newest first: open ones (the page), or all with when each was resolved (``qianwei-hub alerts``)."""
    stmt = select(Alert)
    if open_only:
        stmt = stmt.where(Alert.resolved_at.is_(None))
    if sources:
        stmt = stmt.where(Alert.source.in_(sources))
    alerts = s.execute(stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).scalars()
    return mask_obj([{"alert_id": a.id, "kind": a.kind, "source": a.source, "subject": _text(a.subject),
                      "message": _text(a.message), "created_at": _iso(a.created_at),
                      **({} if open_only else {"resolved_at": _iso(a.resolved_at), "resolved_by": a.resolved_by,
                                               "resolution_note": _text(a.resolution_note)})} for a in alerts])


def department_sources(department: str) -> list[str]:
    """Where a department's alerts come from: the feed itself and its DAGs (ingest, watcher)."""
    return [department, f"ingest_{department}", f"watch_{department}_inbox"]


def _data_quality_list(s: Session, *, limit: int, **_: Any) -> list[dict[str, Any]]:
    issues = s.execute(select(DataQualityIssue).order_by(DataQualityIssue.created_at.desc(),
                                                         DataQualityIssue.id.desc()).limit(limit)).scalars()
    return [{"issue_id": i.id, "kind": i.kind, "subject_key": i.subject_key, "record_id": i.record_id,
             "details": _text(i.details), "created_at": _iso(i.created_at)} for i in issues]


_DETAILS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "waiting": _waiting_list,
    "quarantined": _quarantined_list,
    "rejects": _rejects_list,
    "pending": _pending_list,
    "failed-records": _failed_records_list,
    "batches": _batches_list,
    "unreceipted": _unreceipted_list,
    "alerts": _alerts_list,
    "data-quality": _data_quality_list,
}


def taken_pairs(s: Session, department: str) -> list[str]:
    """Names of the data files already taken from a read-only outbox (PBoC)."""
    return list(s.execute(select(SourcePair.name).where(
        SourcePair.department == department, SourcePair.status == "taken")).scalars())
