"""``qianwei-hub rotate-key``: re-seal the whole store under pii_key's current key.

The steps of a rotation (docs/operations.md, "Rotating pii_key"): write the new key ring into the
``pii_key`` connection (``current`` the new key, ``previous`` the old one, ``subject`` the first
key), run this command until it says every value is current, then remove the old key from
``previous``. Batched, resumable and safe to rerun (``credit_exchange.store.reseal``); works on
SQLite and PostgreSQL alike. Exit status 0 when every sealed value is current, 1 otherwise, 3
when the re-seal is done but its entry could not be written to Airflow's audit log
(``admin/support.py``). A re-seal is audited like every change an admin makes; ``--check`` changes
nothing and is not.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from credit_exchange.admin import support
from hub_messages import text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rotate-key", help=text("rotate_help"), description=text("rotate_help"))
    parser.add_argument("--check", action="store_true", help=text("rotate_check_help"))
    parser.add_argument("--batch-size", type=int, default=500, help=text("rotate_batch_help"))
    support.add_actor(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.standard.pii import safe_text
    from credit_exchange.store.db import Store
    from credit_exchange.store.reseal import ColumnCount, reseal_store

    resealed = 0

    def show(count: ColumnCount) -> None:
        nonlocal resealed
        if args.check:
            print(text("rotate_column_check", column=count.column, left=count.left, current=count.current))
        else:
            resealed += count.resealed
            print(text("rotate_column", column=count.column, resealed=count.resealed, current=count.current))

    try:
        vault = PiiVault.from_conn_id()
        store = Store.from_conn_id()
    except Exception as exc:  # noqa: BLE001 - a clear line and a non-zero exit, never a bare traceback
        print(text("rotate_failed") + ": " + safe_text(str(exc)), file=sys.stderr)
        return 1
    failure = ""
    left = 0
    try:
        print(text("rotate_heading", key_id=vault.current_key_id, key_ids=", ".join(vault.key_ids)))
        if not args.check:
            reseal_store(store, vault, batch_size=max(1, args.batch_size), progress=show)
        left = sum(c.left for c in reseal_store(store, vault, batch_size=max(1, args.batch_size), check_only=True,
                                                progress=show if args.check else None))
    except Exception as exc:  # noqa: BLE001
        failure = safe_text(str(exc))
        print(text("rotate_failed") + ": " + failure, file=sys.stderr)
    finally:
        store.dispose()
    if args.check:
        if failure:
            return 1
        print(text("rotate_left", left=left) if left else text("rotate_done", key_id=vault.current_key_id))
        return 1 if left else 0
    if left:
        print(text("rotate_left", left=left))
    elif not failure:
        print(text("rotate_done", key_id=vault.current_key_id))
    # Audited whenever it ran: a run that stopped half-way changed stored values too.
    finished = not failure and not left
    actor, os_user = support.actor_of(args)
    if failure:
        message = text("rotate_failed") + ": " + failure
    elif left:
        message = text("rotate_left", left=left)
    else:
        message = text("rotate_done", key_id=vault.current_key_id)
    audited = support.audit("rotate_key", actor, os_user, dag_id=None, message=message,
                            details={"key_id": vault.current_key_id, "key_ids": list(vault.key_ids),
                                     "resealed": resealed, "left": left, "finished": finished})
    return audited if finished else 1
