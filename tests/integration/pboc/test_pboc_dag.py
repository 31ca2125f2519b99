"""ingest_pboc through Airflow's real dag.test(), against the read-only sshd."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange.timeutil import LOCAL
from sandbox.pboc_files import demo_night
from tests import helpers
from tests.helpers import connection_env

AT = datetime(2026, 11, 28, 22, 0, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, pboc_server: Any, pboc_outbox_dir: Path,
            pii_key: str, tmp_path: Path) -> Path:
    env = connection_env(
        pboc_sftp=pboc_server.airflow_connection(),
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path / "exchange.db"


def run_dag(dag_id: str) -> Any:
    return helpers.run_dag(dag_id, RUN)


def test_a_night_with_a_pair_succeeds_and_announces_deliveries(hub_env: Path, pboc_outbox_dir: Path) -> None:
    from sandbox.pboc_files import write_pair

    write_pair(pboc_outbox_dir, demo_night(AT.date(), AT))
    dr, states = run_dag("ingest_pboc")
    assert dr.state == "success", states
    assert states == {"take_pboc_pairs": "success", "any_new_records": "success", "announce_deliveries": "success"}

    from credit_exchange.store import Delivery, ReceivedFile, Store

    store = Store(f"sqlite:///{hub_env}")
    try:
        with store.session() as s:
            assert s.execute(select(func.count()).select_from(ReceivedFile)).scalar_one() == 1
            assert s.execute(select(func.count()).select_from(Delivery)
                             .where(Delivery.outcome == "accepted")).scalar_one() == 11
    finally:
        store.dispose()

    # The XCom carries counts, the department and the (masked) names of the pairs taken, never record data.
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (value,) = [x.value for x in session.query(XComModel).filter(
            XComModel.run_id == dr.run_id, XComModel.task_id == "take_pboc_pairs", XComModel.key == "return_value")]
    summary = value if isinstance(value, dict) else json.loads(value)
    assert summary["accepted"] == 11 and summary["rejected"] == 1 and summary["department"] == "pboc"
    assert all(isinstance(v, int) for k, v in summary.items() if k not in ("department", "file_names"))
    assert summary["file_names"] == [f"PBOC_PAYRISK_{AT:%Y%m%d}_01.dat"]

    # Replayed: the pair is in the ledger, nothing new, still green.
    dr, states = run_dag("ingest_pboc")
    assert dr.state == "success"
    assert states["take_pboc_pairs"] == "success" and states["announce_deliveries"] == "skipped"


def test_an_empty_outbox_run_succeeds_and_does_nothing(hub_env: Path) -> None:
    dr, states = run_dag("ingest_pboc")
    assert dr.state == "success"
    assert states == {"take_pboc_pairs": "success", "any_new_records": "success", "announce_deliveries": "skipped"}
