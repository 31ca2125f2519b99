"""Fixtures that start the real components the tests need, and clean up by process id.

Nothing here skips: a missing sshd or an unreachable PostgreSQL fails the test
that needs it, so a green run means those paths really ran.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import COUNTY_KEY, COUNTY_SECRET, REPO, TestClock, as_conn, county_conn

PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads its settings once, at first import: point it at a throw-away home first.
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="qw-airflow-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DEFAULT_TIMEZONE"] = "Asia/Shanghai"
    os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(home / "logs")
    # One signing key for this process and the API server a test starts (tests/airflow_api_server.py).
    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", uuid.uuid4().hex + uuid.uuid4().hex)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Airflow's metadata database, migrated once per session (what dag.test() needs)."""
    import subprocess
    import sys

    out = subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def airflow_api_server(airflow_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Airflow's real API server on a loopback port (the hub's assets registered), stopped by process group."""
    from tests.airflow_api_server import start_api_server

    server = start_api_server(tmp_path_factory.mktemp("airflow-api"))
    yield server
    server.stop()


# -- the hub's clock ---------------------------------------------------------------------

@pytest.fixture
def clock() -> Iterator[TestClock]:
    """The hub's clock, held by the test: it starts at 2026-11-28 10:00 Asia/Shanghai and moves when told."""
    from datetime import datetime

    from credit_exchange.timeutil import LOCAL, use_clock

    with use_clock(TestClock(datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL))) as c:
        yield c  # type: ignore[misc]


@pytest.fixture(params=["UTC", "Asia/Shanghai", "America/Los_Angeles"])
def host_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test process runs in this host time zone (TZ, then tzset), restored afterwards."""
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


# -- PostgreSQL --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_server_url() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - fail with the reason, never skip
        pytest.fail(f"PostgreSQL is required for this test and does not answer at {PG_URL}: {exc}")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A throw-away database on the real PostgreSQL server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"qw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = pg_server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    from credit_exchange.store import Store

    s = Store(store_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Any]:
    from credit_exchange.store import Store

    s = Store(f"sqlite:///{tmp_path / 'exchange.db'}")
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def pii_key() -> str:
    from credit_exchange.standard.crypto import PiiVault

    return PiiVault.generate_key()


@pytest.fixture
def vault(pii_key: str) -> Any:
    from credit_exchange.standard.crypto import PiiVault

    return PiiVault(pii_key)


# -- the inbox server: a real sshd ------------------------------------------------------

@pytest.fixture(scope="session")
def inbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.sshd import INBOX_FOLDERS, start_sshd

    base = tmp_path_factory.mktemp("inbox-sshd")
    server = start_sshd(base / "state", base / "data", folders=INBOX_FOLDERS)
    yield server
    server.stop()


@pytest.fixture
def inbox_root(inbox_server: Any) -> Path:
    """The inbox server's data root, emptied of files before each test (folders kept)."""
    from sandbox.sshd import INBOX_FOLDERS

    root = Path(inbox_server.data_root)
    for dept in ("market", "police"):
        d = root / dept
        if d.exists():
            for child in d.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    for folder in INBOX_FOLDERS:
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def inbox(inbox_server: Any, inbox_root: Path) -> Iterator[Any]:
    from connectors.sftp import SftpConnector

    with SftpConnector.from_connection(as_conn(inbox_server.airflow_connection(), "inbox_sftp")) as sftp:
        yield sftp


# -- the county platform sandbox ----------------------------------------------------------

@pytest.fixture
def county(tmp_path: Path) -> Iterator[Any]:
    from sandbox.county_platform import start

    server = start(tmp_path / "county.db", COUNTY_KEY, COUNTY_SECRET)
    yield server
    server.shutdown()


@pytest.fixture
def county_client(county: Any) -> Any:
    from connectors.county_platform import CountyPlatform
    from connectors.http_api import SignedApiClient

    return CountyPlatform(SignedApiClient.from_connection(as_conn(county_conn(county), "county_platform"),
                                                          sleep=lambda s: None))

