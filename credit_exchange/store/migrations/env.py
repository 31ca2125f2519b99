"""Alembic environment: runs on the connection handed in by ``credit_exchange.store.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from credit_exchange.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # `alembic` on the command line: the URL comes from -x url=...
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///exchange.db")
        with create_engine(url).connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
