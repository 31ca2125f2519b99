"""Market-supervision XML files (contracts.md 1.1), streamed.

The parser never loads DTDs, resolves entities or touches the network, and a
document that carries a DOCTYPE at all is refused whole. Records are read one
at a time, so memory stays flat whatever the file size.

Two readers give the same Records (``READERS``): libxml2's SAX parser driven
from C (``credit_exchange/fast/_market_sax.c``, built at install), the one used, and lxml's
``iterparse``, the reference it is tested against, used only when the C
extension could not be built or ``QW_PURE_PYTHON=1`` asks for the reference. The prolog and the root element are always read
with lxml first (``_read_root``), whichever reader takes the Records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, BinaryIO, NamedTuple

from lxml import etree

from credit_exchange.config import Feed
from credit_exchange.fast import MARKET_SAX, PURE_PYTHON
from credit_exchange.feeds import envelope
from credit_exchange.standard.fields import FIELDS, Field
from credit_exchange.standard.mapping import PlanEntry, map_values, national_plan
from credit_exchange.standard.records import FileRejected, SourceRecord, record_problem

# The C reader (credit_exchange/fast), or None: QW_PURE_PYTHON=1, or no compiler at install. The lxml
# reader below is the reference and serves then, about three times slower.
_market_sax = MARKET_SAX

NS = "urn:qianwei:market:credit:1"
ROOT = f"{{{NS}}}CreditData"
RECORD = f"{{{NS}}}Record"
_NS_PREFIX = f"{{{NS}}}"
_NS_LEN = len(_NS_PREFIX)
_OPS = {"upsert", "delete"}
# Bytes read from the stream at a time for the SAX reader, and the most it holds back looking for a '>'.
_READ = 1 << 18
_HOLD = 1 << 20

log = logging.getLogger(__name__)

# (id, version, op, children, data) of each Record in document order: the Record's own attributes
# (None when absent); children, for each child element its full tag and its text before any
# grandchild (None when empty), comments and processing instructions left out; or instead, when the
# reader mapped them itself (the C reader, for a Record without repeated or unknown children),
# data: exactly what ``map_values`` makes of them.
Children = list[tuple[Any, str | None]]
RawRecord = tuple[str | None, str | None, str | None, Children | None, dict[str, Any] | None]


def parse(stream: BinaryIO, feed: Feed, file_name: str) -> Iterator[SourceRecord]:
    match = feed.match_name(file_name)
    if not match:
        raise FileRejected("file_name", name=file_name)
    kind = match.group("kind")
    record_type = feed.kinds[kind]

    replay, root = _read_root(stream)
    declared_count = _check_root(root, kind)
    plan = _tag_plan(record_type)
    ordinal = 0
    for dept_id, version, op, children, data in reader()(replay, plan.fields):
        ordinal += 1
        yield _record(dept_id, version, op, children, data, ordinal, record_type, plan)
    if declared_count != ordinal:
        raise FileRejected("record_count_mismatch", declared=declared_count, found=ordinal)


def _lxml_records(replay: _Prefixed, plan: Mapping[str, PlanEntry] | None = None) -> Iterator[RawRecord]:
    """The reference reader: lxml's iterparse, each Record freed once read (it maps nothing)."""
    # Only Record ends reach Python: field elements are read from the finished Record.
    context = etree.iterparse(replay, events=("end",), tag=RECORD, **_SAFE)
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
            get = elem.get
            yield get("id"), get("version"), get("op"), [(child.tag, child.text) for child in elem], None
            del root[0]
        end_root = context.root
        if end_root is not None:
            for child in end_root:
                if isinstance(child.tag, str) and child.tag != RECORD:
                    raise FileRejected("xml_unexpected_element", element=_local_name(child.tag))
    except etree.XMLSyntaxError as exc:
        raise FileRejected("xml_not_well_formed", detail=_short(str(exc))) from exc


def _sax_records(replay: _Prefixed, plan: Mapping[str, PlanEntry] | None = None) -> Iterator[RawRecord]:
    """The fast reader: libxml2's SAX parser in C (``_market_sax.c``), the same Records as lxml's,
    mapped through ``plan`` (field tag -> (name, converter)) where that takes no judgement."""
    assert _market_sax is not None, "the C reader is used only when it was chosen"
    parser = _market_sax.Parser(NS, plan)
    try:
        for block in _blocks_ending_in_tags(replay):
            yield from parser.feed(block)
        yield from parser.close()
    except _market_sax.NotWellFormed as exc:
        raise FileRejected("xml_not_well_formed", detail=_short(str(exc.args[0]))) from exc
    except _market_sax.Unexpected as exc:
        raise FileRejected("xml_unexpected_element", element=exc.args[0]) from exc
    except _market_sax.Doctype as exc:
        raise FileRejected("xml_doctype") from exc


Reader = Callable[["_Prefixed", Mapping[str, PlanEntry] | None], Iterator[RawRecord]]
READERS: dict[str, Reader] = {"lxml": _lxml_records}


def _blocks_ending_in_tags(replay: _Prefixed) -> Iterator[memoryview]:
    """The stream in blocks that end just after a '>', for the C reader.

    libxml2 2.9's push parser (the C reader's, Debian 12) misses a "]]>" in text, which XML forbids,
    when a block boundary cuts it in two. A block that ends after a '>' never cuts one. Without a '>' in 1 MiB (a long text) a block is cut anyway, keeping back a final
    "]]" for the next one.
    """
    carry = b""
    while True:
        block = replay.read(_READ)
        if not block:
            break
        data = carry + block if carry else block
        cut = data.rfind(b">") + 1
        if cut == 0:
            if len(data) < _HOLD:
                carry = data
                continue
            cut = len(data) - 2
        view = memoryview(data)
        yield view[:cut]
        carry = data[cut:]
    if carry:
        yield memoryview(carry)
if _market_sax is not None:
    READERS["libxml2"] = _sax_records


def reader() -> Reader:
    """The Record reader in use: the C one when it was built, else lxml's (said once in the log)."""
    if _market_sax is not None:
        return _sax_records
    if not _warned and not PURE_PYTHON:  # asked for, the reference path is no news
        _warned.append(True)
        log.warning("market XML: the C reader (_market_sax) is not built; using lxml, about three times slower. "
                    "Reinstall with a C compiler and libxml2's headers (make install).")
    return _lxml_records


_warned: list[bool] = []


# libxml2's default limits hold (no huge_tree): 10 MB for one text, comment or attribute value,
# 256 levels of elements. A credit record needs none of that; a file that does is refused whole
# instead of holding gigabytes in one node (and the C reader's libxml2 2.9 would rescan a token
# that spans many blocks on every block).
_SAFE = {"resolve_entities": False, "load_dtd": False, "no_network": True, "dtd_validation": False,
         "huge_tree": False, "remove_comments": True, "remove_pis": True}
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
    if raw_count is None or not raw_count.strip():
        raise FileRejected("record_count_missing")
    declared = envelope.count(raw_count)
    if declared is None:
        raise FileRejected("record_count_invalid", value=envelope.quoted(raw_count.strip()))
    return declared


def _check_siblings(root: etree._Element, elem: etree._Element) -> None:
    """A Record that is not the root's only child: nested somewhere, or after something else."""
    if elem.getparent() is not root:
        raise FileRejected("xml_unexpected_element", element="Record")
    for child in root:
        if child is elem:
            break
        if isinstance(child.tag, str) and child.tag != RECORD:
            raise FileRejected("xml_unexpected_element", element=_local_name(child.tag))
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


def _record(raw_id: str | None, raw_version: str | None, raw_op: str | None, children: Children | None,
            data: dict[str, Any] | None, ordinal: int, record_type: str, plan: _TagPlan) -> SourceRecord:
    dept_id = (raw_id or "").strip() or None
    raw_version = (raw_version or "").strip()
    raw_op = (raw_op or "").strip()
    rec = SourceRecord(
        ordinal,
        f"record {ordinal}",
        record_type,
        dept_id,
        envelope.version(raw_version),
        raw_op if raw_op in _OPS else None,
    )
    if dept_id is None:
        rec.problems.append(record_problem("record_id_missing"))
    elif len(dept_id) > envelope.MAX_ID_LENGTH:
        rec.dept_record_id = None  # named in the receipt by its position only: the store keeps 128 characters
        rec.problems.append(record_problem("record_id_too_long"))
    if rec.dept_version is None:
        rec.problems.append(record_problem("record_version", value=envelope.quoted(raw_version)))
    if rec.op is None:
        rec.problems.append(record_problem("record_op", value=envelope.quoted(raw_op)))
    if rec.op == "delete":
        return rec
    if data is not None:
        rec.data = data  # mapped by the reader: no repeated, unknown or foreign element
        return rec
    assert children is not None
    # One pass over the children, mapping as we go: the same result as collecting
    # {code: text} (first occurrence wins) and calling ``from_national`` on it, without the
    # intermediate dict. A repeated, unknown or foreign element takes the careful path below.
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


def _local_name(tag: str) -> str:
    """An element's name without its namespace: "{uri}Note" and "q:Note" (an undeclared prefix,
    which lxml keeps in the tag and etree.QName refuses with a ValueError) are both "Note"."""
    return tag.rpartition("}")[2].rpartition(":")[2]


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
