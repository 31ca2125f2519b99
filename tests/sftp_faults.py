"""Cutting a real SFTP connection at a chosen request: the SFTP rows of the fault matrix.

SSH is encrypted, so a proxy on the wire cannot see where one SFTP request ends; the cut is
therefore decided where the requests are plain, in the client's SFTP packet layer
(``_send_packet`` / ``_read_packet`` of ``connectors.paramiko_tuning.SftpClient``), and made
where it happens in life, at the socket: the TCP connection to the real sshd is shut down
(``shutdown(SHUT_RDWR)``) and the client learns of it the way it would from the network.

Three timings, as docs/fault-matrix.md names them:

- ``before``: the connection dies just before the request is sent; the server never sees it.
- ``during``: the connection dies mid-transfer: after the first batch of a listing, the first
  chunk of a read (that chunk is lost too), or the first chunk of a write (the server holds a
  partial ``.tmp``). A rename is atomic on the server and has no ``during``.
- ``after``: the server did it (the listing was closed, the file read to its end, the rename
  or the upload's final rename done), and the connection dies before its reply arrives.

Use as a context manager; it trips once (the ``nth`` matching request), then stays out of the way,
so the next run of the same code meets a healthy server::

    with SftpCut("rename", "after", "/market/processing/") as cut:
        ...
    assert cut.tripped
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

import paramiko
from paramiko import sftp as proto

from connectors.paramiko_tuning import SftpClient

STEPS = ("list", "read", "rename", "write")
WHENS = ("before", "during", "after")
_POSIX_RENAME = b"posix-rename@openssh.com"
_WRITE_FLAGS = paramiko.SFTPFile.FLAG_WRITE if hasattr(paramiko.SFTPFile, "FLAG_WRITE") else 0x02


def _string(data: bytes, at: int) -> tuple[bytes, int]:
    (n,) = struct.unpack(">I", data[at:at + 4])
    return data[at + 4:at + 4 + n], at + 4 + n


class SftpCut:
    """Shut the TCP connection of an SFTP session at one request of one step (see the module doc).

    ``target`` picks the request by path: for ``list`` the directory (exact), for ``read`` and
    ``write`` the file (the path ends with it; a write's ``.tmp`` counts), for ``rename`` the
    source (the path starts with it).
    """

    def __init__(self, step: str, when: str, target: str, nth: int = 1) -> None:
        if step not in STEPS or when not in WHENS:
            raise ValueError(f"step one of {STEPS}, when one of {WHENS}")
        if step == "rename" and when == "during":
            raise ValueError("a rename is atomic on the server: it has no 'during'")
        self.step, self.when, self.target, self.nth = step, when, target, nth
        self.tripped = False
        self.seen = 0  # matching requests so far
        self._lock = threading.Lock()
        self._requests: dict[int, tuple[int, bytes]] = {}  # request id -> (type, handle) of interest
        self._handles: set[bytes] = set()
        self._progress: dict[bytes, int] = {}  # handle -> NAME / DATA replies or WRITEs seen
        self._renames: set[int] = set()
        self._saved: dict[str, Any] = {}

    # -- installing ------------------------------------------------------------------------
    def __enter__(self) -> SftpCut:
        cut = self
        send, read = SftpClient._send_packet, SftpClient._read_packet

        def _send_packet(client: Any, t: int, packet: Any) -> None:
            if cut._on_send(client, t, packet.asbytes()):
                cut._cut(client)
            send(client, t, packet)

        def _read_packet(client: Any) -> tuple[int, bytes]:
            t, data = read(client)
            if cut._on_reply(t, data):
                cut._cut(client)
                return read(client)  # the reply is lost with the connection: this read meets its end
            return t, data

        self._saved = {"_send_packet": SftpClient.__dict__.get("_send_packet"),
                       "_read_packet": SftpClient.__dict__.get("_read_packet")}
        SftpClient._send_packet = _send_packet  # type: ignore[method-assign]
        SftpClient._read_packet = _read_packet  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            if original is None:
                delattr(SftpClient, name)
            else:
                setattr(SftpClient, name, original)

    # -- deciding ----------------------------------------------------------------------------
    def _matches_path(self, path: bytes) -> bool:
        p = path.decode("utf-8", "replace")
        if self.step == "list":
            return p.rstrip("/") == self.target.rstrip("/")
        if self.step == "rename":
            return p.startswith(self.target)
        return p.endswith(self.target) or p.endswith(self.target + ".tmp")

    def _count(self) -> bool:
        """One more matching request; True when it is the one to trip on."""
        self.seen += 1
        return self.seen == self.nth

    def _on_send(self, client: Any, t: int, data: bytes) -> bool:
        """Note the request; True to cut before it is sent."""
        if t == proto.CMD_INIT:
            return False
        with self._lock:
            if self.tripped:
                return False
            (num,) = struct.unpack(">I", data[:4])
            step = self.step
            if step == "list" and t == proto.CMD_OPENDIR:
                path, _ = _string(data, 4)
                if self._matches_path(path) and self._count():
                    if self.when == "before":
                        return self._trip()
                    self._requests[num] = (t, b"")
            elif step in ("read", "write") and t == proto.CMD_OPEN:
                path, at = _string(data, 4)
                (flags,) = struct.unpack(">I", data[at:at + 4])
                writing = bool(flags & _WRITE_FLAGS)
                if (writing == (step == "write")) and self._matches_path(path) and self._count():
                    if self.when == "before":
                        return self._trip()
                    self._requests[num] = (t, b"")
            elif step == "rename" or (step == "write" and self.when == "after"):
                paths: tuple[bytes, bytes] | None = None
                if t == proto.CMD_RENAME:
                    old, at = _string(data, 4)
                    paths = (old, _string(data, at)[0])
                elif t == proto.CMD_EXTENDED:
                    name, at = _string(data, 4)
                    if name == _POSIX_RENAME:
                        old, at = _string(data, at)
                        paths = (old, _string(data, at)[0])
                if paths is not None:
                    if step == "rename" and self._matches_path(paths[0]) and self._count():
                        if self.when == "before":
                            return self._trip()
                        self._renames.add(num)
                    elif step == "write" and paths[0].endswith(b".tmp") and self._handles_done(paths[0]):
                        self._renames.add(num)  # the upload's final rename: its reply will be lost
            elif t in (proto.CMD_READDIR, proto.CMD_READ, proto.CMD_WRITE, proto.CMD_CLOSE, proto.CMD_FSTAT):
                handle, _ = _string(data, 4)
                if handle in self._handles:
                    self._requests[num] = (t, handle)
                    seen = self._progress.get(handle, 0)
                    if self.when == "during" and step == "list" and t == proto.CMD_READDIR and seen >= 1:
                        return self._trip()
                    if self.when == "during" and step == "write" and seen >= 1:
                        return self._trip()  # a chunk went out; the rest (or the close) never will
                    if step == "write" and t == proto.CMD_WRITE:
                        self._progress[handle] = seen + 1
        return False

    def _handles_done(self, tmp_path: bytes) -> bool:
        return tmp_path.decode("utf-8", "replace").endswith(self.target + ".tmp") and bool(self._handles)

    def _on_reply(self, t: int, data: bytes) -> bool:
        """Note the reply; True to cut and lose it."""
        if t == proto.CMD_VERSION or len(data) < 4:
            return False
        with self._lock:
            if self.tripped:
                return False
            (num,) = struct.unpack(">I", data[:4])
            if num in self._renames:
                self._renames.discard(num)
                return self._trip()
            asked = self._requests.pop(num, None)
            if asked is None:
                return False
            kind, handle = asked
            if kind in (proto.CMD_OPENDIR, proto.CMD_OPEN):
                if t == proto.CMD_HANDLE:
                    self._handles.add(_string(data, 4)[0])
                return False
            if self.when == "during" and self.step == "read" and t == proto.CMD_DATA:
                return self._trip()
            if t in (proto.CMD_NAME, proto.CMD_DATA):
                self._progress[handle] = self._progress.get(handle, 0) + 1
            if self.when == "after" and kind == proto.CMD_CLOSE and self.step in ("list", "read"):
                return self._trip()
        return False

    def _trip(self) -> bool:
        self.tripped = True
        return True

    # -- cutting -------------------------------------------------------------------------------
    @staticmethod
    def _cut(client: Any) -> None:
        """Shut the session's TCP socket and wait until paramiko has noticed (as a reset would)."""
        transport = client.sock.get_transport()
        try:
            transport.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        deadline = time.monotonic() + 10
        while transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.005)
        # The channel is closed with the transport: later sends and reads fail as on a dead link.
        deadline = time.monotonic() + 10
        while not client.sock.closed and time.monotonic() < deadline:
            time.sleep(0.005)
