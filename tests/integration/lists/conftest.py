"""Fixtures of the list tests (helpers in lists_helpers.py)."""

from __future__ import annotations

import pytest
from lists_helpers import Hub

from credit_exchange.standard.crypto import PiiVault
from credit_exchange.store import Store


@pytest.fixture
def hub(store: Store, vault: PiiVault) -> Hub:
    return Hub(store, vault)
