"""Chat robots for alerts: DingTalk custom robots (with the 加签 signing secret) and WeCom group robots.

A robot answers HTTP 200 even when it refuses a message; only the body's ``errcode`` says so. A
non-zero errcode is a failure here, and is tried again with back-off (rate limits are the usual
cause). TLS is always verified (``ca_bundle`` in the extras names a private CA).

The connection (``alert_webhook``) keeps the robot's token in its password, which Airflow masks:

    {"conn_type": "http", "host": "https://oapi.dingtalk.com/robot/send", "password": "<access_token>",
     "extra": {"secret": "SEC…"}}
    {"conn_type": "http", "host": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "password": "<key>"}

``kind`` (``dingtalk`` / ``wecom``) is read from the host unless the extras say it; the token's
query parameter follows from it (``access_token`` / ``key``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

import requests

import hub_messages

log = logging.getLogger(__name__)

TOKEN_PARAM = {"dingtalk": "access_token", "wecom": "key"}
ATTEMPTS = 3


class RobotRefused(RuntimeError):
    """The robot did not take the message (non-zero errcode, HTTP error), after every attempt."""


def _kind(conn: Any) -> str:
    kind = str((conn.extra_dejson or {}).get("kind") or "").lower()
    if kind:
        if kind not in TOKEN_PARAM:
            raise ValueError(f"alert_webhook: unknown robot kind {kind!r} (dingtalk or wecom)")
        return kind
    return "wecom" if "weixin.qq.com" in (conn.host or "") else "dingtalk"


def robot_url(conn: Any, now_ms: int | None = None) -> str:
    """The URL to post to: host (with its path), the token from the password, and DingTalk's signature."""
    host = (conn.host or "").strip()
    if "://" not in host:
        host = f"https://{host}"
    schema = conn.schema or ""
    base = host + (schema if schema.startswith("/") else "")
    kind = _kind(conn)
    params: dict[str, str] = {}
    if conn.password:
        params[TOKEN_PARAM[kind]] = conn.password
    secret = (conn.extra_dejson or {}).get("secret")
    if secret and kind == "dingtalk":
        stamp = int(time.time() * 1000) if now_ms is None else now_ms
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        params["timestamp"] = str(stamp)
        params["sign"] = base64.b64encode(digest).decode()
    if not params:
        return base
    return base + ("&" if "?" in base else "?") + urlencode(params, quote_via=quote_plus)


def send_text(conn: Any, text: str, sleep: Callable[[float], None] = time.sleep) -> None:
    """Post a text message (the shape DingTalk and WeCom both take); raise ``RobotRefused`` if it is not taken."""
    verify: bool | str = (conn.extra_dejson or {}).get("ca_bundle") or True
    last = "no attempt"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            resp = requests.post(robot_url(conn), json={"msgtype": "text", "text": {"content": text}},
                                 timeout=(5, 15), verify=verify)
            body = resp.json() if resp.content else {}
            if resp.status_code == 200 and isinstance(body, dict) and body.get("errcode") == 0:
                return
            last = (f"HTTP {resp.status_code}, errcode {body.get('errcode') if isinstance(body, dict) else '?'}: "
                    f"{str(body.get('errmsg') if isinstance(body, dict) else '')[:200]}")
        except (requests.RequestException, ValueError) as exc:
            last = type(exc).__name__
        if attempt < ATTEMPTS:
            log.warning("chat robot did not take the alert (attempt %d of %d): %s", attempt, ATTEMPTS, last)
            sleep(2.0 ** attempt)
    raise RobotRefused(f"{hub_messages.text('robot_refused')}: {last}")


# Errcodes that say the robot refused our credentials (the rest say it refused the message).
TOKEN_REFUSED = frozenset({300001, 93000})  # DingTalk: unknown access_token; WeCom: unknown key
SIGN_REFUSED = frozenset({310000})  # DingTalk: 加签 signature missing, wrong or an hour off


def probe(conn: Any, timeout: float = 5.0) -> tuple[int, int | None]:
    """Knock on the robot without posting anything: (HTTP status, errcode or None).

    An empty body is not a message, so no robot shows one; it still goes to the signed URL, so
    the robot says whether it knows the token and accepts the signature (``TOKEN_REFUSED``,
    ``SIGN_REFUSED``) before it refuses the empty message with an errcode of its own. Raises
    ``requests.RequestException`` when the robot cannot be reached.
    """
    verify: bool | str = (conn.extra_dejson or {}).get("ca_bundle") or True
    resp = requests.post(robot_url(conn), data=b"", headers={"Content-Type": "application/json"},
                         timeout=(timeout, timeout), verify=verify)
    try:
        body = resp.json() if resp.content else {}
    except ValueError:
        body = {}
    errcode = body.get("errcode") if isinstance(body, dict) else None
    return resp.status_code, errcode if isinstance(errcode, int) else None
