"""Airflow's real API server (``airflow api-server``) on a loopback port, for the tests that write or read
Airflow's audit log through its public REST API (``credit_exchange.audit``).

It runs against the session's metadata database (``airflow_db``), with the simple auth manager and
one account for the admin command (``hubcli``, role Op); tokens made in the test process
(``make_token``) are valid there too, because ``pytest_configure`` gives both processes the same
``[api_auth] jwt_secret``. Before it starts, ``airflow dags reserialize`` parses the DAG folder, which
registers the hub's assets, ``qianwei://hub/admin-actions`` among them. Readiness is polled; the
server is stopped by its process group id.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.helpers import REPO

LOGIN = "hubcli"


@dataclass
class ApiServer:
    base_url: str
    login: str
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def connection(self, **changes: Any) -> dict[str, Any]:
        """The ``airflow_api`` connection for this server, in Airflow's JSON form."""
        return {"conn_type": "http", "host": self.base_url, "login": self.login, "password": self.password,
                "extra": {"timeout": 10}, **changes}

    def api(self) -> Any:
        from connectors.airflow_api import AirflowApi

        return AirflowApi(self.base_url, login=self.login, password=self.password)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api_server(workdir: Path, timeout_s: float = 120.0) -> ApiServer:
    airflow = str(Path(sys.executable).parent / "airflow")
    env = dict(os.environ)
    # This checkout's code, not an installed copy: the server loads our DAGs and plugin.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    out = subprocess.run([airflow, "dags", "reserialize"], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    password = secrets.token_urlsafe(12)
    passwords = workdir / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({LOGIN: password}))
    env.update({
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{LOGIN}:op",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    })
    port = _free_port()
    log_path = workdir / "api-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([airflow, "api-server", "--apps", "core", "-H", "127.0.0.1", "-p", str(port),
                                    "-w", "1"], stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    server = ApiServer(f"http://127.0.0.1:{port}", LOGIN, password, process, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"airflow api-server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.base_url + "/api/v2/monitor/health", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.stop()
    raise AssertionError(f"airflow api-server did not answer within {timeout_s} s:\n{server.log_tail()}")
