"""The hub's metrics and asset extras, the parts that need no Airflow run (tests/e2e/test_metrics.py sends them)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from credit_exchange.runtime import metrics
from tests.helpers import REPO


def test_every_metric_is_in_the_runbook_with_its_kind() -> None:
    runbook = (REPO / "docs/operations.md").read_text(encoding="utf-8")
    for name, (kind, attribute, _meaning) in metrics.METRICS.items():
        row = next((line for line in runbook.splitlines() if line.startswith(f"| `airflow.{name}` |")), None)
        assert row is not None, f"docs/operations.md, Metrics: {name} is missing"
        assert f"| {kind} |" in row and (not attribute or f"`{attribute}`" in row), row


def test_gauges_that_cannot_be_read_never_fail_the_task(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    class NoStore:
        def session(self) -> Any:
            raise ConnectionError("the store is down")

    monkeypatch.setattr(metrics, "enabled", lambda: True)
    with caplog.at_level(logging.WARNING, logger=metrics.__name__):
        metrics.report_store_gauges(NoStore())
    assert "could not report the hub's gauges" in caplog.text


def test_with_metrics_off_the_store_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    class Untouchable:
        def session(self) -> Any:
            raise AssertionError("read although metrics are off")

    monkeypatch.setattr(metrics, "enabled", lambda: False)
    metrics.report_store_gauges(Untouchable())


def test_a_run_that_fails_still_counts_what_it_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[tuple[str, dict[str, int]]] = []
    monkeypatch.setattr(metrics, "ingested", lambda department, counts: counted.append((department, counts)))

    class Interrupted:
        summary = type("S", (), {"totals": staticmethod(lambda: {"accepted": 3, "rejected": 1})})()

        def run(self) -> None:
            raise RuntimeError("the network went away after the first file")

    with pytest.raises(RuntimeError):
        metrics.counted_run("police", Interrupted())
    assert counted == [("police", {"accepted": 3, "rejected": 1})]
