"""Start and stop the local stand-ins of every system around the hub, in one state directory.

``python -m sandbox.standins start --state DIR`` starts (or finds running):
- the inbox server: a real OpenSSH sshd on a loopback port (sandbox/sshd.py);
- the PBoC outbox: another sshd, read-only for the hub;
- the city platform's SFTP server: a third sshd (its receipts are written by
  sandbox/city_platform.py);
- the county platform sandbox (sandbox/county_platform.py), as a process;
- the transport API sandbox (sandbox/transport_api.py), as a process;
and writes ``DIR/env.sh`` with the Airflow settings and ``AIRFLOW_CONN_*``
connections that point the hub at them (the only thing the hub needs).
``stop`` stops them by process id.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.sshd import CITY_FOLDERS, INBOX_FOLDERS, PBOC_FOLDERS, running_server, start_sshd, stop_pid_file

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _secrets(state: Path) -> dict[str, str]:
    """Credentials generated once per state dir (the demo's own; never real ones)."""
    path = state / "secrets.json"
    data = _json(path)
    if not data:
        from credit_exchange.standard.crypto import PiiVault

        data = {"county_app_key": "qw-hub-" + secrets.token_hex(4), "county_app_secret": secrets.token_urlsafe(32),
                "transport_app_key": "qw-hub-" + secrets.token_hex(4),
                "transport_app_secret": secrets.token_urlsafe(32),
                "pii_key": PiiVault.generate_key()}
        path.write_text(json.dumps(data))
        path.chmod(0o600)
    return data


def _start_process(state: Path, name: str, module: str, key: str, secret: str,
                   args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Start (or find running) one HTTP sandbox as its own process; returns its pid and URL."""
    folder = state / name
    info_path = folder / "server.json"
    info = _json(info_path)
    if info and _alive(info["pid"]) and _http_ok(info["url"] + "/_sandbox/stats"):
        return info
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "server.log").open("ab")
    env = {**os.environ, "SANDBOX_APP_KEY": key, "SANDBOX_APP_SECRET": secret}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--host", LOOPBACK, "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"{name} sandbox did not start: {line!r}; see {folder / 'server.log'}")
    info = {"pid": proc.pid, "url": line.split(" ", 1)[1]}
    deadline = time.monotonic() + 15
    while not _http_ok(info["url"] + "/_sandbox/stats"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} sandbox does not answer")
        time.sleep(0.05)
    info_path.write_text(json.dumps(info))
    return info


def _stop_process(state: Path, name: str) -> None:
    info = _json(state / name / "server.json")
    if info and _alive(info["pid"]):
        os.kill(info["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(info["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback sandbox only
            return resp.status == 200
    except OSError:
        return False


def start(state: Path) -> dict[str, Any]:
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    creds = _secrets(state)
    inbox = running_server(state / "inbox-sshd") or start_sshd(
        state / "inbox-sshd", state / "inbox-data", folders=INBOX_FOLDERS)
    pboc = running_server(state / "pboc-sshd") or start_sshd(
        state / "pboc-sshd", state / "pboc-data", read_only=True, folders=PBOC_FOLDERS)
    city = running_server(state / "city-sshd") or start_sshd(
        state / "city-sshd", state / "city-data", folders=CITY_FOLDERS)
    county = _start_process(state, "county", "sandbox.county_platform", creds["county_app_key"],
                            creds["county_app_secret"], ("--db", str(state / "county" / "platform.db")))
    transport = _start_process(state, "transport", "sandbox.transport_api", creds["transport_app_key"],
                               creds["transport_app_secret"])
    connections = {
        "inbox_sftp": inbox.airflow_connection(),
        "pboc_sftp": pboc.airflow_connection(),
        "city_platform_sftp": city.airflow_connection(),
        "county_platform": {"conn_type": "http", "host": county["url"],
                            "extra": {"app_key": creds["county_app_key"], "app_secret": creds["county_app_secret"],
                                      "timeout": 30}},
        "transport_api": {"conn_type": "http", "host": transport["url"],
                          "extra": {"app_key": creds["transport_app_key"],
                                    "app_secret": creds["transport_app_secret"], "timeout": 30}},
        "exchange_db": {"conn_type": "sqlite", "host": str(state / "exchange.db")},
        "pii_key": {"conn_type": "generic", "description": "demo key, generated by sandbox/standins.py",
                    "password": creds["pii_key"]},
    }
    env = {
        "AIRFLOW_HOME": str(state / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "HUB_STATE_DIR": str(state),
    }
    for conn_id, conn in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn, ensure_ascii=False)
    lines = ["# Generated by sandbox/standins.py: source it to point Airflow at the stand-ins."]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    (state / "env.sh").write_text("\n".join(lines) + "\n")
    (state / "env.sh").chmod(0o600)
    info = {"state": str(state), "inbox_sftp_port": inbox.port, "inbox_data": str(inbox.data_root),
            "pboc_sftp_port": pboc.port, "pboc_data": str(pboc.data_root),
            "city_sftp_port": city.port, "city_data": str(city.data_root),
            "county_url": county["url"], "transport_url": transport["url"], "env": env}
    (state / "standins.json").write_text(json.dumps(info, indent=2))
    return info


def stop(state: Path) -> None:
    state = state.resolve()
    for name in ("inbox-sshd", "pboc-sshd", "city-sshd"):
        stop_pid_file(state / name)
    for name in ("county", "transport"):
        _stop_process(state, name)


def load_env(state: Path) -> dict[str, str]:
    return dict(_json(state.resolve() / "standins.json").get("env", {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.standins", description=__doc__)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--state", type=Path, default=REPO / ".state")
    args = parser.parse_args(argv)
    if args.command == "start":
        info = start(args.state)
        print(f"inbox server (sshd): sftp://root@{LOOPBACK}:{info['inbox_sftp_port']}  data: {info['inbox_data']}")
        print(f"PBoC outbox (sshd, read-only): sftp://root@{LOOPBACK}:{info['pboc_sftp_port']}  data: {info['pboc_data']}")
        print(f"city platform (sshd): sftp://root@{LOOPBACK}:{info['city_sftp_port']}  data: {info['city_data']}")
        print(f"county platform sandbox: {info['county_url']}  (records: {info['county_url']}/_sandbox/records)")
        print(f"transport API sandbox: {info['transport_url']}")
        print(f"connections and Airflow settings: source {args.state.resolve() / 'env.sh'}")
    else:
        stop(args.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
