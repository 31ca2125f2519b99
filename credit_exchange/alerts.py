"""Alerts for admins: kept in the store (the Exchange page lists them) and, when configured,
sent to a chat robot (connection ``alert_webhook``: DingTalk or WeCom) and by e-mail (connection
``alert_smtp``, Airflow's SMTP provider). Both channels are optional; a failing channel is
logged, never fatal, and the alert is offered again at the end of the next task.

Callbacks alone are not relied on (airflow-notes.md): the code that finds a problem
raises the alert itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credit_exchange.standard.pii import mask_text
from credit_exchange.store import Alert
from credit_exchange.timeutil import now_local
from hub_messages import text

log = logging.getLogger(__name__)

WEBHOOK_CONN = "alert_webhook"
SMTP_CONN = "alert_smtp"


def raise_alert(s: Session, kind: str, source: str, subject: str | None, message: str) -> Alert | None:
    """Record an alert unless the same one is already open; returns the new alert (None if a duplicate)."""
    message = mask_text(message)
    open_one = s.execute(select(Alert.id).where(
        Alert.kind == kind, Alert.source == source, Alert.subject == subject, Alert.resolved_at.is_(None))
    ).first()
    if open_one is not None:
        return None
    alert = Alert(kind=kind, source=source, subject=subject, message=message, created_at=now_local())
    s.add(alert)
    log.warning("ALERT %s [%s] %s: %s", kind, source, mask_text(subject or ""), message)
    return alert


def resolve(s: Session, kind: str, source: str, subject: str | None) -> None:
    for alert in s.execute(select(Alert).where(
            Alert.kind == kind, Alert.source == source, Alert.subject == subject, Alert.resolved_at.is_(None))).scalars():
        alert.resolved_at = now_local()


def open_count(s: Session) -> int:
    """Alerts not resolved yet (the ``qianwei.alerts.open`` gauge; the Exchange page lists them)."""
    return int(s.execute(select(func.count()).select_from(Alert).where(Alert.resolved_at.is_(None))).scalar_one())


class AlertsRefused(Exception):
    """Nothing was resolved; ``str(exc)`` says why, for people."""


@dataclass
class Resolution:
    """What ``resolve_alerts`` did: the alerts it closed, those closed already, with who and why."""

    resolved: list[int]
    already: list[int]
    actor: str
    note: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_alerts(store: Any, ids: Sequence[int], actor: str, note: str) -> Resolution:
    """Close alerts by hand (after dealing with them): all of ``ids`` or, if one is unknown, none.

    An alert closed already stays as it was (a second run changes nothing). ``note`` says what was
    done; it is required, masked, kept on the alert with the actor (``resolved_by``,
    ``resolution_note``), and goes with the action into Airflow's audit log (the caller writes it
    there, ``credit_exchange.audit``) and into the hub's log.
    """
    wanted = sorted({int(i) for i in ids})
    clean = mask_text(" ".join(str(note or "").split()))
    if not wanted:
        raise AlertsRefused(text("alerts_none_given"))
    if not clean:
        raise AlertsRefused(text("alerts_note_required"))
    now = now_local()
    with store.session() as s:
        found = {a.id: a for a in s.execute(select(Alert).where(Alert.id.in_(wanted))).scalars()}
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise AlertsRefused(text("alerts_unknown", ids=", ".join(map(str, unknown))))
        resolved = [i for i in wanted if found[i].resolved_at is None]
        for i in resolved:
            found[i].resolved_at = now
            found[i].resolved_by = mask_text(actor)[:128]
            found[i].resolution_note = clean
    already = [i for i in wanted if i not in resolved]
    log.info("alerts %s resolved by %s (already closed: %s): %s", resolved, actor, already, clean)
    return Resolution(resolved=resolved, already=already, actor=actor, note=clean,
                      at=now.isoformat(timespec="seconds"))


def deliver(alerts: list[Alert], get_connection: Any = None, sleep: Any = None) -> tuple[int, int]:
    """Send alerts to the configured channels: (channels configured, channels that took them).

    E-mail goes through Airflow's SMTP provider (connectors.mail: TLS on 465 or STARTTLS, always
    verified); the chat robot counts only when it answers errcode 0 (connectors.chat_robot, with
    DingTalk's signing secret). A channel that fails is logged, never fatal.
    """
    if not alerts:
        return 0, 0
    if get_connection is None:
        from credit_exchange.airflow_conn import get_connection as _get

        get_connection = _get
    lines = "\n".join(text("alert_line", kind=a.kind, source=a.source, subject=a.subject or "",
                           message=a.message) for a in alerts)
    configured = sent = 0
    webhook = _optional(get_connection, WEBHOOK_CONN)
    if webhook is not None:
        configured += 1
        try:
            from connectors.chat_robot import send_text

            send_text(webhook, mask_text(lines), **({"sleep": sleep} if sleep else {}))
            sent += 1
        except Exception as exc:  # noqa: BLE001 - an alert channel must never fail the task
            log.error("alert webhook failed: %s", mask_text(str(exc))[:300])
    smtp = _optional(get_connection, SMTP_CONN)
    if smtp is not None:
        configured += 1
        try:
            from connectors.mail import send_mail

            send_mail(SMTP_CONN, str((smtp.extra_dejson or {}).get("to", "")),
                      text("alert_mail_subject", count=len(alerts)), mask_text(lines))
            sent += 1
        except Exception as exc:  # noqa: BLE001
            log.error("alert e-mail failed: %s: %s", type(exc).__name__, mask_text(str(exc))[:300])
    return configured, sent


def _optional(get_connection: Any, conn_id: str) -> Any:
    try:
        return get_connection(conn_id)
    except Exception:  # noqa: BLE001 - the channel is simply not configured
        return None


def as_json(alert: Alert) -> str:
    return json.dumps({"kind": alert.kind, "source": alert.source, "subject": alert.subject,
                       "message": alert.message}, ensure_ascii=False)


# An alert no channel took is offered again at the end of every task, for this long.
GIVE_UP_AFTER = timedelta(hours=24)


def deliver_pending(store: Any, get_connection: Any = None, sleep: Any = None) -> int:
    """Hand every alert not yet notified to the channels; called at the end of each task.

    An alert counts as notified once a channel took it (or none is configured: the Exchange page
    is then the only channel). When every configured channel failed it stays pending, and the
    next task offers it again, for a day at most.
    """
    with store.session() as s:
        pending = s.execute(select(Alert).where(Alert.notified_at.is_(None)).order_by(Alert.id).limit(200)
                            ).scalars().all()
        if not pending:
            return 0
        configured, sent = deliver(list(pending), get_connection, sleep)
        now = now_local()
        done = 0
        for alert in pending:
            if sent or not configured or now - alert.created_at > GIVE_UP_AFTER:
                if configured and not sent:
                    log.error("alert %s (%s) never reached a channel; given up after %s", alert.id, alert.kind,
                              GIVE_UP_AFTER)
                alert.notified_at = now
                done += 1
        return done


def cycle_checked(s: Session, night: str, outcomes: dict[str, str]) -> list[Alert]:
    """The nightly cycle's check at 06:00: an alert per DAG not done (``outcomes``: dag id → ``done``,
    ``failed``, ``running`` or ``not_run``); a DAG done again closes its alerts of earlier nights."""
    from credit_exchange.standard.messages import message

    raised: list[Alert] = []
    for dag_id, outcome in sorted(outcomes.items()):
        if outcome == "done":
            for old in s.execute(select(Alert).where(Alert.kind == "cycle_late", Alert.source == dag_id,
                                                     Alert.resolved_at.is_(None))).scalars():
                old.resolved_at = now_local()
            continue
        alert = raise_alert(s, "cycle_late", dag_id, night, message("cycle_late", dag_id=dag_id, night=night,
                                                                     state=CYCLE_STATES.get(outcome, outcome)))
        if alert is not None:
            raised.append(alert)
    return raised


CYCLE_STATES = {"failed": text("cycle_state_failed"), "running": text("cycle_state_running"),
                "not_run": text("cycle_state_not_run")}


def on_task_failure(context: dict[str, Any], store: Any = None) -> Alert | None:
    """Failure callback: a task that failed for good becomes an alert (stored, then sent).

    The code that meets a known problem raises its own, more precise alert; this one catches
    everything else (airflow-notes.md: callbacks are a second line, not the only one).
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    run_id = getattr(ti, "run_id", None) or str(context.get("run_id") or "")
    error = context.get("exception")
    detail = f"{type(error).__name__}: {error}" if error is not None else "no exception recorded"
    message = text("alert_task_failed") + f": {dag_id}.{task_id} ({run_id}): {detail[:500]}"
    own = store is None
    try:
        if own:
            from credit_exchange.store import Store

            store = Store.from_conn_id()
        with store.session() as s:
            alert = raise_alert(s, "task_failed", dag_id, f"{task_id}@{run_id}", message)
        deliver_pending(store)
        return alert
    except Exception:  # noqa: BLE001 - a callback must never raise; the task is red in the UI anyway
        log.exception("could not record the failure of %s.%s as an alert", dag_id, task_id)
        return None
    finally:
        if own and store is not None:
            store.dispose()
