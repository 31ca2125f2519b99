"""merge_credit through Airflow's dag.test(): derive runs every time, and the run is a no-op when nothing changed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lists_helpers import hub_for_dag_runs, org

from credit_exchange.timeutil import LOCAL
from tests import helpers


def run(logical: datetime) -> dict[str, Any]:
    dr, states = helpers.run_dag("merge_credit", logical)
    assert dr.state == "success"
    return states


@pytest.mark.slow
def test_merge_credit_derives_by_the_logical_date(airflow_db: str, monkeypatch: pytest.MonkeyPatch, pii_key: str,
                                                  tmp_path: Path) -> None:
    store, hub = hub_for_dag_runs(tmp_path, monkeypatch, pii_key)
    who = org(1)
    hub.put("payment_risk_event", "E-1", who, event_date="2025-01-10", risk_level="高", action_taken="终止服务")

    states = run(datetime(2027, 1, 10, 1, 30, tzinfo=LOCAL))  # nothing to merge, but lists to derive
    assert states == {"merge_deliveries": "success", "derive_lists_and_profiles": "success",
                      "any_new_versions": "success", "announce_versions": "success"}
    assert hub.record(f"hub:blacklist:{who.key_hint}")[1]["status"] == "有效"  # type: ignore[index]

    states = run(datetime(2027, 1, 10, 1, 30, tzinfo=LOCAL))  # the same day again: nothing changes
    assert states["derive_lists_and_profiles"] == "success" and states["announce_versions"] == "skipped"

    # 01:30 on 11 January in Shanghai is still 10 January in UTC: the run date is the local one.
    run(datetime(2027, 1, 11, 1, 30, tzinfo=LOCAL))
    assert hub.record(f"hub:blacklist:{who.key_hint}")[1]["status"] == "已移出"  # type: ignore[index]
    store.dispose()
