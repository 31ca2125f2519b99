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

# The C module itself: held to its reference even when the product runs the Python path (QW_PURE_PYTHON=1).
from credit_exchange.fast import _market_sax as _sax  # noqa: E402
from credit_exchange.feeds.market import parser as market_xml
from credit_exchange.feeds.registry import FileRejected
from credit_exchange.standard.fields import FIELDS


@pytest.fixture(autouse=True, scope="module")
def c_reader_registered() -> Any:
    saved = market_xml._market_sax, dict(market_xml.READERS)
    market_xml._market_sax = _sax
    market_xml.READERS["libxml2"] = market_xml._sax_records
    yield
    market_xml._market_sax = saved[0]
    market_xml.READERS.clear()
    market_xml.READERS.update(saved[1])

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
        # namespace errors: libxml2 2.9 (the C reader's) only flags them, lxml refuses the file
        "<q:CF_WSH>undeclared</q:CF_WSH>", '<CF_WSH q:a="1">undeclared attribute</CF_WSH>',
        '<CF_WSH xmlns:q="">empty</CF_WSH>',
    ]),
)
_ATTRS = st.sampled_from([
    'op="upsert" id="A-1" version="1"', 'op="delete" id="A-2" version="2"', 'id="A&amp;B" op="upsert" version="3"',
    'id="&#38;x&#x26;" op="upsert" version="1"', 'id="a&lt;b&gt;c&quot;d" op="upsert" version="1"',
    'id="tab\there\nnl" op="upsert" version="1"', "op='upsert' id='single' version='1'", "", 'o:id="ns" op="upsert"',
    'id="" version="" op=""', 'id=" padded " op=" upsert " version=" 7 "',
])
_BETWEEN = st.sampled_from(["", "\n", "<!-- c -->", "<?pi x?>", "stray text", "<Note>x</Note>",
                            '<Wrap><Record op="upsert" id="W" version="1"/></Wrap>', "<o:Note/>", "<q:Note/>"])
# After the root: what lxml reports only once the whole document has parsed.
_AFTER = st.sampled_from(["\n", "<!-- after -->", "<junk/>", "<!-- unterminated", "text after", "&x;"])


@st.composite
def documents(draw: Any) -> bytes:
    records = draw(st.lists(st.tuples(_ATTRS, st.lists(_CHILDREN, max_size=6), _BETWEEN), max_size=5))
    body = "".join(f"<Record {attrs}>{''.join(children)}</Record>{between}" for attrs, children, between in records)
    doc = (HEAD.format(n=len(records)) + body + "</CreditData>" + draw(_AFTER)).encode()
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


def test_a_text_of_nine_megabytes_is_read_whole() -> None:
    text = "甲" * 3_000_000  # 9 MB in one element, across many blocks: under libxml2's 10 MB limit
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


@pytest.mark.parametrize(("body", "accepted"), [
    ("a" * 10_000_000, True),  # libxml2's limit for one text node, exactly
    ("a" * 10_000_001, False),
    ("a" * 6_000_000 + "<!-- c -->" + "b" * 6_000_000, False),  # a dropped comment does not split the text
    ("a" * 6_000_000 + "<g/>" + "b" * 6_000_000, True),  # an element does
    ("a" * 6_000_000 + "<![CDATA[" + "b" * 6_000_000 + "]]>", False),
])
def test_one_text_over_ten_megabytes_refuses_the_file_in_both_readers(body: str, accepted: bool) -> None:
    doc = (HEAD.format(n=1) + f'<Record id="A" version="1" op="upsert"><CF_WSH>{body}</CF_WSH></Record>'
           "</CreditData>").encode()
    for reader in ("libxml2", "lxml"):
        kind, result = read(reader, doc)
        assert (kind == "records") is accepted, reader
        if not accepted:
            assert result[0] == "xml_not_well_formed"


@pytest.mark.parametrize("where", ["attribute", "comment", "pi"])
def test_a_token_over_ten_megabytes_is_refused_quickly(where: str) -> None:
    big = "a" * 64_000_000
    inner = {"attribute": f'<CF_WSH a="{big}">x</CF_WSH>', "comment": f"<!--{big}-->", "pi": f"<?pi {big}?>"}[where]
    doc = (HEAD.format(n=1) + f'<Record id="A" version="1" op="upsert">{inner}</Record></CreditData>').encode()
    # libxml2 2.9's push parser rescanned such a token on every block: minutes for a few hundred MB.
    assert read("libxml2", doc)[1][0] == read("lxml", doc)[1][0] == "xml_not_well_formed"


def test_elements_nested_deeper_than_256_levels_refuse_the_file() -> None:
    def nested(levels: int) -> bytes:
        inner = "<a>" * levels + "</a>" * levels
        return (HEAD.format(n=1) + f'<Record id="A" version="1" op="upsert"><CF_WSH>x{inner}</CF_WSH></Record>'
                "</CreditData>").encode()
    assert read("libxml2", nested(252)) == read("lxml", nested(252))
    assert read("lxml", nested(252))[0] == "records"
    assert read("libxml2", nested(254))[1][0] == read("lxml", nested(254))[1][0] == "xml_not_well_formed"


@given(st.integers(min_value=300, max_value=5000), st.integers(min_value=1, max_value=9000))
@settings(max_examples=60, deadline=None)
def test_a_cdata_end_in_text_is_refused_wherever_blocks_fall(pad: int, block: int) -> None:
    # libxml2 2.9's push parser misses a "]]>" that a block boundary cuts; the C reader's blocks never cut
    # one. (lxml's newer push parser misses some at its own read boundaries: this tests the C reader alone.)
    doc = (HEAD.format(n=1) + f'<Record id="A" version="1" op="upsert"><CF_WSH>{"x" * pad}]]>end</CF_WSH>'
           "</Record></CreditData>").encode()
    assert read("libxml2", doc, block)[1][0] == "xml_not_well_formed"


def test_a_converter_cannot_re_enter_the_parser_and_a_failed_parser_says_so() -> None:
    held: dict[str, Any] = {}
    doc = (HEAD.format(n=2) + '<Record id="A" version="1" op="upsert"><CF_WSH>a</CF_WSH></Record>'
           '<Record id="B" version="1" op="upsert"><CF_WSH>b</CF_WSH></Record></CreditData>').encode()

    def reenter(text: str) -> str:
        with pytest.raises(RuntimeError, match="already parsing"):
            held["parser"].feed(b"<x/>")
        return text

    held["parser"] = _sax.Parser(market_xml.NS, {f"{{{market_xml.NS}}}CF_WSH": ("decision_no", reenter)})
    out = held["parser"].feed(doc) + held["parser"].close()
    assert [r[4] for r in out] == [{"decision_no": "a"}, {"decision_no": "b"}]

    def boom(text: str) -> str:
        raise ZeroDivisionError

    parser = _sax.Parser(market_xml.NS, {f"{{{market_xml.NS}}}CF_WSH": ("decision_no", boom)})
    with pytest.raises(ZeroDivisionError):
        parser.feed(doc)
    with pytest.raises(RuntimeError, match="failed earlier"):
        parser.feed(b"")


def test_the_plan_may_change_while_parsing() -> None:
    # The reader holds the plan's entries it uses: a plan emptied mid-file changes nothing already cached.
    plan: dict[str, Any] = {}

    def clear(text: str) -> str:
        plan.clear()
        return text

    plan[f"{{{market_xml.NS}}}CF_JDRQ"] = ("decision_date", clear)
    plan[f"{{{market_xml.NS}}}CF_WSH"] = ("decision_no", None)
    records = "".join(f'<Record id="R{i}" version="1" op="upsert"><CF_JDRQ>d</CF_JDRQ><CF_WSH>n</CF_WSH></Record>'
                      for i in range(3))
    parser = _sax.Parser(market_xml.NS, plan)
    out = parser.feed((HEAD.format(n=3) + records + "</CreditData>").encode()) + parser.close()
    assert [r[4] for r in out] == [{"decision_date": "d", "decision_no": "n"}] * 3
