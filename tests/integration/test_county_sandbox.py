"""The county platform sandbox (contracts.md 2.1) driven by the real client over real HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from connectors.county_platform import CountyPlatform
from connectors.http_api import PermanentHttpError, SignedApiClient, TransientHttpError
from connectors.signing import sign_headers
from sandbox.county_platform import CountyPlatformServer, start

REPO = Path(__file__).resolve().parents[2]
APP_KEY = "county-test-key"
APP_SECRET = "county-test-secret-0123456789"


def canonical_hash(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(record_id: str, version: int, data: dict[str, Any] | None = None, op: str = "upsert",
           **overrides: Any) -> dict[str, Any]:
    data = ({"subject_name": "犍为县某某电子商务有限公司", "fine_amount": 0.2} if data is None else data)
    rec = {"record_id": record_id, "record_type": record_id.split(":")[1], "op": op, "version": version,
           "content_hash": canonical_hash(data), "subject": {"kind": "org", "uscc": "91511123MA0000000X"},
           "data": data, "lineage": {"department": record_id.split(":")[0]}}
    rec.update(overrides)
    return rec


def batch(batch_id: str, *records: dict[str, Any]) -> bytes:
    return json.dumps({"batch_id": batch_id, "source": "qianwei-exchange-hub", "records": list(records)},
                      ensure_ascii=False).encode("utf-8")


class Sleeps:
    """Records the back-off the client asks for instead of sleeping it."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CountyPlatformServer]:
    srv = start(tmp_path / "county.db", APP_KEY, APP_SECRET)
    yield srv
    srv.shutdown()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(server: CountyPlatformServer, sleeps: Sleeps | None = None, **settings: Any) -> CountyPlatform:
    settings.setdefault("read_timeout", 10)
    settings.setdefault("deadline_s", 30)
    return CountyPlatform(SignedApiClient(server.url, APP_KEY, APP_SECRET, sleep=sleeps or Sleeps(), **settings))


def control(server: CountyPlatformServer, method: str, path: str, payload: Any = None) -> Any:
    response = requests.request(method, server.url + path, json=payload, timeout=5)
    response.raise_for_status()
    return response.json()


def statuses(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["status"], r["code"]) for r in answer["results"]]


# --- per-record outcomes ----------------------------------------------------------------


def test_accepted_duplicate_stale_in_request_order(server: CountyPlatformServer) -> None:
    county = make_client(server)
    rid = "market:administrative_penalty:SCJG-CF-2026-000123"
    v1, v2 = record(rid, 1), record(rid, 2, {"subject_name": "改名后的公司", "fine_amount": 1.5})
    answer = county.post_batch(batch("b-1", v1, record("police:fraud_case:GA-2026-0031", 1)))
    assert answer["batch_id"] == "b-1"
    assert statuses(answer) == [("accepted", "accepted"), ("accepted", "accepted")]
    assert [r["record_id"] for r in answer["results"]] == [rid, "police:fraud_case:GA-2026-0031"]

    answer = county.post_batch(batch("b-2", v2, v1, record(rid, 2, {"other": "content"}), v2))
    # v2 is new; v1 now older with another hash: stale; same version, other content: stale;
    # v2 again within the same batch: duplicate.
    assert statuses(answer) == [("accepted", "accepted"), ("stale", "stale_version"),
                                ("stale", "stale_version"), ("duplicate", "duplicate")]
    # A lower version carrying exactly the held content is a duplicate, not stale.
    answer = county.post_batch(batch("b-3", record(rid, 1, v2["data"])))
    assert statuses(answer) == [("duplicate", "duplicate")]
    assert county.get_record(rid) == {"record_id": rid, "version": 2, "content_hash": v2["content_hash"],
                                      "op": "upsert"}


def test_rejections_carry_codes(server: CountyPlatformServer) -> None:
    county = make_client(server)
    good = "market:administrative_penalty:SCJG-1"
    cases = [
        (record("city:administrative_penalty:1", 1), "invalid_record_id"),
        (record("market:penalty:1", 1, record_type="administrative_penalty"), "invalid_record_id"),
        (record("hub:administrative_penalty:91511123MA0000000X", 1), "invalid_record_id"),
        (record("market:administrative_penalty:", 1), "invalid_record_id"),
        (record(good, 1, record_type="penalty"), "unknown_record_type"),
        (record(good, 1, record_type="abnormal_operation"), "record_type_mismatch"),
        (record(good, 1, content_hash="0" * 64), "content_hash_mismatch"),
        (record(good, 1, op="delete"), "delete_with_data"),
        (record(good, 1, op="merge"), "invalid_op"),
        (record(good, 0), "invalid_version"),
        (record(good, 1, subject={"kind": "alien"}), "invalid_subject"),
        (record(good, 1, data={}), "empty_data"),
    ]
    answer = county.post_batch(batch("b-rej", *(rec for rec, _ in cases)))
    assert [(r["status"], r["code"]) for r in answer["results"]] == [("rejected", code) for _, code in cases]
    assert all("(" in r["message"] for r in answer["results"])  # Chinese with an English gloss
    assert county.get_record(good) is None
    assert control(server, "GET", "/_sandbox/history") == []


def test_hub_records_and_deletes_are_accepted(server: CountyPlatformServer) -> None:
    county = make_client(server)
    profile = record("hub:credit_profile:91511123MA0000000X", 1, {"subject_key": "91511123MA0000000X"})
    rid = "pboc:payment_risk_event:EV-1"
    answer = county.post_batch(batch("b-h", profile, record(rid, 1)))
    assert statuses(answer) == [("accepted", "accepted")] * 2
    deletion = record(rid, 2, {}, op="delete")
    assert deletion["content_hash"] == hashlib.sha256(b"{}").hexdigest()
    assert statuses(county.post_batch(batch("b-d", deletion))) == [("accepted", "accepted")]
    assert county.get_record(rid) == {"record_id": rid, "version": 2, "content_hash": deletion["content_hash"],
                                      "op": "delete"}


def test_get_record_percent_encodes_the_id(server: CountyPlatformServer) -> None:
    county = make_client(server)
    rid = "police:fraud_case:GA/2026 第31号+%"
    county.post_batch(batch("b-enc", record(rid, 3)))
    assert county.get_record(rid)["version"] == 3  # type: ignore[index]
    assert county.get_record("police:fraud_case:GA/2026 第31号") is None


# --- batch idempotency ------------------------------------------------------------------


def test_resend_returns_stored_results_and_changed_body_is_409(server: CountyPlatformServer) -> None:
    county = make_client(server)
    rid = "market:abnormal_operation:YC-1"
    body = batch("b-same", record(rid, 1))
    first = county.post_batch(body)
    county.post_batch(batch("b-later", record(rid, 2, {"x": "newer"})))
    # The platform state moved on, but the same bytes get the answer stored for them.
    assert county.post_batch(body) == first
    with pytest.raises(PermanentHttpError) as caught:
        county.post_batch(batch("b-same", record(rid, 1, {"x": "changed"})))
    assert caught.value.status == 409
    assert caught.value.error_code == "BATCH_CONFLICT"
    # Even a re-serialisation of the same JSON is another body.
    with pytest.raises(PermanentHttpError) as caught:
        county.post_batch(json.dumps(json.loads(body), ensure_ascii=True).encode())
    assert caught.value.status == 409
    assert [h["version"] for h in control(server, "GET", "/_sandbox/history")] == [1, 2]


# --- malformed and too large --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "MALFORMED_JSON"),
        (b"\xff\xfe", "MALFORMED_JSON"),
        (b"[]", "MALFORMED"),
        (json.dumps({"source": "qianwei-exchange-hub", "records": []}).encode(), "MISSING_FIELD"),
        (json.dumps({"batch_id": "x", "source": "qianwei-exchange-hub"}).encode(), "MISSING_FIELD"),
        (batch("x", {k: v for k, v in record("market:fraud_case:1", 1).items() if k != "content_hash"}),
         "MISSING_FIELD"),
        (batch("x", record("market:fraud_case:1", True)), "MISSING_FIELD"),  # type: ignore[arg-type]
    ],
)
def test_malformed_batches_are_400(server: CountyPlatformServer, body: bytes, error: str) -> None:
    with pytest.raises(PermanentHttpError) as caught:
        make_client(server).post_batch(body)
    assert (caught.value.status, caught.value.error_code) == (400, error)


def test_record_and_size_limits(server: CountyPlatformServer) -> None:
    county = make_client(server)
    five_hundred = [record(f"market:abnormal_operation:YC-{i}", 1, {"n": i}) for i in range(500)]
    assert len(county.post_batch(batch("b-500", *five_hundred))["results"]) == 500
    with pytest.raises(PermanentHttpError) as caught:
        county.post_batch(batch("b-501", *five_hundred, record("market:abnormal_operation:YC-500", 1)))
    assert (caught.value.status, caught.value.error_code) == (413, "TOO_MANY_RECORDS")
    big = record("market:administrative_license:XK-1", 1, {"content": "许" * (1_400_000)})  # 4.2 MB in UTF-8
    body = batch("b-big", big)
    assert len(body) > 4 * 1024 * 1024
    with pytest.raises(PermanentHttpError) as caught:
        county.post_batch(body)
    assert (caught.value.status, caught.value.error_code) == (413, "BODY_TOO_LARGE")
    assert county.get_record("market:administrative_license:XK-1") is None


# --- signatures ---------------------------------------------------------------------------


def _raw_post(server: CountyPlatformServer, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(server.url + "/api/v1/batches", data=body, timeout=5,
                         headers={**headers, "Content-Type": "application/json"})


def test_signature_failures_are_401(server: CountyPlatformServer) -> None:
    body = batch("b-sig", record("market:fraud_case:1", 1))
    wrong = _raw_post(server, body, sign_headers(APP_KEY, "not-the-secret", "POST", "/api/v1/batches", None, body))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "BAD_SIGNATURE")
    skewed_ms = int((time.time() - 301) * 1000)
    skewed = _raw_post(server, body, sign_headers(APP_KEY, APP_SECRET, "POST", "/api/v1/batches", None, body,
                                                  now_ms=skewed_ms))
    assert (skewed.status_code, skewed.json()["error"]) == (401, "CLOCK_SKEW")
    other_body = _raw_post(server, body + b" ", sign_headers(APP_KEY, APP_SECRET, "POST", "/api/v1/batches",
                                                             None, body))
    assert other_body.status_code == 401
    unsigned = _raw_post(server, body, {})
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "MISSING_HEADERS")

    headers = sign_headers(APP_KEY, APP_SECRET, "POST", "/api/v1/batches", None, body)
    assert _raw_post(server, body, headers).status_code == 200
    replay = _raw_post(server, body, headers)
    assert (replay.status_code, replay.json()["error"]) == (401, "NONCE_REUSED")
    assert control(server, "GET", "/_sandbox/stats")["by_status"] == {"200": 1, "401": 5}


def test_client_from_connection_both_url_forms(server: CountyPlatformServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    extra = {"app_key": APP_KEY, "app_secret": APP_SECRET, "read_timeout": "5"}
    with_scheme = SimpleNamespace(host=server.url, schema=None, port=None, login=None, password=None,
                                  extra_dejson=extra)
    split = SimpleNamespace(host=host, schema="http", port=int(port), login=None, password=None, extra_dejson=extra)
    scheme_and_port = SimpleNamespace(host=f"http://{host}", schema=None, port=int(port), login=None,
                                      password=None, extra_dejson=extra)
    for conn in (with_scheme, split, scheme_and_port):
        client = SignedApiClient.from_connection(conn)
        assert client.base_url == server.url
        assert client.timeout == (10.0, 5.0)
        assert CountyPlatform(client).get_record("market:fraud_case:none") is None
    with pytest.raises(ValueError, match="TLS"):
        SignedApiClient.from_connection(SimpleNamespace(**{**vars(split), "extra_dejson": {**extra, "verify": False}}))
    with pytest.raises(ValueError, match="app_secret"):
        SignedApiClient.from_connection(SimpleNamespace(**{**vars(split), "extra_dejson": {"app_key": APP_KEY}}))
    assert APP_SECRET not in repr(SignedApiClient.from_connection(split))
    # Without a scheme anywhere the client assumes TLS.
    bare = SimpleNamespace(host="platform.example", schema=None, port=None, login=None, password=None,
                           extra_dejson=extra)
    assert SignedApiClient.from_connection(bare).base_url == "https://platform.example"


def test_from_conn_id_reads_an_airflow_connection(server: CountyPlatformServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_COUNTY_PLATFORM", json.dumps(
        {"conn_type": "http", "host": server.url, "extra": {"app_key": APP_KEY, "app_secret": APP_SECRET}}))
    county = CountyPlatform.from_conn_id()
    answer = county.post_batch(batch("b-conn", record("market:fraud_case:C-1", 1)))
    assert statuses(answer) == [("accepted", "accepted")]


# --- faults and retries -----------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429])
def test_client_retries_honouring_retry_after(server: CountyPlatformServer, sleeps: Sleeps, status: int) -> None:
    control(server, "POST", "/_sandbox/faults", [{"kind": "status", "status": status, "retry_after": 1}])
    answer = make_client(server, sleeps).post_batch(batch("b-retry", record("market:fraud_case:R-1", 1)))
    assert statuses(answer) == [("accepted", "accepted")]
    assert len(sleeps.calls) == 1 and 1.0 <= sleeps.calls[0] <= 1.1
    assert control(server, "GET", "/_sandbox/stats")["by_status"] == {str(status): 1, "200": 1}


def test_client_backs_off_exponentially_then_gives_up(server: CountyPlatformServer, sleeps: Sleeps) -> None:
    control(server, "POST", "/_sandbox/faults", {"kind": "status", "status": 500, "times": 3})
    county = make_client(server, sleeps, max_attempts=3, backoff_base_s=0.2)
    with pytest.raises(TransientHttpError) as caught:
        county.post_batch(batch("b-500s", record("market:fraud_case:R-2", 1)))
    assert (caught.value.status, caught.value.attempts) == (500, 3)
    assert len(sleeps.calls) == 2
    assert 0.1 <= sleeps.calls[0] <= 0.2 and 0.2 <= sleeps.calls[1] <= 0.4
    assert county.get_record("market:fraud_case:R-2") is None


def test_client_respects_its_deadline(server: CountyPlatformServer, sleeps: Sleeps) -> None:
    control(server, "POST", "/_sandbox/faults", {"kind": "status", "status": 503, "retry_after": 120})
    with pytest.raises(TransientHttpError):
        make_client(server, sleeps, deadline_s=5).post_batch(batch("b-dl", record("market:fraud_case:R-3", 1)))
    assert sleeps.calls == []  # waiting 120 s would overrun the 5 s deadline


def test_drop_after_store_then_retry_gets_stored_results(server: CountyPlatformServer, sleeps: Sleeps) -> None:
    control(server, "POST", "/_sandbox/faults", [{"kind": "drop_after_store"}])
    rid = "market:fraud_case:D-1"
    answer = make_client(server, sleeps).post_batch(batch("b-drop", record(rid, 1)))
    assert statuses(answer) == [("accepted", "accepted")]
    assert len(sleeps.calls) == 1
    assert [(h["record_id"], h["version"]) for h in control(server, "GET", "/_sandbox/history")] == [(rid, 1)]


def test_hang_after_store_timeout_then_resend_same_bytes(server: CountyPlatformServer, sleeps: Sleeps) -> None:
    control(server, "POST", "/_sandbox/faults", [{"kind": "hang_after_store", "seconds": 30}])
    records = [record(f"market:administrative_penalty:H-{i}", 1, {"n": i}) for i in range(3)]
    body = batch("b-hang", *records)
    started = time.monotonic()
    with pytest.raises(TransientHttpError):
        make_client(server, sleeps, read_timeout=0.5, max_attempts=1).post_batch(body)
    assert time.monotonic() - started < 5
    # The platform had stored it before hanging: the resend of the same bytes gets those results.
    answer = make_client(server).post_batch(body)
    assert statuses(answer) == [("accepted", "accepted")] * 3
    history = control(server, "GET", "/_sandbox/history")
    assert sorted((h["record_id"], h["version"]) for h in history) == sorted((r["record_id"], 1) for r in records)
    assert len(control(server, "GET", "/_sandbox/batches")) == 1


def test_hang_after_store_within_one_call_is_retried(server: CountyPlatformServer, sleeps: Sleeps) -> None:
    control(server, "POST", "/_sandbox/faults", [{"kind": "hang_after_store", "seconds": 30}])
    answer = make_client(server, sleeps, read_timeout=0.5).post_batch(batch("b-hang2", record("police:fraud_case:H", 1)))
    assert statuses(answer) == [("accepted", "accepted")]
    assert len(control(server, "GET", "/_sandbox/history")) == 1


PUSHER = textwrap.dedent("""
    import os, sys
    from connectors.county_platform import CountyPlatform
    from connectors.http_api import SignedApiClient
    client = SignedApiClient(os.environ["URL"], os.environ["KEY"], os.environ["SECRET"], read_timeout=60)
    CountyPlatform(client).post_batch(sys.stdin.buffer.read())
""")


def test_pusher_killed_mid_request_then_resend(server: CountyPlatformServer) -> None:
    control(server, "POST", "/_sandbox/faults", [{"kind": "hang_after_store", "seconds": 30}])
    rid = "market:administrative_penalty:K-1"
    body = batch("b-kill", record(rid, 1))
    env = {**os.environ, "URL": server.url, "KEY": APP_KEY, "SECRET": APP_SECRET}
    pusher = subprocess.Popen([sys.executable, "-c", PUSHER], cwd=REPO, env=env, stdin=subprocess.PIPE)
    try:
        assert pusher.stdin is not None
        pusher.stdin.write(body)
        pusher.stdin.close()
        deadline = time.monotonic() + 20
        while not control(server, "GET", "/_sandbox/history"):
            assert pusher.poll() is None, "the pusher ended before the platform stored the batch"
            assert time.monotonic() < deadline, "the batch never reached the platform"
            time.sleep(0.05)
    finally:
        os.kill(pusher.pid, signal.SIGKILL)
        pusher.wait(timeout=10)
    assert pusher.returncode == -signal.SIGKILL
    answer = make_client(server).post_batch(body)
    assert statuses(answer) == [("accepted", "accepted")]
    assert [(h["record_id"], h["version"]) for h in control(server, "GET", "/_sandbox/history")] == [(rid, 1)]


def test_command_line_prints_ready_and_serves(tmp_path: Path) -> None:
    env = {**os.environ, "SANDBOX_APP_SECRET": APP_SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.county_platform", "--host", "127.0.0.1", "--port", "0",
         "--db", str(tmp_path / "cli.db"), "--app-key", APP_KEY],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the process prints it as soon as it listens
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        client = SignedApiClient(url, APP_KEY, APP_SECRET, read_timeout=5)
        answer = CountyPlatform(client).post_batch(batch("b-cli", record("transport:courier_rating:E-1", 1)))
        assert statuses(answer) == [("accepted", "accepted")]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert (tmp_path / "cli.db").exists()
