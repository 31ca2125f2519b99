"""A stand-in OpenTelemetry collector: an OTLP/HTTP receiver for metrics (``POST /v1/metrics``).

What Airflow's OTel exporter sends (``ExportMetricsServiceRequest``, protobuf, gzip or not) is
decoded with ``opentelemetry-proto`` (installed with Airflow's OTel exporters) and kept as flat
data points: which process sent it (its resource attributes), the metric's name and kind, the
point's attributes and value. Tests read ``points()`` / ``latest()``; a person can run it alone
and watch what the hub emits::

    python -m sandbox.otlp_receiver --port 4318

The exporter counts cumulatively from the start of its process, so a counter's latest point per
process is that process's total; ``latest()`` keys by the resource too.
"""

from __future__ import annotations

import argparse
import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

METRICS_PATH = "/v1/metrics"


@dataclass(frozen=True)
class Point:
    """One data point as it arrived."""

    resource: tuple[tuple[str, str], ...]
    name: str
    kind: str  # sum | gauge | histogram | exponential_histogram | summary
    attributes: tuple[tuple[str, str], ...]
    value: float
    time_unix_nano: int

    def attrs(self) -> dict[str, str]:
        return dict(self.attributes)

    def res(self) -> dict[str, str]:
        return dict(self.resource)


def _value(v: Any) -> str:
    """An OTLP AnyValue as text (attributes of the hub's metrics are strings)."""
    which = v.WhichOneof("value")
    return "" if which is None else str(getattr(v, which))


def _kv(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((kv.key, _value(kv.value)) for kv in items))


def decode(body: bytes) -> list[Point]:
    """The data points of one ExportMetricsServiceRequest."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    out: list[Point] = []
    for rm in request.resource_metrics:
        resource = _kv(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data") or ""
                data = getattr(metric, kind) if kind else None
                for dp in getattr(data, "data_points", []):
                    if kind in ("sum", "gauge"):
                        value = float(dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double)
                    else:  # histograms and summaries: their count
                        value = float(dp.count)
                    out.append(Point(resource, metric.name, kind, _kv(dp.attributes), value, dp.time_unix_nano))
    return out


class OtlpReceiver(ThreadingHTTPServer):
    """The receiver; ``endpoint`` is what OTEL_EXPORTER_OTLP_METRICS_ENDPOINT gets."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, _Handler)
        host, port = self.socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.endpoint = self.url + METRICS_PATH
        self._points: list[Point] = []
        self._requests = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, points: list[Point]) -> None:
        with self._lock:
            self._points.extend(points)
            self._requests += 1

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def points(self, prefix: str = "") -> list[Point]:
        with self._lock:
            return [p for p in self._points if p.name.startswith(prefix)]

    def latest(self, prefix: str = "") -> dict[tuple[Any, ...], Point]:
        """The newest point per (resource, name, attributes)."""
        out: dict[tuple[Any, ...], Point] = {}
        for p in self.points(prefix):
            key = (p.resource, p.name, p.attributes)
            if key not in out or p.time_unix_nano >= out[key].time_unix_nano:
                out[key] = p
        return out

    def wait_for(self, ready: Callable[[OtlpReceiver], bool], deadline_s: float = 60.0) -> bool:
        """Poll until ``ready(self)`` holds or the deadline passes; whether it held."""
        end = time.monotonic() + deadline_s
        while True:
            if ready(self):
                return True
            if time.monotonic() > end:
                return False
            time.sleep(0.1)

    def start_in_thread(self) -> OtlpReceiver:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="otlp-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != METRICS_PATH:
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            points = decode(body)
        except Exception as exc:  # noqa: BLE001 - a bad request is answered, never crashes the receiver
            self.send_error(400, str(exc)[:200])
            return
        self.server.add(points)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


def start(host: str = "127.0.0.1", port: int = 0) -> OtlpReceiver:
    return OtlpReceiver((host, port)).start_in_thread()


def main() -> None:
    parser = argparse.ArgumentParser(description="OTLP/HTTP metrics receiver (prints what arrives)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--prefix", default="airflow.qianwei.")
    args = parser.parse_args()
    receiver = start(args.host, args.port)
    print(f"listening on {receiver.endpoint}", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(1)
            points = receiver.points(args.prefix)
            for p in points[seen:]:
                print(p.name, p.kind, p.attrs(), p.value, flush=True)
            seen = len(points)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
