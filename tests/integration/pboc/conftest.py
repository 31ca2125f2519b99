"""The PBoC stand-in: a real OpenSSH server, read-only for the hub like theirs, and its outbox on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_conn


@pytest.fixture(scope="session")
def pboc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.sshd import PBOC_FOLDERS, start_sshd

    base = tmp_path_factory.mktemp("pboc-sshd")
    server = start_sshd(base / "state", base / "data", read_only=True, folders=PBOC_FOLDERS)
    yield server
    server.stop()


@pytest.fixture
def pboc_outbox_dir(pboc_server: Any) -> Path:
    """The outbox folder in the server's data root, emptied before each test; tests write pairs here."""
    outbox = Path(pboc_server.data_root) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    for child in outbox.iterdir():
        child.unlink()
    return outbox


@pytest.fixture
def pboc_outbox(pboc_server: Any, pboc_outbox_dir: Path) -> Iterator[Any]:
    """The hub's SFTP session with the stand-in (read-only account)."""
    from connectors.sftp import SftpConnector

    with SftpConnector.from_connection(as_conn(pboc_server.airflow_connection(), "pboc_sftp")) as sftp:
        yield sftp
