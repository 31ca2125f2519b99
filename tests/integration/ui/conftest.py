"""Fixtures for the Exchange page: Airflow's real API app (with our plugin mounted) and real tokens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import connection_env


def exchange_db_conn(store_url: str) -> dict[str, Any]:
    """The ``exchange_db`` connection (Airflow's JSON form) for a test store URL."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        return {"conn_type": "sqlite", "host": url.database}
    return {"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
            "password": url.password, "schema": url.database}


@pytest.fixture
def hub_connections(monkeypatch: pytest.MonkeyPatch, store_url: str, inbox_server: Any,
                    airflow_api_server: Any) -> None:
    """``exchange_db``, ``inbox_sftp`` and ``airflow_api`` as AIRFLOW_CONN_* variables, as a deployment gives them."""
    env = connection_env(exchange_db=exchange_db_conn(store_url), inbox_sftp=inbox_server.airflow_connection(),
                         airflow_api=airflow_api_server.connection())
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def airflow_api(airflow_db: str) -> Any:
    """Airflow's own API app (``create_app``), which loads plugins/ and mounts the Exchange app like the API server."""
    from airflow.api_fastapi.app import create_app

    return create_app(apps="core")


def make_token(username: str, role: str) -> str:
    """A UI token made the way Airflow 3.3's simple auth manager makes one at login (``generate_jwt``)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return str(get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role)))


@pytest.fixture
def client(airflow_api: Any, hub_connections: None) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(airflow_api, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def audit_mark(server: Any) -> int:
    """The id of the newest entry in Airflow's audit log now: entries after it are the test's."""
    rows = server.api().event_logs(limit=1)
    return int(rows[0]["event_log_id"]) if rows else 0


def audit_rows(server: Any, action: str, after: int = 0) -> list[dict[str, Any]]:
    """The hub's entries in Airflow's audit log for one action after ``after``, oldest first, read
    through the public REST API (``credit_exchange.audit.read_back``)."""
    from credit_exchange.audit import read_back

    rows = read_back(server.api(), action)  # the newest 100: far more than a test writes
    return [{"owner": r["owner"], "dag_id": r["extra"]["dag_id"], "extra": r["extra"]} for r in reversed(rows)
            if int(r["event_log_id"]) > after]
