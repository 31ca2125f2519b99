"""Reconciling with the county platform costs minutes (5 requests a second): it runs in the nightly and
manual runs of push_county, not in the runs merge's asset starts (credit_exchange.runtime.push_county)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from credit_exchange.runtime import push_county


def test_a_run_started_by_merges_asset_leaves_reconciling_to_the_nightly_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_store() -> Any:
        raise AssertionError("an asset-triggered run must not open the store to reconcile")

    monkeypatch.setattr("credit_exchange.runtime.hub_store", no_store)
    got = push_county.reconcile_county({"dag_run": SimpleNamespace(run_type="asset_triggered")})
    assert got == {"checked": 0, "in_step": 0, "requeued": 0, "platform_ahead": 0, "left_to_nightly": 1}


@pytest.mark.parametrize("run_type", ["scheduled", "manual"])
def test_nightly_and_manual_runs_reconcile(monkeypatch: pytest.MonkeyPatch, run_type: str) -> None:
    opened: list[str] = []

    class _Store:
        def __enter__(self) -> str:
            opened.append(run_type)
            return "store"

        def __exit__(self, *exc: Any) -> None:
            return None

    monkeypatch.setattr("credit_exchange.runtime.hub_store", lambda: _Store())
    monkeypatch.setattr(push_county, "_client", lambda: "client")
    monkeypatch.setattr("credit_exchange.publish.county.push.reconcile",
                        lambda store, client, limit: SimpleNamespace(as_xcom=lambda: {"checked": limit}))
    got = push_county.reconcile_county({"dag_run": SimpleNamespace(run_type=run_type)})
    assert got == {"checked": push_county.RECONCILE_PER_RUN} and opened == [run_type]
