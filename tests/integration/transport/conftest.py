"""The transport API sandbox, started in-process for each test and shut down after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transport_support import APP_KEY, APP_SECRET, Sleeps

from sandbox.transport_api import TransportApiServer, start


@pytest.fixture
def transport_server() -> Iterator[TransportApiServer]:
    srv = start(APP_KEY, APP_SECRET)
    yield srv
    srv.shutdown()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
