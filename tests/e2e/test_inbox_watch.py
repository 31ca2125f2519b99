"""The office-hours watcher: deferred on the hub's own SFTP connector, through Airflow's real dag.test().

The connection is written exactly as README.md and docker/connections.env.example show it
(host, port, login; ``key_file`` and ``host_key`` in the extras, nothing else), so what an admin
types is what is tested: it works for the watcher against the real sshd, and a changed host key
fails it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from tests.helpers import REPO, connection_env

RUN = datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL)
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbV0Ts8Yw2eYvQwXWqJ8K9xkx1nGkzq6mJm1y0eVbKk"


def readme_form(server: Any, **extra: Any) -> dict[str, Any]:
    """``inbox_sftp`` as README.md writes it."""
    return {"conn_type": "sftp", "host": server.host, "port": server.port, "login": server.login,
            "extra": {"key_file": str(server.client_key_path), "host_key": server.host_key_line, **extra}}


@pytest.fixture
def watch_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path) -> Any:
    for k, v in connection_env(inbox_sftp=readme_form(inbox_server)).items():
        monkeypatch.setenv(k, v)
    return inbox_server


def run_watch(watch_for: float = 20) -> dict[str, str | None]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["watch_market_inbox"]
    watcher = dag.get_task("wait_for_files")
    watcher.watch_for = timedelta(seconds=watch_for)
    watcher.poke_interval = 1
    dr = dag.test(logical_date=RUN)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    return {"run": dr.state, **states}


def test_a_file_already_there_is_announced(watch_env: Any, inbox_root: Path) -> None:
    (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml").write_bytes(b"<x/>")
    states = run_watch()
    assert states == {"run": "success", "wait_for_files": "success", "announce_inbox": "success"}


def test_a_file_dropped_while_waiting_is_announced_by_the_trigger(watch_env: Any, inbox_root: Path) -> None:
    import threading

    drop = threading.Timer(2.0, (inbox_root / "market/inbox/MARKET_PENALTY_20261130_002.xml").write_bytes, [b"<x/>"])
    drop.start()
    try:
        states = run_watch(watch_for=30)
    finally:
        drop.cancel()
    assert states == {"run": "success", "wait_for_files": "success", "announce_inbox": "success"}


def test_an_upload_in_transit_is_not_announced_and_nothing_fails(watch_env: Any, inbox_root: Path) -> None:
    (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml.tmp").write_bytes(b"<x")
    states = run_watch(watch_for=3)
    assert states["wait_for_files"] == "skipped" and states["announce_inbox"] == "skipped"
    assert states["run"] == "success"


@pytest.mark.parametrize("file_there", [True, False], ids=["first-look", "in-the-trigger"])
def test_a_changed_host_key_fails_loudly(monkeypatch: pytest.MonkeyPatch, watch_env: Any, inbox_root: Path,
                                         file_there: bool) -> None:
    conn = readme_form(watch_env)
    conn["extra"]["host_key"] = OTHER_KEY
    for k, v in connection_env(inbox_sftp=conn).items():
        monkeypatch.setenv(k, v)
    if file_there:
        (inbox_root / "market/inbox/MARKET_PENALTY_20261130_001.xml").write_bytes(b"<x/>")
    states = run_watch(watch_for=10)
    assert states["wait_for_files"] == "failed" and states["announce_inbox"] != "success"


def test_the_trigger_ends_quietly_when_nothing_comes_and_reports_a_dead_server(
        watch_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import socket
    import time

    from credit_exchange.runtime.watch import InboxWatchTrigger

    async def first(trigger: InboxWatchTrigger) -> Any:
        async for event in trigger.run():
            return event.payload

    trigger = InboxWatchTrigger("inbox_sftp", "/market/inbox", "MARKET_*.xml", 0.2, time.time() + 1)
    assert asyncio.run(first(trigger)) == {"status": "nothing"}
    assert trigger.serialize()[0] == "credit_exchange.runtime.watch.InboxWatchTrigger"

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = {**readme_form(watch_env), "port": port}
    for k, v in connection_env(dead_sftp=dead).items():
        monkeypatch.setenv(k, v)
    event = asyncio.run(first(InboxWatchTrigger("dead_sftp", "/market/inbox", "MARKET_*.xml", 0.2, time.time() + 1)))
    assert event["status"] == "error" and "SftpConnectError" in event["message"]
