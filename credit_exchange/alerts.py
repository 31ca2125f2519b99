"""Alerts for admins: kept in the store (the Exchange page lists them) and, when configured,
sent to a chat robot webhook (connection ``alert_webhook``) and by e-mail (connection
``alert_smtp``). Both channels are optional; a failing channel is logged, never fatal.

Callbacks alone are not relied on (airflow-notes.md): the code that finds a problem
raises the alert itself.
"""

from __future__ import annotations

import json
import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit_exchange.pii import mask_text
from credit_exchange.store import Alert
from credit_exchange.timeutil import now_local

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
    log.warning("ALERT %s [%s] %s: %s", kind, source, subject or "", message)
    return alert


def resolve(s: Session, kind: str, source: str, subject: str | None) -> None:
    for alert in s.execute(select(Alert).where(
            Alert.kind == kind, Alert.source == source, Alert.subject == subject, Alert.resolved_at.is_(None))).scalars():
        alert.resolved_at = now_local()


def deliver(alerts: list[Alert], get_connection: Any = None) -> int:
    """Send alerts to the configured channels; returns how many channel deliveries succeeded."""
    if not alerts:
        return 0
    if get_connection is None:
        from credit_exchange.airflow_conn import get_connection as _get

        get_connection = _get
    text = "\n".join(f"[犍为信用交换 Qianwei hub] {a.kind} · {a.source} · {a.subject or ''}\n{a.message}" for a in alerts)
    sent = 0
    webhook = _optional(get_connection, WEBHOOK_CONN)
    if webhook is not None:
        try:
            import requests

            url = webhook.host if "://" in (webhook.host or "") else f"https://{webhook.host}"
            url += (webhook.schema or "") if (webhook.schema or "").startswith("/") else ""
            # The text message shape that DingTalk and WeCom robots both accept.
            resp = requests.post(url, json={"msgtype": "text", "text": {"content": text}}, timeout=(5, 15))
            resp.raise_for_status()
            sent += 1
        except Exception as exc:  # noqa: BLE001 - an alert channel must never fail the task
            log.error("alert webhook failed: %s", type(exc).__name__)
    smtp = _optional(get_connection, SMTP_CONN)
    if smtp is not None:
        try:
            extra = smtp.extra_dejson or {}
            msg = EmailMessage()
            msg["Subject"] = f"[犍为信用交换] {len(alerts)} 条告警 (alerts)"
            msg["From"] = extra.get("from_email", smtp.login or "hub@localhost")
            msg["To"] = extra.get("to", "")
            msg.set_content(text)
            with smtplib.SMTP(smtp.host, smtp.port or 25, timeout=15) as client:
                if extra.get("starttls", True):
                    client.starttls()
                if smtp.login:
                    client.login(smtp.login, smtp.password or "")
                client.send_message(msg)
            sent += 1
        except Exception as exc:  # noqa: BLE001
            log.error("alert e-mail failed: %s", type(exc).__name__)
    return sent


def _optional(get_connection: Any, conn_id: str) -> Any:
    try:
        return get_connection(conn_id)
    except Exception:  # noqa: BLE001 - the channel is simply not configured
        return None


def as_json(alert: Alert) -> str:
    return json.dumps({"kind": alert.kind, "source": alert.source, "subject": alert.subject,
                       "message": alert.message}, ensure_ascii=False)


def deliver_pending(store: Any, get_connection: Any = None) -> int:
    """Hand every alert not yet notified to the channels; called at the end of each task."""
    with store.session() as s:
        pending = s.execute(select(Alert).where(Alert.notified_at.is_(None)).order_by(Alert.id).limit(200)
                            ).scalars().all()
        if not pending:
            return 0
        deliver(list(pending), get_connection)
        now = now_local()
        for alert in pending:
            alert.notified_at = now
        return len(pending)


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
    message = (f"任务失败且不再重试，请在 Airflow 中查看日志 (task failed for good; see its log in Airflow): "
               f"{dag_id}.{task_id} ({run_id}): {detail[:500]}")
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
