"""Market-supervision XML files as the department's system writes them (contracts.md 1.1).

Used by the demo and the tests to play the clerk: realistic files, good and
bad, written with national field codes and the national value forms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lxml import etree

from credit_exchange.standard.mapping import to_national
from sandbox.samples import valid_record

NS = "urn:qianwei:market:credit:1"
KIND_TYPES = {"LICENSE": "administrative_license", "PENALTY": "administrative_penalty",
              "ABNORMAL": "abnormal_operation", "SHOP": "online_shop_registration"}
ID_PREFIX = {"LICENSE": "SCJG-XK", "PENALTY": "SCJG-CF", "ABNORMAL": "SCJG-YC", "SHOP": "SCJG-WD"}


@dataclass
class XmlRecord:
    id: str
    version: int = 1
    op: str = "upsert"
    data: dict[str, Any] = field(default_factory=dict)


def market_xml(kind: str, records: Iterable[XmlRecord], generated_at: datetime,
               record_count: int | None = None, doctype: str | None = None) -> bytes:
    """One market file; ``record_count`` overrides the declared count (to play a truncated file)."""
    records = list(records)
    record_type = KIND_TYPES[kind]
    root = etree.Element(f"{{{NS}}}CreditData", nsmap={None: NS})
    root.set("kind", kind)
    root.set("generatedAt", generated_at.isoformat(timespec="seconds"))
    root.set("recordCount", str(len(records) if record_count is None else record_count))
    for rec in records:
        el = etree.SubElement(root, f"{{{NS}}}Record", op=rec.op, id=rec.id, version=str(rec.version))
        if rec.op == "delete":
            continue
        for code, text in to_national(record_type, rec.data, mask_pii=False):
            etree.SubElement(el, f"{{{NS}}}{code}").text = text
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    if doctype:
        head += doctype.encode() + b"\n"
    return head + body


def record_id(kind: str, year: int, n: int) -> str:
    return f"{ID_PREFIX[kind]}-{year}-{n:06d}"


def good_records(kind: str, today: date, count: int, start: int = 1) -> list[XmlRecord]:
    return [XmlRecord(id=record_id(kind, today.year, i), data=valid_record(KIND_TYPES[kind], i, today))
            for i in range(start, start + count)]


def break_record(kind: str, rec: XmlRecord, how: str, today: date) -> XmlRecord:
    """A copy of ``rec`` with one realistic mistake (what a clerk's receipt will name)."""
    data = dict(rec.data)
    if how == "uscc_checksum":
        key = "uscc" if data.get("uscc") else "authority_uscc"
        good = str(data[key])
        data[key] = good[:-1] + ("1" if good[-1] != "1" else "2")
    elif how == "missing_required":
        data.pop({"PENALTY": "decision_no", "LICENSE": "decision_doc_no", "ABNORMAL": "listed_reason",
                  "SHOP": "shop_url"}[kind], None)
    elif how == "fine_missing":
        data["penalty_categories"] = sorted(set(data.get("penalty_categories", [])) | {"罚款"})
        data.pop("fine_amount", None)
    elif how == "future_date":
        data["decision_date"] = (today + timedelta(days=1)).isoformat()
    elif how == "date_order":
        data["valid_to"] = "2000-01-01"
    elif how == "id_15_digits":
        data.update({"subject_category": "自然人", "id_type": "身份证", "id_number": "511123850101123"})
        data.pop("uscc", None)
    elif how == "removed_without_reason":
        data["removed_date"] = data["listed_date"]
        data.pop("removed_reason", None)
    else:
        raise ValueError(how)
    return XmlRecord(id=rec.id, version=rec.version, op=rec.op, data=data)


def demo_night(today: date, at: datetime) -> dict[str, bytes]:
    """A realistic night of market files: dozens of records, some bad, two files refused whole."""
    d = today.strftime("%Y%m%d")
    files: dict[str, bytes] = {}

    penalties = good_records("PENALTY", today, 24)
    penalties[3] = break_record("PENALTY", penalties[3], "uscc_checksum", today)
    penalties[7] = break_record("PENALTY", penalties[7], "missing_required", today)
    penalties[11] = break_record("PENALTY", penalties[11], "fine_missing", today)
    penalties[15] = break_record("PENALTY", penalties[15], "future_date", today)
    files[f"MARKET_PENALTY_{d}_001.xml"] = market_xml("PENALTY", penalties, at)

    licences = good_records("LICENSE", today, 18)
    licences[2] = break_record("LICENSE", licences[2], "date_order", today)
    licences[9] = break_record("LICENSE", licences[9], "id_15_digits", today)
    files[f"MARKET_LICENSE_{d}_001.xml"] = market_xml("LICENSE", licences, at)

    abnormal = good_records("ABNORMAL", today, 10)
    abnormal[4] = break_record("ABNORMAL", abnormal[4], "removed_without_reason", today)
    files[f"MARKET_ABNORMAL_{d}_001.xml"] = market_xml("ABNORMAL", abnormal, at)

    shops = good_records("SHOP", today, 12)
    shops[6] = break_record("SHOP", shops[6], "missing_required", today)
    files[f"MARKET_SHOP_{d}_001.xml"] = market_xml("SHOP", shops, at)

    # Truncated in transfer: declares more records than it holds. Refused whole.
    files[f"MARKET_PENALTY_{d}_002.xml"] = market_xml(
        "PENALTY", good_records("PENALTY", today, 5, start=101), at, record_count=8)
    # Carries a DOCTYPE with an entity: refused whole, never expanded.
    files[f"MARKET_PENALTY_{d}_003.xml"] = market_xml(
        "PENALTY", good_records("PENALTY", today, 3, start=201), at,
        doctype='<!DOCTYPE CreditData [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
    return files
