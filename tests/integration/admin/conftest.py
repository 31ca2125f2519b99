"""Fixtures for ``qianwei-hub``: the connections a deployment gives it, and a way to run it and read its output.

The store is real (SQLite file and PostgreSQL, ``store_url``), the inbox server is the real sshd
stand-in, and Airflow's audit log is written and read back through a real ``airflow api-server``
(``airflow_api_server``, tests/airflow_api_server.py).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import connection_env
from tests.integration.ui.conftest import exchange_db_conn

FULL_ID = "11010519491231002X"
MASKED_ID = "110105********002X"


@pytest.fixture(scope="session", autouse=True)
def _airflow_imported(airflow_db: str) -> None:
    """Import Airflow once before any test captures output, so its log handlers write to the real streams.

    Not at module level: this conftest is imported before ``pytest_configure`` points Airflow at the
    test's home.
    """
    import airflow.sdk  # noqa: F401


@dataclass
class Ran:
    status: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, store: Any, store_url: str, inbox_server: Any,
            airflow_api_server: Any) -> Any:
    """``exchange_db``, ``inbox_sftp`` and ``airflow_api`` as AIRFLOW_CONN_* variables; the OS user is ``wangli``."""
    env = connection_env(exchange_db=exchange_db_conn(store_url), inbox_sftp=inbox_server.airflow_connection(),
                         airflow_api=airflow_api_server.connection())
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOGNAME", "wangli")  # getpass.getuser() reads LOGNAME first
    return airflow_api_server


@pytest.fixture
def hub(capsys: pytest.CaptureFixture[str], hub_env: Any) -> Any:
    """Run ``qianwei-hub ARGS`` in this process: its exit status and what it printed."""
    from credit_exchange.admin.cli import main

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse: wrong usage
            status = int(exc.code or 0)
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
