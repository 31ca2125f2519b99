"""``qianwei-hub status``: the Exchange page's numbers, per department and platform, in a table or as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from credit_exchange.timeutil import now_local
from hub_messages import text
from tests.helpers import REPO
from tests.integration.ui.scenario import EXPECTED, FULL_ID, fill


@pytest.fixture
def night(inbox: Any, store: Any, vault: Any) -> dict[str, str]:
    return fill(inbox, store, vault, now_local())


def test_status_json_has_the_pages_numbers_and_the_last_ingest(hub: Any, store: Any, night: Any) -> None:
    ran = hub("status", "--json")
    assert ran.status == 0, ran.both
    o = json.loads(ran.out)
    departments = {d["department"]: d for d in o["departments"]}
    platforms = {p["platform"]: p for p in o["platforms"]}
    for dept in ("market", "police", "transport", "pboc"):
        for field, value in EXPECTED[dept].items():
            assert departments[dept][field] == value, (dept, field)
    for plat in ("county", "city"):
        for field, value in EXPECTED[plat].items():
            assert platforms[plat][field] == value, (plat, field)
    assert o["alerts_open"] == EXPECTED["alerts_open"]
    # The market's last ingest: one file partly taken (5 accepted, 3 rejected), one refused whole and quarantined.
    assert departments["market"]["last_ingest"] == {
        "run_id": "ui-scenario", "finished_at": departments["market"]["last_ingest"]["finished_at"],
        "files_taken": 1, "files_rejected": 1, "files_quarantined": 1,
        "records_accepted": 5, "records_rejected": 3, "records_unchanged": 0}
    assert departments["police"]["last_ingest"] is None  # its only file is still being processed
    assert departments["police"]["waiting"] == 1
    assert departments["market"]["stuck_in_inbox"] == 1  # the open inbox_stuck alert
    assert platforms["county"]["sent_records"] == 0 and platforms["city"]["receipts_overdue"] == 1
    assert FULL_ID not in ran.out


def test_status_table_is_chinese_with_english_and_shows_each_row(hub: Any, store: Any, night: Any) -> None:
    ran = hub("status")
    assert ran.status == 0, ran.both
    out = ran.out
    assert text("status_departments") in out and text("status_platforms") in out
    assert text("status_col_files") in out and text("status_col_overdue") in out
    lines = out.splitlines()
    [market] = [line for line in lines if line.startswith("market ")]
    assert "ui-scenario" in market and "1/1/1" in market and "5/3" in market
    [city] = [line for line in lines if line.startswith("city ")]
    # pending 1, sent 0, failed 2, receipts overdue 1
    assert city.split()[-6:-2] == ["1", "0", "2", "1"], city
    assert text("status_totals", alerts=2, quality=1) in out
    assert FULL_ID not in out


def test_status_without_a_store_says_so_and_fails(hub: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # An empty database file: the command never migrates the store; it says what is wrong.
    monkeypatch.setenv("AIRFLOW_CONN_EXCHANGE_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}))
    ran = hub("status")
    assert ran.status == 1
    assert text("admin_store_unreadable") in ran.err and "Traceback" not in ran.both


def test_the_console_entry_point_answers_with_exit_statuses(hub_env: Any, store: Any, night: Any) -> None:
    """``python -m credit_exchange.admin`` is ``qianwei-hub``: 0 done, 2 wrong usage."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ok = subprocess.run([sys.executable, "-m", "credit_exchange.admin", "status", "--json"], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout)["alerts_open"] == EXPECTED["alerts_open"]
    wrong = subprocess.run([sys.executable, "-m", "credit_exchange.admin", "resend", "nowhere"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "county" in wrong.stderr
