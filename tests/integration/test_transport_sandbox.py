"""The transport API sandbox (contracts.md 1.3) driven by the real client over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.http_api import PermanentHttpError, SignedApiClient, TransientHttpError
from connectors.signing import sign_headers
from connectors.transport_api import PageTokenExpired, TransportApi
from sandbox.transport_api import TransportApiServer, start

REPO = Path(__file__).resolve().parents[2]
APP_KEY = "transport-test-key"
APP_SECRET = "transport-test-secret-0123456789"
SINCE = "2026-11-27T10:00:00+08:00"


def rating(i: int, minute: int = 0, version: int = 1, second: int | None = None) -> dict[str, Any]:
    return {"id": f"R-{i:03d}", "version": version, "deleted": False,
            "updated_at": f"2026-11-27T10:{minute:02d}:{i if second is None else second:02d}+08:00",
            "enterprise_name": f"犍为县快递{i}", "uscc": "91511123MA0000000X", "licence_no": f"L{i}",
            "rating_year": 2025, "grade": "A", "status": "正常"}


class FakeClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Sleeps:
    def __init__(self, real: bool = False) -> None:
        self.calls: list[float] = []
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def token_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(token_clock: FakeClock) -> Iterator[TransportApiServer]:
    srv = start(APP_KEY, APP_SECRET, token_clock=token_clock)
    yield srv
    srv.shutdown()


def client(server: TransportApiServer, sleeps: Sleeps | None = None, **settings: Any) -> SignedApiClient:
    settings.setdefault("read_timeout", 10)
    settings.setdefault("deadline_s", 30)
    return SignedApiClient(server.url, APP_KEY, APP_SECRET, sleep=sleeps or Sleeps(), **settings)


def control(server: TransportApiServer, path: str, payload: Any) -> Any:
    response = requests.post(server.url + path, json=payload, timeout=5)
    response.raise_for_status()
    return response.json()


def seed(server: TransportApiServer, endpoint: str, items: list[dict[str, Any]]) -> None:
    assert control(server, "/_sandbox/items", {"endpoint": endpoint, "items": items}) == {"added": len(items)}


# --- pagination -----------------------------------------------------------------------------


def test_pages_in_order_with_inclusive_updated_since(server: TransportApiServer) -> None:
    before = [rating(i, minute=0, second=i) | {"updated_at": f"2026-11-27T09:59:{50 + i}+08:00"} for i in range(3)]
    items = [rating(i) for i in range(3, 10)]  # 10:00:03 .. 10:00:09
    # Seconds 03..09 sit on or after SINCE + 3 s; 10:00:00 sharp is included (inclusive).
    boundary = rating(99, second=0)
    seed(server, "courier-enterprises", before + items[::-1] + [boundary])
    pages = list(TransportApi(client(server)).pages("courier-enterprises", SINCE, page_size=3))
    assert [[item["id"] for item in page["items"]] for page in pages] == [
        ["R-099", "R-003", "R-004"], ["R-005", "R-006", "R-007"], ["R-008", "R-009"]]
    assert [page["next_page_token"] is None for page in pages] == [False, False, True]
    for page in pages:
        server_time = datetime.fromisoformat(page["server_time"])
        assert page["server_time"].endswith("+08:00") and abs(server_time.timestamp() - time.time()) < 60
    assert pages[0]["items"][0] == boundary


def test_the_other_endpoint_and_an_empty_answer(server: TransportApiServer) -> None:
    violation = {"id": "V-1", "version": 2, "deleted": True, "updated_at": "2026-11-27T11:00:00+08:00"}
    seed(server, "courier-violations", [violation])
    api = TransportApi(client(server))
    assert [p["items"] for p in api.pages("courier-violations", SINCE)] == [[violation]]
    empty = list(api.pages("courier-enterprises", SINCE))
    assert len(empty) == 1 and empty[0]["items"] == [] and empty[0]["next_page_token"] is None
    with pytest.raises(ValueError):
        list(api.pages("courier-drivers", SINCE))


def test_default_page_size_is_100(server: TransportApiServer) -> None:
    seed(server, "courier-enterprises", [rating(i % 60, minute=i // 60) | {"id": f"E-{i}"} for i in range(150)])
    page = client(server).get_json("/api/v1/courier-enterprises", {"updated_since": SINCE})
    assert len(page["items"]) == 100 and page["next_page_token"]
    page = client(server).get_json("/api/v1/courier-enterprises",
                                   {"updated_since": SINCE, "page_token": page["next_page_token"]})
    assert len(page["items"]) == 50 and page["next_page_token"] is None


@pytest.mark.parametrize("size", [501, 0, "ten"])
def test_page_size_out_of_range_is_400(server: TransportApiServer, size: object) -> None:
    with pytest.raises(PermanentHttpError) as caught:
        client(server).get_json("/api/v1/courier-enterprises", {"updated_since": SINCE, "page_size": size})
    assert (caught.value.status, caught.value.error_code) == (400, "PAGE_SIZE")
    with pytest.raises(ValueError):
        next(TransportApi(client(server)).pages("courier-enterprises", SINCE, page_size=501))


def test_a_record_changed_during_the_pull_comes_again_later(server: TransportApiServer) -> None:
    seed(server, "courier-enterprises", [rating(i) for i in range(6)])
    pages = TransportApi(client(server)).pages("courier-enterprises", SINCE, page_size=2)
    seen = [item["id"] for item in next(pages)["items"]]
    seed(server, "courier-enterprises", [rating(0, minute=30, version=2)])  # R-000 updated now
    for page in pages:
        seen += [f"{item['id']}@{item['version']}" for item in page["items"]]
    assert seen == ["R-000", "R-001", "R-002@1", "R-003@1", "R-004@1", "R-005@1", "R-000@2"]


# --- page tokens ----------------------------------------------------------------------------


def test_token_older_than_ten_minutes_expires(server: TransportApiServer, token_clock: FakeClock) -> None:
    seed(server, "courier-enterprises", [rating(i) for i in range(5)])
    api = TransportApi(client(server))
    pages = api.pages("courier-enterprises", SINCE, page_size=2)
    assert len(next(pages)["items"]) == 2
    token_clock.offset = 599
    assert len(next(pages)["items"]) == 2  # still inside ten minutes of its issue
    token_clock.offset = 599 + 601
    with pytest.raises(PageTokenExpired) as caught:
        next(pages)
    assert caught.value.endpoint == "courier-enterprises"
    # Restarting from the watermark works (one page, to stay under 5 requests a second).
    assert [len(p["items"]) for p in api.pages("courier-enterprises", SINCE, page_size=5)] == [5]


def test_expire_tokens_fault_and_foreign_tokens(server: TransportApiServer) -> None:
    seed(server, "courier-enterprises", [rating(i) for i in range(3)])
    api_client = client(server)
    first = api_client.get_json("/api/v1/courier-enterprises", {"updated_since": SINCE, "page_size": 1})
    with pytest.raises(PermanentHttpError) as caught:  # a token for another query
        api_client.get_json("/api/v1/courier-violations",
                            {"updated_since": SINCE, "page_size": 1, "page_token": first["next_page_token"]})
    assert caught.value.error_code == "PAGE_TOKEN_INVALID"
    with pytest.raises(PermanentHttpError) as caught:  # a forged position
        api_client.get_json("/api/v1/courier-enterprises", {"updated_since": SINCE, "page_token": "eyJlIjoiYyJ9"})
    assert caught.value.error_code == "PAGE_TOKEN_INVALID"
    control(server, "/_sandbox/faults", [{"kind": "expire_tokens"}])
    with pytest.raises(PermanentHttpError) as caught:
        api_client.get_json("/api/v1/courier-enterprises",
                            {"updated_since": SINCE, "page_size": 1, "page_token": first["next_page_token"]})
    assert (caught.value.status, caught.value.error_code) == (400, "PAGE_TOKEN_EXPIRED")


# --- rate limit and faults ------------------------------------------------------------------


def test_more_than_five_requests_a_second_get_429(server: TransportApiServer) -> None:
    once = client(server, max_attempts=1)
    for _ in range(5):
        once.get_json("/api/v1/courier-enterprises", {"updated_since": SINCE})
    with pytest.raises(TransientHttpError) as caught:
        once.get_json("/api/v1/courier-enterprises", {"updated_since": SINCE})
    assert caught.value.status == 429
    path = "/api/v1/courier-enterprises"
    raw = requests.get(server.url + path, timeout=5, headers=sign_headers(APP_KEY, APP_SECRET, "GET", path, None, b""))
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "1"
    # A retrying client waits as told and then gets its page.
    sleeps = Sleeps(real=True)
    page = client(server, sleeps).get_json(path, {"updated_since": SINCE})
    assert page["items"] == [] and sleeps.calls and sleeps.calls[0] >= 1.0


@pytest.mark.parametrize("status", [503, 500, 429])
def test_injected_faults_are_retried(server: TransportApiServer, status: int) -> None:
    seed(server, "courier-enterprises", [rating(i) for i in range(3)])
    control(server, "/_sandbox/faults", [{"kind": "status", "status": status, "retry_after": 1},
                                         {"kind": "status", "status": 502}])
    sleeps = Sleeps()
    pages = list(TransportApi(client(server, sleeps)).pages("courier-enterprises", SINCE))
    assert [len(p["items"]) for p in pages] == [3]
    assert len(sleeps.calls) == 2 and sleeps.calls[0] >= 1.0
    stats = requests.get(server.url + "/_sandbox/stats", timeout=5).json()
    assert stats["by_status"] == {str(status): 1, "502": 1, "200": 1}


def test_persistent_failure_is_never_no_more_data(server: TransportApiServer) -> None:
    control(server, "/_sandbox/faults", [{"kind": "status", "status": 503, "times": 3}])
    with pytest.raises(TransientHttpError):
        list(TransportApi(client(server, max_attempts=3, backoff_base_s=0.01)).pages("courier-enterprises", SINCE))


def test_hang_and_drop_are_transient(server: TransportApiServer) -> None:
    control(server, "/_sandbox/faults", [{"kind": "hang", "seconds": 30}, {"kind": "drop"}])
    sleeps = Sleeps()
    page = client(server, sleeps, read_timeout=0.5).get_json("/api/v1/courier-enterprises", {"updated_since": SINCE})
    assert page["items"] == [] and len(sleeps.calls) == 2


# --- signatures -----------------------------------------------------------------------------


def test_signature_failures_are_401(server: TransportApiServer) -> None:
    path = "/api/v1/courier-enterprises"
    with pytest.raises(PermanentHttpError) as caught:
        SignedApiClient(server.url, APP_KEY, "wrong-secret").get_json(path, {"updated_since": SINCE})
    assert (caught.value.status, caught.value.error_code) == (401, "BAD_SIGNATURE")
    signed = sign_headers(APP_KEY, APP_SECRET, "GET", path, {"updated_since": SINCE, "page_size": 2}, b"")
    # Same headers, another query than the one signed.
    tampered = requests.get(f"{server.url}{path}?page_size=500&updated_since=2026-11-27T10%3A00%3A00%2B08%3A00",
                            headers=signed, timeout=5)
    assert (tampered.status_code, tampered.json()["error"]) == (401, "BAD_SIGNATURE")
    good = f"{server.url}{path}?page_size=2&updated_since=2026-11-27T10%3A00%3A00%2B08%3A00"
    assert requests.get(good, headers=signed, timeout=5).status_code == 200
    replay = requests.get(good, headers=signed, timeout=5)
    assert (replay.status_code, replay.json()["error"]) == (401, "NONCE_REUSED")
    skewed = sign_headers(APP_KEY, APP_SECRET, "GET", path, None, b"", now_ms=int((time.time() + 400) * 1000))
    response = requests.get(server.url + path, headers=skewed, timeout=5)
    assert (response.status_code, response.json()["error"]) == (401, "CLOCK_SKEW")


class _Capture(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.path)
        body = b'{"items": [], "next_page_token": null, "server_time": "2026-11-27T10:00:00+08:00"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_the_client_sends_exactly_the_query_it_signed() -> None:
    capture = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=capture.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{capture.server_address[1]}/gateway"
        SignedApiClient(url, APP_KEY, APP_SECRET, read_timeout=5).get_json(
            "/api/v1/courier-enterprises", {"updated_since": SINCE, "page_size": 2, "q": "犍为 a+b~"})
    finally:
        capture.shutdown()
        capture.server_close()
    assert _Capture.seen == ["/gateway/api/v1/courier-enterprises?page_size=2&q=%E7%8A%8D%E4%B8%BA%20a%2Bb~"
                             "&updated_since=2026-11-27T10%3A00%3A00%2B08%3A00"]


def test_command_line_with_seed_file(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"courier-enterprises": [rating(1)], "courier-violations": []},
                                    ensure_ascii=False), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.transport_api", "--port", "0", "--seed", str(seed_file),
         "--app-key", APP_KEY, "--app-secret", APP_SECRET],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:")
        api = TransportApi(SignedApiClient(line.split()[1], APP_KEY, APP_SECRET, read_timeout=5))
        assert [p["items"] for p in api.pages("courier-enterprises", SINCE)] == [[rating(1)]]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
