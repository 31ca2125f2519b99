"""The two things an admin may do from the Exchange page, testable without the web layer.

- ``requeue_file``: a file refused whole lies in ``/{dept}/quarantine/``; moving
  it back to ``/{dept}/inbox/`` (same name, never overwriting) lets the next
  ingest run take it again, as a new entry in the ledger.
- ``resend_failed``: records a platform refused go out again on the next push.
  County: ``OutboxItem`` failed -> pending (push_county builds a new batch).
  City: a ``CityState`` in ``error`` after an ``add``/``update`` means the city
  platform does not hold the record from us (contracts.md 2.2: "refused in a
  receipt"); removing that state makes push_city send it as ``add``. A refused
  ``delete`` is sent again (see ``_resend_city``).

Both are idempotent (a second click changes nothing), logged with who did
it, and answer an ``ActionResult`` whose ``message`` is for people. Their callers,
the page (``web/app.py``) and ``qianwei-hub`` (``admin/``), write them to Airflow's
audit log with ``credit_exchange.audit.record``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import aliased

from credit_exchange import config
from credit_exchange.standard.pii import mask_obj, safe_text
from credit_exchange.store import CityState, OutboxItem, ReceivedFile, Store
from credit_exchange.timeutil import now_local
from credit_exchange.web.dashboard import PLATFORMS, quarantine_folder
from hub_messages import text

log = logging.getLogger(__name__)

# Short time-outs: an admin is waiting in front of the page.
SFTP_TIMEOUTS = {"connect_timeout": 5.0, "banner_timeout": 5.0, "auth_timeout": 5.0, "channel_timeout": 10.0,
                 "transfer_timeout": 20.0}

class ActionRefused(Exception):
    """The action was not done; ``str(exc)`` says why, for people (personal data masked)."""

    def __init__(self, message: str) -> None:
        super().__init__(safe_text(message))


SftpOpener = Callable[[str], AbstractContextManager[Any]]


@dataclass
class ActionResult:
    action: str
    actor: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open_sftp(conn_id: str) -> AbstractContextManager[Any]:
    from connectors.sftp import SftpConnector

    return SftpConnector.from_conn_id(conn_id, **SFTP_TIMEOUTS)


def requeue_file(store: Store, file_id: int, actor: str, *, department: str | None = None,
                 open_sftp: SftpOpener | None = None) -> ActionResult:
    """Move a quarantined file back into its department's inbox (never overwriting).

    ``department``, when given, must be the file's (the caller checked the user's rights for it).
    """
    from connectors.sftp import SftpError, TargetExists

    with store.session() as s:
        row = s.get(ReceivedFile, file_id)
        if row is None:
            raise ActionRefused(text("action_no_file", file_id=file_id))
        if department is not None and row.department != department:
            raise ActionRefused(text("action_no_file", file_id=file_id))
        name, department, stored = row.name, row.department, row.stored_path or ""
        status, finished = row.status, row.finished
    folder = quarantine_folder(department)
    if folder is None:
        raise ActionRefused(text("action_no_inbox", department=department))
    feed = config.feed(department)
    target = f"{feed.folder('inbox')}/{name}"
    details = {"file_id": file_id, "department": department, "name": name, "from": stored, "to": target}
    if stored == target:
        return _done("requeue_file", actor, text("action_already_requeued", name=name), details)
    if status != "rejected" or not finished or not stored.startswith(folder + "/"):
        raise ActionRefused(text("action_not_quarantined", name=name, status=status))
    if PurePosixPath(name).name != name or name in {"", ".", ".."} or "\\" in name or name.endswith(".tmp"):
        raise ActionRefused(text("action_bad_name", name=name))

    try:
        with (open_sftp or _open_sftp)(feed.connection) as sftp:
            try:
                sftp.rename(stored, target, overwrite=False)
            except FileNotFoundError:
                # A first click that moved the file but did not record it: finish recording it.
                if not (sftp.exists(target) and not sftp.exists(stored)):
                    raise ActionRefused(text("action_gone", path=stored)) from None
            except TargetExists:
                raise ActionRefused(text("action_inbox_taken", name=name)) from None
    except (SftpError, OSError) as exc:
        raise ActionRefused(text("action_sftp", detail=exc)) from exc

    with store.session() as s:
        s.execute(update(ReceivedFile).where(ReceivedFile.id == file_id).values(stored_path=target))
    return _done("requeue_file", actor, text("action_requeued", name=name), details)


def resend_failed(store: Store, platform: str, actor: str, ids: Sequence[int | str] | None = None) -> ActionResult:
    """Queue the records a platform refused for the next push; ``ids`` limits it (outbox ids / record ids)."""
    if platform not in PLATFORMS:
        raise ActionRefused(text("action_unknown_platform", platform=platform))
    if platform == "county":
        return _resend_county(store, actor, [int(i) for i in ids] if ids else None)
    return _resend_city(store, actor, [str(i) for i in ids] if ids else None)


def _resend_county(store: Store, actor: str, ids: list[int] | None) -> ActionResult:
    now = now_local()
    newer = aliased(OutboxItem)
    has_newer = select(newer.id).where(
        newer.platform == OutboxItem.platform, newer.record_id == OutboxItem.record_id,
        newer.hub_version > OutboxItem.hub_version, newer.status != "superseded").exists()
    with store.session() as s:
        failed = select(OutboxItem.id).where(OutboxItem.platform == "county", OutboxItem.status == "failed")
        if ids is not None:
            failed = failed.where(OutboxItem.id.in_(ids))
        # A newer version is owed or sent already: the old one must not go out after it.
        stale = s.execute(failed.where(has_newer)).scalars().all()
        fresh = s.execute(failed.where(~has_newer)).scalars().all()
        if stale:
            s.execute(update(OutboxItem).where(OutboxItem.id.in_(stale)).values(status="superseded", updated_at=now))
        if fresh:
            s.execute(update(OutboxItem).where(OutboxItem.id.in_(fresh)).values(status="pending", updated_at=now))
    details = {"platform": "county", "resent": len(fresh), "superseded": len(stale), "item_ids": list(fresh)}
    answer = text("action_resent_county", resent=len(fresh), superseded=len(stale))
    return _done("resend_failed", actor, answer, details)


def _resend_city(store: Store, actor: str, ids: list[str] | None) -> ActionResult:
    """Make refused records eligible again, in the terms of ``credit_exchange.publish.city.push.decide``.

    A refused ``add``/``update`` means the platform does not hold the record: its
    state is removed, so the next push_city sends it as ``add`` (if it is still to
    be published). A refused ``delete`` leaves the record on the platform: its
    state is kept but the refused version forgotten (``hub_version`` 0), so the
    next push_city sends the withdrawal again.
    """
    now = now_local()
    with store.session() as s:
        rows = s.execute(select(CityState.record_id, CityState.op).where(CityState.status == "error")).all()
        if ids is not None:
            # The page shows (and so posts back) record ids masked: a posted id names a record either way.
            wanted = set(ids)
            rows = [r for r in rows if r[0] in wanted or safe_text(r[0]) in wanted]
        adds = [rid for rid, op in rows if op != "delete"]
        withdrawals = [rid for rid, op in rows if op == "delete"]
        if adds:
            s.execute(delete(CityState).where(CityState.record_id.in_(adds), CityState.status == "error"))
        if withdrawals:
            s.execute(update(CityState).where(CityState.record_id.in_(withdrawals), CityState.status == "error")
                      .values(hub_version=0, updated_at=now))
    details = {"platform": "city", "resent": len(adds) + len(withdrawals), "as_add": adds,
               "withdrawals": withdrawals}
    answer = text("action_resent_city", adds=len(adds), withdrawals=len(withdrawals))
    return _done("resend_failed", actor, answer, details)


def _done(action: str, actor: str, message: str, details: dict[str, Any]) -> ActionResult:
    # The reply, the log and Airflow's audit log all get this: names, paths and record ids masked.
    result = ActionResult(action=action, actor=actor, message=safe_text(message), details=mask_obj(details))
    log.info("admin action %s by %s: %s %s", action, actor, result.message, result.details)
    return result
