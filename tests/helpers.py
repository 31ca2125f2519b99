"""Helpers shared by tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COUNTY_KEY, COUNTY_SECRET = "qw-test-key", "qw-test-secret-0123456789abcdef"


def as_conn(conn: dict[str, Any], conn_id: str) -> SimpleNamespace:
    """An Airflow-connection-like object from the JSON form."""
    return SimpleNamespace(conn_id=conn_id, conn_type=conn.get("conn_type"), host=conn.get("host"),
                           port=conn.get("port"), login=conn.get("login"), password=conn.get("password"),
                           schema=conn.get("schema"), extra_dejson=conn.get("extra", {}))


def county_conn(server: Any) -> dict[str, Any]:
    return {"conn_type": "http", "host": server.url,
            "extra": {"app_key": COUNTY_KEY, "app_secret": COUNTY_SECRET, "timeout": 10}}


def connection_env(**conns: dict[str, Any]) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables in Airflow's JSON form."""
    return {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v, ensure_ascii=False) for k, v in conns.items()}


def use_hub_connections(monkeypatch: Any, store_path: Path, pii_key: str, **conns: dict[str, Any]) -> None:
    """The connections a hub DAG run needs, as ``AIRFLOW_CONN_*`` variables: a SQLite store, the key, ``conns``."""
    env = connection_env(exchange_db={"conn_type": "sqlite", "host": str(store_path)},
                         pii_key={"conn_type": "generic", "password": pii_key}, **conns)
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def run_dag(dag_id: str, logical_date: Any) -> tuple[Any, dict[str, Any]]:
    """One real ``dag.test()`` run of a project DAG (the folder must import cleanly); the run and its task states."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dr = bag.dags[dag_id].test(logical_date=logical_date)
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


class TestClock:
    """The hub's clock in a test (``timeutil.use_clock``): stands at the time the test set, moves when told.

    The ``clock`` fixture installs one; a test sets it to the instant its scenario needs, so no
    expectation depends on the day the suite runs.
    """

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("give the test clock an aware datetime")
        self.at = at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at
