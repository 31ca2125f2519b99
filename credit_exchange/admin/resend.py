"""``qianwei-hub resend {county,city} [--ids ID ...] [--actor NAME]``: refused or failed records go out again.

Calls ``credit_exchange.web.actions.resend_failed`` exactly as the Exchange page does: county
outbox items failed → pending (superseded if a newer version is owed), city records refused in a
receipt made eligible again; the next ``push_{platform}`` sends them (nightly at 03:30 at the
latest). ``--ids`` limits it: county outbox item ids, city record ids (as the page lists them,
masked or not). Written to Airflow's audit log like the page (``credit_exchange.audit``).
"""

from __future__ import annotations

import argparse
from typing import Any

from credit_exchange.admin import support
from hub_messages import text

PLATFORMS = ("county", "city")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("resend", help=text("admin_help_resend"), description=text("admin_help_resend"))
    parser.add_argument("platform", choices=PLATFORMS, help=text("admin_help_platform"))
    parser.add_argument("--ids", nargs="+", metavar="ID", help=text("admin_help_ids"))
    support.add_actor(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from credit_exchange.web import actions

    ids: list[int | str] | None = list(args.ids) if args.ids else None
    if ids and args.platform == "county":
        try:
            ids = [int(i) for i in ids]
        except ValueError:
            print(text("admin_bad_ids", ids=" ".join(args.ids)))
            return support.USAGE
    actor, os_user = support.actor_of(args)

    def act(store: Any) -> int:
        try:
            result = actions.resend_failed(store, args.platform, actor, ids)
        except actions.ActionRefused as exc:
            return support.fail(str(exc))
        support.say(result.message)
        return support.audit("resend_failed", actor, os_user, dag_id=f"push_{args.platform}",
                             message=result.message, details=result.details)

    return support.with_store(act)
