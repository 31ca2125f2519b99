"""``qianwei-hub requeue FILE_ID [--actor NAME]``: a quarantined file back into its department's inbox.

Calls ``credit_exchange.web.actions.requeue_file`` exactly as the Exchange page does (same
checks, same SFTP time-outs, never overwriting a file in the inbox), then writes the action to
Airflow's audit log like the page (``credit_exchange.audit``; event ``requeue_file`` on the data of
``ingest_{department}``). The next run of that DAG takes the file again.
"""

from __future__ import annotations

import argparse
from typing import Any

from credit_exchange.admin import support
from hub_messages import text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("requeue", help=text("admin_help_requeue"), description=text("admin_help_requeue"))
    parser.add_argument("file_id", type=int, metavar="FILE_ID", help=text("admin_help_file_id"))
    support.add_actor(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from credit_exchange.web import actions

    actor, os_user = support.actor_of(args)

    def act(store: Any) -> int:
        try:
            result = actions.requeue_file(store, args.file_id, actor)
        except actions.ActionRefused as exc:
            return support.fail(str(exc))
        support.say(result.message)
        department = result.details.get("department")
        return support.audit("requeue_file", actor, os_user, dag_id=f"ingest_{department}", message=result.message,
                             details=result.details)

    return support.with_store(act)
