"""``qianwei-hub alerts list [--open|--all] [--department D] [--json]`` and
``qianwei-hub alerts resolve ID... --note TEXT [--actor NAME]``.

Listing reads the rows the Exchange page lists (``dashboard.alert_rows``); ``--department`` keeps
the alerts of the department and of its DAGs (``ingest_D``, ``watch_D_inbox``). Resolving calls
``credit_exchange.alerts.resolve_alerts`` (all the ids or none) and writes the action, with its
note, to Airflow's audit log (``credit_exchange.audit``). This replaces the raw SQL of the
operations runbook.
"""

from __future__ import annotations

import argparse
from typing import Any

from credit_exchange.admin import support
from hub_messages import text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("alerts", help=text("admin_help_alerts"), description=text("admin_help_alerts"))
    sub = parser.add_subparsers(dest="alerts_command", metavar="{list,resolve}", required=True)

    listing = sub.add_parser("list", help=text("admin_help_alerts_list"), description=text("admin_help_alerts_list"))
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--open", dest="all", action="store_false", help=text("admin_help_alerts_open"))
    which.add_argument("--all", dest="all", action="store_true", help=text("admin_help_alerts_all"))
    listing.add_argument("--department", help=text("admin_help_alerts_department"))
    listing.add_argument("--json", action="store_true", help=text("admin_help_json"))
    listing.set_defaults(func=run_list, all=False)

    resolve = sub.add_parser("resolve", help=text("admin_help_alerts_resolve"),
                             description=text("admin_help_alerts_resolve"))
    resolve.add_argument("ids", nargs="+", type=int, metavar="ID", help=text("admin_help_alert_ids"))
    resolve.add_argument("--note", required=True, help=text("admin_help_note"))
    support.add_actor(resolve)
    resolve.set_defaults(func=run_resolve)


def run_list(args: argparse.Namespace) -> int:
    from credit_exchange.web import dashboard

    sources = None
    if args.department:
        known = dashboard.departments()
        if args.department not in known:
            print(text("admin_unknown_department", department=args.department, known=", ".join(known)))
            return support.USAGE
        sources = dashboard.department_sources(args.department)

    def show(store: Any) -> int:
        with store.session() as s:
            rows = dashboard.alert_rows(s, open_only=not args.all, sources=sources, limit=10_000)
        if args.json:
            support.print_json(rows)
        elif not rows:
            support.say(text("alerts_none"))
        else:
            print(render(rows, with_resolved=args.all))
        return support.DONE

    return support.with_store(show)


def render(rows: list[dict[str, Any]], *, with_resolved: bool) -> str:
    keys = ["alert_id", "kind", "source", "subject", "created_at"] + (
        ["resolved_at", "resolved_by", "resolution_note"] if with_resolved else [])
    heads = ["alerts_col_id", "alerts_col_kind", "alerts_col_source", "alerts_col_subject", "alerts_col_created"] + (
        ["alerts_col_resolved", "alerts_col_resolved_by", "alerts_col_note"] if with_resolved else [])
    heads.append("alerts_col_message")
    return support.table([text(h) for h in heads], [[r.get(k) for k in keys] + [r.get("message")] for r in rows])


def run_resolve(args: argparse.Namespace) -> int:
    from credit_exchange.alerts import AlertsRefused, resolve_alerts

    actor, os_user = support.actor_of(args)

    def act(store: Any) -> int:
        try:
            done = resolve_alerts(store, args.ids, actor, args.note)
        except AlertsRefused as exc:
            return support.fail(str(exc))
        message = text("alerts_resolved", resolved=len(done.resolved), already=len(done.already))
        support.say(message)
        if not done.resolved:
            return support.DONE  # nothing changed: nothing to audit
        return support.audit("resolve_alerts", actor, os_user, dag_id=None, message=message,
                             details={"resolved": done.resolved, "already": done.already}, note=done.note)

    return support.with_store(act)
