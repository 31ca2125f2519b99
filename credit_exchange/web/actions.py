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
it, and answer an ``ActionResult`` whose ``message`` is for people. The web
layer also writes them to Airflow's audit log.
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

log = logging.getLogger(__name__)

# Short time-outs: an admin is waiting in front of the page.
SFTP_TIMEOUTS = {"connect_timeout": 5.0, "banner_timeout": 5.0, "auth_timeout": 5.0, "channel_timeout": 10.0,
                 "transfer_timeout": 20.0}

MESSAGES = {
    "requeued": "文件 {name} 已从隔离区移回收件箱，下次接收运行将重新处理 "
                "(moved from quarantine back to the inbox: the next ingest run takes it again)",
    "already_requeued": "文件 {name} 已在收件箱中，无需重复操作 (already back in the inbox: nothing to do)",
    "no_file": "找不到编号为 {file_id} 的接收文件 (no received file with this id)",
    "not_quarantined": "文件 {name} 不在隔离区（状态 {status}），无法重新排队 "
                       "(not in quarantine: only files refused whole can be re-queued)",
    "no_inbox": "{department} 部门没有可移回的收件箱（只读目录或接口拉取），请联系对方重新提供 "
                "(this department has no inbox the hub may move files into: ask them to deliver again)",
    "bad_name": "文件名 {name!r} 不能安全地移回收件箱 (unsafe file name: not moved)",
    "gone": "隔离区中已找不到文件 {path}，可能已被人工处理 (the file is no longer in quarantine: nothing moved)",
    "inbox_taken": "收件箱中已有同名文件 {name}，未覆盖；请先处理该文件 "
                   "(a file with this name already waits in the inbox: not overwritten)",
    "sftp": "无法连接收件服务器，文件未移动：{detail} (the inbox server could not be reached: nothing moved)",
    "unknown_platform": "未知平台 {platform} (unknown platform: county or city)",
    "resent_county": "已将 {resent} 条失败记录重新排入县平台推送队列，{superseded} 条已有更新版本无需重发 "
                     "({resent} failed records queued for the next push_county; {superseded} superseded by a newer version)",
    "resent_city": "{adds} 条被拒记录将在下次推送时以 add 重新报送市平台，{withdrawals} 条被拒撤回将重新发送 delete "
                   "({adds} refused records go out again as add on the next push_city; {withdrawals} refused "
                   "withdrawals are sent again)",
}


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
            raise ActionRefused(MESSAGES["no_file"].format(file_id=file_id))
        if department is not None and row.department != department:
            raise ActionRefused(MESSAGES["no_file"].format(file_id=file_id))
        name, department, stored = row.name, row.department, row.stored_path or ""
        status, finished = row.status, row.finished
    folder = quarantine_folder(department)
    if folder is None:
        raise ActionRefused(MESSAGES["no_inbox"].format(department=department))
    feed = config.feed(department)
    target = f"{feed.folder('inbox')}/{name}"
    details = {"file_id": file_id, "department": department, "name": name, "from": stored, "to": target}
    if stored == target:
        return _done("requeue_file", actor, MESSAGES["already_requeued"].format(name=name), details)
    if status != "rejected" or not finished or not stored.startswith(folder + "/"):
        raise ActionRefused(MESSAGES["not_quarantined"].format(name=name, status=status))
    if PurePosixPath(name).name != name or name in {"", ".", ".."} or "\\" in name or name.endswith(".tmp"):
        raise ActionRefused(MESSAGES["bad_name"].format(name=name))

    try:
        with (open_sftp or _open_sftp)(feed.connection) as sftp:
            try:
                sftp.rename(stored, target, overwrite=False)
            except FileNotFoundError:
                # A first click that moved the file but did not record it: finish recording it.
                if not (sftp.exists(target) and not sftp.exists(stored)):
                    raise ActionRefused(MESSAGES["gone"].format(path=stored)) from None
            except TargetExists:
                raise ActionRefused(MESSAGES["inbox_taken"].format(name=name)) from None
    except (SftpError, OSError) as exc:
        raise ActionRefused(MESSAGES["sftp"].format(detail=exc)) from exc

    with store.session() as s:
        s.execute(update(ReceivedFile).where(ReceivedFile.id == file_id).values(stored_path=target))
    return _done("requeue_file", actor, MESSAGES["requeued"].format(name=name), details)


def resend_failed(store: Store, platform: str, actor: str, ids: Sequence[int | str] | None = None) -> ActionResult:
    """Queue the records a platform refused for the next push; ``ids`` limits it (outbox ids / record ids)."""
    if platform not in PLATFORMS:
        raise ActionRefused(MESSAGES["unknown_platform"].format(platform=platform))
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
    return _done("resend_failed", actor, MESSAGES["resent_county"].format(resent=len(fresh), superseded=len(stale)),
                 details)


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
    return _done("resend_failed", actor, MESSAGES["resent_city"].format(adds=len(adds), withdrawals=len(withdrawals)),
                 details)


def _done(action: str, actor: str, message: str, details: dict[str, Any]) -> ActionResult:
    # The reply, the log and Airflow's audit log all get this: names, paths and record ids masked.
    result = ActionResult(action=action, actor=actor, message=safe_text(message), details=mask_obj(details))
    log.info("admin action %s by %s: %s %s", action, actor, result.message, result.details)
    return result
