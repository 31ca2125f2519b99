"""The city platform's side of the exchange, for the stand-in (contracts.md 2.2).

The SFTP server is a real sshd (``sandbox/sshd.py`` with ``CITY_FOLDERS``);
this module plays the platform's loader: ``process_uploads(data_root)`` scans
``{data_root}/upload/511123/`` for exchange files that have a matching ``.ok``
(name, record count and SM3 must agree), checks them against the XSD, applies
them to its own holdings (a SQLite file under ``{data_root}/.platform/``) and
writes ``{data_root}/receipt/511123/{name}.receipt.xml``.

Like a real platform it is strict about ops: ``add`` for a record it holds
from us, or ``update`` / ``delete`` for one it does not hold, is refused with
an error item, and so is an ``update`` that does not raise the version. That
makes the hub's bookkeeping visible in the tests.

CLI: ``python -m sandbox.city_platform process --data-root D [--refuse ID ...]``
and ``python -m sandbox.city_platform holdings --data-root D``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from credit_exchange.publish.city.xml import (
    FILE_NAME_RE,
    OK_SUFFIX,
    RECEIPT_SUFFIX,
    REGION,
    CityReceipt,
    ReceiptItem,
    parse_ok,
    sm3_hex,
    write_receipt,
)
from credit_exchange.publish.city.xsd import NS, validate_city_xml

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, sm3 TEXT NOT NULL, count INTEGER NOT NULL,
                                  status TEXT NOT NULL, processed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holdings (record_id TEXT PRIMARY KEY, type TEXT NOT NULL, version INTEGER NOT NULL,
                                     file TEXT NOT NULL, fields TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, file TEXT NOT NULL,
                                    record_id TEXT NOT NULL, op TEXT NOT NULL, version INTEGER NOT NULL,
                                    status TEXT NOT NULL, code TEXT);
"""


def upload_dir(data_root: Path) -> Path:
    return Path(data_root) / "upload" / REGION


def receipt_dir(data_root: Path) -> Path:
    return Path(data_root) / "receipt" / REGION


def db_path(data_root: Path) -> Path:
    return Path(data_root) / ".platform" / "city_platform.db"


def _connect(data_root: Path) -> sqlite3.Connection:
    path = db_path(data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.executescript(SCHEMA)
    return conn


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def process_uploads(data_root: Path, *, refuse_ids: Iterable[str] = ()) -> list[str]:
    """Load every complete upload not loaded before; returns the names for which a receipt was written.

    ``refuse_ids``: record ids the platform's own checks refuse (error item ``E_CHECK``),
    to play a refusal.
    """
    data_root = Path(data_root)
    refuse = set(refuse_ids)
    folder = upload_dir(data_root)
    written: list[str] = []
    with closing(_connect(data_root)) as db:
        done = {r["name"] for r in db.execute("SELECT name FROM files")}
        for path in sorted(folder.glob("*.xml")):
            name = path.name
            ok_path = folder / (name + OK_SUFFIX)
            if name in done or not FILE_NAME_RE.fullmatch(name) or not ok_path.is_file():
                continue  # loaded already, not ours, or not complete yet (no .ok: invisible)
            receipt = _load(db, path, ok_path.read_bytes(), refuse)
            if receipt is None:
                continue
            _write_receipt(data_root, receipt)
            written.append(name)
    return written


def _load(db: sqlite3.Connection, path: Path, ok: bytes, refuse: set[str]) -> CityReceipt | None:
    name = path.name
    body = path.read_bytes()
    digest = sm3_hex(body)
    try:
        ok_name, ok_count, ok_sm3 = parse_ok(ok)
    except (ValueError, UnicodeDecodeError) as exc:
        return _reject(db, name, digest, "E_OK", f"控制文件格式错误 (unreadable .ok): {exc}")
    if ok_name != name:
        return _reject(db, name, digest, "E_OK", f"控制文件所指文件名 {ok_name} 不符 (.ok names another file)")
    if ok_sm3 != digest:
        # A real loader waits when the digest does not match yet: the sender may still be replacing the file.
        log.info("%s: SM3 of the file does not match its .ok yet; left for later", name)
        return None
    errors = validate_city_xml(body)
    if errors:
        return _reject(db, name, digest, "E_XSD", "; ".join(errors)[:2000], body)
    root = etree.fromstring(body, _parser())
    records = root.findall(_q("Record"))
    if ok_count != len(records):
        return _reject(db, name, digest, "E_COUNT",
                       f"控制文件记录数 {ok_count} 与文件 {len(records)} 不符 (count mismatch)", body)
    city_type = root.get("type", "")
    items: list[ReceiptItem] = []
    now = _now()
    with db:
        for rec in records:
            rid, op, version = rec.get("id", ""), rec.get("op", ""), int(rec.get("version", "0"))
            held = db.execute("SELECT version, type FROM holdings WHERE record_id = ?", (rid,)).fetchone()
            code, text = _check(rid, op, version, held, city_type, refuse)
            if code is None:
                fields = {etree.QName(c).localname: c.text or "" for c in rec}
                if op == "delete":
                    db.execute("DELETE FROM holdings WHERE record_id = ?", (rid,))
                else:
                    db.execute("INSERT OR REPLACE INTO holdings VALUES (?, ?, ?, ?, ?, ?)",
                               (rid, city_type, version, name, json.dumps(fields, ensure_ascii=False), now))
                items.append(ReceiptItem(rid, "ok"))
            else:
                items.append(ReceiptItem(rid, "error", code, text))
            db.execute("INSERT INTO history (file, record_id, op, version, status, code) VALUES (?, ?, ?, ?, ?, ?)",
                       (name, rid, op, version, "ok" if code is None else "error", code))
        errors_n = sum(1 for i in items if i.status == "error")
        status = "accepted" if errors_n == 0 else "rejected" if errors_n == len(items) else "partial"
        db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?)", (name, digest, len(records), status, now))
    return CityReceipt(name, status, items)


def _check(rid: str, op: str, version: int, held: sqlite3.Row | None, city_type: str,
           refuse: set[str]) -> tuple[str | None, str | None]:
    if rid in refuse:
        return "E_CHECK", "数据校验未通过，请核实后重新报送 (refused by the platform's checks: correct and send again)"
    if held is not None and held["type"] != city_type:
        return "E_TYPE", f"该记录以 {held['type']} 报送过 (the record was sent as {held['type']})"
    if op == "add" and held is not None:
        return "E_EXISTS", "记录已存在，应使用 update (the record is held already: use update)"
    if op in ("update", "delete") and held is None:
        return "E_NOT_HELD", "记录不存在，应使用 add (no such record held: use add)"
    if op == "update" and held is not None and version <= held["version"]:
        return "E_STALE", f"版本 {version} 不高于已有版本 {held['version']} (version not above the one held)"
    return None, None


def _reject(db: sqlite3.Connection, name: str, digest: str, code: str, text: str,
            body: bytes | None = None) -> CityReceipt:
    ids: list[str] = []
    if body is not None:
        try:
            ids = [r.get("id", "") for r in etree.fromstring(body, _parser()).findall(_q("Record")) if r.get("id")]
        except etree.XMLSyntaxError:
            ids = []
    with db:
        db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?)", (name, digest, len(ids), "rejected", _now()))
    return CityReceipt(name, "rejected", [ReceiptItem(rid, "error", code, text) for rid in dict.fromkeys(ids)])


def _write_receipt(data_root: Path, receipt: CityReceipt) -> Path:
    folder = receipt_dir(data_root)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (receipt.file + RECEIPT_SUFFIX)
    tmp = folder / (receipt.file + RECEIPT_SUFFIX + ".tmp")
    tmp.write_bytes(write_receipt(receipt))
    os.replace(tmp, target)
    return target


def holdings(data_root: Path) -> list[dict[str, Any]]:
    """What the city platform holds from the county now: one dict per record."""
    with closing(_connect(Path(data_root))) as db:
        return [{"record_id": r["record_id"], "type": r["type"], "version": r["version"], "file": r["file"],
                 "fields": json.loads(r["fields"])}
                for r in db.execute("SELECT * FROM holdings ORDER BY record_id")]


def history(data_root: Path) -> list[dict[str, Any]]:
    """Every record the platform loaded, in order: file, record id, op, version, ok/error, code."""
    with closing(_connect(Path(data_root))) as db:
        return [dict(r) for r in db.execute(
            "SELECT file, record_id, op, version, status, code FROM history ORDER BY id")]


def loaded_files(data_root: Path) -> list[dict[str, Any]]:
    """The files the platform loaded (or rejected), with their status."""
    with closing(_connect(Path(data_root))) as db:
        return [dict(r) for r in db.execute("SELECT name, sm3, count, status FROM files ORDER BY name")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.city_platform", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    proc = sub.add_parser("process", help="load complete uploads and write their receipts")
    proc.add_argument("--data-root", type=Path, required=True)
    proc.add_argument("--refuse", action="append", default=[], metavar="RECORD_ID",
                      help="a record id the platform refuses (repeatable)")
    held = sub.add_parser("holdings", help="print what the platform holds (JSON)")
    held.add_argument("--data-root", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "process":
        for name in process_uploads(args.data_root, refuse_ids=args.refuse):
            print(name)
        return 0
    json.dump(holdings(args.data_root), sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
