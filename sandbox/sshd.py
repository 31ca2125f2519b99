"""A real OpenSSH server as the stand-in for the hub's SFTP peers.

One ``sshd`` per state directory: the inbox server, the PBoC outbox (read
only) and the city platform each get their own port, keys and chroot. The
server speaks SFTP only (``internal-sftp``), accepts the hub's generated
ed25519 client key and nothing else, and is chrooted at a data root so remote
paths look like the contract's (``/market/inbox/...``).

Usage from code: ``start_sshd(state_dir, data_root, folders=INBOX_FOLDERS)``;
from a shell: ``python -m sandbox.sshd start --state-dir D --data-root R``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CITY_FOLDERS",
    "INBOX_FOLDERS",
    "PBOC_FOLDERS",
    "SshdServer",
    "SshdStartError",
    "running_server",
    "start_sshd",
    "stop_pid_file",
]

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
HOST = "127.0.0.1"
LOGIN = "root"

DEPARTMENT_SUBFOLDERS = ("inbox", "receipts", "processing", "archive", "quarantine")
INBOX_FOLDERS = [f"/{dept}/{sub}" for dept in ("market", "police") for sub in DEPARTMENT_SUBFOLDERS]
PBOC_FOLDERS = ["/outbox"]
CITY_FOLDERS = ["/upload/511123", "/receipt/511123"]

# File names inside a state dir.
CONFIG = "sshd_config"
HOST_KEY = "ssh_host_ed25519_key"
CLIENT_KEY = "hub_client_ed25519"
AUTHORIZED_KEYS = "authorized_keys"
PID_FILE = "sshd.pid"
LOG_FILE = "sshd.log"
STATE_FILE = "server.json"

# sshd refuses a chroot unless every path component is root-owned and not
# group/world-writable; /tmp (1777) fails that, so a data root below it is
# reached through a symlink from here (sshd stat()s, i.e. follows, links).
SAFE_LINK_DIR = Path("/run/qianwei-sshd")

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# Child processes started by this interpreter, so stop() can reap them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class SshdStartError(RuntimeError):
    """sshd could not be started or did not answer; the message carries its log."""


@dataclass
class SshdServer:
    """A running stand-in SFTP server and what a client needs to reach it."""

    port: int
    pid: int
    host_key_line: str
    client_key_path: Path
    data_root: Path
    state_dir: Path
    read_only: bool = False
    host: str = HOST
    login: str = LOGIN
    log_path: Path = field(default=Path())

    def connection_extra(self, **overrides: Any) -> dict[str, Any]:
        """Connection extras: pinned host key, client key, time-outs."""
        extra: dict[str, Any] = {
            "host_key": self.host_key_line,
            "key_file": str(self.client_key_path),
            # SSHHook parses conn_timeout with int(); keep it integral.
            "conn_timeout": 10,
            "banner_timeout": 15,
            "auth_timeout": 15,
            "channel_timeout": 30,
            "transfer_timeout": 3600,
            # Written out so an admin reading the connection sees the intent;
            # SSHHook would otherwise also try ~/.ssh keys.
            "no_host_key_check": False,
            "look_for_keys": False,
        }
        extra.update(overrides)
        return extra

    def airflow_connection(self, conn_type: str = "sftp", **extra_overrides: Any) -> dict[str, Any]:
        """The connection in Airflow's JSON form (for ``AIRFLOW_CONN_{ID}``)."""
        return {
            "conn_type": conn_type,
            "description": f"stand-in SFTP server ({'read-only ' if self.read_only else ''}sandbox/sshd.py)",
            "host": self.host,
            "port": self.port,
            "login": self.login,
            "extra": self.connection_extra(**extra_overrides),
        }

    def airflow_connection_json(self, conn_type: str = "sftp", **extra_overrides: Any) -> str:
        """``airflow_connection()`` serialised, ready for an environment variable."""
        return json.dumps(self.airflow_connection(conn_type, **extra_overrides))

    def is_running(self) -> bool:
        """True while the sshd process lives and answers with an SSH banner."""
        return _alive(self.pid) and _banner_ok(self.port)

    def stop(self) -> None:
        """Stop this server by pid and wait until it has exited."""
        _stop_pid(self.pid)
        _cleanup_state(self.state_dir, self.data_root)


def start_sshd(
    state_dir: Path,
    data_root: Path,
    port: int | None = None,
    read_only: bool = False,
    folders: Iterable[str] = (),
) -> SshdServer:
    """Start (or reuse) the sshd of ``state_dir``, serving ``data_root`` over SFTP."""
    _require_environment()
    state_dir = Path(state_dir).absolute()
    data_root = Path(data_root).absolute()
    state_dir.mkdir(parents=True, exist_ok=True)
    _prepare_data_root(data_root, folders)

    existing = running_server(state_dir)
    if existing is not None:
        if existing.data_root != data_root or existing.read_only != read_only or (
            port is not None and existing.port != port
        ):
            raise SshdStartError(
                f"{state_dir} already runs sshd (pid {existing.pid}, port {existing.port}, "
                f"data root {existing.data_root}, read_only={existing.read_only}); "
                "stop it first or use another state dir"
            )
        return existing
    # A stale pid file from a killed run would otherwise confuse stop_pid_file().
    (state_dir / PID_FILE).unlink(missing_ok=True)

    host_key_line = _ensure_keys(state_dir)
    chroot = _chroot_path(data_root)
    log_path = state_dir / LOG_FILE

    # A free port picked here can be taken before sshd binds it; retry then.
    attempts = 1 if port is not None else 5
    last_error: SshdStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else _free_port()
        config = _write_config(state_dir, chroot, chosen, read_only)
        _check_config(config)
        try:
            proc = _launch(config, log_path, chosen)
        except SshdStartError as exc:
            last_error = exc
            if port is None and "in use" in str(exc).lower():
                continue
            raise
        server = SshdServer(
            port=chosen,
            pid=proc.pid,
            host_key_line=host_key_line,
            client_key_path=state_dir / CLIENT_KEY,
            data_root=data_root,
            state_dir=state_dir,
            read_only=read_only,
            log_path=log_path,
        )
        _write_state(server, chroot)
        return server
    assert last_error is not None
    raise last_error


def running_server(state_dir: Path) -> SshdServer | None:
    """The server recorded in ``state_dir`` if it is alive and answering, else None."""
    state_dir = Path(state_dir).absolute()
    try:
        state = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = int(state["pid"])
    # Guard against pid reuse: the process must be the sshd of this config.
    if not _is_our_sshd(pid, state_dir / CONFIG) or not _banner_ok(int(state["port"])):
        return None
    return SshdServer(
        port=int(state["port"]),
        pid=pid,
        host_key_line=state["host_key_line"],
        client_key_path=Path(state["client_key_path"]),
        data_root=Path(state["data_root"]),
        state_dir=state_dir,
        read_only=bool(state["read_only"]),
        log_path=state_dir / LOG_FILE,
    )


def stop_pid_file(state_dir: Path) -> bool:
    """Stop the sshd of ``state_dir`` (started by any process), found by its pid file.

    Returns False when there was nothing running.
    """
    state_dir = Path(state_dir).absolute()
    pids: list[int] = []
    data_root: Path | None = None
    try:
        pids.append(int((state_dir / PID_FILE).read_text().strip()))
    except (OSError, ValueError):
        pass
    try:
        state = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        data_root = Path(state["data_root"])
        # sshd deletes its pid file on exit; a stray second sshd on the same
        # file can take it away, so the state file is the fallback.
        pids.append(int(state["pid"]))
    except (OSError, ValueError, KeyError):
        pass
    stopped = False
    for pid in dict.fromkeys(pids):
        if _is_our_sshd(pid, state_dir / CONFIG):
            _stop_pid(pid)
            stopped = True
    _cleanup_state(state_dir, data_root)
    return stopped


# --------------------------------------------------------------------------
# internals


def _require_environment() -> None:
    if not SSHD.exists():
        raise SshdStartError(
            f"{SSHD} is missing: install Debian's openssh-server (make system-deps / apt-get install openssh-server)"
        )
    if not SSH_KEYGEN.exists():
        raise SshdStartError(f"{SSH_KEYGEN} is missing: install openssh-client")
    if os.geteuid() != 0:
        # ChrootDirectory needs root; the stand-in is not worth a rootless variant.
        raise SshdStartError("the sshd stand-in must run as root (ChrootDirectory needs it)")
    # Privilege separation dir; systemd normally creates it, containers do not.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)


def _prepare_data_root(data_root: Path, folders: Iterable[str]) -> None:
    data_root.mkdir(parents=True, exist_ok=True)
    os.chown(data_root, 0, 0)
    os.chmod(data_root, 0o755)
    for folder in folders:
        rel = folder.strip("/")
        if not rel or ".." in Path(rel).parts:
            raise ValueError(f"bad folder {folder!r}")
        (data_root / rel).mkdir(parents=True, exist_ok=True)


def _chain_is_safe(path: Path) -> bool:
    for component in [path, *path.parents]:
        st = component.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def _chroot_path(data_root: Path) -> Path:
    real = data_root.resolve()
    if _chain_is_safe(real):
        return real
    SAFE_LINK_DIR.mkdir(mode=0o755, exist_ok=True)
    os.chmod(SAFE_LINK_DIR, 0o755)
    link = SAFE_LINK_DIR / f"root-{hashlib.sha256(str(real).encode()).hexdigest()[:16]}"
    if link.is_symlink() and Path(os.readlink(link)) != real:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(real, target_is_directory=True)
    return link


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def _ensure_keys(state_dir: Path) -> str:
    """Generate host and client keys once; reuse them so pinned keys stay valid."""
    host_key = state_dir / HOST_KEY
    client_key = state_dir / CLIENT_KEY
    if not host_key.exists():
        _keygen(host_key, "qianwei-standin-host")
    if not client_key.exists():
        _keygen(client_key, "qianwei-hub-client")
    os.chmod(host_key, 0o600)
    os.chmod(client_key, 0o600)
    (state_dir / AUTHORIZED_KEYS).write_text(
        (state_dir / f"{CLIENT_KEY}.pub").read_text(encoding="utf-8"), encoding="utf-8"
    )
    key_type, blob = (state_dir / f"{HOST_KEY}.pub").read_text(encoding="utf-8").split()[:2]
    return f"{key_type} {blob}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _quote(path: Path) -> str:
    text = str(path)
    if '"' in text:
        raise ValueError(f"path with a double quote cannot go into sshd_config: {text!r}")
    return f'"{text}"'


def _write_config(state_dir: Path, chroot: Path, port: int, read_only: bool) -> Path:
    sftp = "internal-sftp -d /" + (" -R" if read_only else "")
    lines = [
        "# generated by sandbox/sshd.py; rewritten on every start",
        f"ListenAddress {HOST}:{port}",
        "AddressFamily inet",
        f"HostKey {_quote(state_dir / HOST_KEY)}",
        f"PidFile {_quote(state_dir / PID_FILE)}",
        f"AuthorizedKeysFile {_quote(state_dir / AUTHORIZED_KEYS)}",
        "StrictModes no",
        "UseDNS no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {LOGIN}",
        "PubkeyAuthentication yes",
        "AuthenticationMethods publickey",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitEmptyPasswords no",
        f"ChrootDirectory {_quote(chroot)}",
        f"ForceCommand {sftp}",
        f"Subsystem sftp {sftp}",
        "AllowTcpForwarding no",
        "AllowStreamLocalForwarding no",
        "AllowAgentForwarding no",
        "X11Forwarding no",
        "PermitTunnel no",
        "PermitTTY no",
        "PermitUserRC no",
        "PrintMotd no",
        "LoginGraceTime 30",
        # Tests open many short connections at once; the default 10:30:100
        # would drop some of them at random.
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "ClientAliveInterval 30",
        "LogLevel VERBOSE",
    ]
    config = state_dir / CONFIG
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _check_config(config: Path) -> None:
    result = subprocess.run(
        [str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise SshdStartError(f"sshd rejected {config}:\n{result.stderr}{result.stdout}")


def _launch(config: Path, log_path: Path, port: int) -> subprocess.Popen[bytes]:
    log_start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal that started the demo
            # must not take the server down half-way through a transfer.
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _banner_ok(port):
            return proc
        try:
            # Doubles as the poll interval and as the early-exit check.
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        _CHILDREN.pop(proc.pid, None)
        raise SshdStartError(
            f"sshd exited with status {proc.returncode} before answering on {HOST}:{port}; "
            f"log {log_path}:\n{_log_tail(log_path, log_start)}"
        )
    _stop_pid(proc.pid)
    raise SshdStartError(
        f"sshd did not answer on {HOST}:{port} within {START_TIMEOUT:.0f} s; "
        f"log {log_path}:\n{_log_tail(log_path, log_start)}"
    )


def _log_tail(log_path: Path, start: int = 0) -> str:
    try:
        with open(log_path, "rb") as log:
            log.seek(start)
            return log.read()[-4000:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def _banner_ok(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            # Say hello first so sshd logs a clean disconnect, not a protocol error.
            sock.sendall(b"SSH-2.0-qianwei-probe\r\n")
            return sock.recv(256).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _write_state(server: SshdServer, chroot: Path) -> None:
    state = {
        "pid": server.pid,
        "port": server.port,
        "host": server.host,
        "login": server.login,
        "host_key_line": server.host_key_line,
        "client_key_path": str(server.client_key_path),
        "data_root": str(server.data_root),
        "chroot": str(chroot),
        "read_only": server.read_only,
    }
    path = server.state_dir / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def _cleanup_state(state_dir: Path, data_root: Path | None) -> None:
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    if data_root is not None:
        link = SAFE_LINK_DIR / f"root-{hashlib.sha256(str(data_root.resolve()).encode()).hexdigest()[:16]}"
        if link.is_symlink():
            link.unlink()


def _proc_state(pid: int) -> str | None:
    """The process state letter from /proc, None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state != "Z"


def _is_our_sshd(pid: int, config: Path) -> bool:
    if not _alive(pid):
        return False
    try:
        # sshd rewrites its process title ("sshd: /usr/sbin/sshd -D ... [listener]"),
        # so match the config path as a substring, not as one argv element.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return f" {config} ".encode() in cmdline + b" "


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def _stop_pid(pid: int) -> None:
    """SIGTERM the sshd and its per-connection children; wait; SIGKILL if needed."""
    # sshd's per-connection processes outlive the listener on SIGTERM; an open
    # client session would keep them (and the chroot) busy after a test.
    targets = [pid, *_children_of(pid)]
    for target in targets:
        try:
            os.kill(target, signal.SIGTERM)
        except ProcessLookupError:
            pass
    proc = _CHILDREN.pop(pid, None)
    deadline = time.monotonic() + STOP_TIMEOUT
    if proc is not None:
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    for target in targets:
        while _alive(target) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(target):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------------------
# command line, for the demo and for poking at it by hand

_FOLDER_SETS = {"inbox": INBOX_FOLDERS, "pboc": PBOC_FOLDERS, "city": CITY_FOLDERS, "none": []}


def main(argv: list[str] | None = None) -> int:
    """``start`` prints the Airflow connection JSON; ``stop`` stops by pid file."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.sshd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start")
    start.add_argument("--state-dir", type=Path, required=True)
    start.add_argument("--data-root", type=Path, required=True)
    start.add_argument("--port", type=int)
    start.add_argument("--read-only", action="store_true")
    start.add_argument("--folders", choices=sorted(_FOLDER_SETS), default="none")
    stop = sub.add_parser("stop")
    stop.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "start":
        server = start_sshd(
            args.state_dir, args.data_root, args.port, args.read_only, _FOLDER_SETS[args.folders]
        )
        print(server.airflow_connection_json())
        return 0
    return 0 if stop_pid_file(args.state_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
