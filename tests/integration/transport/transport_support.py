"""Helpers to drive transport pulls against the in-process API sandbox (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import requests

from connectors.http_api import SignedApiClient
from connectors.transport_api import TransportApi
from credit_exchange.timeutil import now_local
from sandbox.transport_api import TransportApiServer

APP_KEY = "transport-pull-key"
APP_SECRET = "transport-pull-secret-0123456789"


def today() -> date:
    """The run date of these tests: today in the county (the sandbox serves real server times)."""
    return now_local().date()


class Sleeps:
    """The client's sleep: recorded, and skipped unless the server asks for a second or more.

    Back-off between injected faults is skipped (tests stay fast); a wait the
    sandbox's real rate limiter demands (Retry-After >= 1 s) is really waited,
    so a test that happens to make more than 5 requests a second stays correct.
    """

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if seconds >= 1.0:
            time.sleep(min(seconds, 2.0))


def make_api(server: TransportApiServer, sleeps: Sleeps | None = None, **settings: Any) -> TransportApi:
    settings.setdefault("read_timeout", 10)
    settings.setdefault("deadline_s", 60)
    return TransportApi(SignedApiClient(server.url, APP_KEY, APP_SECRET, sleep=sleeps or Sleeps(), **settings))


def control(server: TransportApiServer, path: str, payload: Any) -> Any:
    response = requests.post(server.url + path, json=payload, timeout=5)
    response.raise_for_status()
    return response.json()


def seed(server: TransportApiServer, items: dict[str, list[dict[str, Any]]]) -> None:
    for endpoint, batch in items.items():
        if batch:
            assert control(server, "/_sandbox/items", {"endpoint": endpoint, "items": batch}) == {"added": len(batch)}


def faults(server: TransportApiServer, *queued: dict[str, Any]) -> None:
    control(server, "/_sandbox/faults", list(queued))


def stats(server: TransportApiServer) -> dict[str, Any]:
    response = requests.get(server.url + "/_sandbox/stats", timeout=5)
    response.raise_for_status()
    return dict(response.json())


class Watched:
    """A TransportApi that records what each pull asked for and can act after a given page."""

    def __init__(self, api: TransportApi, after_page: Callable[[str, int, int], None] | None = None) -> None:
        self.api = api
        self.after_page = after_page
        self.calls: list[tuple[str, str, int]] = []

    def pages(self, endpoint: str, updated_since: str, page_size: int = 500) -> Iterator[dict[str, Any]]:
        self.calls.append((endpoint, updated_since, page_size))
        attempt = sum(c[0] == endpoint for c in self.calls)
        for n, page in enumerate(self.api.pages(endpoint, updated_since, page_size), start=1):
            yield page
            if self.after_page is not None:
                self.after_page(endpoint, attempt, n)


def pull(store: Any, vault: Any, api: Any, run_date: date | None = None, **settings: Any) -> Any:
    """One TransportPull over both endpoints; returns its PullSummary (or raises TransportPullFailed)."""
    from credit_exchange import config
    from credit_exchange.feeds.transport.source import TransportPull

    return TransportPull(config.feed("transport"), api, store, vault, run_date or today(), **settings).run()


def deliveries(store: Any) -> list[tuple[Any, ...]]:
    """Every delivery as (record id, version, op, outcome, content hash, position), in store order."""
    from sqlalchemy import select

    from credit_exchange.store import Delivery

    with store.session() as s:
        return [tuple(r) for r in s.execute(select(
            Delivery.record_id, Delivery.dept_version, Delivery.op, Delivery.outcome, Delivery.content_hash,
            Delivery.position).order_by(Delivery.id))]


def source_state(store: Any) -> dict[str, tuple[int, str, str]]:
    from sqlalchemy import select

    from credit_exchange.store import SourceState

    with store.session() as s:
        return {r[0]: (r[1], r[2], r[3]) for r in s.execute(select(
            SourceState.record_id, SourceState.dept_version, SourceState.content_hash, SourceState.op))}


def watermarks(store: Any) -> dict[str, str]:
    from sqlalchemy import select

    from credit_exchange.store import Watermark

    with store.session() as s:
        return {r[0]: r[1] for r in s.execute(select(Watermark.key, Watermark.value))}


def received(store: Any) -> list[Any]:
    from sqlalchemy import select

    from credit_exchange.store import ReceivedFile

    with store.session() as s:
        return list(s.execute(select(ReceivedFile).order_by(ReceivedFile.id)).scalars())
