"""``qianwei-hub lineage``: the same search as the page, in a terminal, against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from credit_exchange.admin.cli import main
from hub_messages import label, text
from tests.helpers import REPO, connection_env
from tests.integration.ui.conftest import exchange_db_conn
from tests.integration.ui.lineage_scenario import FILE_1, FILE_2, INGEST, PERSON_ID, RUN_1, lineage_nights


@pytest.fixture
def env(store_url: str, pii_key: str) -> dict[str, str]:
    return connection_env(exchange_db=exchange_db_conn(store_url),
                          pii_key={"conn_type": "generic", "password": pii_key})


@pytest.fixture
def nights(inbox: Any, store: Any, vault: Any, county_client: Any, env: dict[str, str],
           monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return lineage_nights(inbox, store, vault, county_client)


def heading(code: str) -> str:
    return " ".join(label(code))


def test_a_record_id_prints_its_files_positions_versions_and_pushes(nights: dict[str, Any],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", nights["org"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("找到 1 条记录") and nights["org"] in out
    for code in ("ui_deliveries", "ui_versions", "ui_county_pushes", "ui_city_state"):
        assert heading(code) in out, code
    assert FILE_1 in out and FILE_2 in out and f"{INGEST} / {RUN_1}" in out
    assert f"{heading('ui_outcome')}: stale" in out and f"{heading('ui_position')}: record 3" in out


def test_a_persons_id_number_is_found_and_printed_masked(nights: dict[str, Any],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", PERSON_ID, "--json"]) == 0
    out = capsys.readouterr().out
    answer = json.loads(out)
    assert answer["matched"] == ["id_number"] and answer["records"][0]["record_id"] == nights["person"]
    assert PERSON_ID not in out and answer["query"] == "511123********1230"


def test_a_file_name_prints_the_file_and_its_rejects(nights: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", FILE_1]) == 0
    out = capsys.readouterr().out
    assert f"{heading('ui_file')}: {FILE_1}" in out and "uscc_checksum" in out
    assert f"{heading('ui_total')}: 4" in out and f"{heading('ui_rejected')}: 1" in out


def test_an_unknown_query_says_so_and_fails(nights: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", "NO_SUCH_FILE.xml"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("未找到") and "nothing found" in out


def test_an_unreachable_store_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EXCHANGE_DB", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "nobody", "schema": "none"}))
    assert main(["lineage", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(text("lineage_store_unopened")) and "Traceback" not in err


def test_an_empty_store_is_refused_not_migrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.db"
    monkeypatch.setenv("AIRFLOW_CONN_EXCHANGE_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    assert main(["lineage", "x"]) == 1
    assert "StoreNotMigrated" in capsys.readouterr().err


def test_the_console_command_runs_as_a_process(nights: dict[str, Any], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "credit_exchange.admin", "lineage", nights["org_uscc"], "--json"],
                          cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)  # stdout holds the answer alone: no log lines
    assert answer["matched"] == ["uscc"] and [r["record_id"] for r in answer["records"]] == [nights["org"]]
    help_out = subprocess.run([sys.executable, "-m", "credit_exchange.admin", "--help"], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                              timeout=60, check=False).stdout
    assert "lineage" in help_out


def test_dash_reads_the_id_number_from_stdin_so_it_is_not_on_the_command_line(nights: dict[str, Any],
                                                                              env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "credit_exchange.admin", "lineage", "-", "--json"]
    done = subprocess.run(argv, input=PERSON_ID + "\n", cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["matched"] == ["id_number"] and [r["record_id"] for r in answer["records"]] == [nights["person"]]
    assert PERSON_ID not in done.stdout + done.stderr and PERSON_ID not in " ".join(argv)
    # The help says so (the catalogue's line for QUERY).
    help_out = subprocess.run([sys.executable, "-m", "credit_exchange.admin", "lineage", "--help"], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                              timeout=60, check=False).stdout
    assert "standard input" in " ".join(help_out.split())


def test_dash_with_nothing_on_stdin_asks_for_a_query(nights: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["lineage", "-"]) == 1
    assert capsys.readouterr().out.startswith(text("lineage_empty_query"))
