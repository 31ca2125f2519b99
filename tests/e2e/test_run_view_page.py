"""The page per run in a real browser: a real ``ingest_market`` run (dag.test()), then its dag run page in the
Airflow UI (``airflow api-server`` with our plugins/), the Exchange tab clicked, headless Chromium.

The run takes a market file with one broken record through the real task code, which records the
DAG and run ids with the file. The browser logs in like the existing Exchange page test, opens
the dag run's page, clicks the plugin's tab (an external view with ``destination: "dag_run"``)
and reads the view inside the UI's frame; the screenshot lands in the test's tmp dir.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from credit_exchange.store import ReceivedFile, Store
from credit_exchange.timeutil import LOCAL
from hub_messages import text
from sandbox.market_files import break_record, good_records, market_xml
from tests import helpers
from tests.e2e import test_exchange_page, test_market_to_county
from tests.e2e.test_exchange_page import (
    DevTools,
    airflow_api_server,
    goto,
    http_status,
    login,
    screenshot,
    wait_for,
)

# Fixtures of the Exchange page test (headless Chromium) and of the market path (the connections), used here too.
browser = test_exchange_page.browser
hub_env = test_market_to_county.hub_env
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
NAME = "MARKET_PENALTY_20261128_001.xml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ingest_run(hub_env: Path, inbox: Any) -> str:
    """One real ingest_market run over a file of six penalties, one with a broken USCC; its run id."""
    recs = good_records("PENALTY", AT.date(), 6)
    recs[2] = break_record("PENALTY", recs[2], "uscc_checksum", AT.date())
    inbox.upload_atomic(market_xml("PENALTY", recs, AT), f"/market/inbox/{NAME}")
    dr, states = helpers.run_dag("ingest_market", RUN)
    assert dr.state == "success", states
    # The task itself recorded which run took the file (the view must not rely on its fallback for old rows).
    store = Store(f"sqlite:///{hub_env}", migrate_now=False)
    try:
        with store.session() as s:
            taken = s.execute(select(ReceivedFile.dag_id, ReceivedFile.run_id).where(ReceivedFile.name == NAME)).one()
    finally:
        store.dispose()
    assert tuple(taken) == ("ingest_market", dr.run_id)
    return str(dr.run_id)


@pytest.fixture
def api_server(tmp_path: Path, ingest_run: str) -> Iterator[dict[str, Any]]:
    """The API server on the metadata database the run was written to; the connections from ``hub_env``."""
    with airflow_api_server(tmp_path, {}) as server:
        yield server


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
