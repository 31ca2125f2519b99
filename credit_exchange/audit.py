"""What an admin changed, written to Airflow's audit log (Browse → Audit Log) through Airflow's public REST API.

One function, ``record``, used by the Exchange page (``web/app.py``) and by every ``qianwei-hub``
subcommand that changes something (``admin/``), so both write the same entry.

Why this route (checked against Airflow 3.3.2, see docs/operations.md, "Audit log"):

- Airflow's public interface for 3.x is the REST API, its Python client, the Task SDK
  (``airflow.sdk``) and the CLI. ``airflow.models.log.Log`` with ``airflow.utils.session`` (what the
  page did before, and what Airflow's own "custom events" example shows) is neither: it writes
  Airflow's metadata database directly and may change in any release.
- ``/api/v2/eventLogs`` is read-only (GET only); the Task SDK has no call that writes the audit
  log; ``airflow.api_fastapi.logging.decorators.action_logging`` is internal too.
- Every state-changing REST call is written to the audit log by the API server itself
  (``action_logging``), with the token's user as ``owner`` and the request body, secrets masked,
  as ``extra``. The call that means what we do is ``POST /api/v2/assets/events`` on the hub's
  asset ``qianwei://hub/admin-actions``: an external change announced to Airflow. So each admin
  action leaves two public records: the audit-log entry (event ``create_asset_event``, owner the
  user) and an event of that asset (Assets → qianwei://hub/admin-actions) with the same extra.
  No DAG is scheduled on the asset: announcing it starts nothing.

The asset exists in Airflow once a parsed DAG refers to it: ``check_nightly_cycle`` names it as
an inlet (``runtime/schedule.ADMIN_ACTIONS``, the same URI: DAG parsing imports no core module). Writing needs a reachable API server and an account allowed to
create asset events; when that fails the action stays done and ``AuditNotWritten`` says why and
what to fix (the caller reports it: the page in its reply, the command with exit status 3).

Everything in the entry is masked (``mask_obj``): names, paths and record ids may hold personal data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from hub_messages import text

log = logging.getLogger(__name__)

ADMIN_ACTIONS_URI = "qianwei://hub/admin-actions"
# Our action names, as the page has always written them (``qianwei_exchange.requeue_file`` ...).
ACTION_PREFIX = "qianwei_exchange."
# The event name Airflow's audit log gives the entry (the REST endpoint's name).
AIRFLOW_EVENT = "create_asset_event"

FIXES = {
    "not_configured": "audit_fix_not_configured",
    "unreachable": "audit_fix_unreachable",
    "login_refused": "audit_fix_login_refused",
    "forbidden": "audit_fix_forbidden",
    "not_found": "audit_fix_not_found",
    "bad_answer": "audit_fix_bad_answer",
}


class Api(Protocol):
    """What ``record`` needs from ``connectors.airflow_api.AirflowApi``."""

    def asset_id(self, uri: str) -> int: ...

    def create_asset_event(self, asset_id: int, extra: dict[str, Any]) -> dict[str, Any]: ...

    def event_logs(self, **params: Any) -> list[dict[str, Any]]: ...


class AuditNotWritten(Exception):
    """The action is done but its audit entry is not; ``str(exc)`` says why and what to fix (Chinese + English)."""

    def __init__(self, kind: str, detail: str, entry: dict[str, Any]) -> None:
        self.kind, self.detail, self.entry = kind, detail, entry
        super().__init__(text("audit_not_written", detail=detail) + " " + text(FIXES.get(kind, "audit_fix_bad_answer"),
                                                                              uri=ADMIN_ACTIONS_URI))


def entry(action: str, actor: str, *, via: str, dag_id: str | None, message: str,
          details: dict[str, Any], **more: Any) -> dict[str, Any]:
    """The entry's extra, masked: what was done (``action``), by whom, through what, on which DAG's data."""
    from credit_exchange.standard.pii import mask_obj

    return dict(mask_obj({"action": ACTION_PREFIX + action, "actor": actor, "via": via, "dag_id": dag_id,
                          "message": message, "details": details, **more}))


def record(api: Api | Callable[[], Api], action: str, actor: str, *, via: str, dag_id: str | None, message: str,
           details: dict[str, Any], **more: Any) -> dict[str, Any]:
    """Write one admin action to Airflow's audit log; returns the asset event Airflow made of it.

    ``api`` is the client or a function that makes it from its connection (called here, so a
    connection that cannot make one, missing, without a host or with a bad ``timeout``, is an
    ``AuditNotWritten`` like any other failure: the action is done already). ``via`` is ``page`` or
    ``cli``; ``more`` adds fields (the command's OS user, a note). Raises ``AuditNotWritten`` (with
    the masked entry, for the caller to show) when Airflow cannot be told.
    """
    from connectors.airflow_api import (
        AirflowApiError,  # here: the DAGs import this module's URI at parse time
    )

    extra = entry(action, actor, via=via, dag_id=dag_id, message=message, details=details, **more)
    try:
        client = api() if callable(api) else api
        event = client.create_asset_event(client.asset_id(ADMIN_ACTIONS_URI), extra)
    except AirflowApiError as exc:
        log.error("admin action %s by %s is done but not in Airflow's audit log (%s): %s", extra["action"],
                  extra["actor"], exc.kind, exc.detail)
        raise AuditNotWritten(exc.kind, exc.detail, extra) from exc
    log.info("admin action %s by %s written to Airflow's audit log (asset event %s)", extra["action"],
             extra["actor"], event.get("id"))
    return event


def read_back(api: Api, action: str | None = None, **params: Any) -> list[dict[str, Any]]:
    """The hub's entries in Airflow's audit log, newest first: ``owner``, ``when`` and our ``extra``.

    Read through the same public API (``GET /api/v2/eventLogs``); ``action`` without the prefix.
    """
    out = []
    for row in api.event_logs(event=AIRFLOW_EVENT, **params):
        try:
            body = json.loads(row.get("extra") or "{}")
        except ValueError:
            continue
        ours = body.get("extra") if isinstance(body, dict) else None
        if not isinstance(ours, dict) or not str(ours.get("action", "")).startswith(ACTION_PREFIX):
            continue
        if action is not None and ours["action"] != ACTION_PREFIX + action:
            continue
        out.append({"event_log_id": row.get("event_log_id"), "owner": row.get("owner"), "when": row.get("when"),
                    "extra": ours})
    return out
