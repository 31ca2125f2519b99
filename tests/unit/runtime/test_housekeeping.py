"""The housekeeping task bodies' ``airflow db clean`` calls (credit_exchange/runtime/housekeeping.py)."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime

from credit_exchange.runtime.housekeeping import (
    AUDIT_LOG_TABLE,
    CLEANED_TABLES,
    airflow_cli,
    db_clean_commands,
)
from credit_exchange.timeutil import LOCAL


def test_the_cut_offs_count_back_from_the_run_date_and_the_audit_log_is_cleaned_apart() -> None:
    at = datetime(2027, 3, 7, 4, 30, tzinfo=LOCAL)
    tables, audit = db_clean_commands(at, keep_days=90, audit_log_days=400, skip_archive=True)
    assert tables[1:] == ["db", "clean", "--clean-before-timestamp", "2026-12-07T04:30:00+08:00",
                          "--tables", ",".join(CLEANED_TABLES), "--skip-archive", "--error-on-cleanup-failure",
                          "--yes"]
    assert audit[3:7] == ["--clean-before-timestamp", "2026-01-31T04:30:00+08:00", "--tables", "log"]
    assert AUDIT_LOG_TABLE not in CLEANED_TABLES
    kept = db_clean_commands(at, keep_days=90, audit_log_days=400, skip_archive=False)
    assert all("--skip-archive" not in command for command in kept)


def test_the_tables_are_those_the_installed_airflow_db_clean_offers() -> None:
    """An Airflow upgrade that adds or renames a table fails here, not silently in a Sunday run."""
    out = subprocess.run([airflow_cli(), "db", "clean", "--help"], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    offered = re.search(r"Options: \[([^\]]*)\]", out.replace("\n", " "))
    assert offered, out
    choices = {name.strip(" '") for name in offered.group(1).split(",")}
    assert choices == set(CLEANED_TABLES) | {AUDIT_LOG_TABLE}
