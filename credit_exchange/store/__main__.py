"""``python -m credit_exchange.store migrate|check``: the store's schema, as a deployment's init step.

    migrate   bring the store of connection ``exchange_db`` to the code's revision, under a
              PostgreSQL advisory lock (several init steps at once take turns); idempotent
    check     exit 0 when the store is at the code's revision, 1 (with the reason) otherwise

``--conn-id`` names another connection. Messages in Chinese with an English gloss.
"""

from __future__ import annotations

import argparse
import sys

from credit_exchange.store.db import (
    StoreNotMigrated,
    check_revision,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    sqlalchemy_url,
)
from hub_messages import text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m credit_exchange.store", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["migrate", "check"])
    parser.add_argument("--conn-id", default="exchange_db")
    args = parser.parse_args(argv)

    from credit_exchange.airflow_conn import get_connection

    engine = make_engine(sqlalchemy_url(get_connection(args.conn_id)))
    try:
        if args.command == "migrate":
            before = current_revision(engine)
            migrate(engine)
            after = current_revision(engine)
            if before == after:
                print(text("store_up_to_date", revision=after))
            else:
                print(text("store_migrated", before=before or "-", after=after))
            return 0
        try:
            check_revision(engine)
        except StoreNotMigrated as exc:
            print(exc, file=sys.stderr)
            return 1
        print(text("store_at_head", revision=head_revision()))
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
