"""The C Record reader (``_market_sax``, libxml2 SAX) against its reference, lxml's iterparse.

Both readers must give the same Records, or refuse the same file for the same reason, whatever the
document: generated documents mix every construct the reference has an opinion on (entities,
CDATA, comments, grandchildren, foreign and un-namespaced elements, stray elements and text
between Records, attributes with references and white space), and are sometimes cut short.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_exchange import config
from credit_exchange.fields import FIELDS
from credit_exchange.parsers import FileRejected, market_xml

_sax = market_xml._market_sax

NAME = "MARKET_PENALTY_20261128_001.xml"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<CreditData xmlns="urn:qianwei:market:credit:1" '
        'xmlns:o="urn:other" kind="PENALTY" generatedAt="2026-11-28T23:10:00+08:00" recordCount="{n}">')

_TEXTS = ["", " ", "x", " 甲公司 ", "a&amp;b", "&lt;&gt;&quot;&apos;", "&#x4E2D;&#22269;", "<![CDATA[a<b&c]]>",
          "a<!-- c -->b", "a<?pi x?>b", "\n\t", "2026/11/28", "a\r\nb", "\u3000全角\u3000", "𠀀"]
_CHILDREN = st.one_of(
    st.builds(lambda c, t: f"<{c}>{t}</{c}>", st.sampled_from(["CF_XDR_MC", "CF_WSH", "CF_JDRQ", "CF_NR_FK", "X"]),
              st.sampled_from(_TEXTS)),
    st.sampled_from([
        "<CF_WSH/>", "<CF_WSH>a<b>c</b>d</CF_WSH>", "<CF_WSH><b/>after</CF_WSH>", "<o:CF_WSH>foreign</o:CF_WSH>",
        '<CF_WSH xmlns="">bare</CF_WSH>', "<!-- between -->", "<?pi between?>", "text between", "\n  ",
        '<CF_XDR_MC o:attr="1">甲</CF_XDR_MC>', "<CF_WSH>a<o:Record/>b</CF_WSH>",
    ]),
)
_ATTRS = st.sampled_from([
    'op="upsert" id="A-1" version="1"', 'op="delete" id="A-2" version="2"', 'id="A&amp;B" op="upsert" version="3"',
    'id="&#38;x&#x26;" op="upsert" version="1"', 'id="a&lt;b&gt;c&quot;d" op="upsert" version="1"',
    'id="tab\there\nnl" op="upsert" version="1"', "op='upsert' id='single' version='1'", "", 'o:id="ns" op="upsert"',
    'id="" version="" op=""', 'id=" padded " op=" upsert " version=" 7 "',
])
_BETWEEN = st.sampled_from(["", "\n", "<!-- c -->", "<?pi x?>", "stray text", "<Note>x</Note>",
                            '<Wrap><Record op="upsert" id="W" version="1"/></Wrap>', "<o:Note/>"])


@st.composite
def documents(draw: Any) -> bytes:
    records = draw(st.lists(st.tuples(_ATTRS, st.lists(_CHILDREN, max_size=6), _BETWEEN), max_size=5))
    body = "".join(f"<Record {attrs}>{''.join(children)}</Record>{between}" for attrs, children, between in records)
    doc = (HEAD.format(n=len(records)) + body + "</CreditData>\n").encode()
    cut = draw(st.one_of(st.none(), st.integers(min_value=len(HEAD), max_value=len(doc))))
    return doc if cut is None else doc[:cut]


def parse_with(reader: str, doc: bytes) -> tuple[str, Any]:
    """The whole parser with one reader: ('records', [...]) or ('rejected', code, params)."""
    saved = market_xml.reader
    market_xml.reader = lambda: market_xml.READERS[reader]  # type: ignore[assignment]
    try:
        out = list(market_xml.parse(io.BytesIO(doc), config.feed("market"), NAME))
        return "records", [(r.ordinal, r.dept_record_id, r.dept_version, r.op, r.data,
                            [(p.code, p.field_code, p.message) for p in r.problems]) for r in out]
    except FileRejected as exc:
        return "rejected", (exc.code, {k: v for k, v in exc.params.items() if k != "detail"})
    finally:
        market_xml.reader = saved  # type: ignore[assignment]


def read(reader: str, doc: bytes, block: int | None = None) -> tuple[str, Any]:
    """('records', [...]) or ('rejected', code, params without the parser's own wording)."""
    stream = io.BytesIO(doc)
    try:
        replay, _root = market_xml._read_root(stream)
        if block is not None:
            replay = _Blocks(replay, block)
        return "records", list(market_xml.READERS[reader](replay))
    except FileRejected as exc:
        # The two readers use different libxml2 builds, whose messages may be worded differently.
        params = {k: v for k, v in exc.params.items() if k != "detail"}
        return "rejected", (exc.code, params)


class _Blocks:
    """A stream that never returns more than ``size`` bytes per read."""

    def __init__(self, inner: Any, size: int) -> None:
        self.inner, self.size, self.pending = inner, size, b""

    def read(self, n: int = -1) -> bytes:
        if not self.pending:
            self.pending = self.inner.read(1 << 16)
        out, self.pending = self.pending[:self.size], self.pending[self.size:]
        return out


@given(documents())
@settings(max_examples=400, deadline=None)
def test_the_c_reader_gives_what_lxml_gives(doc: bytes) -> None:
    assert read("libxml2", doc) == read("lxml", doc)


_PENALTY_CODES = sorted(FIELDS.by_code("administrative_penalty"))
_FIELD_TEXTS = _TEXTS + ["1.50", "1e3", "12", "-0", "0.1234567", "2026-11-28", "2026/13/01", "警告;罚款", " ; ", "1",
                         "2", "是", "否", "\u00a0x\u00a0", "\u3000"]


@st.composite
def ordinary_documents(draw: Any) -> bytes:
    """Records whose children are distinct fields of the penalty plan: the ones the C reader maps."""
    records = []
    for i in range(draw(st.integers(1, 4))):
        codes = draw(st.lists(st.sampled_from(_PENALTY_CODES), unique=True, max_size=12))
        children = "".join(f"<{c}>{draw(st.sampled_from(_FIELD_TEXTS))}</{c}>" for c in codes)
        records.append(f'<Record op="upsert" id="R-{i}" version="1">{children}</Record>')
    return (HEAD.format(n=len(records)) + "".join(records) + "</CreditData>").encode()


@given(st.one_of(documents(), ordinary_documents()))
@settings(max_examples=600, deadline=None)
def test_records_mapped_in_c_equal_the_python_mapping(doc: bytes) -> None:
    # The C reader maps Records without repeated or unknown children itself (mapping.map_values in C).
    assert parse_with("libxml2", doc) == parse_with("lxml", doc)


def test_the_c_reader_maps_ordinary_records_and_leaves_odd_ones_to_python() -> None:
    doc = (HEAD.format(n=3) + '<Record id="A" version="1" op="upsert"><CF_WSH> 甲\u3000</CF_WSH>'
           '<CF_JDRQ>2026/11/28</CF_JDRQ><CF_CFLB>警告; 罚款;</CF_CFLB><CF_XDR_MC/></Record>'
           '<Record id="B" version="1" op="upsert"><CF_WSH>x</CF_WSH><CF_WSH>y</CF_WSH></Record>'
           '<Record id="C" version="1" op="upsert"><CF_WSH>x</CF_WSH><X>y</X></Record></CreditData>').encode()
    plan = market_xml._tag_plan("administrative_penalty").fields
    replay, _root = market_xml._read_root(io.BytesIO(doc))
    a, b, c = market_xml.READERS["libxml2"](replay, plan)
    assert a[3] is None and a[4] == {"decision_no": "甲", "decision_date": "2026-11-28",
                                     "penalty_categories": ["警告", "罚款"]}
    assert b[4] is None and [t for t, _ in b[3]] == [f"{{{market_xml.NS}}}CF_WSH"] * 2
    assert c[4] is None and len(c[3]) == 2


@given(documents(), st.integers(min_value=1, max_value=17))
@settings(max_examples=100, deadline=None)
def test_block_boundaries_do_not_matter(doc: bytes, block: int) -> None:
    assert read("libxml2", doc, block) == read("libxml2", doc)


def test_attributes_with_references_are_decoded() -> None:
    doc = (HEAD.format(n=1) + '<Record id="A&amp;B&#38;C&lt;" version="1" op="upsert"/></CreditData>').encode()
    assert read("libxml2", doc) == ("records", [("A&B&C<", "1", "upsert", [], None)])


def test_a_huge_text_is_read_whole() -> None:
    text = "甲" * 3_000_000  # 9 MB in one element: libxml2's 10 MB text limit does not apply (huge_tree)
    doc = (HEAD.format(n=1) + f'<Record id="A" version="1" op="upsert"><CF_WSH>{text}</CF_WSH></Record>'
           "</CreditData>").encode()
    ((_id, _v, _op, children, _data),) = read("libxml2", doc)[1]
    assert children == [("{urn:qianwei:market:credit:1}CF_WSH", text)]
    (rec,) = parse_with("libxml2", doc)[1]
    assert rec[4] == {"decision_no": text}


def test_an_undefined_entity_is_not_well_formed() -> None:
    doc = (HEAD.format(n=1) + '<Record id="A" version="1" op="upsert"><CF_WSH>&x;</CF_WSH></Record>'
           "</CreditData>").encode()
    kind, (code, _params) = read("libxml2", doc)
    assert (kind, code) == ("rejected", "xml_not_well_formed")


def test_a_doctype_stops_the_c_reader_itself() -> None:
    # The prolog check refuses a DOCTYPE before any reader runs; the C reader refuses it on its own too.
    parser = _sax.Parser(market_xml.NS)
    with pytest.raises(_sax.Doctype):
        parser.feed(b'<?xml version="1.0"?><!DOCTYPE CreditData [<!ENTITY x "y">]><CreditData/>')


def test_a_closed_parser_refuses_more_input() -> None:
    parser = _sax.Parser(market_xml.NS)
    parser.feed(HEAD.format(n=0).encode() + b"</CreditData>")
    assert parser.close() == []
    with pytest.raises(ValueError):
        parser.feed(b"<x/>")
