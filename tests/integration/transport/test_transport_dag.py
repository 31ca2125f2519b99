"""ingest_transport through Airflow's real dag.test(): a night with data, then a night with nothing new."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from transport_support import APP_KEY, APP_SECRET, deliveries, received, seed, watermarks

from credit_exchange.timeutil import LOCAL
from sandbox.transport_api import TransportApiServer
from sandbox.transport_data import demo_items
from tests import helpers
from tests.helpers import connection_env

RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, transport_server: TransportApiServer, pii_key: str,
            tmp_path: Path) -> Path:
    env = connection_env(
        transport_api={"conn_type": "http", "host": transport_server.url,
                       "extra": {"app_key": APP_KEY, "app_secret": APP_SECRET, "timeout": 10}},
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path / "exchange.db"


def run_dag(logical_date: datetime) -> tuple[Any, dict[str, str]]:
    return helpers.run_dag("ingest_transport", logical_date)


def test_ingest_transport_takes_a_night_and_then_does_nothing(hub_env: Path,
                                                              transport_server: TransportApiServer) -> None:
    from credit_exchange.store import Store

    seed(transport_server, demo_items(RUN.date()))
    dr, states = run_dag(RUN)
    assert dr.state == "success", states
    assert states == {"pull_transport_api": "success", "any_new_records": "success",
                      "announce_deliveries": "success"}

    store = Store(f"sqlite:///{hub_env}")
    try:
        taken = deliveries(store)
        assert len(taken) == 16 and sum(d[3] == "accepted" for d in taken) == 15
        assert {f.run_id for f in received(store)} == {dr.run_id}
        marks = watermarks(store)
        assert set(marks) == {"transport:courier-enterprises", "transport:courier-violations"}

        # The next night: nothing changed at the department, the run succeeds and announces nothing.
        dr, states = run_dag(RUN + timedelta(days=1))
        assert dr.state == "success", states
        assert states == {"pull_transport_api": "success", "any_new_records": "success",
                          "announce_deliveries": "skipped"}
        assert deliveries(store) == taken and len(received(store)) == 2
        assert all(watermarks(store)[k] >= marks[k] for k in marks)
    finally:
        store.dispose()
