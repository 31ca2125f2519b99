"""Opening the hub's store from the ``exchange_db`` connection, and migrating it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from hub_messages import text as _text

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(conn: Any) -> str:
    """Turn an Airflow connection (JSON or URI form) into a SQLAlchemy URL.

    Accepted: conn_type ``sqlite`` with the file path as host, or ``postgres`` /
    ``postgresql`` with host, port, schema (database), login and password, and the libpq
    extras of ``LIBPQ_EXTRAS`` (``sslmode``, ``sslrootcert``, …), which reach the driver.
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
        url = f"postgresql+psycopg2://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"
        return url + _libpq_query(conn)
    raise ValueError(f"exchange_db: unsupported connection type {conn_type!r} (sqlite or postgres)")


# Connection extras handed to libpq as they are (TLS, and what a managed PostgreSQL asks for).
LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
                "target_session_attrs", "connect_timeout", "application_name")


def _libpq_query(conn: Any) -> str:
    """``?sslmode=verify-full&sslrootcert=…`` from the connection's extras; anything else is refused."""
    extras = getattr(conn, "extra_dejson", None) or {}
    if not isinstance(extras, dict):
        return ""
    unknown = sorted(set(extras) - set(LIBPQ_EXTRAS))
    if unknown:
        raise ValueError(_text("store_unknown_extras", unknown=unknown, known=", ".join(LIBPQ_EXTRAS)))
    params = {k: str(extras[k]) for k in LIBPQ_EXTRAS if extras.get(k) not in (None, "")}
    return "?" + urlencode(params) if params else ""


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
    if url.startswith("postgresql+psycopg2"):
        # Bulk upserts and updates (executemany) in pages of statements, not one round trip a row
        # (psycopg2's own executemany loops); INSERTs keep SQLAlchemy's multi-row VALUES.
        return create_engine(url, pool_pre_ping=True, executemany_mode="values_plus_batch",
                             executemany_batch_page_size=500)
    return create_engine(url, pool_pre_ping=True)


# The key of the PostgreSQL advisory lock that migrations hold (any constant the hub alone uses).
MIGRATION_LOCK = 0x51_57_48_55_42  # "QWHUB"


class StoreNotMigrated(RuntimeError):
    """The store's schema is not the code's: the deployment's init step has not migrated it."""

    fail_fast = True
    fail_fast_reason = _text("store_not_migrated_reason")

    def __init__(self, found: str | None, wanted: str) -> None:
        super().__init__(_text("store_not_migrated", found=found or "-", wanted=wanted))
        self.found, self.wanted = found, wanted


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the store to the newest schema (idempotent).

    On PostgreSQL the whole upgrade holds a transaction-scoped advisory lock, so migrators that
    start together (init steps of several hosts, a manual run) take turns: the first upgrades,
    the others find the head and do nothing. SQLite serialises writers by itself.
    """
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def check_revision(engine: Engine) -> None:
    """Refuse a store that is not at the code's revision (``StoreNotMigrated``, never retried)."""
    found, wanted = current_revision(engine), head_revision()
    if found != wanted:
        raise StoreNotMigrated(found, wanted)


class Store:
    """A migrated database and a session factory."""

    def __init__(self, url: str, *, migrate_now: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate_now:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_conn_id(cls, conn_id: str = "exchange_db", *, migrate_sqlite: bool = True) -> Store:
        """The store of a task or the page.

        A SQLite store (the demo, one machine) migrates itself on open, unless ``migrate_sqlite``
        is false (a reading admin command). A PostgreSQL store (a deployment, a cluster) is
        migrated once, explicitly, by the init step (``python -m credit_exchange.store migrate``);
        a task only checks the revision, so four ingests starting in the same minute never race a
        migration.
        """
        from credit_exchange.airflow_conn import get_connection

        url = sqlalchemy_url(get_connection(conn_id))
        if url.startswith("sqlite") and migrate_sqlite:
            return cls(url)
        store = cls(url, migrate_now=False)
        try:
            check_revision(store.engine)
        except BaseException:
            store.dispose()
            raise
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def analyze(self, *tables: str) -> None:
        """Fresh planner statistics after a bulk write (PostgreSQL; SQLite needs none here).

        Autovacuum analyses a table only a while after it changed: a query planned on the statistics
        of a table that was empty a minute ago can pick a nested loop over a million rows.
        """
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as conn:
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {self.engine.dialect.identifier_preparer.quote(table)}")
            conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
