"""Stand-in for the county credit information platform (contracts.md 2.1).

Faithful to the contract: signed requests, batch idempotency by batch_id and body
digest, per-record accepted / duplicate / stale / rejected, 400 / 401 / 409 / 413.
Everything it accepts is kept in its own SQLite file.

Sandbox controls (no signature, never on a real platform), under ``/_sandbox/``:
  GET  /_sandbox/records   current records
  GET  /_sandbox/history   every accepted record version, in arrival order
  GET  /_sandbox/batches   stored batches (batch_id, body_sha256, results)
  GET  /_sandbox/stats     API requests counted by status
  POST /_sandbox/faults    JSON list (or one object) queued for the next batch POSTs:
       {"kind": "status", "status": 503, "retry_after": 1}   answer that, store nothing
       {"kind": "hang_after_store", "seconds": 30}            store, then wait, then answer
       {"kind": "drop_after_store"}                           store, then close without answering
       {"kind": "reset_before_body"}                          reset the connection before reading the body
       {"kind": "drop_mid_body"}                              read half the body, then reset; store nothing
       {"kind": "truncate_answer"}                            store, then send half the answer and reset
       any fault may carry "times": N (default 1).
       With "on": "records" a fault is for the next GET /api/v1/records/{id} instead (reconciliation):
       {"kind": "status", ...}, {"kind": "reset_before_answer"} (reset before looking the record up),
       {"kind": "drop_after_lookup"} (looked up, then closed without an answer),
       {"kind": "truncate_answer"} (half the answer, then a reset).
  POST /_sandbox/reset     forget records, history, batches, faults and stats

Run: python -m sandbox.county_platform --port 0 --db /tmp/county.db --app-key K --app-secret S
prints ``READY <url>`` once listening.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from connectors.signing import SignatureError, verify
from sandbox._http import JsonHandler, SandboxServer, cli_parser, credentials, serve_foreground

BATCHES_PATH = "/api/v1/batches"
RECORDS_PREFIX = "/api/v1/records/"
MAX_RECORDS = 500
MAX_BODY_BYTES = 4 * 1024 * 1024
# Bodies above this are not even read: the connection is closed after the 413.
HARD_BODY_CAP = 16 * 1024 * 1024

DEPARTMENTS = ("market", "police", "transport", "pboc")
DEPARTMENT_TYPES = frozenset({
    "administrative_license", "administrative_penalty", "abnormal_operation",
    "online_shop_registration", "fraud_case", "courier_rating", "payment_risk_event",
})
HUB_TYPES = frozenset({"credit_profile", "redlist", "blacklist"})
RECORD_TYPES = DEPARTMENT_TYPES | HUB_TYPES
SUBJECT_KINDS = frozenset({"org", "individual_business", "person"})
OPS = frozenset({"upsert", "delete"})
RECORD_ID_RE = re.compile(r"^(?P<owner>[a-z]+):(?P<type>[a-z_]+):(?P<key>\S.*)$", re.DOTALL)
FAULT_KINDS = frozenset({"status", "hang_after_store", "drop_after_store", "reset_before_body",
                         "drop_mid_body", "truncate_answer"})
RECORD_FAULT_KINDS = frozenset({"status", "reset_before_answer", "drop_after_lookup", "truncate_answer"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY, record_type TEXT NOT NULL, version INTEGER NOT NULL,
    content_hash TEXT NOT NULL, op TEXT NOT NULL, data TEXT NOT NULL, subject TEXT,
    lineage TEXT, batch_id TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, record_type TEXT NOT NULL,
    version INTEGER NOT NULL, content_hash TEXT NOT NULL, op TEXT NOT NULL, data TEXT NOT NULL,
    batch_id TEXT NOT NULL, stored_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_record ON history (record_id, version);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL, results TEXT NOT NULL,
    record_count INTEGER NOT NULL, received_at TEXT NOT NULL);
"""


def canonical_json(data: Any) -> bytes:
    """contracts.md 2.1: keys sorted, no white space, UTF-8, ensure_ascii off."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


class Malformed(Exception):
    """The request is not a well-formed batch (400 or 413)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _result(record_id: Any, status: str, code: str, message: str) -> dict[str, Any]:
    return {"record_id": record_id, "status": status, "code": code, "message": message}


def _rejected(record_id: Any, code: str, message: str) -> dict[str, Any]:
    return _result(record_id, "rejected", code, message)


def parse_batch(body: bytes) -> dict[str, Any]:
    """Structural checks of a batch body; semantic problems are left to per-record results."""
    try:
        batch = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(400, "MALFORMED_JSON", "请求体不是UTF-8编码的JSON (body is not UTF-8 JSON)") from exc
    if not isinstance(batch, dict):
        raise Malformed(400, "MALFORMED", "请求体必须是JSON对象 (body must be a JSON object)")
    if not isinstance(batch.get("batch_id"), str) or not batch["batch_id"].strip():
        raise Malformed(400, "MISSING_FIELD", "缺少批次号 batch_id (batch_id missing or empty)")
    if not isinstance(batch.get("source"), str) or not batch["source"].strip():
        raise Malformed(400, "MISSING_FIELD", "缺少来源 source (source missing or empty)")
    records = batch.get("records")
    if not isinstance(records, list):
        raise Malformed(400, "MISSING_FIELD", "缺少记录列表 records (records missing or not a list)")
    if len(records) > MAX_RECORDS:
        raise Malformed(413, "TOO_MANY_RECORDS",
                        f"每批最多{MAX_RECORDS}条记录 (at most {MAX_RECORDS} records per batch)")
    required: dict[str, type | tuple[type, ...]] = {
        "record_id": str, "record_type": str, "op": str, "version": int, "content_hash": str, "data": dict,
    }
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise Malformed(400, "MALFORMED", f"第{index}条记录不是对象 (records[{index}] is not an object)")
        for field, kind in required.items():
            value = record.get(field)
            # bool is an int in Python, never a version.
            if not isinstance(value, kind) or (field == "version" and isinstance(value, bool)):
                raise Malformed(400, "MISSING_FIELD",
                                f"第{index}条记录缺少或错误字段 {field} (records[{index}].{field} missing or wrong type)")
        for field in ("subject", "lineage"):
            if field in record and not isinstance(record[field], dict):
                raise Malformed(400, "MALFORMED",
                                f"第{index}条记录的 {field} 不是对象 (records[{index}].{field} is not an object)")
    return batch


def check_record(record: dict[str, Any]) -> dict[str, Any] | None:
    """The rejection of one record, or None when it may be applied."""
    record_id = record["record_id"]
    record_type = record["record_type"]
    match = RECORD_ID_RE.match(record_id)
    owner = match["owner"] if match else ""
    if not match or not (
        (owner in DEPARTMENTS and match["type"] in DEPARTMENT_TYPES)
        or (owner == "hub" and match["type"] in HUB_TYPES)
    ):
        return _rejected(record_id, "invalid_record_id",
                         "记录标识格式应为 {部门}:{类型}:{编号} 或 hub:{类型}:{主体键} "
                         "(record_id must be {dept}:{type}:{id} or hub:{type}:{key})")
    if record_type not in RECORD_TYPES:
        return _rejected(record_id, "unknown_record_type", f"未知的记录类型 (unknown record_type): {record_type}")
    if match["type"] != record_type:
        return _rejected(record_id, "record_type_mismatch",
                         "记录标识中的类型与 record_type 不一致 (record_id type differs from record_type)")
    if record["op"] not in OPS:
        return _rejected(record_id, "invalid_op", "op 只能是 upsert 或 delete (op must be upsert or delete)")
    if record["version"] < 1:
        return _rejected(record_id, "invalid_version", "版本号必须为正整数 (version must be a positive integer)")
    subject = record.get("subject")
    if subject is not None and subject.get("kind") not in SUBJECT_KINDS:
        return _rejected(record_id, "invalid_subject",
                         "主体类别应为 org、individual_business 或 person (subject.kind invalid)")
    if record["op"] == "delete" and record["data"] != {}:
        return _rejected(record_id, "delete_with_data", "删除操作的 data 必须为 {} (delete must carry data {})")
    if record["op"] == "upsert" and not record["data"]:
        return _rejected(record_id, "empty_data", "新增或更新操作的 data 不能为空 (upsert needs data)")
    if record["content_hash"] != content_hash(record["data"]):
        return _rejected(record_id, "content_hash_mismatch",
                         "content_hash 与 data 的规范JSON摘要不符 (content_hash is not SHA-256 of canonical data)")
    return None


class Store:
    """The platform's SQLite file; one lock makes each batch atomic and idempotent."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # The hang/drop faults promise the batch is durable before the answer goes out.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def apply_batch(self, batch_id: str, body_sha256: str, records: list[dict[str, Any]],
                    now_iso: str) -> tuple[int, list[dict[str, Any]] | None]:
        """(200, results) for a new or repeated batch; (409, None) for a changed body."""
        with self._lock:
            row = self._db.execute("SELECT body_sha256, results FROM batches WHERE batch_id = ?",
                                   (batch_id,)).fetchone()
            if row is not None:
                return (200, json.loads(row["results"])) if row["body_sha256"] == body_sha256 else (409, None)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._apply_record(batch_id, record, now_iso) for record in records]
                self._db.execute(
                    "INSERT INTO batches (batch_id, body_sha256, results, record_count, received_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (batch_id, body_sha256, json.dumps(results, ensure_ascii=False), len(records), now_iso))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return 200, results

    def _apply_record(self, batch_id: str, record: dict[str, Any], now_iso: str) -> dict[str, Any]:
        rejection = check_record(record)
        if rejection is not None:
            return rejection
        record_id, version, digest = record["record_id"], record["version"], record["content_hash"]
        held = self._db.execute("SELECT version, content_hash FROM records WHERE record_id = ?",
                                (record_id,)).fetchone()
        if held is not None and version <= held["version"]:
            if digest == held["content_hash"]:
                return _result(record_id, "duplicate", "duplicate", "内容与平台已有版本相同 (same content already held)")
            return _result(record_id, "stale", "stale_version",
                           f"版本号不高于平台已有版本 {held['version']} (version not higher than held)")
        data = json.dumps(record["data"], ensure_ascii=False, sort_keys=True)
        subject = json.dumps(record.get("subject"), ensure_ascii=False) if "subject" in record else None
        lineage = json.dumps(record.get("lineage"), ensure_ascii=False) if "lineage" in record else None
        self._db.execute(
            "INSERT INTO records (record_id, record_type, version, content_hash, op, data, subject, lineage,"
            " batch_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (record_id) DO UPDATE SET record_type = excluded.record_type,"
            " version = excluded.version, content_hash = excluded.content_hash, op = excluded.op,"
            " data = excluded.data, subject = excluded.subject, lineage = excluded.lineage,"
            " batch_id = excluded.batch_id, updated_at = excluded.updated_at",
            (record_id, record["record_type"], version, digest, record["op"], data, subject, lineage,
             batch_id, now_iso))
        self._db.execute(
            "INSERT INTO history (record_id, record_type, version, content_hash, op, data, batch_id, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, record["record_type"], version, digest, record["op"], data, batch_id, now_iso))
        return _result(record_id, "accepted", "accepted", "已接收 (accepted)")

    def get_record(self, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT record_id, version, content_hash, op FROM records WHERE record_id = ?",
                                   (record_id,)).fetchone()
        return dict(row) if row is not None else None

    def dump(self, table: str) -> list[dict[str, Any]]:
        order = {"records": "record_id", "history": "seq", "batches": "received_at, batch_id"}[table]
        with self._lock:
            rows = [dict(r) for r in self._db.execute(f"SELECT * FROM {table} ORDER BY {order}")]  # noqa: S608
        for row in rows:
            for field in ("data", "subject", "lineage", "results"):
                if row.get(field) is not None:
                    row[field] = json.loads(row[field])
        return rows

    def reset(self) -> None:
        with self._lock:
            self._db.executescript("DELETE FROM records; DELETE FROM history; DELETE FROM batches;")


class CountyPlatformServer(SandboxServer):
    """The county platform sandbox server."""

    thread_name = "county-platform-sandbox"

    def __init__(self, address: tuple[str, int], store: Store, credentials: dict[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(address, CountyPlatformHandler, credentials, clock)
        self.store = store

        self._record_faults: collections.deque[dict[str, Any]] = collections.deque()

    def add_faults(self, faults: list[dict[str, Any]]) -> None:
        for_records = [f for f in faults if isinstance(f, dict) and f.get("on") == "records"]
        for fault in for_records:
            if fault.get("kind") not in RECORD_FAULT_KINDS:
                raise ValueError(f"unknown fault {fault!r} for records; kinds: {sorted(RECORD_FAULT_KINDS)}")
            if fault["kind"] == "status" and not isinstance(fault.get("status"), int):
                raise ValueError("a status fault needs an integer status")
        self.queue_faults([f for f in faults if f not in for_records], FAULT_KINDS)
        with self._lock:
            for fault in for_records:
                self._record_faults.extend([dict(fault)] * max(1, int(fault.get("times", 1))))

    def next_record_fault(self) -> dict[str, Any] | None:
        with self._lock:
            return self._record_faults.popleft() if self._record_faults else None

    def reset(self) -> None:
        self.store.reset()
        self.clear_faults_and_stats()
        with self._lock:
            self._record_faults.clear()

    def close_resources(self) -> None:
        self.store.close()


class CountyPlatformHandler(JsonHandler):
    server: CountyPlatformServer

    # --- plumbing -----------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an error (the connection then closes)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._error(411, "LENGTH_REQUIRED", "需要 Content-Length (Content-Length required)")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._error(400, "MALFORMED", "Content-Length 无效 (invalid Content-Length)")
            return None
        if length > HARD_BODY_CAP:
            self.close_connection = True
            self._error(413, "BODY_TOO_LARGE", "请求体超过4 MiB (body over 4 MiB)")
            return None
        return self.rfile.read(length)

    def _split_path(self) -> tuple[str, str]:
        path, _, query = self.path.partition("?")
        return path, query

    def _verify(self, method: str, path: str, query: str, body: bytes) -> bool:
        try:
            verify(self.headers, method, path, query, body, self.server.credentials, self.server.nonces,
                   now_ms=int(self.server.clock() * 1000))
        except SignatureError as exc:
            self._error(401, exc.code, exc.message)
            return False
        return True

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.server.clock(), UTC).isoformat(timespec="milliseconds")

    # --- routes -------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._split_path()
        if path.startswith("/_sandbox/"):
            return self._sandbox_get(path)
        if path.startswith(RECORDS_PREFIX) and len(path) > len(RECORDS_PREFIX):
            if not self._verify("GET", path, query, b""):
                return None
            try:
                record_id = unquote(path[len(RECORDS_PREFIX):], errors="strict")
            except UnicodeDecodeError:
                return self._error(400, "MALFORMED", "记录标识编码错误 (record id is not UTF-8)")
            fault = self.server.next_record_fault()
            if fault is not None and fault["kind"] == "reset_before_answer":
                return self._reset()  # the request never got its lookup
            if fault is not None and fault["kind"] == "status":
                headers = {"Retry-After": str(int(fault["retry_after"]))} if "retry_after" in fault else None
                return self._error(int(fault["status"]), "INJECTED_FAULT", "沙箱注入的故障 (sandbox fault)", headers)
            record = self.server.store.get_record(record_id)
            if fault is not None and fault["kind"] == "drop_after_lookup":
                return self._reset()  # looked up; the answer is lost
            if fault is not None and fault["kind"] == "truncate_answer":
                self.cut_answer = True
            if record is None:
                return self._error(404, "NOT_FOUND", "平台没有该记录 (record not held)")
            return self._send(200, record)
        return self._error(404, "NOT_FOUND", "没有这个接口 (no such endpoint)")

    def do_POST(self) -> None:  # noqa: N802
        path, query = self._split_path()
        fault = self.server.next_fault() if path == BATCHES_PATH else None
        if fault is not None and fault["kind"] == "reset_before_body":
            return self._reset()  # the batch never reached the platform
        if fault is not None and fault["kind"] == "drop_mid_body":
            try:
                self.rfile.read(max(0, int(self.headers.get("Content-Length") or 0)) // 2)
            except (OSError, ValueError):
                pass
            return self._reset()  # half a body arrived: nothing is stored
        body = self._read_body()
        if body is None:
            return None
        if path.startswith("/_sandbox/"):
            return self._sandbox_post(path, body)
        if path != BATCHES_PATH:
            return self._error(404, "NOT_FOUND", "没有这个接口 (no such endpoint)")
        if fault is not None and fault["kind"] == "status":
            headers = {"Retry-After": str(int(fault["retry_after"]))} if "retry_after" in fault else None
            return self._error(int(fault["status"]), "INJECTED_FAULT", "沙箱注入的故障 (sandbox fault)", headers)
        if not self._verify("POST", path, query, body):
            return None
        if len(body) > MAX_BODY_BYTES:
            return self._error(413, "BODY_TOO_LARGE", "请求体超过4 MiB (body over 4 MiB)")
        try:
            batch = parse_batch(body)
        except Malformed as exc:
            return self._error(exc.status, exc.error, exc.message)
        status, results = self.server.store.apply_batch(
            batch["batch_id"], hashlib.sha256(body).hexdigest(), batch["records"], self._now_iso())
        if fault is not None and fault["kind"] == "hang_after_store":
            # Stored and committed; now make the client wait (it may time out or be killed).
            self.server.stopping.wait(float(fault.get("seconds", 30)))
        if fault is not None and fault["kind"] == "drop_after_store":
            self.server.count("dropped")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if fault is not None and fault["kind"] == "truncate_answer":
            self.cut_answer = True  # stored; the answer is cut in transit
        if status == 409:
            return self._error(409, "BATCH_CONFLICT",
                               "同一批次号的请求体不同 (same batch_id with a different body)")
        return self._send(200, {"batch_id": batch["batch_id"], "results": results})

    def _sandbox_get(self, path: str) -> None:
        store = self.server.store
        if path == "/_sandbox/records":
            return self._send(200, store.dump("records"), count=False)
        if path == "/_sandbox/history":
            return self._send(200, store.dump("history"), count=False)
        if path == "/_sandbox/batches":
            return self._send(200, store.dump("batches"), count=False)
        if path == "/_sandbox/stats":
            return self._send(200, self.server.stats(), count=False)
        return self._error(404, "NOT_FOUND", "没有这个控制接口 (no such control endpoint)", count=False)

    def _sandbox_post(self, path: str, body: bytes) -> None:
        if path == "/_sandbox/reset":
            self.server.reset()
            return self._send(200, {"reset": True}, count=False)
        if path == "/_sandbox/faults":
            try:
                faults = json.loads(body or b"[]")
                self.server.add_faults(faults if isinstance(faults, list) else [faults])
            except (ValueError, TypeError) as exc:
                return self._error(400, "BAD_FAULT", str(exc), count=False)
            return self._send(200, {"queued": self.server.stats()["faults_pending"]}, count=False)
        return self._error(404, "NOT_FOUND", "没有这个控制接口 (no such control endpoint)", count=False)


def start(db_path: str | Path, app_key: str, app_secret: str, host: str = "127.0.0.1", port: int = 0,
          *, clock: Callable[[], float] = time.time) -> CountyPlatformServer:
    """Start the sandbox in a background thread; returns once it is listening."""
    server = CountyPlatformServer((host, port), Store(db_path), {app_key: app_secret}, clock)
    return server.start_in_thread()


serve_in_thread = start


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("County credit platform sandbox (contracts.md 2.1)")
    parser.add_argument("--db", required=True, help="SQLite file of the sandbox platform")
    args = parser.parse_args(argv)
    return serve_foreground(CountyPlatformServer((args.host, args.port), Store(args.db), credentials(parser, args)))


if __name__ == "__main__":
    sys.exit(main())
