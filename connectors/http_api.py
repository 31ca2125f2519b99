"""Signed HTTP client for the REST systems (transport API, county platform).

Transport only: it signs, sends, retries and raises; it never looks inside a record.
Airflow's HttpHook is not used because it lets ``requests`` rebuild the URL (the
signature covers the query exactly as sent) and sets no time-out by default.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.signing import Params, canonical_query, sign_headers
from hub_messages import text

log = logging.getLogger(__name__)

# 408 and 429 are the only 4xx answers worth the same request again.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Longest number text a JSON answer may carry as a number: far beyond any field of the standard,
# far below int()'s digit limit. A longer one is handed on as its text (the schema then refuses
# that one value) instead of failing the whole answer.
MAX_JSON_NUMBER = 40
# Retry-After is delta-seconds (ASCII digits) or an HTTP date; no server needs more than a day.
_DELTA_SECONDS = re.compile(r"[0-9]{1,9}")
MAX_RETRY_AFTER_S = 86_400.0

DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 60.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_DEADLINE_S = 300.0
DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_MAX_S = 30.0


class HttpApiError(Exception):
    """Base of the errors this client raises."""


class TransientHttpError(HttpApiError):
    """Still failing after the allowed attempts or deadline: worth retrying later."""

    def __init__(self, message: str, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class PermanentHttpError(HttpApiError):
    """A 4xx (other than 429) or a redirect: retrying the same request cannot help."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body
        self.error_code = body.get("error") if isinstance(body, dict) else None
        super().__init__(
            text("http_refused") + f": HTTP {status} {method} {path}"
            + (f" error={self.error_code}" if self.error_code else "")
        )


def base_url_from_connection(conn: Any) -> str:
    """Base URL from ``host`` with a scheme, or from ``schema`` + ``host`` + ``port``."""
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(text("http_no_host"))
    url = host if "://" in host else f"{(conn.schema or 'https').strip()}://{host}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(text("http_bad_base_url") + f": {parts.scheme}://{parts.hostname}")
    netloc = parts.netloc
    if conn.port and parts.port is None:
        netloc = f"{netloc}:{int(conn.port)}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _float(extra: dict[str, Any], key: str, default: float) -> float:
    value = extra.get(key)
    return default if value in (None, "") else float(value)


def _retry_after_s(response: requests.Response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if _DELTA_SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER_S)


def _error_body(response: requests.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return None


class SignedApiClient:
    """Signs every request (contracts.md 1.3), times out, retries transient failures."""

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        deadline_s: float = DEFAULT_DEADLINE_S,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        if not app_key or not app_secret:
            raise ValueError(text("http_no_app_key"))
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self._origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self._base_path = parts.path.rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_attempts = int(max_attempts)
        self.deadline_s = float(deadline_s)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        # TLS is always verified; a CA bundle path only changes which roots are trusted.
        self._verify: bool | str = ca_bundle or True
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"SignedApiClient(base_url={self.base_url!r}, app_key={self.app_key!r})"

    @classmethod
    def from_connection(cls, conn: Any, **overrides: Any) -> SignedApiClient:
        """Build from an Airflow connection (or anything with the same attributes)."""
        extra: dict[str, Any] = dict(conn.extra_dejson or {})
        for key in ("verify", "verify_ssl"):
            if key in extra and str(extra[key]).strip().lower() in ("false", "0", "no", "off"):
                raise ValueError(text("http_tls_off"))
        timeout = extra.get("timeout")
        settings: dict[str, Any] = {
            "connect_timeout": _float(extra, "connect_timeout", float(timeout or DEFAULT_CONNECT_TIMEOUT_S)),
            "read_timeout": _float(extra, "read_timeout", float(timeout or DEFAULT_READ_TIMEOUT_S)),
            "max_attempts": int(_float(extra, "max_attempts", DEFAULT_MAX_ATTEMPTS)),
            "deadline_s": _float(extra, "deadline", DEFAULT_DEADLINE_S),
            "backoff_base_s": _float(extra, "backoff_base", DEFAULT_BACKOFF_BASE_S),
            "backoff_max_s": _float(extra, "backoff_max", DEFAULT_BACKOFF_MAX_S),
            "ca_bundle": extra.get("ca_bundle") or None,
        }
        settings.update(overrides)
        return cls(base_url_from_connection(conn), str(extra.get("app_key") or ""),
                   str(extra.get("app_secret") or ""), **settings)

    @classmethod
    def from_conn_id(cls, conn_id: str, **overrides: Any) -> SignedApiClient:
        """Build from an Airflow connection id (AIRFLOW_CONN_* variables, secrets backends, DB)."""
        # Imported here so that importing this module never pulls in Airflow.
        from airflow.sdk import BaseHook

        return cls.from_connection(BaseHook.get_connection(conn_id), **overrides)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SignedApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff_s(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        # "Equal jitter": at least half the back-off, so workers retrying together spread out.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def request(self, method: str, path: str, params: Params = None, body: bytes = b"",
                content_type: str | None = None) -> requests.Response:
        """Send a signed request and return the 2xx response; raise on anything else.

        ``path`` is relative to the base URL and already percent-encoded. POSTs are
        retried too: the county platform makes a resent batch_id safe (contracts.md 2.1).
        """
        method = method.upper()
        if not path.startswith("/") or not path.isascii():
            raise ValueError("path must start with '/' and be percent-encoded ASCII")
        wire_path = self._base_path + path
        query = canonical_query(params)
        # Built by hand and set on the prepared request: requests must not re-encode it.
        url = self._origin + wire_path + (f"?{query}" if query else "")
        deadline = self._clock() + self.deadline_s
        last_problem = "no attempt made"
        last_status: int | None = None
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            headers = sign_headers(self.app_key, self._app_secret, method, wire_path, params, body)
            headers["Accept"] = "application/json"
            if content_type:
                headers["Content-Type"] = content_type
            prepared = self._session.prepare_request(
                requests.Request(method, url, headers=headers, data=body or None))
            prepared.url = url
            timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
            retry_after: float | None = None
            try:
                settings = self._session.merge_environment_settings(url, {}, False, self._verify, None)
                response = self._session.send(prepared, timeout=timeout, allow_redirects=False,
                                              proxies=settings["proxies"], verify=settings["verify"])
            except requests.exceptions.SSLError as exc:
                raise HttpApiError(text("http_tls_failed") + f": {method} {wire_path}") from exc
            except (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last_problem, last_status = type(exc).__name__, None
            else:
                if 200 <= response.status_code < 300:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise PermanentHttpError(response.status_code, _error_body(response), method, wire_path)
                last_problem, last_status = f"HTTP {response.status_code}", response.status_code
                retry_after = _retry_after_s(response)
                response.close()
            if attempt >= self.max_attempts:
                break
            delay = self._backoff_s(attempt)
            if retry_after is not None:
                # Honour the server's wish, plus a little jitter so we do not all come back at once.
                delay = retry_after + random.uniform(0, min(1.0, retry_after * 0.1))
            if self._clock() + delay >= deadline:
                break
            log.warning("%s %s attempt %d/%d failed (%s); retrying in %.1f s",
                        method, wire_path, attempt, self.max_attempts, last_problem, delay)
            self._sleep(delay)
        raise TransientHttpError(
            text("http_still_failing", attempts=attempt) + f": {method} {wire_path}: {last_problem}",
            status=last_status, attempts=attempt)

    def get_json(self, path: str, params: Params = None) -> Any:
        return _json_of(self.request("GET", path, params=params))

    def post_json(self, path: str, body: bytes) -> Any:
        """POST the given bytes unchanged as application/json."""
        return _json_of(self.request("POST", path, body=body, content_type="application/json; charset=utf-8"))


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text) <= MAX_JSON_NUMBER else text


def _finite_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) and len(text) <= MAX_JSON_NUMBER else text


def loads(data: bytes | str) -> Any:
    """JSON from a peer, decoded without trusting its numbers: a huge integer, a float that
    overflows and the non-standard NaN / Infinity come back as their text."""
    return json.loads(data, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=str)


def _json_of(response: requests.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError as exc:
        raise HttpApiError(text("http_not_json") + f": HTTP {response.status_code}") from exc
