"""Fixtures for the Exchange page: Airflow's real API app (with our plugin mounted) and real tokens."""

from __future__ import annotations

import json
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
def hub_connections(monkeypatch: pytest.MonkeyPatch, store_url: str, inbox_server: Any) -> None:
    """``exchange_db`` and ``inbox_sftp`` as AIRFLOW_CONN_* variables, as a deployment gives them."""
    env = connection_env(exchange_db=exchange_db_conn(store_url), inbox_sftp=inbox_server.airflow_connection())
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


def audit_rows(event: str) -> list[dict[str, Any]]:
    """Rows of Airflow's audit log for one of our events."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(Log).filter(Log.event == event).order_by(Log.id).all()
        return [{"owner": r.owner, "dag_id": r.dag_id, "extra": json.loads(r.extra or "{}")} for r in rows]
