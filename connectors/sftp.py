"""SFTP transport for the inbox server, the PBoC outbox and the city platform.

Transport only: list, stat, claim, download with digests, atomic upload. It
never looks inside a file.

Built on paramiko directly rather than Airflow's ``SFTPHook``: the hook has no
rename (atomic claims and uploads need ``posix-rename``), no ``known_hosts``
extra, and no per-transfer deadline. Connections are read in the same JSON
form the hook uses, so admins keep one ``inbox_sftp`` / ``pboc_sftp`` /
``city_platform_sftp`` connection for both.

Host keys are always verified: a connection must pin the server's key
(``host_key`` extra, ``"ssh-ed25519 AAAA…"``) or name a ``known_hosts`` file;
otherwise it is refused before any network traffic. Not thread-safe: one
connector per thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import stat as stat_mod
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

import paramiko

from connectors.paramiko_tuning import (
    CHANNEL_MAX_PACKET,
    CHANNEL_WINDOW,
    DEFAULT_READ_REQUEST,
    PREFETCH_BYTES,
    SftpClient,
    StreamingFile,
    Transport,
)
from hub_messages import text

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
TMP_SUFFIX = ".tmp"


class SftpError(Exception):
    """Base of the errors this connector raises (besides the OSErrors of the SFTP protocol)."""


class HostKeyNotPinned(SftpError):
    """The connection does not pin the server's host key; refused before connecting."""


class HostKeyMismatch(SftpError):
    """The server presented a key other than the pinned one; ``seen`` is its "type SHA256:…" fingerprint."""

    def __init__(self, message: str, seen: str = "") -> None:
        super().__init__(message)
        self.seen = seen


class SftpAuthError(SftpError):
    """The server refused our credentials."""


class SftpConnectError(SftpError):
    """The server could not be reached or the SSH session could not be set up."""


class SftpTimeout(SftpError, TimeoutError):
    """A connect, banner, auth, per-operation or whole-transfer time-out expired."""


class SftpConnectionLost(SftpError):
    """The connection dropped during an operation."""


class TransferChanged(SftpError):
    """The remote file changed size while it was being read."""


class TargetExists(SftpError, FileExistsError):
    """A no-overwrite rename found its destination already taken."""


@dataclass(frozen=True)
class SftpTimeouts:
    """Seconds. ``channel`` bounds every SFTP request, i.e. how long a transfer may stall."""

    connect: float = 10.0
    banner: float = 15.0
    auth: float = 15.0
    channel: float = 30.0
    transfer: float = 3600.0

    # Extras keys (SSHHook spells the first one conn_timeout) and kwargs names.
    _EXTRA_KEYS = {
        "connect": ("conn_timeout", "connect_timeout"),
        "banner": ("banner_timeout",),
        "auth": ("auth_timeout",),
        "channel": ("channel_timeout",),
        "transfer": ("transfer_timeout",),
    }

    @classmethod
    def from_sources(cls, extra: dict[str, Any], overrides: dict[str, Any]) -> SftpTimeouts:
        """Keyword arguments win over connection extras, which win over defaults."""
        values: dict[str, float] = {}
        for f in fields(cls):
            for key in cls._EXTRA_KEYS[f.name]:
                if extra.get(key) not in (None, ""):
                    values[f.name] = float(extra[key])
                    break
        for name, value in overrides.items():
            target = name.removesuffix("_timeout")
            target = "connect" if target == "conn" else target
            if target not in cls._EXTRA_KEYS:
                raise TypeError(f"unknown time-out {name!r}")
            if value is not None:
                values[target] = float(value)
        return cls(**values)


@dataclass(frozen=True)
class RemoteFile:
    """One entry of a remote directory."""

    name: str
    path: str
    size: int
    mtime: int
    is_dir: bool = False
    # file | dir | link | other (a FIFO, socket or device), as the server lists it (not following links)
    kind: str = "file"


@dataclass(frozen=True)
class TransferResult:
    """What a download or upload moved: byte count and hex digests keyed by hash name."""

    path: str
    size: int
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return self.digests["sha256"]

    @property
    def sm3(self) -> str:
        return self.digests["sm3"]


class _PinnedKeyPolicy(paramiko.RejectPolicy):
    """RejectPolicy that says why: the server's key is not among the pinned ones."""

    def __init__(self, where: str) -> None:
        self.where = where

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyMismatch(
            text("sftp_mismatch", where=self.where, key_type=key.get_name(), fingerprint=key.fingerprint),
            seen=f"{key.get_name()} {key.fingerprint}",
        )


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _parse_host_key(line: str, where: str) -> paramiko.PKey:
    parts = line.split()
    if len(parts) < 2:
        detail = text("sftp_host_key_incomplete")
        raise HostKeyNotPinned(text("sftp_bad_host_key", where=where, detail=detail))
    key_type, blob = parts[0], parts[1]
    try:
        return paramiko.PKey.from_type_string(key_type, base64.b64decode(blob, validate=True))
    except (binascii.Error, ValueError, paramiko.SSHException, paramiko.pkey.UnknownKeyType) as exc:
        raise HostKeyNotPinned(text("sftp_bad_host_key", where=where, detail=exc)) from exc


def _load_private_key(pem: str, passphrase: str | None, where: str) -> paramiko.PKey:
    errors = []
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(pem), password=passphrase)
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{key_class.__name__}: {exc}")
    raise SftpAuthError(text("sftp_bad_key", where=where, detail="; ".join(errors)))


class SftpConnector:
    """One SFTP server: a lazily opened SSH session with pinned host key and time-outs.

    Use as a context manager; the first operation connects.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        login: str | None = None,
        *,
        host_key: str | None = None,
        known_hosts: str | Path | None = None,
        password: str | None = None,
        key_file: str | Path | None = None,
        private_key: str | None = None,
        private_key_passphrase: str | None = None,
        timeouts: SftpTimeouts | None = None,
        name: str | None = None,
    ) -> None:
        if not host:
            raise SftpConnectError(text("sftp_no_host"))
        self.host = host
        self.port = int(port or 22)
        self.login = login or ""
        self.timeouts = timeouts or SftpTimeouts()
        self.where = f"{name + ' ' if name else ''}{self.login}@{self.host}:{self.port}"
        # Resolved now, so a connection without a usable pin fails before any traffic.
        self._host_keys = self._pinned_host_keys(host_key, known_hosts)
        self._password = password or None
        self._key_file = str(key_file) if key_file else None
        self._pkey = (
            _load_private_key(private_key, private_key_passphrase, self.where) if private_key else None
        )
        self._passphrase = private_key_passphrase or None
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        # Bytes asked for in one read request (learnt from the server when connecting).
        self.read_request = DEFAULT_READ_REQUEST

    # ---------------------------------------------------------------- factories

    @classmethod
    def from_connection(cls, conn: Any, **timeouts: float | None) -> SftpConnector:
        """Build from an Airflow connection (anything with host, port, login, password, extra_dejson).

        ``timeouts``: ``connect_timeout``, ``banner_timeout``, ``auth_timeout``,
        ``channel_timeout``, ``transfer_timeout``; they override the extras.
        """
        extra = dict(getattr(conn, "extra_dejson", None) or {})
        name = getattr(conn, "conn_id", None)
        where = f"{name or ''} {conn.login or ''}@{conn.host}:{conn.port or 22}".strip()
        # Both SSHHook switches that skip or relax verification are refused, not ignored:
        # an admin who set one must learn that it has no effect here.
        for option in ("no_host_key_check", "ignore_hostkey_verification", "allow_host_key_change"):
            if _truthy(extra.get(option, False)):
                raise HostKeyNotPinned(text("sftp_check_disabled", where=where, option=option))
        return cls(
            conn.host,
            conn.port,
            conn.login,
            host_key=extra.get("host_key") or None,
            known_hosts=extra.get("known_hosts") or None,
            password=conn.password,
            key_file=extra.get("key_file") or None,
            private_key=extra.get("private_key") or None,
            private_key_passphrase=extra.get("private_key_passphrase") or extra.get("passphrase") or None,
            timeouts=SftpTimeouts.from_sources(extra, timeouts),
            name=name,
        )

    @classmethod
    def from_conn_id(cls, conn_id: str, **timeouts: float | None) -> SftpConnector:
        """Build from an Airflow connection id (``inbox_sftp``, ``pboc_sftp``, ``city_platform_sftp``)."""
        # Imported here: connectors must stay importable (and cheap) without Airflow.
        from airflow.sdk import BaseHook

        return cls.from_connection(BaseHook.get_connection(conn_id), **timeouts)

    # ---------------------------------------------------------------- host keys

    def _lookup_names(self) -> list[str]:
        # paramiko looks a non-default port up as "[host]:port" only.
        return [f"[{self.host}]:{self.port}", self.host] if self.port != 22 else [self.host]

    def _pinned_host_keys(self, host_key: str | None, known_hosts: str | Path | None) -> list[paramiko.PKey]:
        if host_key:
            return [_parse_host_key(host_key, self.where)]
        if known_hosts:
            path = Path(known_hosts).expanduser()
            try:
                table = paramiko.HostKeys(str(path))
            except OSError as exc:
                raise HostKeyNotPinned(
                    text("sftp_known_hosts_missing", where=self.where, path=path, detail=exc)
                ) from exc
            for name in self._lookup_names():
                entry = table.lookup(name)
                if entry:
                    return list(entry.values())
            raise HostKeyNotPinned(
                text("sftp_known_hosts_no_entry", path=path, names=" / ".join(self._lookup_names()))
            )
        raise HostKeyNotPinned(text("sftp_no_pin", where=self.where))

    @property
    def pinned(self) -> list[str]:
        """The pinned host keys as "type SHA256:…" fingerprints (what an admin compares with the server's)."""
        return [f"{key.get_name()} {key.fingerprint}" for key in self._host_keys]

    # ---------------------------------------------------------------- connection

    def __enter__(self) -> SftpConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session; the next operation reconnects."""
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        if sftp is not None:
            try:
                sftp.close()
            except Exception:  # noqa: BLE001 - closing a broken session must not mask the real error
                log.debug("closing SFTP session failed", exc_info=True)
        if client is not None:
            client.close()

    @property
    def connected(self) -> bool:
        """True while an SFTP session is open."""
        transport = self._client.get_transport() if self._client else None
        return self._sftp is not None and transport is not None and transport.is_active()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The underlying paramiko client, connecting first if needed."""
        if not self.connected:
            self.close()
            self._connect()
        assert self._sftp is not None
        return self._sftp

    def _connect(self) -> None:
        t = self.timeouts
        client = paramiko.SSHClient()
        # No system or user known_hosts: the connection's pin is the only truth.
        pinned = client.get_host_keys()
        for key in self._host_keys:
            for name in self._lookup_names():
                pinned.add(name, key.get_name(), key)
        client.set_missing_host_key_policy(_PinnedKeyPolicy(self.where))
        stage, stage_seconds = text("sftp_stage_connect"), t.connect
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.login,
                password=self._password,
                pkey=self._pkey,
                key_filename=self._key_file,
                passphrase=self._passphrase,
                timeout=t.connect,
                banner_timeout=t.banner,
                auth_timeout=t.auth,
                channel_timeout=t.channel,
                allow_agent=False,
                look_for_keys=False,
                transport_factory=Transport,
            )
            stage, stage_seconds = text("sftp_stage_channel"), t.channel
            transport = client.get_transport()
            assert transport is not None
            # invoke_subsystem() waits without a time-out; a watchdog closes the
            # transport, which wakes it, if the server never answers.
            watchdog = threading.Timer(t.channel, transport.close)
            watchdog.daemon = True
            watchdog.start()
            try:
                channel = transport.open_session(timeout=t.channel, window_size=CHANNEL_WINDOW,
                                                 max_packet_size=CHANNEL_MAX_PACKET)
                channel.settimeout(t.channel)
                channel.invoke_subsystem("sftp")
                sftp = SftpClient(channel)
                self.read_request = sftp.max_read()
            finally:
                watchdog.cancel()
            if not transport.is_active():
                raise SftpTimeout(
                    text("sftp_timeout", where=self.where, seconds=t.channel, stage=stage)
                )
        except SftpError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyMismatch(text("sftp_mismatch", where=self.where, key_type=exc.key.get_name(),
                                       fingerprint=exc.key.fingerprint),
                                  seen=f"{exc.key.get_name()} {exc.key.fingerprint}") from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise SftpAuthError(text("sftp_auth", where=self.where, login=self.login, detail=exc)) from exc
        except TimeoutError as exc:
            client.close()
            raise SftpTimeout(
                text("sftp_timeout", where=self.where, seconds=stage_seconds, stage=stage)
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            said = str(exc).lower()
            # paramiko reports a silent peer as an SSHException about the banner, and
            # a handshake that outlives the connect time-out not as a time-out at all:
            # start_client() just returns and the next step finds "No existing session".
            if "banner" in said or isinstance(exc.__context__, TimeoutError):
                raise SftpTimeout(
                    text("sftp_timeout", where=self.where, seconds=t.banner, stage=text("sftp_stage_banner"))
                ) from exc
            if "no existing session" in said:
                stage = text("sftp_stage_handshake")
                raise SftpTimeout(text("sftp_timeout", where=self.where, seconds=t.connect, stage=stage)) from exc
            raise SftpConnectError(text("sftp_connect", where=self.where, detail=exc)) from exc
        self._client, self._sftp = client, sftp
        log.info("SFTP connected to %s", self.where)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn stalls and drops into our errors and drop the session they broke."""
        try:
            yield
        except TimeoutError as exc:
            if isinstance(exc, SftpTimeout):
                self.close()
                raise
            self.close()
            raise SftpTimeout(
                text("sftp_timeout", where=self.where, seconds=self.timeouts.channel, stage=what)
            ) from exc
        except (paramiko.SSHException, EOFError) as exc:
            self.close()
            raise SftpConnectionLost(text("sftp_lost", where=self.where, detail=exc)) from exc
        except OSError as exc:
            # A request sent on a session that died meanwhile fails in paramiko's channel with a
            # bare OSError ("Socket is closed"), as does a reset socket; the server's own refusals
            # (no such file, permission denied, failure) arrive on a live session and stay OSErrors.
            if self._session_alive():
                raise
            self.close()
            raise SftpConnectionLost(text("sftp_lost", where=self.where, detail=exc)) from exc

    def _session_alive(self) -> bool:
        channel = self._sftp.get_channel() if self._sftp is not None else None
        return self.connected and channel is not None and not channel.closed

    # ---------------------------------------------------------------- listing

    def listdir(self, path: str, include_dirs: bool = False) -> list[RemoteFile]:
        """Regular files in ``path`` (and directories if asked), sorted by name; links are skipped."""
        with self._guard(f"listdir {path}"):
            entries = self.sftp.listdir_attr(path)
        result = []
        for attr in entries:
            mode = attr.st_mode or 0
            is_dir = stat_mod.S_ISDIR(mode)
            if not (stat_mod.S_ISREG(mode) or (include_dirs and is_dir)):
                continue
            result.append(_remote_file(str(PurePosixPath(path) / attr.filename), attr, is_dir))
        return sorted(result, key=lambda f: f.name)

    def listdir_all(self, path: str) -> list[RemoteFile]:
        """Regular files and directories in ``path``."""
        return self.listdir(path, include_dirs=True)

    def listdir_entries(self, path: str) -> list[RemoteFile]:
        """Every entry of ``path`` with its ``kind``: links are listed as links, never followed."""
        with self._guard(f"listdir {path}"):
            entries = self.sftp.listdir_attr(path)
        result = [_remote_file(str(PurePosixPath(path) / attr.filename), attr, stat_mod.S_ISDIR(attr.st_mode or 0))
                  for attr in entries]
        return sorted(result, key=lambda f: f.name)

    def stat(self, path: str) -> RemoteFile | None:
        """The file or directory at ``path``, or None if there is none."""
        try:
            with self._guard(f"stat {path}"):
                attr = self.sftp.stat(path)
        except FileNotFoundError:
            return None
        return _remote_file(path, attr, stat_mod.S_ISDIR(attr.st_mode or 0))

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    # ---------------------------------------------------------------- changing the tree

    def makedirs(self, path: str) -> None:
        """``mkdir -p``; another worker creating the same folder at the same time is fine."""
        current = PurePosixPath("/") if path.startswith("/") else PurePosixPath(".")
        for part in PurePosixPath(path).parts:
            if part == "/":
                continue
            current = current / part
            found = self.stat(str(current))
            if found is not None:
                if not found.is_dir:
                    raise NotADirectoryError(text("sftp_not_a_directory", path=current))
                continue
            try:
                with self._guard(f"mkdir {current}"):
                    self.sftp.mkdir(str(current))
            except OSError:
                # Lost a race to another worker: fine if it is a directory now.
                again = self.stat(str(current))
                if again is None or not again.is_dir:
                    raise

    def rename(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Move ``src`` to ``dst`` atomically.

        ``overwrite=True`` uses ``posix-rename@openssh.com`` (rename(2): an existing
        ``dst`` is replaced). ``overwrite=False`` uses the plain SFTP rename, which
        OpenSSH implements as link + unlink: still atomic, but it refuses an
        existing ``dst`` (``TargetExists``) instead of destroying it.
        """
        try:
            with self._guard(f"rename {src}"):
                if overwrite:
                    self.sftp.posix_rename(src, dst)
                else:
                    self.sftp.rename(src, dst)
        except (FileNotFoundError, PermissionError):
            raise
        except OSError as exc:
            # The plain rename reports "target exists" as a bare SSH_FX_FAILURE.
            if not overwrite and self.exists(dst) and self.exists(src):
                raise TargetExists(text("sftp_target_exists", dst=dst)) from exc
            raise

    def claim(self, src: str, dst: str) -> bool:
        """Take ``src`` by moving it to ``dst``; False if another worker took it first.

        Never overwrites ``dst`` (a file left in processing by a crashed run is
        not destroyed): raises ``TargetExists`` instead.
        """
        try:
            self.rename(src, dst, overwrite=False)
        except FileNotFoundError:
            if self.exists(src):
                raise  # src is there: the failure is about dst (e.g. its folder is missing)
            return False
        return True

    def remove(self, path: str, missing_ok: bool = False) -> None:
        """Delete a file."""
        try:
            with self._guard(f"remove {path}"):
                self.sftp.remove(path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    # ---------------------------------------------------------------- reading

    def open_read(self, path: str) -> paramiko.SFTPFile:
        """A streaming, prefetching binary file object; close it (``with``) when done.

        Stalls are bounded by the channel time-out; callers reading a whole file
        should prefer ``download``, which also enforces the transfer deadline.
        """
        with self._guard(f"open {path}"):
            handle = self.sftp.open(path, "rb", bufsize=CHUNK_SIZE)
            handle.__class__ = StreamingFile
            handle.MAX_REQUEST_SIZE = self.read_request
            handle.prefetch(max_concurrent_requests=max(1, PREFETCH_BYTES // self.read_request))
        return handle

    def download(
        self,
        path: str,
        dest: BinaryIO | IO[bytes] | Path,
        hasher_names: Sequence[str] = ("sha256",),
    ) -> TransferResult:
        """Stream ``path`` into ``dest`` in chunks, hashing on the way; memory stays flat.

        A ``Path`` destination is removed again if the transfer fails.
        """
        if isinstance(dest, Path):
            try:
                with open(dest, "wb") as out:
                    return self.download(path, out, hasher_names)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
        hashers = {name: hashlib.new(name) for name in hasher_names}
        deadline = time.monotonic() + self.timeouts.transfer
        size = 0
        with self._guard(f"download {path}"):
            handle = self.open_read(path)
            try:
                while chunk := handle.read(CHUNK_SIZE):
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    dest.write(chunk)
                    size += len(chunk)
                    self._check_deadline(deadline, path)
                now = handle.stat().st_size or 0
            except EOFError as exc:
                # SSH_FX_EOF on a prefetched chunk: the file shrank under us.
                raise TransferChanged(text("sftp_changed", path=path, read=size, now="?")) from exc
            finally:
                handle.close()
        if now != size:
            raise TransferChanged(text("sftp_changed", path=path, read=size, now=now))
        return TransferResult(path, size, {name: h.hexdigest() for name, h in hashers.items()})

    def read_bytes(self, path: str) -> bytes:
        """A small file's content (control files, receipts); use ``download`` for data files."""
        buffer = io.BytesIO()
        self.download(path, buffer, ())
        return buffer.getvalue()

    # ---------------------------------------------------------------- writing

    def upload_atomic(
        self,
        src: BinaryIO | IO[bytes] | Path | bytes,
        path: str,
        hasher_names: Sequence[str] = ("sha256",),
    ) -> TransferResult:
        """Write ``{path}.tmp``, check its size, then posix-rename it to ``path``.

        Readers never see a partial file under the final name; on failure the
        ``.tmp`` is removed when the session still allows it.
        """
        if isinstance(src, bytes | bytearray | memoryview):
            return self.upload_atomic(io.BytesIO(bytes(src)), path, hasher_names)
        if isinstance(src, Path):
            with open(src, "rb") as handle:
                return self.upload_atomic(handle, path, hasher_names)
        tmp = path + TMP_SUFFIX
        hashers = {name: hashlib.new(name) for name in hasher_names}
        deadline = time.monotonic() + self.timeouts.transfer
        size = 0
        try:
            with self._guard(f"upload {path}"):
                # One session for the whole upload: paramiko's close() swallows a dead link, and a
                # check made on a fresh session would then judge a .tmp the first one left half written.
                sftp = self.sftp
                with sftp.open(tmp, "wb") as remote:
                    # Pipelined: no round trip per chunk; errors surface at close().
                    remote.set_pipelined(True)
                    while chunk := src.read(CHUNK_SIZE):
                        for hasher in hashers.values():
                            hasher.update(chunk)
                        remote.write(chunk)
                        size += len(chunk)
                        self._check_deadline(deadline, path)
                remote_size = sftp.stat(tmp).st_size
                if remote_size != size:
                    raise SftpError(text("sftp_upload_size", path=path, remote=remote_size, local=size))
                sftp.posix_rename(tmp, path)
        except BaseException:
            self._discard(tmp)
            raise
        return TransferResult(path, size, {name: h.hexdigest() for name, h in hashers.items()})

    def write_bytes(self, path: str, data: bytes) -> TransferResult:
        """Write a small file (receipt, ``.ok`` control file) atomically."""
        return self.upload_atomic(data, path)

    # ---------------------------------------------------------------- helpers

    def _check_deadline(self, deadline: float, path: str) -> None:
        if time.monotonic() > deadline:
            raise SftpTimeout(text("sftp_deadline", path=path, seconds=self.timeouts.transfer))

    def _discard(self, tmp: str) -> None:
        if not self.connected:
            return  # the session is gone; the next upload of this name overwrites the .tmp
        try:
            self.sftp.remove(tmp)
        except Exception:  # noqa: BLE001 - best effort; the original error matters more
            log.debug("could not remove %s", tmp, exc_info=True)


def _kind(mode: int) -> str:
    if stat_mod.S_ISREG(mode):
        return "file"
    if stat_mod.S_ISDIR(mode):
        return "dir"
    if stat_mod.S_ISLNK(mode):
        return "link"
    return "other"


def _remote_file(path: str, attr: paramiko.SFTPAttributes, is_dir: bool) -> RemoteFile:
    return RemoteFile(
        name=PurePosixPath(path).name,
        path=path,
        size=int(attr.st_size or 0),
        mtime=int(attr.st_mtime or 0),
        is_dir=is_dir,
        kind=_kind(attr.st_mode or 0),
    )


__all__ = [
    "CHUNK_SIZE",
    "HostKeyMismatch",
    "HostKeyNotPinned",
    "RemoteFile",
    "SftpAuthError",
    "SftpConnectError",
    "SftpConnectionLost",
    "SftpConnector",
    "SftpError",
    "SftpTimeout",
    "SftpTimeouts",
    "TargetExists",
    "TransferChanged",
    "TransferResult",
]
