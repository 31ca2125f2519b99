"""housekeeping through Airflow's real dag.test(): the store's retention and a real ``airflow db clean``.

Two runs, dated by the test: one in January, one in June. The June run removes what is older
than its periods, counted from its own logical date: an alert resolved in the autumn before, and
Airflow's record of the January run (gone from ``airflow dags list-runs``, Airflow's public CLI).
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from credit_exchange.runtime.housekeeping import airflow_cli
from credit_exchange.store import Alert, Store
from credit_exchange.timeutil import LOCAL
from tests import helpers
from tests.helpers import connection_env

JANUARY = datetime(2026, 1, 4, 4, 30, tzinfo=LOCAL)  # Sundays at 04:30, the DAG's own schedule
JUNE = datetime(2026, 6, 7, 4, 30, tzinfo=LOCAL)


def _runs() -> set[str]:
    out = subprocess.run([airflow_cli(), "dags", "list-runs", "housekeeping", "-o", "json"], capture_output=True,
                         text=True, timeout=120, check=True)
    # The JSON list is the output's last line starting with "[" (warnings may come before it).
    listed = [line for line in out.stdout.splitlines() if line.startswith("[")]
    return {run["logical_date"][:10] for run in (json.loads(listed[-1]) if listed else [])}


@pytest.mark.slow
def test_housekeeping_cleans_the_store_and_airflows_database_as_of_its_run_date(
        airflow_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "exchange.db"
    monkeypatch.setattr("sys.argv", ["pytest"])
    for k, v in connection_env(exchange_db={"conn_type": "sqlite", "host": str(db)}).items():
        monkeypatch.setenv(k, v)
    store = Store(f"sqlite:///{db}")
    with store.session() as s:
        s.add(Alert(kind="cycle_late", source="hub", subject="autumn", message="m",
                    created_at=datetime(2025, 5, 1, tzinfo=LOCAL), resolved_at=datetime(2025, 5, 2, tzinfo=LOCAL)))

    run, states = helpers.run_dag("housekeeping", JANUARY)
    assert run.state == "success", states
    assert states == {"clean_hub_store": "success", "clean_airflow_db": "success"}
    with store.session() as s:  # resolved 247 days before January: inside the 365 days
        assert s.execute(select(Alert.subject)).scalars().all() == ["autumn"]
    assert "2026-01-03" in _runs() or "2026-01-04" in _runs()

    run, states = helpers.run_dag("housekeeping", JUNE)
    assert run.state == "success", states
    with store.session() as s:  # resolved 401 days before June
        assert s.execute(select(Alert.subject)).scalars().all() == []
    runs = _runs()
    assert not runs & {"2026-01-03", "2026-01-04"}, runs  # more than 90 days before June: cleaned
    assert runs & {"2026-06-06", "2026-06-07"}, runs
    store.dispose()
