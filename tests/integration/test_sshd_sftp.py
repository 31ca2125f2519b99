"""The SFTP connector against a real OpenSSH sshd (sandbox/sshd.py).

No skips: without /usr/sbin/sshd the fixture fails with the reason. Servers are
started into pytest's tmp dir and stopped by pid at the end of the module.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from connectors.sftp import (
    HostKeyMismatch,
    HostKeyNotPinned,
    SftpConnectError,
    SftpConnector,
    SftpTimeout,
    TargetExists,
)
from sandbox.sshd import (
    INBOX_FOLDERS,
    PBOC_FOLDERS,
    SshdServer,
    SshdStartError,
    running_server,
    start_sshd,
    stop_pid_file,
)

pytestmark = pytest.mark.sshd

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


# ------------------------------------------------------------------ fixtures & helpers


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    base = tmp_path_factory.mktemp("inbox-sshd")
    srv = start_sshd(base / "state", base / "data", folders=INBOX_FOLDERS)
    yield srv
    srv.stop()
    assert _process_gone(srv.pid)


@pytest.fixture(scope="module")
def ro_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    base = tmp_path_factory.mktemp("pboc-sshd")
    srv = start_sshd(base / "state", base / "data", read_only=True, folders=PBOC_FOLDERS)
    yield srv
    srv.stop()
    assert _process_gone(srv.pid)


def _conn(srv: SshdServer | None = None, port: int | None = None, **extra: Any) -> SimpleNamespace:
    """A connection object shaped like Airflow's (host, port, login, password, extra_dejson)."""
    base_extra = srv.connection_extra() if srv is not None else {}
    base_extra.update(extra)
    extra_dejson = {k: v for k, v in base_extra.items() if v is not None}
    return SimpleNamespace(
        conn_id="test_sftp",
        host="127.0.0.1",
        port=port if port is not None else (srv.port if srv else 22),
        login="root",
        password=None,
        extra_dejson=extra_dejson,
    )


def _connector(srv: SshdServer, **timeouts: float) -> SftpConnector:
    return SftpConnector.from_connection(_conn(srv), **timeouts)


def _other_key(kind: str = "ed25519") -> str:
    private = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _log_count(srv: SshdServer, needle: str) -> int:
    return srv.log_path.read_text(encoding="utf-8", errors="replace").count(needle)


def _local(srv: SshdServer, remote: str) -> Path:
    return srv.data_root / remote.lstrip("/")


class FreezingProxy:
    """A TCP relay to a port that can be told to stop relaying: a link that stalls mid-transfer."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closing = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.flowing.wait()
                if self.closing:
                    return
                dst.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.closing = True
        self.flowing.set()
        self.listener.close()
        for sock in self.sockets:
            sock.close()


# ------------------------------------------------------------------ sshd stand-in


def test_sshd_serves_chrooted_sftp_only_to_the_hub_key(server: SshdServer) -> None:
    assert server.login == "root" and server.host == "127.0.0.1"
    assert server.host_key_line.startswith("ssh-ed25519 AAAA") and len(server.host_key_line.split()) == 2
    config = (server.state_dir / "sshd_config").read_text()
    for line in ("PasswordAuthentication no", "PermitRootLogin prohibit-password", "UseDNS no", "StrictModes no"):
        assert line in config
    assert "ForceCommand internal-sftp" in config and "ChrootDirectory" in config
    assert int((server.state_dir / "sshd.pid").read_text()) == server.pid
    for folder in INBOX_FOLDERS:
        assert _local(server, folder).is_dir()
    # Any other client key is refused.
    stranger = paramiko.SSHClient()
    key_type, blob = _split_key(server.host_key_line)
    stranger.get_host_keys().add(f"[127.0.0.1]:{server.port}", key_type, paramiko.PKey.from_type_string(key_type, blob))
    stranger.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        stranger.connect("127.0.0.1", server.port, "root", pkey=paramiko.Ed25519Key.from_private_key(
            io.StringIO(_new_openssh_private_key())), allow_agent=False, look_for_keys=False, timeout=5)
    stranger.close()


def _split_key(line: str) -> tuple[str, bytes]:
    key_type, blob = line.split()[:2]
    return key_type, base64.b64decode(blob)


def _new_openssh_private_key() -> str:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def test_start_sshd_reuses_the_running_server(server: SshdServer, tmp_path: Path) -> None:
    again = start_sshd(server.state_dir, server.data_root, folders=INBOX_FOLDERS)
    assert (again.pid, again.port, again.host_key_line) == (server.pid, server.port, server.host_key_line)
    found = running_server(server.state_dir)
    assert found is not None and found.pid == server.pid
    with pytest.raises(SshdStartError):
        start_sshd(server.state_dir, tmp_path / "elsewhere")


def test_server_started_by_another_process_is_stopped_by_pid_file(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sandbox.sshd", "start", "--state-dir", str(tmp_path / "state"),
         "--data-root", str(tmp_path / "data"), "--folders", "city"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    )
    conn = json.loads(out.stdout)
    pid = int((tmp_path / "state" / "sshd.pid").read_text())
    with SftpConnector.from_connection(SimpleNamespace(
        conn_id="city", host=conn["host"], port=conn["port"], login=conn["login"], password=None,
        extra_dejson=conn["extra"],
    )) as sftp:
        assert [f.name for f in sftp.listdir_all("/upload")] == ["511123"]
    assert stop_pid_file(tmp_path / "state") is True
    assert _process_gone(pid)
    assert stop_pid_file(tmp_path / "state") is False


# ------------------------------------------------------------------ host keys


def test_pinned_key_connects_and_lists_regular_files(server: SshdServer) -> None:
    inbox = _local(server, "/market/inbox")
    (inbox / "MARKET_SHOP_20261127_001.xml").write_bytes(b"<x/>" * 100)
    (inbox / "MARKET_SHOP_20261127_002.xml.tmp").write_bytes(b"partial")
    (inbox / "a-folder").mkdir(exist_ok=True)
    os.utime(inbox / "MARKET_SHOP_20261127_001.xml", (1795900000, 1795900000))
    with _connector(server) as sftp:
        files = sftp.listdir("/market/inbox")
        assert [f.name for f in files] == ["MARKET_SHOP_20261127_001.xml", "MARKET_SHOP_20261127_002.xml.tmp"]
        first = files[0]
        assert (first.size, first.mtime, first.path, first.is_dir) == (
            400, 1795900000, "/market/inbox/MARKET_SHOP_20261127_001.xml", False)
        assert isinstance(first.mtime, int)
        assert "a-folder" in [f.name for f in sftp.listdir_all("/market/inbox") if f.is_dir]
        assert sftp.stat("/market/inbox/nope.xml") is None
        assert sftp.exists("/market/inbox/MARKET_SHOP_20261127_001.xml")
        assert sftp.stat("/market/inbox").is_dir  # type: ignore[union-attr]
    for name in ("MARKET_SHOP_20261127_001.xml", "MARKET_SHOP_20261127_002.xml.tmp"):
        (inbox / name).unlink()
    (inbox / "a-folder").rmdir()


def test_from_conn_id_reads_the_airflow_env_connection(server: SshdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_INBOX_SFTP", server.airflow_connection_json())
    with SftpConnector.from_conn_id("inbox_sftp", channel_timeout=5) as sftp:
        assert [f.name for f in sftp.listdir_all("/")] == ["market", "police"]
        assert sftp.timeouts.channel == 5 and sftp.timeouts.connect == 10


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_wrong_pinned_key_is_refused_before_login(server: SshdServer, kind: str) -> None:
    accepted_before = _log_count(server, "Accepted publickey")
    sftp = SftpConnector.from_connection(_conn(server, host_key=_other_key(kind)))
    with pytest.raises(HostKeyMismatch) as err:
        sftp.listdir("/market/inbox")
    assert "主机公钥" in str(err.value) and "mismatch" in str(err.value)
    assert not sftp.connected
    # The client walked away before authenticating: no session, nothing read.
    assert _log_count(server, "Accepted publickey") == accepted_before


def test_unpinned_connection_is_refused_without_any_traffic() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(HostKeyNotPinned) as err:
            SftpConnector.from_connection(_conn(None, port=port, key_file="/nonexistent"))
        assert "host_key" in str(err.value) and "未固定主机公钥" in str(err.value)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever knocked
    finally:
        listener.close()


@pytest.mark.parametrize(
    "extra",
    [
        {"no_host_key_check": True},
        {"no_host_key_check": "true"},
        {"allow_host_key_change": "True"},
        {"host_key": "ssh-ed25519"},
        {"host_key": "ssh-ed25519 not-base64!"},
        {"host_key": None, "known_hosts": "/nonexistent/known_hosts"},
    ],
)
def test_connections_that_weaken_or_break_the_pin_are_refused(server: SshdServer, extra: dict[str, Any]) -> None:
    with pytest.raises(HostKeyNotPinned):
        SftpConnector.from_connection(_conn(server, **extra))


@pytest.mark.parametrize("form", ["bracketed", "plain_host", "hashed"])
def test_known_hosts_file_pins_the_key(server: SshdServer, tmp_path: Path, form: str) -> None:
    name = {"bracketed": f"[127.0.0.1]:{server.port}", "plain_host": "127.0.0.1",
            "hashed": paramiko.HostKeys.hash_host(f"[127.0.0.1]:{server.port}")}[form]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"other.example {_other_key()}\n{name} {server.host_key_line}\n")
    with SftpConnector.from_connection(_conn(server, host_key=None, known_hosts=str(known_hosts))) as sftp:
        assert [f.name for f in sftp.listdir_all("/market")] == [
            "archive", "inbox", "processing", "quarantine", "receipts"]


def test_known_hosts_with_a_wrong_key_or_no_entry_is_refused(server: SshdServer, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text(f"[127.0.0.1]:{server.port} {_other_key()}\n")
    with pytest.raises(HostKeyMismatch):
        SftpConnector.from_connection(_conn(server, host_key=None, known_hosts=str(wrong))).listdir("/")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(f"10.0.0.1 {server.host_key_line}\n")
    with pytest.raises(HostKeyNotPinned):
        SftpConnector.from_connection(_conn(server, host_key=None, known_hosts=str(elsewhere)))


def test_private_key_text_extra_authenticates(server: SshdServer) -> None:
    conn = _conn(server, key_file=None, private_key=server.client_key_path.read_text())
    with SftpConnector.from_connection(conn) as sftp:
        assert sftp.exists("/police/inbox")


# ------------------------------------------------------------------ claims, renames, folders


def test_claim_is_atomic_exactly_one_worker_wins(server: SshdServer) -> None:
    inbox, processing = _local(server, "/market/inbox"), _local(server, "/market/processing")
    names = [f"MARKET_PENALTY_20261127_{n:03d}.xml" for n in range(1, 13)]
    for name in names:
        (inbox / name).write_bytes(name.encode() * 50)
    workers = [_connector(server), _connector(server)]
    for worker in workers:
        worker.listdir("/market/inbox")  # connect first, so the race is about the rename
    results: dict[int, list[bool]] = {0: [], 1: []}

    def work(index: int) -> None:
        for name in names:
            barrier.wait()
            # Different targets, as two workers' processing names would be.
            results[index].append(
                workers[index].claim(f"/market/inbox/{name}", f"/market/processing/w{index}-{name}"))

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in workers:
        worker.close()
    for i, name in enumerate(names):
        assert results[0][i] != results[1][i], name
        taken = sorted(p.name for p in processing.glob(f"w?-{name}"))
        assert len(taken) == 1 and not (inbox / name).exists()
        assert (processing / taken[0]).read_bytes() == name.encode() * 50
    for path in processing.iterdir():
        path.unlink()


def test_claim_same_target_and_no_overwrite(server: SshdServer) -> None:
    inbox, processing = _local(server, "/police/inbox"), _local(server, "/police/processing")
    (inbox / "POLICE_FRAUD_20261127_01.csv").write_bytes(b"new")
    (processing / "POLICE_FRAUD_20261127_01.csv").write_bytes(b"left by a crashed run")
    with _connector(server) as sftp:
        with pytest.raises(TargetExists):
            sftp.claim("/police/inbox/POLICE_FRAUD_20261127_01.csv", "/police/processing/POLICE_FRAUD_20261127_01.csv")
        assert (processing / "POLICE_FRAUD_20261127_01.csv").read_bytes() == b"left by a crashed run"
        assert (inbox / "POLICE_FRAUD_20261127_01.csv").read_bytes() == b"new"
        (processing / "POLICE_FRAUD_20261127_01.csv").unlink()
        assert sftp.claim("/police/inbox/POLICE_FRAUD_20261127_01.csv", "/police/processing/POLICE_FRAUD_20261127_01.csv")
        assert not sftp.claim("/police/inbox/POLICE_FRAUD_20261127_01.csv", "/police/processing/x.csv")
        # posix-rename replaces (used for archive moves and atomic uploads).
        (inbox / "again.csv").write_bytes(b"second")
        sftp.rename("/police/inbox/again.csv", "/police/processing/POLICE_FRAUD_20261127_01.csv")
        assert (processing / "POLICE_FRAUD_20261127_01.csv").read_bytes() == b"second"
        # A missing target folder is an error, not "somebody else took it".
        (inbox / "b.csv").write_bytes(b"b")
        with pytest.raises(FileNotFoundError):
            sftp.claim("/police/inbox/b.csv", "/police/no-such-folder/b.csv")
        sftp.remove("/police/inbox/b.csv")
        sftp.remove("/police/processing/POLICE_FRAUD_20261127_01.csv")
        sftp.remove("/police/processing/POLICE_FRAUD_20261127_01.csv", missing_ok=True)
        with pytest.raises(FileNotFoundError):
            sftp.remove("/police/processing/POLICE_FRAUD_20261127_01.csv")


def test_makedirs_nested_idempotent_and_concurrent(server: SshdServer) -> None:
    workers = [_connector(server), _connector(server)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(worker: SftpConnector) -> None:
        try:
            worker.listdir("/market")
            barrier.wait()
            worker.makedirs("/market/archive/2026/11/27/deep")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert _local(server, "/market/archive/2026/11/27/deep").is_dir()
    with workers[0] as sftp:
        sftp.makedirs("/market/archive/2026/11/27/deep")
        sftp.write_bytes("/market/archive/2026/file", b"x")
        with pytest.raises(NotADirectoryError):
            sftp.makedirs("/market/archive/2026/file/sub")
    workers[1].close()


# ------------------------------------------------------------------ transfers


def test_upload_atomic_never_shows_a_partial_final_name(server: SshdServer) -> None:
    final = _local(server, "/market/receipts/MARKET_SHOP_20261127_001.xml.receipt.json")
    tmp = final.with_name(final.name + ".tmp")
    payload = os.urandom(5 * MIB + 17)
    seen: list[tuple[bool, bool]] = []

    class Watching(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell():
                seen.append((final.exists(), tmp.exists()))
            return super().read(size)

    with _connector(server) as sftp:
        result = sftp.upload_atomic(Watching(payload), "/market/receipts/MARKET_SHOP_20261127_001.xml.receipt.json")
    assert seen and all(state == (False, True) for state in seen)
    assert final.read_bytes() == payload and not tmp.exists()
    assert result.size == len(payload) and result.sha256 == hashlib.sha256(payload).hexdigest()
    final.unlink()


def test_failed_upload_leaves_neither_final_nor_tmp(server: SshdServer) -> None:
    final = _local(server, "/market/receipts/broken.json")

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 2 * MIB:
                raise OSError("disk read error")
            return super().read(size)

    with _connector(server) as sftp:
        with pytest.raises(OSError, match="disk read error"):
            sftp.upload_atomic(Failing(os.urandom(4 * MIB)), "/market/receipts/broken.json")
        assert not final.exists() and not final.with_name("broken.json.tmp").exists()
        # Replacing an existing file is atomic too; Path and bytes sources work.
        sftp.write_bytes("/market/receipts/broken.json", b"first")
        source = final.parent / "local-source.bin"
        source.write_bytes(b"second")
        assert sftp.upload_atomic(source, "/market/receipts/broken.json").size == 6
        assert final.read_bytes() == b"second"
        assert sftp.read_bytes("/market/receipts/broken.json") == b"second"
    final.unlink()
    source.unlink()


def test_download_digests_match_hashlib_for_a_multi_mib_file(server: SshdServer, tmp_path: Path) -> None:
    payload = os.urandom(6 * MIB + 12345)
    _local(server, "/police/inbox/POLICE_FRAUD_20261127_02.csv").write_bytes(payload)
    expected = {"sha256": hashlib.sha256(payload).hexdigest(), "sm3": hashlib.new("sm3", payload).hexdigest()}
    with _connector(server) as sftp:
        buffer = io.BytesIO()
        result = sftp.download("/police/inbox/POLICE_FRAUD_20261127_02.csv", buffer, ("sha256", "sm3"))
        assert buffer.getvalue() == payload
        assert (result.size, result.digests, result.sm3) == (len(payload), expected, expected["sm3"])
        target = tmp_path / "copy.csv"
        assert sftp.download("/police/inbox/POLICE_FRAUD_20261127_02.csv", target).sha256 == expected["sha256"]
        assert target.read_bytes() == payload
        with sftp.open_read("/police/inbox/POLICE_FRAUD_20261127_02.csv") as handle:
            assert handle.read(10) == payload[:10]
            assert handle.read() == payload[10:]
        with pytest.raises(FileNotFoundError):
            sftp.download("/police/inbox/none.csv", tmp_path / "none.csv")
        assert not (tmp_path / "none.csv").exists()
    _local(server, "/police/inbox/POLICE_FRAUD_20261127_02.csv").unlink()


def test_download_memory_stays_flat(server: SshdServer) -> None:
    _local(server, "/police/inbox/big.csv").write_bytes(os.urandom(48 * MIB))

    class Discard:
        def write(self, data: bytes) -> int:
            return len(data)

    with _connector(server) as sftp:
        sftp.listdir("/police/inbox")
        tracemalloc.start()
        try:
            result = sftp.download("/police/inbox/big.csv", Discard())  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.size == 48 * MIB
    from connectors.paramiko_tuning import PREFETCH_BYTES

    # Bounded by the bytes requested ahead, not by the file size.
    bound = PREFETCH_BYTES + 4 * MIB
    assert bound < 48 * MIB
    assert peak < bound, f"peak {peak / MIB:.1f} MiB for a 48 MiB file"
    _local(server, "/police/inbox/big.csv").unlink()


def test_reads_are_as_large_as_the_server_says_it_serves(server: SshdServer) -> None:
    from connectors.paramiko_tuning import DEFAULT_READ_REQUEST, READ_REQUEST_MAX

    payload = os.urandom(3 * MIB + 12345)
    _local(server, "/police/inbox/sized.csv").write_bytes(payload)
    with _connector(server) as sftp:
        sftp.listdir("/police/inbox")
        # OpenSSH announces limits@openssh.com: 255 KiB reads, eight times paramiko's 32 KiB.
        assert "limits@openssh.com" in sftp.sftp.server_extensions  # type: ignore[attr-defined]
        assert DEFAULT_READ_REQUEST < sftp.read_request <= READ_REQUEST_MAX
        with sftp.open_read("/police/inbox/sized.csv") as handle:
            assert handle.MAX_REQUEST_SIZE == sftp.read_request
            assert handle.read() == payload
        # A server that announces nothing gets the protocol's 32 KiB.
        sftp.sftp.server_extensions = {}  # type: ignore[attr-defined]
        assert sftp.sftp.max_read() == DEFAULT_READ_REQUEST  # type: ignore[attr-defined]
    _local(server, "/police/inbox/sized.csv").unlink()


def test_aes_gcm_is_chosen_when_the_server_offers_it(server: SshdServer) -> None:
    # AES-GCM authenticates packets inside OpenSSL; with AES-CTR every packet's HMAC runs from Python.
    with _connector(server) as sftp:
        transport = sftp.sftp.get_channel().get_transport()  # type: ignore[union-attr]
        assert (transport.local_cipher, transport.remote_cipher) == ("aes128-gcm@openssh.com",) * 2


# ------------------------------------------------------------------ read-only server (PBoC stand-in)


def test_read_only_server_refuses_writes_and_renames(ro_server: SshdServer, server: SshdServer) -> None:
    assert ro_server.port != server.port and ro_server.read_only
    data = b"E1|1|U|...\n"
    outbox = _local(ro_server, "/outbox")
    (outbox / "PBOC_PAYRISK_20261127_01.dat").write_bytes(data)
    with _connector(ro_server) as sftp:
        assert [f.name for f in sftp.listdir("/outbox")] == ["PBOC_PAYRISK_20261127_01.dat"]
        assert sftp.read_bytes("/outbox/PBOC_PAYRISK_20261127_01.dat") == data
        with pytest.raises(PermissionError):
            sftp.upload_atomic(b"x", "/outbox/new.dat")
        with pytest.raises(PermissionError):
            sftp.rename("/outbox/PBOC_PAYRISK_20261127_01.dat", "/outbox/moved.dat")
        with pytest.raises(PermissionError):
            sftp.claim("/outbox/PBOC_PAYRISK_20261127_01.dat", "/outbox/moved.dat")
        with pytest.raises(PermissionError):
            sftp.remove("/outbox/PBOC_PAYRISK_20261127_01.dat")
        with pytest.raises(PermissionError):
            sftp.makedirs("/outbox/sub")
    assert sorted(p.name for p in outbox.iterdir()) == ["PBOC_PAYRISK_20261127_01.dat"]


# ------------------------------------------------------------------ time-outs


@pytest.mark.parametrize("connect, banner", [(1, 1), (1, 30), (30, 1)])
def test_silent_server_fails_within_the_timeout(connect: float, banner: float) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts TCP, never speaks SSH
    port = listener.getsockname()[1]
    sftp = SftpConnector.from_connection(
        _conn(None, port=port, host_key=_other_key(), key_file="/nonexistent"),
        connect_timeout=connect, banner_timeout=banner, auth_timeout=1,
    )
    started = time.monotonic()
    try:
        with pytest.raises(SftpTimeout):
            sftp.listdir("/")
    finally:
        listener.close()
    assert time.monotonic() - started < 5


def test_closed_port_fails_fast_with_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    sftp = SftpConnector.from_connection(_conn(None, port=port, host_key=_other_key(), key_file="/x"))
    with pytest.raises(SftpConnectError, match="无法连接"):
        sftp.listdir("/")


def test_transfer_that_stalls_fails_within_the_channel_timeout(server: SshdServer) -> None:
    _local(server, "/police/inbox/stall.csv").write_bytes(os.urandom(16 * MIB))
    proxy = FreezingProxy(server.port)
    sftp = SftpConnector.from_connection(_conn(server, port=proxy.port), channel_timeout=1)

    class FreezeAfterFirstChunk:
        def write(self, data: bytes) -> int:
            proxy.flowing.clear()  # the link goes quiet from now on
            return len(data)

    try:
        sftp.listdir("/police/inbox")
        started = time.monotonic()
        with pytest.raises(SftpTimeout):
            sftp.download("/police/inbox/stall.csv", FreezeAfterFirstChunk())  # type: ignore[arg-type]
        assert time.monotonic() - started < 10
        assert not sftp.connected
    finally:
        proxy.close()
        sftp.close()
    # A fresh connection works again after the failure.
    with _connector(server) as fresh:
        assert fresh.exists("/police/inbox/stall.csv")
    _local(server, "/police/inbox/stall.csv").unlink()


def test_transfer_past_its_overall_deadline_fails(server: SshdServer, tmp_path: Path) -> None:
    _local(server, "/police/inbox/slow.csv").write_bytes(os.urandom(4 * MIB))
    slow_disk = threading.Event()

    class SlowSink(io.FileIO):
        def write(self, data: Any) -> int:
            slow_disk.wait(0.25)  # a consumer slower than the deadline allows
            return super().write(data)

    target = tmp_path / "slow.csv"
    with _connector(server, transfer_timeout=0.4) as sftp:
        with SlowSink(target, "wb") as sink, pytest.raises(SftpTimeout, match="总时限"):
            sftp.download("/police/inbox/slow.csv", sink)
    _local(server, "/police/inbox/slow.csv").unlink()


# ------------------------------------------------------------------ Airflow's own hooks on the same connection


def test_airflow_sftp_and_ssh_hooks_accept_the_generated_connection(
    server: SshdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from airflow.providers.ssh.hooks.ssh import SSHHook

    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP", server.airflow_connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SSH", server.airflow_connection_json(conn_type="ssh"))
    hook = SFTPHook(ssh_conn_id="test_sftp")
    assert hook.no_host_key_check is False and hook.host_key is not None
    assert hook.list_directory("/market") == ["archive", "inbox", "processing", "quarantine", "receipts"]
    ssh = SSHHook(ssh_conn_id="test_ssh")
    assert ssh.no_host_key_check is False
    client = ssh.get_conn()
    try:
        with client.open_sftp() as sftp:
            assert sorted(sftp.listdir("/")) == ["market", "police"]
    finally:
        client.close()


def test_airflow_sftp_hook_refuses_a_wrong_pinned_key(server: SshdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP_BAD", server.airflow_connection_json(host_key=_other_key()))
    with pytest.raises(paramiko.BadHostKeyException):
        SFTPHook(ssh_conn_id="test_sftp_bad", conn_retry_attempts=1).list_directory("/market")


def test_airflow_async_sftp_hook_deferrable_path(server: SshdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deferrable SFTPSensor's trigger resolves the same connection with asyncssh."""
    import asyncssh
    from airflow.providers.sftp.hooks.sftp import SFTPHookAsync

    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP", server.airflow_connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SFTP_BAD", server.airflow_connection_json(host_key=_other_key()))
    listing = asyncio.run(SFTPHookAsync(sftp_conn_id="test_sftp").list_directory("/market"))
    # Unlike SFTPHook, the async hook lists "." and ".." too (a "*" file_pattern matches them).
    assert [name for name in listing or [] if name not in (".", "..")] == [
        "archive", "inbox", "processing", "quarantine", "receipts"]

    async def bad() -> Any:
        return await asyncio.wait_for(SFTPHookAsync(sftp_conn_id="test_sftp_bad").list_directory("/market"), 30)

    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(bad())


def test_missing_sshd_binary_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.sshd as sshd_module

    monkeypatch.setattr(sshd_module, "SSHD", tmp_path / "no-sshd")
    with pytest.raises(SshdStartError, match="openssh-server"):
        start_sshd(tmp_path / "state", tmp_path / "data")
