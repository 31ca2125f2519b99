"""ingest_police through Airflow's real dag.test(): with a night's file, and with an empty inbox."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange.timeutil import LOCAL
from sandbox.police_files import demo_night
from tests import helpers
from tests.helpers import connection_env

AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path,
            pii_key: str, tmp_path: Path) -> Path:
    env = connection_env(
        inbox_sftp=inbox_server.airflow_connection(),
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path / "exchange.db"


def run_dag() -> tuple[Any, dict[str, str]]:
    return helpers.run_dag("ingest_police", RUN)


def test_a_night_of_police_files_is_taken(hub_env: Path, police_inbox: Any) -> None:
    (name, body), = demo_night(AT.date(), AT).items()
    police_inbox.drop(name, body)  # written some minutes ago: past the 120 s quiet period
    police_inbox.drop("POLICE_FRAUD_20261128_02.csv", body[: len(body) // 3], age_seconds=None)  # still arriving

    dr, states = run_dag()
    assert dr.state == "success", states
    assert states == {"take_police_files": "success", "any_new_records": "success", "announce_deliveries": "success"}
    receipt = json.loads((police_inbox.dir / "receipts" / f"{name}.receipt.json").read_text(encoding="utf-8"))
    assert receipt["status"] == "partially_accepted" and receipt["records"]["accepted"] == 13
    assert (police_inbox.dir / "inbox" / "POLICE_FRAUD_20261128_02.csv").exists()  # left for a later run

    from credit_exchange.store import ReceivedFile, Store

    store = Store(f"sqlite:///{hub_env}")
    try:
        with store.session() as s:
            assert s.execute(select(ReceivedFile.name)).scalars().all() == [name]
    finally:
        store.dispose()


def test_an_empty_inbox_run_succeeds_and_does_nothing(hub_env: Path, police_inbox: Any) -> None:
    dr, states = run_dag()
    assert dr.state == "success", states
    assert states["take_police_files"] == "success"
    assert states["any_new_records"] == "success" and states["announce_deliveries"] == "skipped"
