"""Task bodies of housekeeping: the store's retention rules, and ``airflow db clean`` of Airflow's own database.

Both count back from the run's logical date (a replayed or late run cleans as of its own date,
never as of the wall clock) with the periods of ``config/retention.yaml``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The tables `airflow db clean --tables` offers in Airflow 3.3.2 (`airflow db clean --help`), but
# the audit log `log`, which is kept longer (audit_log_days). tests/unit/runtime checks the list
# against the installed CLI, so an upgrade that adds a table shows up there.
AUDIT_LOG_TABLE = "log"
CLEANED_TABLES = ("_xcom_archive", "asset_event", "callback", "celery_taskmeta", "celery_tasksetmeta",
                  "connection_test_request", "dag", "dag_run", "dag_version", "deadline", "import_error", "job",
                  "partitioned_asset_key_log", "revoked_token", "task_instance", "task_instance_history",
                  "task_reschedule", "task_state_store", "trigger", "xcom")


def logical_point(context: dict[str, Any]) -> datetime:
    """The run's logical date (its run_after when it has none: a manual run without one), aware."""
    at = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    if at is None or at.tzinfo is None:
        raise ValueError("housekeeping needs the run's logical date")
    return at  # type: ignore[no-any-return]


def airflow_cli() -> str:
    """The ``airflow`` command of this interpreter's environment (the worker's), else the one on PATH."""
    beside = Path(sys.executable).parent / "airflow"
    return str(beside) if beside.exists() else "airflow"


def db_clean_commands(at: datetime, keep_days: int, audit_log_days: int, skip_archive: bool) -> list[list[str]]:
    """The ``airflow db clean`` calls for a run at ``at``: every table but the audit log, then the audit log."""

    def command(tables: tuple[str, ...], days: int) -> list[str]:
        before = (at - timedelta(days=days)).isoformat()
        return [airflow_cli(), "db", "clean", "--clean-before-timestamp", before, "--tables", ",".join(tables),
                *(["--skip-archive"] if skip_archive else []), "--error-on-cleanup-failure", "--yes"]

    return [command(CLEANED_TABLES, keep_days), command((AUDIT_LOG_TABLE,), audit_log_days)]


def clean_hub_store(context: dict[str, Any]) -> dict[str, Any]:
    from credit_exchange.runtime import hub_store
    from credit_exchange.store.retention import StoreRetention, apply_store_retention

    with hub_store() as store:
        summary = apply_store_retention(store, StoreRetention.from_config(), logical_point(context)).as_xcom()
    log.info("store retention: %s", summary)
    return summary


def clean_airflow_db(context: dict[str, Any]) -> dict[str, Any]:
    """Runs Airflow's own public ``airflow db clean`` (the worker has the metadata database's settings)."""
    from credit_exchange import config
    from hub_messages import text

    settings = config.load("retention")["airflow_db"]
    commands = db_clean_commands(logical_point(context), settings["keep_days"], settings["audit_log_days"],
                                 settings["skip_archive"])
    for command in commands:
        log.info("running: %s", " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False,
                              env=os.environ.copy())
        for line in (done.stdout + done.stderr).splitlines()[-200:]:
            log.info("%s", line)
        if done.returncode != 0:
            raise RuntimeError(text("db_clean_failed", status=done.returncode))
    return {"clean_before": commands[0][4], "audit_log_before": commands[1][4]}
