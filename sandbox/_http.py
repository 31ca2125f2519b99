"""What the HTTP sandboxes share: a threaded server with queued faults, request stats and a
clean shutdown, and a JSON request handler. Each sandbox adds its contract on top."""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from connectors.signing import NonceCache


class SandboxServer(ThreadingHTTPServer):
    """The HTTP server; ``url`` and ``shutdown()`` are what tests use."""

    daemon_threads = True
    # Idle keep-alive connections must not hold up shutdown.
    block_on_close = False
    thread_name = "sandbox"

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 credentials: dict[str, str], clock: Callable[[], float] = time.time) -> None:
        super().__init__(address, handler)
        self.credentials = credentials
        self.clock = clock
        self.nonces = NonceCache()
        self.stopping = threading.Event()
        self._faults: collections.deque[dict[str, Any]] = collections.deque()
        self._stats: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        host, port = self.socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    def queue_faults(self, faults: list[dict[str, Any]], kinds: frozenset[str]) -> None:
        """Check, then queue faults for the next requests (each may carry ``times``)."""
        for fault in faults:
            if not isinstance(fault, dict) or fault.get("kind") not in kinds:
                raise ValueError(f"unknown fault {fault!r}; kinds: {sorted(kinds)}")
            if fault["kind"] == "status" and not isinstance(fault.get("status"), int):
                raise ValueError("a status fault needs an integer status")
        with self._lock:
            for fault in faults:
                self._faults.extend([dict(fault)] * max(1, int(fault.get("times", 1))))

    def next_fault(self) -> dict[str, Any] | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_status = {k: v for k, v in sorted(self._stats.items()) if k.isdigit()}
            return {"requests": sum(self._stats.values()), "by_status": by_status,
                    "dropped": self._stats.get("dropped", 0), "faults_pending": len(self._faults)}

    def clear_faults_and_stats(self) -> None:
        with self._lock:
            self._faults.clear()
            self._stats.clear()

    def start_in_thread(self) -> Any:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop_from_signal(self) -> None:
        """For a server in the foreground (``serve_forever`` in the main thread): stop it from a handler."""
        self.stopping.set()
        threading.Thread(target=ThreadingHTTPServer.shutdown, args=(self,), daemon=True).start()

    def close_resources(self) -> None:
        """What a sandbox holds besides its socket (a database)."""

    def shutdown(self) -> None:
        """Stop serving, release hanging requests, close the socket and what the sandbox holds."""
        self.stopping.set()
        if self._thread is not None:
            super().shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        self.close_resources()


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Quiet by default: pytest output stays readable; the stats endpoint counts requests.
        if os.environ.get("SANDBOX_VERBOSE"):
            super().log_message(format, *args)

    # Set by a fault: the next answer goes out with its full Content-Length but only half its body,
    # then the connection is reset (the answer is cut in transit).
    cut_answer = False

    def _reset(self) -> None:
        """Drop the connection at once with a TCP reset (SO_LINGER 0), as a failing link or peer does."""
        self.server.count("dropped")
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None,
              count: bool = True) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if count:
            self.server.count(str(status))
        if self.cut_answer:
            self.cut_answer = False
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
            except OSError:
                pass
            return self._reset()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (time-out, killed): what was stored stays stored.
            self.close_connection = True

    def _error(self, status: int, error: str, message: str, headers: dict[str, str] | None = None,
               count: bool = True) -> None:
        self._send(status, {"error": error, "message": message}, headers, count)


def cli_parser(description: str) -> argparse.ArgumentParser:
    """The options every sandbox takes on the command line (the secret preferably from the environment)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--app-key", default=os.environ.get("SANDBOX_APP_KEY"))
    parser.add_argument("--app-secret", default=os.environ.get("SANDBOX_APP_SECRET"),
                        help="or the SANDBOX_APP_SECRET environment variable (keeps it out of ps)")
    return parser


def credentials(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    if not args.app_key or not args.app_secret:
        parser.error("--app-key and --app-secret (or SANDBOX_APP_KEY / SANDBOX_APP_SECRET) are required")
    return {args.app_key: args.app_secret}


def serve_foreground(server: SandboxServer) -> int:
    """Serve until SIGTERM / SIGINT; prints ``READY <url>`` once listening (the stand-ins wait for it)."""

    def stop(signum: int, frame: Any) -> None:
        server.stop_from_signal()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {server.url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.close_resources()
    return 0
