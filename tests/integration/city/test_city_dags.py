"""push_city, collect_city_receipts and publicity_expiry through Airflow's real dag.test() runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from city_helpers import Hub, licence, penalty
from sqlalchemy import select

from credit_exchange.store import CityState
from credit_exchange.timeutil import LOCAL
from sandbox import city_platform
from tests import helpers
from tests.helpers import connection_env

RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
# The day after the 3-month publicity of a 通报批评 decided on 2026-11-01.
EXPIRY_RUN = datetime(2027, 2, 2, 1, 0, tzinfo=LOCAL)

pytestmark = pytest.mark.slow


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, city_conn: dict[str, Any], city_root: Path,
            pii_key: str, tmp_path: Path) -> Path:
    env = connection_env(
        city_platform_sftp=city_conn,
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path / "exchange.db"


def run_dag(dag_id: str, when: datetime = RUN) -> tuple[Any, dict[str, Any]]:
    return helpers.run_dag(dag_id, when)


def test_the_city_dags_do_nothing_when_there_is_nothing(hub_env: Path, city_root: Path) -> None:
    for dag_id in ("push_city", "collect_city_receipts", "publicity_expiry"):
        dr, states = run_dag(dag_id)
        assert dr.state == "success", (dag_id, states)
        assert set(states.values()) == {"success"}
    assert list((city_root / "upload/511123").iterdir()) == []


def test_push_collect_and_expire_through_airflow(hub_env: Path, sqlite_store: Any, vault: Any,
                                                 city_root: Path) -> None:
    hub = Hub(sqlite_store, vault)
    lic = hub.put("administrative_license", "XK-1", licence(1))
    pen = hub.put("administrative_penalty", "CF-1", penalty(1, ["通报批评"], decision_date="2026-11-01"))
    assert hub.data[pen]["publicity_until"] == "2027-02-01"

    dr, states = run_dag("push_city")
    assert dr.state == "success", states
    assert states == {"push_city_files": "success"}
    assert {h["type"] for h in city_platform.holdings(city_root)} == set()  # not loaded yet
    assert sorted(city_platform.process_uploads(city_root))
    dr, states = run_dag("collect_city_receipts")
    assert dr.state == "success", states
    with sqlite_store.session() as s:
        assert {st.record_id: st.status for st in s.execute(select(CityState)).scalars()} == {lic: "ok", pen: "ok"}

    # Replay of the same night: nothing new.
    dr, _ = run_dag("push_city")
    assert dr.state == "success"
    assert len(list((city_root / "upload/511123").glob("*.xml"))) == 2

    dr, states = run_dag("publicity_expiry", EXPIRY_RUN)
    assert dr.state == "success", states
    city_platform.process_uploads(city_root)
    assert [h["record_id"] for h in city_platform.holdings(city_root)] == [lic]
