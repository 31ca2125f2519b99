"""The Exchange page in a real browser: ``airflow api-server`` with our plugins/, a real login, headless Chromium.

Chromium is driven over the DevTools protocol (``websockets``, which Airflow
installs): a login through the simple auth manager's password check gives the
UI token, which goes into the browser's cookie jar exactly where the login page
puts it; then the page is loaded on its own and inside the Airflow UI's frame.
Screenshots land in the test's tmp dir.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import now_local
from tests.helpers import REPO, connection_env
from tests.integration.ui.scenario import EXPECTED, FULL_ID, fill

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START_TIMEOUT = 45.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, proc: subprocess.Popen[bytes] | None = None,
             log: Path | None = None) -> Any:
    """Poll ``check`` until it answers something truthy (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode}\n{log.read_text()[-3000:] if log else ''}")
        try:
            if result := check():
                return result
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    pytest.fail(f"{what}: not ready after {timeout:.0f} s\n{log.read_text()[-3000:] if log else ''}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process we started (and its children: it leads its own session) by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:  # noqa: S310
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@contextmanager
def airflow_api_server(tmp_path: Path, conns: dict[str, str]) -> Iterator[dict[str, Any]]:
    """``airflow api-server`` on a free loopback port with the project's plugins/, the simple auth manager
    (user ``admin``, a fresh password) and the given ``AIRFLOW_CONN_*`` variables; stopped by its id."""
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
        **conns,
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


@pytest.fixture
def api_server(tmp_path: Path, airflow_db: str, sqlite_store: Any, inbox: Any, inbox_server: Any,
               vault: Any) -> Iterator[dict[str, Any]]:
    """``airflow api-server`` on a free loopback port, AIRFLOW_HOME a tmp dir, the project's plugins/."""
    fill(inbox, sqlite_store, vault, now_local())
    with airflow_api_server(tmp_path, connection_env(
            exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
            inbox_sftp=inbox_server.airflow_connection())) as server:
        yield server


class DevTools:
    """The smallest DevTools-protocol client: send a command, wait for its answer."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        # legacy=True: websockets 17 warns on a connection used outside a `with`; this one lives with the object.
        self.ws = connect(ws_url, max_size=None, open_timeout=10, legacy=True)
        self.next_id = 0

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=20))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    def js(self, expression: str) -> Any:
        answer = self("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return answer.get("result", {}).get("value")

    def close(self) -> None:
        self.ws.close()


def _viewer_env() -> dict[str, str]:
    """The browser only looks at the page: under `make test-clocks` it keeps the real clock
    (libfaketime breaks Chromium's crash handler), while the hub it looks at runs on the fake one."""
    return {k: v for k, v in os.environ.items() if k not in {"LD_PRELOAD", "FAKETIME"}}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    log = tmp_path / "chromium.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--window-size=1400,1000", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=_viewer_env())
    try:
        port = wait_for("chromium", lambda: int((profile / "DevToolsActivePort").read_text().split()[0]), 20,
                        proc, log)

        def page_ws() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:  # noqa: S310
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        tools = DevTools(wait_for("chromium page", page_ws, 20, proc, log))
        tools("Page.enable")
        tools("Network.enable")
        try:
            yield tools
        finally:
            tools.close()
    finally:
        stop(proc)


def goto(tools: DevTools, url: str, ready_js: str, timeout: float = 20) -> None:
    tools("Page.navigate", url=url)
    wait_for(f"page {url}", lambda: tools.js(ready_js), timeout)


def screenshot(tools: DevTools, path: Path) -> Path:
    data = tools("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    path.write_bytes(base64.b64decode(data))
    return path


def login(base: str, password: str) -> str:
    """The simple auth manager's password login (what its login form posts): the UI token."""
    req = urllib.request.Request(base + "/auth/token", method="POST",
                                 data=json.dumps({"username": "admin", "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return str(json.load(r)["access_token"])


READ_TABLES = """(() => {
  const out = {};
  document.querySelectorAll("tr[data-department], tr[data-platform]").forEach(tr => {
    const key = tr.dataset.department || tr.dataset.platform; out[key] = {};
    tr.querySelectorAll("td[data-field]").forEach(td => { out[key][td.dataset.field] = td.textContent.trim(); });
  });
  return out;
})()"""


@pytest.mark.slow
def test_admin_sees_the_exchange_page_in_the_airflow_ui(api_server: dict[str, Any], browser: DevTools,
                                                       tmp_path: Path) -> None:
    base = api_server["base"]
    page = base + "/qianwei-exchange/"
    # Without a login the plugin refuses: 401 for the API, the login page for a browser.
    assert http_status(base + "/qianwei-exchange/api/overview") == 401
    goto(browser, page, "location.pathname.startsWith('/auth/login')")

    token = login(base, api_server["password"])
    assert browser("Network.setCookie", name="_token", value=token, url=base + "/", path="/")["success"]
    goto(browser, page, "!!document.querySelector('#departments') && "
                        "![...document.querySelectorAll('[data-live]')].some(e => e.textContent === '…')")
    tables = browser.js(READ_TABLES)
    assert list(tables)[:4] == ["market", "police", "transport", "pboc"]
    for key in ("market", "police", "transport", "pboc", "county", "city"):
        for field, value in EXPECTED[key].items():
            assert tables[key][field] == str(value), (key, field, tables[key])
    assert tables["market"]["live"] == "0"  # the inbox server was asked, and it is empty
    html = browser.js("document.documentElement.outerHTML")
    assert "信用交换" in html and "uscc_checksum" in html and FULL_ID not in html
    shot = screenshot(browser, tmp_path / "exchange-page.png")
    assert shot.stat().st_size > 10_000

    # The same page inside the Airflow UI, reached through the navigation entry.
    goto(browser, base + "/plugin/qianwei-exchange",
         "(() => { const f = document.querySelector('iframe');"
         " return !!(f && f.contentDocument && f.contentDocument.querySelector('#departments')); })()", 30)
    # The navigation entry sits in the Browse menu.
    browser.js("[...document.querySelectorAll('nav button, button')]"
               ".find(b => b.innerText.trim() === 'Browse').click()")
    wait_for("Browse menu", lambda: "信用交换 Exchange" in browser.js("document.body.innerText"), 10)
    screenshot(browser, tmp_path / "exchange-in-airflow-ui.png")
    print(f"screenshots: {tmp_path / 'exchange-page.png'} {tmp_path / 'exchange-in-airflow-ui.png'}")
