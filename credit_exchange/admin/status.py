"""``qianwei-hub status [--json]``: per department and platform, the numbers of the Exchange page.

The same function as the page (``credit_exchange.web.dashboard.overview``, at the hub's clock),
so the shell and the page never disagree. Per department: the last ingest run (files taken,
refused, still in quarantine; records accepted, rejected), the last successful transfer, files in
processing and files stuck in the inbox, files in quarantine now, open alerts. Per platform:
records pending, sent, failed, and (city) receipts overdue. Everything is masked.
"""

from __future__ import annotations

import argparse
from typing import Any

from credit_exchange.admin import support
from hub_messages import text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help=text("admin_help_status"), description=text("admin_help_status"))
    parser.add_argument("--json", action="store_true", help=text("admin_help_json"))
    parser.set_defaults(func=run)


def read(store: Any) -> dict[str, Any]:
    from credit_exchange.timeutil import now_local
    from credit_exchange.web import dashboard

    with store.session() as s:
        return dict(dashboard.overview(s, now_local()))


def run(args: argparse.Namespace) -> int:
    def show(store: Any) -> int:
        overview = read(store)
        if args.json:
            support.print_json(overview)
        else:
            print(render(overview))
        return support.DONE

    return support.with_store(show)


def _slash(*values: Any) -> str:
    return "/".join("-" if v is None else str(v) for v in values)


def render(o: dict[str, Any]) -> str:
    never = text("status_never")
    dept_rows = []
    for d in o["departments"]:
        last = d.get("last_ingest") or {}
        dept_rows.append([
            f"{d['department']} {d['label']}",
            f"{last.get('finished_at') or never} {last.get('run_id') or ''}".strip(),
            _slash(last.get("files_taken"), last.get("files_rejected"), last.get("files_quarantined")),
            _slash(last.get("records_accepted"), last.get("records_rejected")),
            d.get("last_success") or never,
            _slash(d.get("waiting"), d.get("stuck_in_inbox")),
            d.get("quarantined"),
            d.get("alerts_open"),
        ])
    plat_rows = [[f"{p['platform']} {p['label']}", p.get("pending_records"), p.get("sent_records"),
                  p.get("failed_records"), p.get("receipts_overdue"), p.get("last_success") or never,
                  p.get("alerts_open")] for p in o["platforms"]]
    parts = [
        text("status_generated", at=o["generated_at"], days=o["reject_window_days"]),
        "",
        text("status_departments"),
        support.table([text(k) for k in ("status_col_department", "status_col_last_run", "status_col_files",
                                         "status_col_records", "status_col_last_success", "status_col_stuck",
                                         "status_col_quarantined", "status_col_alerts")], dept_rows),
        "",
        text("status_platforms"),
        support.table([text(k) for k in ("status_col_platform", "status_col_pending", "status_col_sent",
                                         "status_col_failed", "status_col_overdue", "status_col_last_success",
                                         "status_col_alerts")], plat_rows),
        "",
        text("status_totals", alerts=o["alerts_open"], quality=o["data_quality"]),
    ]
    return "\n".join(parts)
