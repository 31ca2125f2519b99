"""A task's peak memory, as the plugin's listener logs and records it (credit_exchange.runtime.resources)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credit_exchange.runtime import resources


def test_peak_rss_is_the_kernels_high_water_mark(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")
    assert resources.peak_rss_mb(status) == 200.0
    status.write_text("Name:\tpython\n")
    assert resources.peak_rss_mb(status) is None
    assert resources.peak_rss_mb(tmp_path / "missing") is None
    # This very process: a real, positive number on Linux.
    assert (resources.peak_rss_mb() or 0) > 1


def test_usage_is_appended_as_one_json_line_per_task_only_when_asked(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "metrics.jsonl"
    monkeypatch.delenv(resources.METRICS_ENV, raising=False)
    resources.record(resources.task_usage("merge_credit", "r1", "derive", 1, "success"))
    assert not out.exists()
    monkeypatch.setenv(resources.METRICS_ENV, str(out))
    resources.record(resources.task_usage("merge_credit", "r1", "derive", 1, "success"))
    resources.record(resources.task_usage("push_city", "r2", "push_city_files", 2, "failed"))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(u["dag_id"], u["task_id"], u["try_number"], u["state"]) for u in lines] == [
        ("merge_credit", "derive", 1, "success"), ("push_city", "push_city_files", 2, "failed")]
    assert all(u["peak_rss_mb"] > 1 and u["children_peak_rss_mb"] >= 0 and u["cpu_s"] >= 0 for u in lines)
