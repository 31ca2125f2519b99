"""``qianwei-hub``: the hub's admin command (installed by ``make install``).

Each subcommand is a module of this package with ``register(subparsers)``, which adds its parser
and sets ``func`` to a callable taking the parsed arguments and returning the exit status
(0 done, 1 a check or action failed, 2 wrong usage, 3 an action done but not written to
Airflow's audit log: ``support.py``). The subcommands call the same core
functions as the Exchange page; what they change is written to Airflow's audit log.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hub_messages import text

# Subcommand modules, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "check",
    "status",
    "alerts",
    "requeue",
    "resend",
    "lineage",
    "replay",
    "rotate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qianwei-hub", description=text("cli_description"))
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"credit_exchange.admin.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A failure no subcommand foresaw: one clear line (personal data masked), not a traceback,
        # unless asked for (QW_DEBUG=1).
        if os.environ.get("QW_DEBUG"):
            raise
        from credit_exchange.standard.pii import safe_text

        first = str(exc).splitlines()[0] if str(exc) else ""
        print(text("cli_unexpected", detail=safe_text(f"{type(exc).__name__}: {first}"[:500])), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
