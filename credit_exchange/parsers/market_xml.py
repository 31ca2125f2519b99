"""Market-supervision XML files (contracts.md 1.1), streamed with lxml.

The parser never loads DTDs, resolves entities or touches the network, and a
document that carries a DOCTYPE at all is refused whole. Elements are cleared
as soon as they are read, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from lxml import etree

from credit_exchange.config import Feed
from credit_exchange.fields import FIELDS, Field
from credit_exchange.mapping import from_national
from credit_exchange.parsers.base import FileRejected, SourceRecord, record_problem

NS = "urn:qianwei:market:credit:1"
ROOT = f"{{{NS}}}CreditData"
RECORD = f"{{{NS}}}Record"
_OPS = {"upsert", "delete"}


def parse(stream: BinaryIO, feed: Feed, file_name: str) -> Iterator[SourceRecord]:
    match = feed.file_pattern.match(file_name)
    if not match:
        raise FileRejected("file_name", name=file_name)
    kind = match.group("kind")
    record_type = feed.kinds[kind]
    codes = FIELDS.by_code(record_type)

    context = etree.iterparse(
        _check_declaration(stream),
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
    )
    declared_count: int | None = None
    ordinal = 0
    depth = 0
    try:
        for event, elem in context:
            if event == "start":
                depth += 1
                if depth == 1:
                    declared_count = _check_root(elem, kind)
                continue
            depth -= 1
            if depth != 1 or elem.tag is etree.Comment:
                continue
            if elem.tag != RECORD:
                raise FileRejected("xml_unexpected_element", element=etree.QName(elem).localname)
            ordinal += 1
            yield _record(elem, ordinal, record_type, codes)
            # Free what was read: the element and the siblings before it.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise FileRejected("xml_not_well_formed", detail=_short(str(exc))) from exc
    if declared_count is None:
        raise FileRejected("xml_not_well_formed", detail="empty document")
    if declared_count != ordinal:
        raise FileRejected("record_count_mismatch", declared=declared_count, found=ordinal)


def _check_root(root: etree._Element, kind: str) -> int:
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise FileRejected("xml_doctype")
    if root.tag != ROOT:
        raise FileRejected("xml_root", found=root.tag)
    if root.get("kind") != kind:
        raise FileRejected("xml_kind_mismatch", declared=root.get("kind") or "", expected=kind)
    raw_count = root.get("recordCount")
    if raw_count is None or not raw_count.strip().isdigit():
        raise FileRejected("record_count_missing")
    return int(raw_count)


def _record(elem: etree._Element, ordinal: int, record_type: str, codes: Mapping[str, Field]) -> SourceRecord:
    dept_id = (elem.get("id") or "").strip() or None
    raw_version = (elem.get("version") or "").strip()
    raw_op = (elem.get("op") or "").strip()
    rec = SourceRecord(
        ordinal=ordinal,
        position=f"record {ordinal}",
        record_type=record_type,
        dept_record_id=dept_id,
        dept_version=int(raw_version) if raw_version.isdigit() and int(raw_version) > 0 else None,
        op=raw_op if raw_op in _OPS else None,
    )
    if dept_id is None:
        rec.problems.append(record_problem("record_id_missing"))
    elif len(dept_id) > 128:
        rec.problems.append(record_problem("record_id_too_long"))
    if rec.dept_version is None:
        rec.problems.append(record_problem("record_version", value=raw_version[:20]))
    if rec.op is None:
        rec.problems.append(record_problem("record_op", value=raw_op[:20]))
    if rec.op == "delete":
        return rec
    raw: dict[str, str | None] = {}
    for child in elem:
        if not isinstance(child.tag, str):
            continue
        code = etree.QName(child).localname
        if code in raw:
            field = codes.get(code)
            rec.problems.append(record_problem(
                "duplicate_field", field_name=field.name if field else "", label=field.label if field else code,
                field_code=code))
            continue
        raw[code] = child.text
    mapped = from_national(record_type, raw)
    rec.data = mapped.data
    for code in mapped.unknown:
        rec.problems.append(record_problem("unknown_field", label=code, field_code=code, field=code))
    return rec


_DECL = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class _Prefixed:
    """The stream with its first block read ahead (to check the XML declaration) and replayed."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return self._rest.read(n)


def _check_declaration(stream: BinaryIO) -> _Prefixed:
    """Refuse anything but UTF-8 before lxml decodes it (contracts.md 1.1: declared UTF-8)."""
    head = stream.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("xml_encoding", encoding="UTF-16")
    match = _DECL.match(head)
    if match and match.group(1).decode("ascii").upper().replace("_", "-") not in {"UTF-8", "UTF8"}:
        raise FileRejected("xml_encoding", encoding=match.group(1).decode("ascii"))
    return _Prefixed(head, stream)


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
