"""The page per run in a real browser: a real ``ingest_market`` run (dag.test()), then its dag run page in the
Airflow UI (``airflow api-server`` with our plugins/), the Exchange tab clicked, headless Chromium.

The run takes a market file with one broken record through the real task code, which records the
DAG and run ids with the file. The browser logs in like the existing Exchange page test, opens
the dag run's page, clicks the plugin's tab (an external view with ``destination: "dag_run"``)
and reads the view inside the UI's frame; the screenshot lands in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from credit_exchange.timeutil import LOCAL
from hub_messages import text
from sandbox.market_files import break_record, good_records, market_xml
from tests import helpers
from tests.e2e import test_exchange_page
from tests.e2e.test_exchange_page import (
    START_TIMEOUT,
    DevTools,
    free_port,
    goto,
    http_status,
    login,
    screenshot,
    stop,
    wait_for,
)
from tests.helpers import REPO, connection_env, county_conn

# The headless Chromium fixture of the Exchange page test, registered here too.
browser = test_exchange_page.browser
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
NAME = "MARKET_PENALTY_20261128_001.xml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ingest_run(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox: Any, county: Any,
               pii_key: str, tmp_path: Path) -> str:
    """One real ingest_market run over a file of six penalties, one with a broken USCC; its run id."""
    env = connection_env(
        inbox_sftp=inbox_server.airflow_connection(),
        county_platform=county_conn(county),
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    recs = good_records("PENALTY", AT.date(), 6)
    recs[2] = break_record("PENALTY", recs[2], "uscc_checksum", AT.date())
    inbox.upload_atomic(market_xml("PENALTY", recs, AT), f"/market/inbox/{NAME}")
    dr, states = helpers.run_dag("ingest_market", RUN)
    assert dr.state == "success", states
    return str(dr.run_id)


@pytest.fixture
def api_server(tmp_path: Path, ingest_run: str) -> Iterator[dict[str, Any]]:
    """``airflow api-server`` on a free loopback port, on the metadata database the run was written to."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(12)
    (tmp_path / "passwords.json").write_text(json.dumps({"admin": password}))
    env = {
        **os.environ,
        # This checkout's code, whatever the virtualenv's editable install points at.
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__BASE_URL": base + "/",
    }
    log = tmp_path / "api-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "api-server", "-H", "127.0.0.1",
                                 "-p", str(port), "-w", "1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path, start_new_session=True)
    try:
        wait_for("api-server", lambda: http_status(base + "/api/v2/monitor/health") == 200, START_TIMEOUT, proc, log)
        yield {"base": base, "password": password, "log": log}
    finally:
        stop(proc)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the file must be a real PNG)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


FRAME = "document.querySelector('iframe')"
READ_RUN = f"""(() => {{
  const d = {FRAME}.contentDocument;
  const cells = {{}};
  d.querySelectorAll('#run-totals td[data-field]').forEach(td => {{ cells[td.dataset.field] = td.textContent.trim(); }});
  return {{files: [...d.querySelectorAll('#run-files tr[data-file]')].map(tr => tr.dataset.file),
           totals: cells,
           rejects: [...d.querySelectorAll('#run-rejects tr[data-code]')].map(tr => tr.dataset.code),
           receipt: d.querySelector('#run-files tr[data-file] td[data-field=receipt]').textContent.trim(),
           message: d.querySelector('#run-message').textContent.trim(),
           html: d.documentElement.outerHTML}};
}})()"""


@pytest.mark.slow
def test_admin_opens_the_run_view_from_the_dag_run_page(api_server: dict[str, Any], ingest_run: str,
                                                        browser: DevTools, tmp_path: Path) -> None:
    base = api_server["base"]
    view = f"{base}/qianwei-exchange/run?dag_id=ingest_market&run_id={quote(ingest_run, safe='')}"
    assert http_status(view.replace("/run?", "/api/run?")) == 401  # the plugin's route checks the token itself

    token = login(base, api_server["password"])
    assert browser("Network.setCookie", name="_token", value=token, url=base + "/", path="/")["success"]
    run_page = f"{base}/dags/ingest_market/runs/{quote(ingest_run, safe='')}"
    tab = text("ui_run_tab")
    goto(browser, run_page, f"document.body.innerText.includes({json.dumps(tab)})", 40)
    # The dag run page lists the plugin's tab next to Airflow's own; click it as an admin would.
    clicked = browser.js(f"""(() => {{
      const el = [...document.querySelectorAll('a, button, [role=tab]')]
        .find(e => e.innerText && e.innerText.trim() === {json.dumps(tab)});
      if (!el) return false; el.click(); return true; }})()""")
    assert clicked, "the dag run page has no Exchange tab"
    wait_for("run view in the UI's frame",
             lambda: browser.js(f"(() => {{ const f = {FRAME}; return !!(f && f.contentDocument &&"
                                " f.contentDocument.querySelector('#run-totals')); })()"), 30)
    assert browser.js("location.pathname").endswith("/plugin/qianwei-exchange-run")
    seen = browser.js(READ_RUN)
    assert seen["files"] == [NAME]
    assert seen["totals"] == {"total": "6", "accepted": "5", "rejected": "1", "unchanged": "0", "stale": "0"}
    assert seen["rejects"] == ["uscc_checksum"]
    assert seen["receipt"].startswith("partially_accepted")
    assert seen["message"].startswith("本次运行接收 1 个文件")
    assert ingest_run in seen["html"] and "ingest_market" in seen["html"]

    shot = screenshot(browser, tmp_path / "run-view-in-airflow-ui.png")
    width, height = png_size(shot)
    assert width >= 800 and height >= 600 and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")
