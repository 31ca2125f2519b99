"""What the subcommands that read the store or change something share: the store, the actor, the
audit entry, tables and exit statuses.

Exit statuses (``cli.py``): 0 done; 1 refused or failed, nothing changed; 2 wrong usage;
3 done, but the audit entry could not be written to Airflow (the change stands; see
``report_audit``). 3 is not 1 on purpose: a script must not repeat an action that happened.

Who acts: ``--actor NAME`` if given, else the operating-system user running the command
(``getpass.getuser()``). Airflow's audit log records as ``owner`` the account of the
``airflow_api`` connection, which the command logs in with; the entry's extra keeps the actor and
the OS user both, so a declared actor never hides who ran the command.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from credit_exchange.standard.pii import mask_obj, safe_text
from hub_messages import text, width

DONE, REFUSED, USAGE, NOT_AUDITED = 0, 1, 2, 3
STORE_CONN_ID = "exchange_db"
API_CONN_ID = "airflow_api"


class StoreUnreadable(Exception):
    """The ``exchange_db`` connection is missing or the store cannot be opened."""


def open_store() -> Any:
    """The store named by ``exchange_db`` (never migrated here: that is the pipeline's job)."""
    from credit_exchange.airflow_conn import get_connection
    from credit_exchange.store import Store
    from credit_exchange.store.db import sqlalchemy_url

    try:
        return Store(sqlalchemy_url(get_connection(STORE_CONN_ID)), migrate_now=False)
    except Exception as exc:  # noqa: BLE001 - shown to the admin with what to check
        raise StoreUnreadable(f"{type(exc).__name__}: {safe_text(str(exc).splitlines()[0] if str(exc) else '')}") \
            from exc


def with_store(fn: Callable[[Any], int]) -> int:
    """Run ``fn(store)``; a store that cannot be read is exit status 1 with the reason, never a traceback."""
    try:
        store = open_store()
    except StoreUnreadable as exc:
        return fail(text("admin_store_unreadable") + f": {exc}")
    try:
        return fn(store)
    except StoreUnreadable as exc:
        return fail(text("admin_store_unreadable") + f": {exc}")
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            detail = str(exc).splitlines()[0] if str(exc) else ""
            return fail(text("admin_store_unreadable") + f": {type(exc).__name__}: {safe_text(detail)}")
        raise
    finally:
        store.dispose()


def add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", help=text("admin_help_actor"))


def actor_of(args: argparse.Namespace) -> tuple[str, str]:
    """(the actor, the OS user): ``--actor`` if given, else the OS user."""
    os_user = _os_user()
    return (str(args.actor).strip() or os_user) if getattr(args, "actor", None) else os_user, os_user


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return "unknown"


def airflow_api() -> Any:
    """The API server and account of the ``airflow_api`` connection (the token is fetched when first needed)."""
    from connectors.airflow_api import AirflowApi, AirflowApiError
    from credit_exchange.airflow_conn import get_connection

    try:
        conn = get_connection(API_CONN_ID)
    except Exception as exc:  # noqa: BLE001 - not configured: the audit step reports it
        raise AirflowApiError("not_configured", f"{API_CONN_ID}: {type(exc).__name__}") from exc
    return AirflowApi.from_connection(conn)


def audit(action: str, actor: str, os_user: str, *, dag_id: str | None, message: str,
          details: dict[str, Any], **more: Any) -> int:
    """Write the action to Airflow's audit log; DONE, or NOT_AUDITED with the reason and the fix on stderr."""
    from credit_exchange import audit as hub_audit

    try:
        # The connection is read inside record(): one that is missing or broken is AuditNotWritten too.
        hub_audit.record(airflow_api, action, actor, via="cli", dag_id=dag_id, message=message, details=details,
                         os_user=os_user, **more)
    except hub_audit.AuditNotWritten as exc:
        return report_audit(exc)
    say(text("audit_written"))
    return DONE


def report_audit(exc: Any, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    print(str(exc), file=err)
    print(text("audit_entry_below"), file=err)
    print(json.dumps(exc.entry, ensure_ascii=False, sort_keys=True, default=str), file=err)
    return NOT_AUDITED


def say(line: str) -> None:
    print(safe_text(line))


def fail(message: str) -> int:
    print(safe_text(message), file=sys.stderr)
    return REFUSED


def print_json(obj: Any) -> None:
    print(json.dumps(mask_obj(obj), ensure_ascii=False, indent=2, sort_keys=False, default=str))


# -- tables --------------------------------------------------------------------------------

def _pad(value: str, columns: int) -> str:
    return value + " " * (columns - width(value))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    return safe_text(str(value)).replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, columns aligned for Chinese (double-width) characters; the last column is not padded."""
    cells = [[cell(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(v, widths[i]) if i < len(row) - 1 else v for i, v in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
