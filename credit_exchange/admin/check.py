"""``qianwei-hub check``: the pre-flight check of every connection (the DAG ``check_connections`` runs the same).

Prints one row per connection (what was checked, OK / 失败, what is wrong and what to fix); exit
status 0 when every connection works, 1 otherwise. ``--json`` prints the same for scripts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from hub_messages import text


def register(subparsers: Any) -> None:
    from credit_exchange.runtime.preflight import DEFAULT_TIMEOUT

    parser = subparsers.add_parser("check", help=text("preflight_cli_help"), description=text("preflight_cli_help"))
    parser.add_argument("--json", action="store_true", help=text("preflight_cli_json"))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=text("preflight_cli_timeout"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The table says everything; the libraries' progress lines would only bury it, and would break
    # --json: Airflow's logging (set up when airflow.sdk is first imported) writes them to stdout.
    import airflow.sdk  # noqa: F401 - its logging set-up first, then ours on top

    from credit_exchange.config import ConfigError
    from credit_exchange.runtime.preflight import as_json, failures, render, run_checks

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        rows = run_checks(timeout=args.timeout)
    except ConfigError as exc:
        print(f"{text('preflight_config_error')}: {exc}", file=sys.stderr)
        return 1
    finally:
        root.setLevel(level)
    if args.json:
        print(json.dumps(as_json(rows), ensure_ascii=False, indent=2))
    else:
        print(render(rows))
    return 1 if failures(rows) else 0
