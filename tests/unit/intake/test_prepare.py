"""The per-record work before the store (credit_exchange/intake/prepare.py): the collector hold."""

from __future__ import annotations

import gc
import weakref

import pytest

from credit_exchange.intake.prepare import few_collections


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_collector_is_held_back_inside_and_restored_after_even_on_error() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] >= 100_000
        assert gc.get_freeze_count() > frozen  # what existed before is out of the collector's walks
        raise RuntimeError("a file refused mid-way")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_cycles_left_behind_inside_are_collected_afterwards() -> None:
    old = _Node()  # exists before: frozen while inside
    old_ref = weakref.ref(old)
    with few_collections():
        new_ref = weakref.ref(_Node())  # a cycle made and dropped inside
        del old  # a frozen object becomes garbage inside
        gc.collect()
        assert old_ref() is not None  # frozen objects are not collected while the file streams
    gc.collect()
    assert new_ref() is None and old_ref() is None
