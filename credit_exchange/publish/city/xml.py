"""The city platform's file formats (contracts.md 2.2): exchange XML, the ``.ok`` control line, receipts.

Format only: no store, no connection. The hub writes exchange files with
``write_exchange`` (streamed with ``lxml.etree.xmlfile``, one Record at a time)
and reads receipts with ``parse_receipt``; the city platform stand-in
(``sandbox/city_platform.py``) does the reverse with the same functions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from lxml import etree

from credit_exchange.publish.city.xsd import NS, validate_city_xml
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.mapping import to_national
from credit_exchange.standard.messages import message
from credit_exchange.standard.pii import mask_text
from hub_messages import text

REGION = "511123"
MAX_RECORDS = 5000
# Hub record type → city file type.
CITY_TYPE_OF = {
    "administrative_license": "XZXK",
    "administrative_penalty": "XZCF",
    "abnormal_operation": "JYYC",
    "redlist": "HONGMD",
    "blacklist": "HEIMD",
}
RECORD_TYPE_OF = {v: k for k, v in CITY_TYPE_OF.items()}
FILE_NAME_RE = re.compile(r"(XZXK|XZCF|JYYC|HONGMD|HEIMD)_([0-9]{6})_([0-9]{14})_([0-9]{4})\.xml")
OK_SUFFIX = ".ok"
RECEIPT_SUFFIX = ".receipt.xml"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class CityXmlError(ValueError):
    """A city document that does not conform; ``errors`` says why (never personal data: values are masked)."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message + ("".join(f"\n  - {e}" for e in errors[:20]) if errors else ""))
        self.errors = list(errors)


def sm3_hex(data: bytes) -> str:
    """SM3 digest (GB/T 32905), hex, lower case."""
    return hashlib.new("sm3", data).hexdigest()


def file_name(city_type: str, at: datetime, seq: int, region: str = REGION) -> str:
    """``{TYPE}_{region}_{YYYYMMDDHHMMSS}_{NNNN}.xml``."""
    if city_type not in RECORD_TYPE_OF:
        raise ValueError(f"unknown city file type {city_type!r}")
    if not 1 <= seq <= 9999:
        raise ValueError(f"file sequence {seq} out of 0001..9999")
    return f"{city_type}_{region}_{at:%Y%m%d%H%M%S}_{seq:04d}.xml"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass(frozen=True)
class CityRecord:
    """One Record of an exchange file: ``data`` is the canonical record (ignored for a delete)."""

    record_id: str
    record_type: str
    op: str  # add | update | delete
    version: int
    data: dict[str, Any] | None = None

    def fields(self) -> list[tuple[str, str]]:
        """National codes and wire values, in the standard's order, personal data masked."""
        if self.op == "delete":
            return []
        return to_national(schema_type(self.record_type), self.data or {}, mask_pii=True)


def write_exchange(out: IO[bytes], city_type: str, *, batch_id: str, created_at: datetime,
                   records: Iterable[CityRecord], count: int, region: str = REGION) -> None:
    """Stream one exchange document into ``out``; memory does not grow with the records.

    ``count`` is declared up front (the root carries it); the validator checks it
    against the Records actually written.
    """
    out.write(DECLARATION)
    attrs = {"type": city_type, "region": region, "batchId": batch_id,
             "createdAt": created_at.isoformat(timespec="seconds"), "count": str(count)}
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        with xf.element(_q("Exchange"), attrs, nsmap={None: NS}):
            for rec in records:
                xf.write("\n  ")
                with xf.element(_q("Record"), {"op": rec.op, "id": rec.record_id, "version": str(rec.version)}):
                    for code, text in rec.fields():
                        xf.write("\n    ")
                        with xf.element(_q(code)):
                            xf.write(text)
                    if rec.op != "delete":
                        xf.write("\n  ")
            xf.write("\n")
    out.write(b"\n")


def check_exchange(body: bytes, name: str) -> None:
    """Raise ``CityXmlError`` unless ``body`` is a valid exchange document (XSD + rules of xsd.py)."""
    errors = validate_city_xml(body)
    if errors:
        raise CityXmlError(message("city_xml_invalid", name=name), [mask_text(e) for e in errors])


# -- the .ok control file -------------------------------------------------------------------

def ok_line(name: str, count: int, sm3: str) -> bytes:
    """The content of ``{name}.ok``: one line ``{name}|{count}|{sm3}``."""
    return f"{name}|{count}|{sm3}\n".encode("ascii")


def parse_ok(content: bytes) -> tuple[str, int, str]:
    """(name, count, sm3) of a ``.ok`` file; ``ValueError`` if it is not one line of that shape."""
    text = content.decode("ascii").strip()
    if "\n" in text:
        raise ValueError("a .ok file holds exactly one line")
    parts = text.split("|")
    if len(parts) != 3 or not re.fullmatch(r"[0-9]{1,10}", parts[1]) or not re.fullmatch(r"[0-9a-f]{64}", parts[2]):
        raise ValueError(f"not a .ok line: {text[:200]!r}")
    return parts[0], int(parts[1]), parts[2]


# -- receipts ---------------------------------------------------------------------------------

RECEIPT_STATUSES = ("accepted", "partial", "rejected")


@dataclass(frozen=True)
class ReceiptItem:
    record_id: str
    status: str  # ok | error
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class CityReceipt:
    file: str
    status: str  # accepted | partial | rejected
    items: list[ReceiptItem] = field(default_factory=list)


def _parser() -> etree.XMLParser:
    # No DTD, no entities, no network (operations.md, Security).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False)


def parse_receipt(body: bytes, expected_file: str | None = None) -> CityReceipt:
    """A receipt document → ``CityReceipt``; ``CityXmlError`` when it is malformed or not for that file."""
    errors = validate_city_xml(body)
    if errors:
        raise CityXmlError(text("city_receipt_schema"), errors)
    root = etree.fromstring(body, _parser())
    if root.tag != _q("Receipt"):
        raise CityXmlError(text("city_receipt_root"))
    file = root.get("file", "")
    if expected_file is not None and file != expected_file:
        raise CityXmlError(text("city_receipt_other_file", file=file, expected=expected_file))
    items = [ReceiptItem(el.get("id", ""), el.get("status", ""), el.get("code") or None,
                         (el.text or "").strip() or None)
             for el in root.findall(_q("Item"))]
    return CityReceipt(file, root.get("status", ""), items)


def write_receipt(receipt: CityReceipt) -> bytes:
    """A receipt document (the city platform's side; used by the stand-in)."""
    root = etree.Element(_q("Receipt"), {"file": receipt.file, "status": receipt.status}, nsmap={None: NS})
    for item in receipt.items:
        el = etree.SubElement(root, _q("Item"), {"id": item.record_id, "status": item.status})
        if item.code:
            el.set("code", item.code)
        if item.message:
            el.text = item.message
    return DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
