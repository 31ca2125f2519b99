"""E-mail through Airflow's SMTP provider (``SmtpHook``), with TLS always on and always verified.

The provider's defaults need care: it tries SMTP over TLS *and* STARTTLS unless told otherwise
(``disable_ssl`` / ``disable_tls``), and its ``ssl_context: none`` switches verification off.
``HubSmtpHook`` keeps the provider's connection form and decides the rest:

- port 465, or ``disable_ssl`` false: TLS from the first byte (``SMTP_SSL``);
- any other port, or ``disable_ssl`` true: STARTTLS, required (a server that does not offer it is refused);
- never plain text, never unverified: ``ssl_context: none`` and ``disable_tls`` without SSL are refused;
- ``ca_file`` (extra): a CA certificate to trust besides the system's (a county mail server with a
  private CA).

Booleans in extras are read strictly ("false" is false), so the URI form works too.
"""

from __future__ import annotations

import ssl
from typing import Any

from airflow.providers.smtp.hooks.smtp import SmtpHook

import hub_messages


class MailRefused(RuntimeError):
    """The alert_smtp connection asks for something the hub does not do (plain text, no verification)."""


def _flag(extra: dict[str, Any], key: str) -> bool | None:
    value = extra.get(key)
    if value is None or value == "":
        return None
    return str(value).strip().lower() in ("true", "1", "yes", "on")


class HubSmtpHook(SmtpHook):
    """``SmtpHook`` with TLS decided from the port and always verified."""

    @property
    def use_ssl(self) -> bool:
        explicit = _flag(self.conn.extra_dejson, "disable_ssl")
        if explicit is not None:
            return not explicit
        return (self.conn.port or 465) == 465

    @property
    def smtp_starttls(self) -> bool:
        if self.use_ssl:
            return False  # already inside TLS
        if _flag(self.conn.extra_dejson, "disable_tls"):
            raise MailRefused(hub_messages.text("mail_plain_text"))
        return True

    def _build_ssl_context(self) -> ssl.SSLContext:
        if str(self.conn.extra_dejson.get("ssl_context") or "default").lower() != "default":
            raise MailRefused(hub_messages.text("mail_unverified"))
        ca_file = self.conn.extra_dejson.get("ca_file") or None
        return ssl.create_default_context(cafile=ca_file)

    def get_conn(self) -> SmtpHook:
        if self.smtp_connection is None:
            self.smtp_connection = self.get_connection(self.smtp_conn_id)
        # Refused before any traffic: a plain-text or unverified setting never reaches the server.
        self._build_ssl_context()
        _ = self.smtp_starttls
        hook = super().get_conn()
        client = self._smtp_client
        if client is not None and not self.use_ssl and getattr(client, "sock", None) is not None:
            if not isinstance(client.sock, ssl.SSLSocket):
                raise MailRefused(hub_messages.text("mail_no_starttls"))
        return hook


def send_mail(conn_id: str, to: str, subject: str, text: str) -> None:
    """One plain-text message (shown preformatted) to ``to`` (comma- or semicolon-separated)."""
    import html

    if not to.strip():
        raise MailRefused(hub_messages.text("mail_no_recipients", conn_id=conn_id))
    with HubSmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=f"<pre>{html.escape(text)}</pre>",
                             mime_charset="utf-8")


class _ProbeHook(HubSmtpHook):
    """``HubSmtpHook`` for one login: the connection handed in, a short time-out, no retries."""

    def __init__(self, conn: Any, timeout: float) -> None:
        super().__init__(smtp_conn_id=conn.conn_id)
        self._given = conn
        self._probe_timeout = timeout

    def get_connection(self, conn_id: str) -> Any:  # type: ignore[override]
        return self._given

    @property
    def timeout(self) -> int:
        return max(1, int(self._probe_timeout))

    @property
    def smtp_retry_limit(self) -> int:
        return 0


def check_login(conn: Any, timeout: float = 5.0) -> None:
    """Open TLS, log in (when the connection has a login) and send NOOP; no message is sent.

    Raises what the SMTP client raises (``smtplib.SMTPException``, ``ssl.SSLError``, ``OSError``)
    or ``MailRefused``.
    """
    import smtplib

    with _ProbeHook(conn, timeout) as hook:
        client = hook._smtp_client
        if not isinstance(client, smtplib.SMTP):  # SMTP_SSL is one too; the async client is never made here
            raise smtplib.SMTPServerDisconnected("no SMTP session")
        code, _ = client.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, b"NOOP refused")
