"""connectors.airflow_api: the API server's address from a connection, and failures named by their fix."""

from __future__ import annotations

import socket

import pytest

from connectors.airflow_api import AirflowApi, AirflowApiError, base_url_of
from tests.helpers import as_conn


@pytest.mark.parametrize(("conn", "url"), [
    ({"host": "http://airflow-apiserver:8080"}, "http://airflow-apiserver:8080"),
    ({"host": "https://hub.example/", "port": 8443}, "https://hub.example:8443"),
    ({"host": "api-server"}, "http://api-server:8080"),
    ({"host": "api-server", "port": 9090, "schema": "https"}, "https://api-server:9090"),
])
def test_the_base_url_comes_from_host_port_and_scheme(conn: dict, url: str) -> None:
    assert base_url_of(as_conn(conn, "airflow_api")) == url


def test_a_connection_without_host_or_account_is_not_configured() -> None:
    with pytest.raises(AirflowApiError) as no_host:
        base_url_of(as_conn({"host": ""}, "airflow_api"))
    assert no_host.value.kind == "not_configured"
    with pytest.raises(AirflowApiError) as no_account:
        AirflowApi("http://127.0.0.1:1").token()
    assert no_account.value.kind == "not_configured"


def test_a_server_that_does_not_answer_is_unreachable_quickly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = AirflowApi(f"http://127.0.0.1:{port}", token="t", timeout=2)
    with pytest.raises(AirflowApiError) as exc:
        api.asset_id("qianwei://hub/admin-actions")
    assert exc.value.kind == "unreachable" and f"127.0.0.1:{port}" in str(exc.value)
