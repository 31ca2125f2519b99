"""The store's schema is migrated once, explicitly, under an advisory lock; tasks only check it.

Against the real PostgreSQL server: a task (``Store.from_conn_id``) refuses a store behind the
code's revision with a clear, never-retried error; ``python -m credit_exchange.store migrate``
brings it up; several init steps started at once take turns instead of racing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from credit_exchange.runtime.schedule import fail_fast_reason
from credit_exchange.store import Store
from credit_exchange.store.db import MIGRATION_LOCK, StoreNotMigrated, current_revision, head_revision
from tests.helpers import REPO, connection_env

pytestmark = pytest.mark.postgres


def _conn(url: str) -> dict[str, Any]:
    u = make_url(url)
    return {"conn_type": "postgres", "host": u.host, "port": u.port, "login": u.username,
            "password": u.password, "schema": u.database}


def _env(url: str) -> dict[str, str]:
    return {**os.environ, **connection_env(exchange_db=_conn(url))}


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "credit_exchange.store", *args], cwd=REPO, env=_env(url),
                          capture_output=True, text=True, timeout=300, check=False)


def _migrator(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "credit_exchange.store", "migrate"], cwd=REPO, env=_env(url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _task_store_is_at_head() -> bool:
    """What a task sees: the store of ``exchange_db`` opened as tasks open it, at the code's revision."""
    store = Store.from_conn_id()
    try:
        return current_revision(store.engine) == head_revision()
    finally:
        store.dispose()


def test_a_task_refuses_an_unmigrated_store_and_the_init_step_migrates_it(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in connection_env(exchange_db=_conn(pg_url)).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StoreNotMigrated) as refused:
        Store.from_conn_id()
    assert "python -m credit_exchange.store migrate" in str(refused.value)
    assert fail_fast_reason(refused.value)  # never retried: only the init step can mend it

    check = _cli(pg_url, "check")
    assert check.returncode == 1 and "migrate" in check.stderr
    done = _cli(pg_url, "migrate")
    assert done.returncode == 0, done.stderr[-2000:]
    assert head_revision() in done.stdout
    again = _cli(pg_url, "migrate")
    assert again.returncode == 0 and "already" in again.stdout
    assert _cli(pg_url, "check").returncode == 0

    assert _task_store_is_at_head()


def test_a_migration_waits_for_the_lock_another_migrator_holds(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            proc = _migrator(pg_url)
            try:
                with pytest.raises(subprocess.TimeoutExpired):
                    proc.wait(timeout=8)  # it waits: another migrator holds the lock
                assert current_revision(engine) is None
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                holder.commit()
            assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_init_steps_started_together_take_turns(pg_url: str) -> None:
    procs = [_migrator(pg_url) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err[-1500:] for _, err in results]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                head_revision()]
    finally:
        engine.dispose()


def test_a_sqlite_store_still_migrates_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in connection_env(exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "x.db")}).items():
        monkeypatch.setenv(key, value)
    assert _task_store_is_at_head()


def test_the_connections_tls_extras_reach_the_driver(pg_url: str) -> None:
    """sslmode from the extras is libpq's: this server speaks no TLS, so "require" is refused by the driver."""
    from airflow.sdk import Connection
    from sqlalchemy.exc import OperationalError

    from credit_exchange.store import sqlalchemy_url

    plain = {k: v for k, v in _conn(pg_url).items() if k != "conn_type"}
    conn = Connection(conn_id="exchange_db", conn_type="postgres", extra='{"sslmode": "require"}', **plain)
    url = sqlalchemy_url(conn)
    assert url.endswith("?sslmode=require")
    engine = create_engine(url)
    try:
        with pytest.raises(OperationalError, match="SSL"):
            engine.connect()
    finally:
        engine.dispose()
    verify = Connection(conn_id="x", conn_type="postgres", extra='{"sslmode": "verify-full", '
                        '"sslrootcert": "/etc/hub/ca.pem"}', **plain)
    assert sqlalchemy_url(verify).endswith("?sslmode=verify-full&sslrootcert=%2Fetc%2Fhub%2Fca.pem")
    with pytest.raises(ValueError, match="sslmod"):
        sqlalchemy_url(Connection(conn_id="x", conn_type="postgres", extra='{"sslmod": "require"}', **plain))
