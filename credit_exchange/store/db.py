"""Opening the hub's store from the ``exchange_db`` connection, and migrating it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(conn: Any) -> str:
    """Turn an Airflow connection (JSON or URI form) into a SQLAlchemy URL.

    Accepted: conn_type ``sqlite`` with the file path as host, or ``postgres`` /
    ``postgresql`` with host, port, schema (database), login and password.
    """
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        # JSON form puts the path in host; Airflow's URI form (sqlite:////abs/x.db) in schema.
        path = conn.host or conn.schema or ""
        if not os.path.isabs(path):
            raise ValueError("exchange_db: a sqlite connection needs the absolute database file path")
        return f"sqlite:///{path}"
    if conn_type in {"postgres", "postgresql"}:
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql+psycopg2://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"
    raise ValueError(f"exchange_db: unsupported connection type {conn_type!r} (sqlite or postgres)")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # Deliveries carry a sealed record of 1-2 KB: 16 KiB pages hold ten of them where 4 KiB
            # pages (the default) hold two and waste a third. Takes effect only when the store is
            # created, before WAL (a store created with other pages keeps them, and works the same).
            cur.execute("PRAGMA page_size=16384")
            # WAL lets the UI read while a run writes; foreign keys are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the store to the newest schema (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Store:
    """A migrated database and a session factory."""

    def __init__(self, url: str, *, migrate_now: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate_now:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_conn_id(cls, conn_id: str = "exchange_db") -> Store:
        from credit_exchange.airflow_conn import get_connection

        return cls(sqlalchemy_url(get_connection(conn_id)))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
