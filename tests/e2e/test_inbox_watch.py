"""The office-hours watcher: a deferrable SFTP sensor on the inbox, through Airflow's real dag.test()."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from tests.helpers import REPO, connection_env

RUN = datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL)


@pytest.fixture
def watch_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path) -> Any:
    for k, v in connection_env(inbox_sftp=inbox_server.airflow_connection()).items():
        monkeypatch.setenv(k, v)
    return inbox_server


def run_watch(timeout: float = 20, deferrable: bool = True) -> dict[str, str | None]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["watch_market_inbox"]
    sensor = dag.get_task("wait_for_files")
    assert sensor.deferrable is True  # waits in the triggerer, not in a worker slot
    # dag.test() runs a trigger inline, where the triggerer's time-out does not apply: the
    # "nothing arrived" case is exercised in poke mode, which applies the same timeout/soft_fail.
    sensor.deferrable = deferrable
    sensor.timeout = timeout
    sensor.poke_interval = 1
    dr = dag.test(logical_date=RUN)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    return {"run": dr.state, **states}


def test_a_dropped_file_is_announced(watch_env: Any, inbox_root: Path) -> None:
    (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml").write_bytes(b"<x/>")
    states = run_watch()
    assert states == {"run": "success", "wait_for_files": "success", "announce_inbox": "success"}


def test_an_upload_in_transit_is_not_announced_and_nothing_fails(watch_env: Any, inbox_root: Path) -> None:
    (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml.tmp").write_bytes(b"<x")
    states = run_watch(timeout=3, deferrable=False)
    assert states["wait_for_files"] == "skipped" and states["announce_inbox"] == "skipped"
    assert states["run"] == "success"


def test_a_changed_host_key_fails_loudly(monkeypatch: pytest.MonkeyPatch, watch_env: Any, inbox_root: Path) -> None:
    conn = watch_env.airflow_connection()
    conn["extra"]["host_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbV0Ts8Yw2eYvQwXWqJ8K9xkx1nGkzq6mJm1y0eVbKk"
    for k, v in connection_env(inbox_sftp=conn).items():
        monkeypatch.setenv(k, v)
    (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml").write_bytes(b"<x/>")
    states = run_watch(timeout=10)
    assert states["wait_for_files"] == "failed"
