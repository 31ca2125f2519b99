"""Market-supervision XML files (contracts.md 1.1), streamed with lxml.

The parser never loads DTDs, resolves entities or touches the network, and a
document that carries a DOCTYPE at all is refused whole. Elements are cleared
as soon as they are read, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, BinaryIO, NamedTuple

from lxml import etree

from credit_exchange.config import Feed
from credit_exchange.fields import FIELDS, Field
from credit_exchange.mapping import PlanEntry, map_values, national_plan
from credit_exchange.parsers.base import FileRejected, SourceRecord, record_problem

NS = "urn:qianwei:market:credit:1"
ROOT = f"{{{NS}}}CreditData"
RECORD = f"{{{NS}}}Record"
_NS_PREFIX = f"{{{NS}}}"
_NS_LEN = len(_NS_PREFIX)
_OPS = {"upsert", "delete"}


def parse(stream: BinaryIO, feed: Feed, file_name: str) -> Iterator[SourceRecord]:
    match = feed.file_pattern.match(file_name)
    if not match:
        raise FileRejected("file_name", name=file_name)
    kind = match.group("kind")
    record_type = feed.kinds[kind]

    replay, root = _read_root(stream)
    declared_count = _check_root(root, kind)
    # Only Record ends reach Python: field elements are read from the finished Record.
    context = etree.iterparse(replay, events=("end",), tag=RECORD, **_SAFE)
    plan = _tag_plan(record_type)
    ordinal = 0
    root = None
    try:
        for _event, elem in context:
            if root is None:
                root = elem.getparent()
                if root is None or root.getparent() is not None:
                    raise FileRejected("xml_unexpected_element", element="Record")
            # Each Record is freed once read, so a Record directly under the root comes first.
            if root[0] is not elem:
                _check_siblings(root, elem)
            ordinal += 1
            yield _record(elem, ordinal, record_type, plan)
            del root[0]
        end_root = context.root
        if end_root is not None:
            for child in end_root:
                if isinstance(child.tag, str) and child.tag != RECORD:
                    raise FileRejected("xml_unexpected_element", element=etree.QName(child).localname)
    except etree.XMLSyntaxError as exc:
        raise FileRejected("xml_not_well_formed", detail=_short(str(exc))) from exc
    if declared_count != ordinal:
        raise FileRejected("record_count_mismatch", declared=declared_count, found=ordinal)


_SAFE = {"resolve_entities": False, "load_dtd": False, "no_network": True, "dtd_validation": False,
         "huge_tree": True, "remove_comments": True, "remove_pis": True}
_HEAD_LIMIT = 1 << 16


def _read_root(stream: BinaryIO) -> tuple[_Prefixed, etree._Element]:
    """Read just far enough to see the prolog and the root's start tag; the stream is replayed after."""
    head = stream.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("xml_encoding", encoding="UTF-16")
    match = _DECL.match(head)
    if match and match.group(1).decode("ascii").upper().replace("_", "-") not in {"UTF-8", "UTF8"}:
        raise FileRejected("xml_encoding", encoding=match.group(1).decode("ascii"))
    parser = etree.XMLPullParser(events=("start",), **_SAFE)
    fed = 0
    chunk = head
    while True:
        try:
            parser.feed(chunk)
            for _event, elem in parser.read_events():
                return _Prefixed(head, stream), elem
        except etree.XMLSyntaxError as exc:
            if b"<!DOCTYPE" in head:
                # e.g. an entity expansion bomb: the parser gives up, the DOCTYPE is the reason
                raise FileRejected("xml_doctype") from exc
            raise FileRejected("xml_not_well_formed", detail=_short(str(exc))) from exc
        fed += len(chunk)
        if not chunk or fed > _HEAD_LIMIT:
            raise FileRejected("xml_not_well_formed", detail="no root element")
        chunk = stream.read(4096)
        head += chunk


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


def _check_siblings(root: etree._Element, elem: etree._Element) -> None:
    """A Record that is not the root's only child: nested somewhere, or after something else."""
    if elem.getparent() is not root:
        raise FileRejected("xml_unexpected_element", element="Record")
    for child in root:
        if child is elem:
            break
        if isinstance(child.tag, str) and child.tag != RECORD:
            raise FileRejected("xml_unexpected_element", element=etree.QName(child).localname)
    while root[0] is not elem:
        del root[0]  # comments or processing instructions the parser kept


@cache
def _tag_plan(record_type: str) -> _TagPlan:
    """``national_plan`` keyed by the element's full tag (``{ns}CODE``), for the one-pass loop."""
    plan, op_code = national_plan(record_type)
    return _TagPlan({_NS_PREFIX + code: entry for code, entry in plan.items()},
                    _NS_PREFIX + op_code if op_code else None, FIELDS.by_code(record_type))


class _TagPlan(NamedTuple):
    fields: dict[str, PlanEntry]
    op_tag: str | None
    codes: Mapping[str, Field]


def _record(elem: etree._Element, ordinal: int, record_type: str, plan: _TagPlan) -> SourceRecord:
    get = elem.get
    dept_id = (get("id") or "").strip() or None
    raw_version = (get("version") or "").strip()
    raw_op = (get("op") or "").strip()
    rec = SourceRecord(
        ordinal,
        f"record {ordinal}",
        record_type,
        dept_id,
        # The store keeps versions as 32-bit integers; anything outside is the sender's mistake.
        int(raw_version) if raw_version.isdigit() and 0 < int(raw_version) < 2**31 else None,
        raw_op if raw_op in _OPS else None,
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
    # One pass over the children, mapping as we go: the same result as collecting
    # {code: text} (first occurrence wins) and calling ``from_national`` on it, without the
    # intermediate dict. A repeated, unknown or foreign element takes the careful path below.
    children = [(child.tag, child.text) for child in elem]
    if map_values(children, plan.fields, rec.data) or len(children) != len(dict(children)):
        _odd_children(rec, children, plan)
    return rec


def _odd_children(rec: SourceRecord, children: list[tuple[Any, str | None]], plan: _TagPlan) -> None:
    """The slow path of ``_record``: repeated fields (first occurrence wins), unknown and foreign elements."""
    seen: set[str] = set()
    unknown: list[str] = []
    for tag, value in children:
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        # "{ns}CODE" -> "CODE"; an element outside the namespace keeps its full name and is unknown.
        code = tag[_NS_LEN:] if tag.startswith(_NS_PREFIX) else tag
        entry = plan.fields.get(tag)
        if code in seen:
            field = plan.codes.get(code)
            rec.problems.append(record_problem(
                "duplicate_field", field_name=field.name if field else "", label=field.label if field else code,
                field_code=code))
            continue
        seen.add(code)
        if entry is None:
            if tag != plan.op_tag:
                unknown.append(code)
            continue
        # The fast loop let the last occurrence win: the first one's value is the one kept.
        name, fn = entry
        text = value.strip() if value is not None else ""
        if not text:
            rec.data.pop(name, None)
            continue
        converted = fn(text) if fn is not None else text
        if converted == []:
            rec.data.pop(name, None)
        else:
            rec.data[name] = converted
    for code in unknown:
        rec.problems.append(record_problem("unknown_field", label=code, field_code=code, field=code))


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


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
