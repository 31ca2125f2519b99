"""Stand-in for the transport bureau's REST API (contracts.md 1.3).

Both endpoints, signed requests, ``updated_since`` inclusive, page_size default 100
and at most 500, opaque page tokens valid 10 minutes, 5 requests a second per key,
``server_time`` in every answer. Data lives in memory, seeded from a JSON file
(``{"courier-enterprises": [...], "courier-violations": [...]}``) or a control call.

Sandbox controls (no signature), under ``/_sandbox/``:
  POST /_sandbox/items     {"endpoint": "...", "items": [{id, version, updated_at, deleted, ...}]}
                           (an item with a known id replaces it: that is an update)
  GET  /_sandbox/items     every item, by endpoint
  POST /_sandbox/faults    JSON list (or one object); each is used by the next API request:
       {"kind": "status", "status": 503 | 500 | 429, "retry_after": 1}
       {"kind": "hang", "seconds": 5}      wait before answering (client time-outs)
       {"kind": "drop"}                    close the connection without answering
       {"kind": "reset"}                   reset the connection before reading the request's work
       {"kind": "truncate"}                answer with half the page, then reset the connection
       {"kind": "expire_tokens"}           applied at once: every token issued so far expires
       any queued fault may carry "times": N (default 1).
  GET  /_sandbox/stats     API requests counted by status
  POST /_sandbox/reset     forget items, faults, stats and rate-limit state

Run: python -m sandbox.transport_api --port 0 --app-key K --app-secret S [--seed FILE]
prints ``READY <url>`` once listening.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import math
import secrets
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from connectors.signing import SignatureError, parse_query, verify
from sandbox._http import JsonHandler, SandboxServer, cli_parser, credentials, serve_foreground

ENDPOINTS = ("courier-enterprises", "courier-violations")
API_PREFIX = "/api/v1/"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
TOKEN_TTL_S = 600
DEFAULT_RATE_LIMIT = 5
SHANGHAI = timezone(timedelta(hours=8))
QUEUED_FAULT_KINDS = frozenset({"status", "hang", "drop", "reset", "truncate"})


def parse_ts(value: Any) -> datetime:
    """An ISO 8601 timestamp with offset; a naive one is refused (ambiguous)."""
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs an offset")
    return parsed


def check_item(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("an item must be an object")
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise ValueError("item.id must be a non-empty string")
    if not isinstance(item.get("version"), int) or isinstance(item["version"], bool) or item["version"] < 1:
        raise ValueError("item.version must be a positive integer")
    if not isinstance(item.get("deleted"), bool):
        raise ValueError("item.deleted must be a boolean")
    parse_ts(item.get("updated_at"))
    return dict(item)


class TransportApiServer(SandboxServer):
    """The transport API sandbox server."""

    thread_name = "transport-api-sandbox"

    def __init__(self, address: tuple[str, int], credentials: dict[str, str], *,
                 rate_limit: int = DEFAULT_RATE_LIMIT, clock: Callable[[], float] = time.time,
                 token_clock: Callable[[], float] | None = None) -> None:
        super().__init__(address, TransportApiHandler, credentials, clock)
        self.rate_limit = rate_limit
        # Signatures are checked against ``clock``; token ages against ``token_clock``, so a
        # test can age tokens by ten minutes without making every signature look skewed.
        self.token_clock = token_clock or clock
        self._token_key = secrets.token_bytes(32)
        self._token_generation = 0
        self._items: dict[str, dict[str, dict[str, Any]]] = {endpoint: {} for endpoint in ENDPOINTS}
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    # --- data ---------------------------------------------------------------------------

    def add_items(self, endpoint: str, items: list[Any]) -> int:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        checked = [check_item(item) for item in items]
        with self._lock:
            for item in checked:
                self._items[endpoint][item["id"]] = item
        return len(checked)

    def load_seed(self, path: str | Path) -> None:
        seed = json.loads(Path(path).read_text(encoding="utf-8"))
        for endpoint, items in seed.items():
            self.add_items(endpoint, items)

    def all_items(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {endpoint: list(items.values()) for endpoint, items in self._items.items()}

    def page(self, endpoint: str, since: datetime, after: tuple[datetime, str] | None,
             size: int) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
        """Items with updated_at >= since, ordered by (updated_at, id), after the keyset position."""
        with self._lock:
            keyed = [((parse_ts(item["updated_at"]), item["id"]), item) for item in self._items[endpoint].values()]
        keyed = sorted((k for k in keyed if k[0][0] >= since), key=lambda k: k[0])
        if after is not None:
            keyed = [k for k in keyed if k[0] > after]
        chunk = keyed[:size]
        more = len(keyed) > size
        return [item for _, item in chunk], (chunk[-1][0] if more and chunk else None)

    # --- page tokens: signed, self-contained, so a client cannot forge a position --------

    def make_token(self, endpoint: str, since: str, after: tuple[datetime, str]) -> str:
        payload = json.dumps({"e": endpoint, "s": since, "a": [after[0].isoformat(), after[1]],
                              "t": self.token_clock(), "g": self._token_generation},
                             separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        mac = hmac.new(self._token_key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(payload + mac).decode("ascii").rstrip("=")

    def read_token(self, token: str) -> dict[str, Any] | None:
        """The token's content, or None if it was not issued by this server."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        payload, mac = raw[:-16], raw[-16:]
        if len(raw) <= 16 or not hmac.compare_digest(mac, hmac.new(self._token_key, payload,
                                                                    hashlib.sha256).digest()[:16]):
            return None
        return json.loads(payload)

    def token_expired(self, content: dict[str, Any]) -> bool:
        with self._lock:
            generation = self._token_generation
        return content["g"] != generation or self.token_clock() - content["t"] > TOKEN_TTL_S

    def expire_tokens(self) -> None:
        with self._lock:
            self._token_generation += 1

    # --- faults, rate limit, stats ------------------------------------------------------

    def add_faults(self, faults: list[dict[str, Any]]) -> None:
        # expire_tokens acts at once; the others wait for the next requests.
        queued = [f for f in faults if not (isinstance(f, dict) and f.get("kind") == "expire_tokens")]
        self.queue_faults(queued, QUEUED_FAULT_KINDS)
        if len(queued) != len(faults):
            self.expire_tokens()

    def rate_limited(self, app_key: str) -> int | None:
        """Seconds to wait if this key already made ``rate_limit`` calls in the last second."""
        if self.rate_limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            calls = self._calls[app_key]
            while calls and now - calls[0] >= 1.0:
                calls.popleft()
            if len(calls) >= self.rate_limit:
                return max(1, math.ceil(calls[0] + 1.0 - now))
            calls.append(now)
        return None

    def reset(self) -> None:
        self.clear_faults_and_stats()
        with self._lock:
            for items in self._items.values():
                items.clear()
            self._calls.clear()

class TransportApiHandler(JsonHandler):
    server: TransportApiServer

    def _server_time(self) -> str:
        return datetime.fromtimestamp(self.server.clock(), SHANGHAI).isoformat(timespec="milliseconds")

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path == "/_sandbox/items":
            return self._send(200, self.server.all_items(), count=False)
        if path == "/_sandbox/stats":
            return self._send(200, self.server.stats(), count=False)
        endpoint = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else ""
        if endpoint not in ENDPOINTS:
            return self._error(404, "NOT_FOUND", "没有这个接口 (no such endpoint)")
        # Taken before any work, so the watermark never runs ahead of the data served.
        server_time = self._server_time()
        fault = self.server.next_fault()
        if fault is not None:
            if fault["kind"] == "status":
                headers = {"Retry-After": str(int(fault["retry_after"]))} if "retry_after" in fault else None
                return self._error(int(fault["status"]), "INJECTED_FAULT", "沙箱注入的故障 (sandbox fault)", headers)
            if fault["kind"] == "drop":
                self.server.count("dropped")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return None
            if fault["kind"] == "hang":
                self.server.stopping.wait(float(fault.get("seconds", 30)))
            if fault["kind"] == "reset":
                return self._reset()
            if fault["kind"] == "truncate":
                self.cut_answer = True
        try:
            app_key = verify(self.headers, "GET", path, query, b"", self.server.credentials, self.server.nonces,
                             now_ms=int(self.server.clock() * 1000))
        except SignatureError as exc:
            return self._error(401, exc.code, exc.message)
        wait_s = self.server.rate_limited(app_key)
        if wait_s is not None:
            return self._error(429, "RATE_LIMITED", "请求过于频繁，每秒最多5次 (at most 5 requests a second)",
                               {"Retry-After": str(wait_s)})
        return self._list(endpoint, dict(parse_query(query)), server_time)

    def _list(self, endpoint: str, params: dict[str, str], server_time: str) -> None:
        raw_size = params.get("page_size", str(DEFAULT_PAGE_SIZE))
        if not (raw_size.isascii() and raw_size.isdigit() and len(raw_size) <= 6) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            return self._error(400, "PAGE_SIZE", f"page_size 须为1到{MAX_PAGE_SIZE} (page_size must be 1..{MAX_PAGE_SIZE})")
        size = int(raw_size)
        since_text = params.get("updated_since", "")
        try:
            since = parse_ts(since_text) if since_text else datetime(1970, 1, 1, tzinfo=UTC)
        except ValueError:
            return self._error(400, "UPDATED_SINCE",
                               "updated_since 须为带时区的ISO 8601时间 (updated_since must be ISO 8601 with offset)")
        after: tuple[datetime, str] | None = None
        token = params.get("page_token")
        if token:
            content = self.server.read_token(token)
            if content is None or content["e"] != endpoint or content["s"] != since_text:
                return self._error(400, "PAGE_TOKEN_INVALID",
                                   "分页令牌无效或与查询条件不符 (page token invalid for this query)")
            if self.server.token_expired(content):
                return self._error(400, "PAGE_TOKEN_EXPIRED", "分页令牌已过期（10分钟） (page token expired)")
            after = (datetime.fromisoformat(content["a"][0]), content["a"][1])
        items, last = self.server.page(endpoint, since, after, size)
        next_token = self.server.make_token(endpoint, since_text, last) if last is not None else None
        return self._send(200, {"items": items, "next_page_token": next_token, "server_time": server_time})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.partition("?")[0]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 64 * 1024 * 1024:
            self.close_connection = True
            return self._error(400, "MALFORMED", "Content-Length 无效 (invalid Content-Length)")
        body = self.rfile.read(length)
        if not path.startswith("/_sandbox/"):
            # The real API is read-only.
            return self._error(405, "METHOD_NOT_ALLOWED", "只支持GET (GET only)")
        try:
            payload = json.loads(body or b"null")
            if path == "/_sandbox/items":
                added = self.server.add_items(payload["endpoint"], payload["items"])
                return self._send(200, {"added": added}, count=False)
            if path == "/_sandbox/faults":
                self.server.add_faults(payload if isinstance(payload, list) else [payload])
                return self._send(200, {"queued": self.server.stats()["faults_pending"]}, count=False)
        except (ValueError, TypeError, KeyError) as exc:
            return self._error(400, "BAD_CONTROL", f"{type(exc).__name__}: {exc}", count=False)
        if path == "/_sandbox/reset":
            self.server.reset()
            return self._send(200, {"reset": True}, count=False)
        return self._error(404, "NOT_FOUND", "没有这个控制接口 (no such control endpoint)", count=False)


def start(app_key: str, app_secret: str, host: str = "127.0.0.1", port: int = 0, *,
          seed: str | Path | None = None, rate_limit: int = DEFAULT_RATE_LIMIT,
          clock: Callable[[], float] = time.time,
          token_clock: Callable[[], float] | None = None) -> TransportApiServer:
    """Start the sandbox in a background thread; returns once it is listening."""
    server = TransportApiServer((host, port), {app_key: app_secret}, rate_limit=rate_limit, clock=clock,
                                token_clock=token_clock)
    if seed is not None:
        server.load_seed(seed)
    return server.start_in_thread()


serve_in_thread = start


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("Transport API sandbox (contracts.md 1.3)")
    parser.add_argument("--seed", help="JSON file: {endpoint: [items]}")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, help="requests a second per key")
    args = parser.parse_args(argv)
    server = TransportApiServer((args.host, args.port), credentials(parser, args), rate_limit=args.rate_limit)
    if args.seed:
        server.load_seed(args.seed)
    return serve_foreground(server)


if __name__ == "__main__":
    sys.exit(main())
