"""The office-hours watcher: a deferrable operator and its trigger, on the hub's own SFTP connector.

The watcher waits in the triggerer, not in a worker slot, and looks at the inbox with the same
connector as the ingests (``connectors.sftp``): the same pinned host keys, the same refusal of
``no_host_key_check``, the same time-outs. A connection written as README.md shows works here
exactly as it does for ``ingest_market``; a changed host key or a refused login fails the watch
at once (the next watch fails again: admins see it red), while a server that does not answer
is tried again until the watch ends.

The trigger runs its blocking SFTP work in a thread (``asyncio.to_thread``), where
``BaseHook.get_connection`` works both in the triggerer and under ``dag.test()``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from hub_messages import text

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
# Short time-outs: a watcher only lists one folder.
LIST_TIMEOUTS = {"connect_timeout": 10.0, "banner_timeout": 10.0, "auth_timeout": 10.0, "channel_timeout": 20.0,
                 "transfer_timeout": 30.0}


class InboxUnreachable(RuntimeError):
    """The watcher could not look at the inbox (host key changed, login refused, server down)."""


def waiting_files(conn_id: str, path: str, pattern: str) -> list[str]:
    """Names in ``path`` that match ``pattern`` (fnmatch) and are not uploads still under way."""
    from connectors.sftp import SftpConnector

    with SftpConnector.from_conn_id(conn_id, **LIST_TIMEOUTS) as sftp:
        return [f.name for f in sftp.listdir(path)
                if fnmatch.fnmatchcase(f.name, pattern) and not f.name.endswith(TMP_SUFFIX)]


def _refused(exc: BaseException) -> bool:
    """Errors that the next look cannot mend: the connection itself is wrong or the server is not ours."""
    from connectors.sftp import HostKeyMismatch, HostKeyNotPinned, SftpAuthError

    return isinstance(exc, HostKeyMismatch | HostKeyNotPinned | SftpAuthError)


def masked_names(names: list[str], *, inbox: str) -> list[str]:
    """The names an asset event may carry (credit_exchange.runtime.assets: the inbox's pattern, masked)."""
    from credit_exchange.runtime.assets import masked_names as masked

    return masked(sorted(names), inbox=inbox)


def _describe(exc: BaseException) -> str:
    from credit_exchange.standard.pii import safe_text

    return safe_text(f"{type(exc).__name__}: {exc}")[:500]


class InboxWatchTrigger(BaseTrigger):
    """Looks at an inbox every ``poke_interval`` seconds until a file is there or ``until`` (epoch seconds)."""

    def __init__(self, conn_id: str, path: str, pattern: str, poke_interval: float, until: float) -> None:
        super().__init__()
        self.conn_id, self.path, self.pattern = conn_id, path, pattern
        self.poke_interval, self.until = float(poke_interval), float(until)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{__name__}.InboxWatchTrigger",
                {"conn_id": self.conn_id, "path": self.path, "pattern": self.pattern,
                 "poke_interval": self.poke_interval, "until": self.until})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        last_error: str | None = None
        while True:
            try:
                found = await asyncio.to_thread(waiting_files, self.conn_id, self.path, self.pattern)
            except Exception as exc:  # noqa: BLE001 - decided below: refused at once, or tried again
                if _refused(exc):
                    yield TriggerEvent({"status": "error", "message": _describe(exc)})
                    return
                last_error = _describe(exc)
                log.warning("inbox %s not reachable, trying again: %s", self.path, last_error)
            else:
                last_error = None
                if found:
                    yield TriggerEvent({"status": "found", "files": len(found), "names": masked_names(found, inbox=self.path)})
                    return
            left = self.until - time.time()
            if left <= 0:
                if last_error is not None:
                    yield TriggerEvent({"status": "error", "message": last_error})
                else:
                    yield TriggerEvent({"status": "nothing"})
                return
            await asyncio.sleep(min(self.poke_interval, left))


class WatchInbox(BaseOperator):
    """Waits (deferred) for a file in a department's inbox; skipped when none came within ``watch_for``."""

    template_fields = ("path", "pattern")

    def __init__(self, *, conn_id: str, path: str, pattern: str, watch_for: timedelta,
                 poke_interval: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id, self.path, self.pattern = conn_id, path, pattern
        self.watch_for, self.poke_interval = watch_for, poke_interval

    def execute(self, context: Any) -> int:
        # One look first, in the worker: a file already there is announced without deferring.
        try:
            found = waiting_files(self.conn_id, self.path, self.pattern)
        except Exception as exc:
            if _refused(exc):
                raise InboxUnreachable(text("watch_inbox_unreachable") + f": {_describe(exc)}") from None
            found = []
        if found:
            log.info("%d file(s) waiting in %s", len(found), self.path)
            context["ti"].xcom_push(key="file_names", value=masked_names(found, inbox=self.path))
            return len(found)
        until = time.time() + self.watch_for.total_seconds()
        self.defer(trigger=InboxWatchTrigger(self.conn_id, self.path, self.pattern, self.poke_interval, until),
                   method_name="execute_complete")

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> int:
        event = event or {}
        if event.get("status") == "found":
            log.info("%s file(s) waiting in %s", event.get("files"), self.path)
            context["ti"].xcom_push(key="file_names", value=masked_names(list(event.get("names") or []), inbox=self.path))
            return int(event.get("files", 0))
        if event.get("status") == "nothing":
            raise AirflowSkipException(f"nothing dropped into {self.path} within {self.watch_for}")
        raise InboxUnreachable(text("watch_inbox_unreachable") + f": {event.get('message')}")
