"""Request signing shared by the transport API and the county platform (contracts.md 1.3).

The client side (`canonical_query`, `sign_headers`) and the server side (`verify`,
used by the sandboxes) live together so both ends always agree on the scheme.

string_to_sign is, joined by ``\\n``: the method in upper case; the path exactly as
sent on the wire (still percent-encoded); the canonical query; the timestamp in Unix
milliseconds; the nonce; the lower-case hex SHA-256 of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from typing import Any
from urllib.parse import quote, unquote

from hub_messages import text

HEADER_APP_KEY = "X-App-Key"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"

MAX_CLOCK_SKEW_S = 300
NONCE_TTL_S = 600
MIN_NONCE_LENGTH = 16

Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def _encode(text: str) -> str:
    # safe="" so that reserved characters (including "+", "/", ":") are encoded; quote()
    # keeps exactly RFC 3986's unreserved set (ALPHA DIGIT - . _ ~) and writes upper-case hex.
    return quote(text, safe="", encoding="utf-8", errors="strict")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(params: Params) -> list[tuple[str, str]]:
    if not params:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if value is None:
            continue
        # A list value means a repeated parameter (name=a&name=b).
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((str(name), _as_text(v)) for v in values if v is not None)
    return pairs


def canonical_query(params: Params) -> str:
    """The canonical query string: encoded names and values, sorted by name then value.

    Sorting is on the encoded forms (plain ASCII), so the order does not depend on how a
    platform compares Unicode. The client sends exactly this string on the wire.
    """
    encoded = sorted((_encode(name), _encode(value)) for name, value in _pairs(params))
    return "&".join(f"{name}={value}" for name, value in encoded)


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Decode a query string as received; ``+`` is a literal plus (not a space) here."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name, errors="strict"), unquote(value, errors="strict")))
    return pairs


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path_as_sent: str, query: str, timestamp_ms: int | str, nonce: str,
                   body: bytes) -> str:
    """The exact text that is HMAC'd; ``query`` is already canonical."""
    return "\n".join([method.upper(), path_as_sent, query, str(timestamp_ms), nonce, body_sha256(body)])


def signature(app_secret: str, text: str) -> str:
    return hmac.new(app_secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """32 hex characters from the OS CSPRNG."""
    return secrets.token_hex(16)


def sign_headers(app_key: str, app_secret: str, method: str, path: str, params: Params, body: bytes,
                 now_ms: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers for one request; ``path`` is the percent-encoded path as it goes on the wire."""
    timestamp_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    nonce = new_nonce() if nonce is None else nonce
    to_sign = string_to_sign(method, path, canonical_query(params), timestamp_ms, nonce, body)
    return {
        HEADER_APP_KEY: app_key,
        HEADER_TIMESTAMP: str(timestamp_ms),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(app_secret, to_sign),
    }


class SignatureError(Exception):
    """A request failed the signature check (the server answers 401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NonceCache:
    """Nonces seen per app key in the last ``ttl_s`` seconds (thread-safe, in memory)."""

    def __init__(self, ttl_s: float = NONCE_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def add_if_new(self, app_key: str, nonce: str, now_s: float) -> bool:
        """Remember the nonce; False if it was already used within the window."""
        with self._lock:
            if len(self._seen) > 1000:
                cutoff = now_s - self._ttl_s
                self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
            seen_at = self._seen.get((app_key, nonce))
            if seen_at is not None and now_s - seen_at < self._ttl_s:
                return False
            self._seen[(app_key, nonce)] = now_s
            return True


def verify(headers: Mapping[str, str] | Message, method: str, path_as_sent: str, raw_query: str, body: bytes,
           secret_for: Mapping[str, str] | Callable[[str], str | None], nonces: NonceCache,
           now_ms: int | None = None, max_skew_s: float = MAX_CLOCK_SKEW_S) -> str:
    """Check a signed request on the server side; return the app key or raise SignatureError.

    ``raw_query`` is the query string as received: it is decoded and re-canonicalised,
    so a client that sorts or encodes differently still verifies when the content is equal.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    app_key = lowered.get(HEADER_APP_KEY.lower(), "")
    timestamp = lowered.get(HEADER_TIMESTAMP.lower(), "")
    nonce = lowered.get(HEADER_NONCE.lower(), "")
    sent_signature = lowered.get(HEADER_SIGNATURE.lower(), "")
    if not (app_key and timestamp and nonce and sent_signature):
        raise SignatureError("MISSING_HEADERS", text("sign_missing_headers"))
    secret = secret_for.get(app_key) if isinstance(secret_for, Mapping) else secret_for(app_key)
    if not secret:
        raise SignatureError("UNKNOWN_APP_KEY", text("sign_unknown_app_key"))
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        raise SignatureError("BAD_TIMESTAMP", text("sign_bad_timestamp"))
    now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    if abs(now_ms - int(timestamp)) > max_skew_s * 1000:
        raise SignatureError("CLOCK_SKEW", text("sign_clock_skew"))
    if len(nonce) < MIN_NONCE_LENGTH:
        raise SignatureError("BAD_NONCE", text("sign_bad_nonce"))
    try:
        query = canonical_query(parse_query(raw_query))
    except UnicodeError as exc:
        raise SignatureError("BAD_QUERY", text("sign_bad_query")) from exc
    expected = signature(secret, string_to_sign(method, path_as_sent, query, timestamp, nonce, body))
    # Bytes, because compare_digest refuses non-ASCII str and a hostile header may hold some.
    if not hmac.compare_digest(expected.encode(), sent_signature.lower().encode("utf-8", "replace")):
        raise SignatureError("BAD_SIGNATURE", text("sign_bad_signature"))
    # Only a correctly signed request may consume a nonce, so forgeries cannot burn them.
    if not nonces.add_if_new(app_key, nonce, now_ms / 1000):
        raise SignatureError("NONCE_REUSED", text("sign_nonce_reused"))
    return app_key
