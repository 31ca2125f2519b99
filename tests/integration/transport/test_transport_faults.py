"""The fault matrix, transport API rows (docs/fault-matrix.md): a page request cut before it is served,
after it was served (no answer), or its answer cut in transit; then a normal pull, and the store holds
exactly the records of an undisturbed pull, each once.

The faulted pull's client makes one attempt, so the fault ends the pull (its own retries are shown in
test_transport_pull.py); the fault hits the first request for the second endpoint, after every page
of the first endpoint was taken, so the pull fails half way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transport_support import deliveries, faults, make_api, pull, seed, today, watermarks

from credit_exchange.feeds.transport.source import TransportPullFailed
from credit_exchange.store import Store
from sandbox.transport_api import TransportApiServer
from sandbox.transport_data import demo_items

ENT, VIO = "courier-enterprises", "courier-violations"

CELLS = [
    ("send", "before", {"kind": "reset"}),
    ("send", "after", {"kind": "drop"}),                # served, the answer never sent
    ("receive", "before", {"kind": "hang", "seconds": 5}),  # the answer does not come in time
    ("receive", "during", {"kind": "truncate"}),        # half a page arrives
]


@pytest.mark.parametrize(("step", "when", "fault"), CELLS, ids=[f"{s}-{w}" for s, w, _ in CELLS])
def test_a_page_cut_then_a_normal_pull_takes_each_record_once(
        step: str, when: str, fault: dict[str, Any], sqlite_store: Store, vault: Any, tmp_path: Path,
        transport_server: TransportApiServer) -> None:
    items = demo_items(today())
    seed(transport_server, items)
    page_size = (len(items[ENT]) + 1) // 2
    calm_store = Store(f"sqlite:///{tmp_path / 'calm.db'}")
    try:
        pull(calm_store, vault, make_api(transport_server), page_size=page_size)
        expected = deliveries(calm_store)
    finally:
        calm_store.dispose()

    class SecondEndpointFaulted:
        """The API as the pull sees it; the fault is queued as the second endpoint's pages are asked for."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self.inner, name)
            if not callable(attr):
                return attr

            def call(*args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                if self.calls == 2:
                    faults(transport_server, fault)
                return attr(*args, **kwargs)
            return call

    one_try = make_api(transport_server, max_attempts=1, read_timeout=1.0)
    with pytest.raises(TransportPullFailed):
        pull(sqlite_store, vault, SecondEndpointFaulted(one_try), page_size=page_size)
    assert deliveries(sqlite_store) == [] and watermarks(sqlite_store) == {}  # a pull is all or nothing

    pull(sqlite_store, vault, make_api(transport_server), page_size=page_size)
    assert deliveries(sqlite_store) == expected
    assert len(expected) == len(items[ENT]) + len(items[VIO])
