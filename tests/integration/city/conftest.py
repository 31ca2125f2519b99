"""The city platform's SFTP server (a real sshd) and hub records written the way merge writes them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from city_helpers import Hub

from credit_exchange.standard.crypto import PiiVault
from credit_exchange.store import Store
from tests.helpers import as_conn


@pytest.fixture(scope="session")
def city_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.sshd import CITY_FOLDERS, start_sshd

    base = tmp_path_factory.mktemp("city-sshd")
    server = start_sshd(base / "state", base / "data", folders=CITY_FOLDERS)
    yield server
    server.stop()


@pytest.fixture
def city_root(city_server: Any) -> Path:
    """The city server's data root, emptied before each test (folders kept, the platform's holdings gone)."""
    from sandbox.sshd import CITY_FOLDERS

    root = Path(city_server.data_root)
    for folder in [*CITY_FOLDERS, "/.platform"]:
        d = root / folder.lstrip("/")
        if d.exists():
            shutil.rmtree(d)
    for folder in CITY_FOLDERS:
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def city_conn(city_server: Any) -> dict[str, Any]:
    return dict(city_server.airflow_connection())


@pytest.fixture
def city_sftp(city_conn: dict[str, Any], city_root: Path) -> Iterator[Any]:
    from connectors.sftp import SftpConnector

    with SftpConnector.from_connection(as_conn(city_conn, "city_platform_sftp")) as sftp:
        yield sftp


@pytest.fixture
def hub(store: Store, vault: PiiVault) -> Hub:
    return Hub(store, vault)
