"""The market XML parser: mapping, structure checks, and hostile documents."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_exchange import config, fast
from credit_exchange.feeds.market import parser as market_xml
from credit_exchange.feeds.registry import FileRejected, get_parser
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import XmlRecord, good_records
from sandbox.market_files import market_xml as market_xml_doc

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
NAME = "MARKET_PENALTY_20261128_001.xml"


def parse(body: bytes, name: str = NAME) -> list:
    return list(get_parser("market_xml")(io.BytesIO(body), config.feed("market"), name))


_CHOOSE_READER = market_xml.reader  # the module's own choice, before the fixture below overrides it


@pytest.fixture(autouse=True, scope="module", params=sorted(market_xml.READERS))
def record_reader(request: pytest.FixtureRequest):
    """Every test here runs with each Record reader: the C one (libxml2 SAX) and its lxml reference."""
    chosen = market_xml.READERS[request.param]
    saved = market_xml.reader
    market_xml.reader = lambda: chosen  # type: ignore[assignment]
    yield request.param
    market_xml.reader = saved  # type: ignore[assignment]


@pytest.mark.skipif(fast.PURE_PYTHON, reason="QW_PURE_PYTHON=1 runs the reference paths; CI runs this without it")
def test_the_c_reader_is_built_and_in_use() -> None:
    # `make install` builds it; a silent fall-back to lxml would make every ingest three times slower.
    assert fast.chosen() == {"format_checks": "c", "market_xml_reader": "c"}
    assert set(market_xml.READERS) == {"libxml2", "lxml"}
    assert market_xml._market_sax is not None


def test_without_the_c_reader_lxml_serves_and_the_log_says_so_once(monkeypatch, caplog) -> None:
    monkeypatch.setattr(market_xml, "reader", _CHOOSE_READER)
    monkeypatch.setattr(market_xml, "_market_sax", None)
    monkeypatch.setattr(market_xml, "PURE_PYTHON", False)  # not asked for: the extension is missing
    monkeypatch.setattr(market_xml, "_warned", [])
    recs = good_records("PENALTY", TODAY, 2)
    with caplog.at_level("WARNING", logger=market_xml.__name__):
        first = parse(market_xml_doc("PENALTY", recs, AT))
        second = parse(market_xml_doc("PENALTY", recs, AT))
    assert [r.data for r in first] == [r.data for r in second] == [r.data for r in recs]
    assert len(caplog.records) == 1
    assert "_market_sax" in caplog.records[0].getMessage()


def test_records_are_mapped_to_canonical_fields() -> None:
    recs = good_records("PENALTY", TODAY, 3)
    out = parse(market_xml_doc("PENALTY", recs, AT))
    assert [r.dept_record_id for r in out] == [r.id for r in recs]
    assert [r.position for r in out] == ["record 1", "record 2", "record 3"]
    assert all(r.op == "upsert" and r.dept_version == 1 and not r.problems for r in out)
    # The round trip through the national forms gives back the canonical record.
    assert out[0].data == recs[0].data
    assert isinstance(out[0].data["penalty_categories"], list)


def test_delete_records_carry_no_fields() -> None:
    out = parse(market_xml_doc("PENALTY", [XmlRecord(id="SCJG-CF-2025-000777", version=3, op="delete")], AT))
    assert (out[0].op, out[0].dept_version, out[0].data, out[0].problems) == ("delete", 3, {}, [])


@pytest.mark.parametrize(("attrs", "code"), [
    ('op="upsert" version="1"', "record_id_missing"),
    ('op="upsert" id="X-1" version="0"', "record_version"),
    ('op="upsert" id="X-1" version="v2"', "record_version"),
    ('op="upsert" id="X-1" version="2147483648"', "record_version"),
    ('op="replace" id="X-1" version="1"', "record_op"),
])
def test_record_attributes_are_checked(attrs: str, code: str) -> None:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><CreditData xmlns="urn:qianwei:market:credit:1" '
            f'kind="PENALTY" generatedAt="2026-11-28T23:10:00+08:00" recordCount="1"><Record {attrs}/></CreditData>')
    (rec,) = parse(body.encode())
    assert code in {p.code for p in rec.problems}


def test_unknown_element_is_a_record_problem() -> None:
    recs = good_records("PENALTY", TODAY, 1)
    body = market_xml_doc("PENALTY", recs, AT).replace(b"</Record>", b"<CF_NOT_A_FIELD>x</CF_NOT_A_FIELD></Record>")
    (rec,) = parse(body)
    assert [p.code for p in rec.problems] == ["unknown_field"]
    assert rec.problems[0].field_code == "CF_NOT_A_FIELD"


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda b: b.replace(b'recordCount="2"', b'recordCount="3"'), "record_count_mismatch"),
    (lambda b: b.replace(b' recordCount="2"', b""), "record_count_missing"),
    (lambda b: b.replace(b'kind="PENALTY"', b'kind="LICENSE"'), "xml_kind_mismatch"),
    (lambda b: b.replace(b"urn:qianwei:market:credit:1", b"urn:other"), "xml_root"),
    (lambda b: b[: len(b) // 2], "xml_not_well_formed"),
    (lambda b: b"", "xml_not_well_formed"),
])
def test_whole_file_problems(mutate, code: str) -> None:
    body = mutate(market_xml_doc("PENALTY", good_records("PENALTY", TODAY, 2), AT))
    with pytest.raises(FileRejected) as err:
        parse(body)
    assert err.value.code == code
    assert "(" in err.value.message  # Chinese with an English gloss


def test_doctype_is_refused_and_entities_are_never_expanded(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE CreditData [<!ENTITY x SYSTEM "file://{secret}">]>\n'
            '<CreditData xmlns="urn:qianwei:market:credit:1" kind="PENALTY" generatedAt="2026-11-28T23:10:00+08:00" '
            'recordCount="1"><Record op="upsert" id="A" version="1"><CF_XDR_MC>&x;</CF_XDR_MC></Record></CreditData>')
    with pytest.raises(FileRejected) as err:
        parse(body.encode())
    assert err.value.code == "xml_doctype"
    assert "TOP-SECRET" not in str(err.value)


def test_billion_laughs_is_refused_quickly() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = (f'<?xml version="1.0"?><!DOCTYPE CreditData [<!ENTITY l0 "lol">{lol}]>'
            '<CreditData xmlns="urn:qianwei:market:credit:1" kind="PENALTY" recordCount="1">'
            '<Record op="upsert" id="A" version="1"><CF_XDR_MC>&l9;</CF_XDR_MC></Record></CreditData>')
    with pytest.raises(FileRejected) as err:
        parse(body.encode())
    assert err.value.code == "xml_doctype"


def test_non_utf8_declaration_is_refused() -> None:
    body = market_xml_doc("PENALTY", good_records("PENALTY", TODAY, 1), AT).decode("utf-8")
    body = body.replace('encoding="UTF-8"', 'encoding="GB18030"').encode("gb18030")
    with pytest.raises(FileRejected) as err:
        parse(body)
    assert err.value.code == "xml_encoding"


def test_file_name_must_match_the_contract() -> None:
    with pytest.raises(FileRejected) as err:
        parse(market_xml_doc("PENALTY", [], AT), name="market-penalties.xml")
    assert err.value.code == "file_name"


# -- the one-pass field loop against the mapping it must equal ------------------------------

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><CreditData xmlns="urn:qianwei:market:credit:1" kind="PENALTY" '
         'generatedAt="2026-11-28T23:10:00+08:00" recordCount="{n}">')


def _one_record(children: str) -> bytes:
    return (_HEAD.format(n=1) + f'<Record op="upsert" id="X-1" version="1">{children}</Record></CreditData>').encode()


def test_a_repeated_field_keeps_its_first_value_and_is_reported() -> None:
    (rec,) = parse(_one_record("<CF_WSH>first</CF_WSH><CF_XDR_MC>甲公司</CF_XDR_MC><CF_WSH>second</CF_WSH>"))
    assert rec.data == {"decision_no": "first", "subject_name": "甲公司"}
    assert [(p.code, p.field_code) for p in rec.problems] == [("duplicate_field", "CF_WSH")]


def test_a_repeated_field_whose_first_value_is_empty_stays_empty() -> None:
    (rec,) = parse(_one_record("<CF_WSH> </CF_WSH><CF_WSH>second</CF_WSH><CF_CFLB/><CF_CFLB>警告</CF_CFLB>"))
    assert rec.data == {}
    assert sorted(p.field_code for p in rec.problems) == ["CF_CFLB", "CF_WSH"]


def test_an_element_outside_the_namespace_is_unknown_even_with_a_field_name() -> None:
    (rec,) = parse(_one_record('<CF_WSH xmlns="">x</CF_WSH><CF_XDR_MC>甲公司</CF_XDR_MC>'))
    assert rec.data == {"subject_name": "甲公司"}
    assert [(p.code, p.field_code) for p in rec.problems] == [("unknown_field", "CF_WSH")]


def test_comments_and_processing_instructions_are_ignored_everywhere() -> None:
    recs = good_records("PENALTY", TODAY, 3)
    body = market_xml_doc("PENALTY", recs, AT)
    body = body.replace(b"<Record ", b"<!-- c --><?pi x?><Record ").replace(b"</CF_XDR_MC>", b"</CF_XDR_MC><!-- f -->")
    out = parse(body)
    assert [r.data for r in out] == [r.data for r in recs]
    assert not any(r.problems for r in out)


@pytest.mark.parametrize(("body", "element"), [
    # a Record nested in another Record, first or later in the file
    (_HEAD.format(n=1) + '<Record op="upsert" id="A" version="1"><Record op="upsert" id="B" version="1"/></Record>'
     "</CreditData>", "Record"),
    (_HEAD.format(n=2) + '<Record op="upsert" id="A" version="1"/><Record op="upsert" id="B" version="1">'
     '<Record op="upsert" id="C" version="1"/></Record></CreditData>', "Record"),
    # a Record wrapped in something else
    (_HEAD.format(n=1) + '<Batch><Record op="upsert" id="A" version="1"/></Batch></CreditData>', "Record"),
    (_HEAD.format(n=2) + '<Record op="upsert" id="A" version="1"/><Batch><Record op="upsert" id="B" version="1"/>'
     "</Batch></CreditData>", "Record"),
    # something else between or after the Records
    (_HEAD.format(n=2) + '<Record op="upsert" id="A" version="1"/><Note>x</Note><Record op="upsert" id="B" '
     'version="1"/></CreditData>', "Note"),
    (_HEAD.format(n=1) + '<Note>x</Note><Record op="upsert" id="A" version="1"/></CreditData>', "Note"),
    (_HEAD.format(n=1) + '<Record op="upsert" id="A" version="1"/><Note>x</Note></CreditData>', "Note"),
    # an undeclared prefix: lxml keeps "q:Note" as the tag (etree.QName raised a ValueError on it)
    (_HEAD.format(n=2) + '<Record op="upsert" id="A" version="1"/><q:Note/><Record op="upsert" id="B" '
     'version="1"/></CreditData>', "Note"),
])
def test_anything_but_records_under_the_root_refuses_the_file(body: str, element: str) -> None:
    with pytest.raises(FileRejected) as err:
        parse(body.encode())
    assert err.value.code == "xml_unexpected_element"
    assert err.value.params == {"element": element}


_CODES = ["CF_XDR_MC", "CF_WSH", "CF_CFLB", "CF_JDRQ", "CF_NR_FK", "CF_XDR_SHXYM", "CF_UNKNOWN"]
_VALUES = ["", " ", "x", " 甲 ", "2026/11/28", "2026-11-28", "2026/11-28", "1.50", "12", "1e3", "警告;罚款", ";", "a&amp;b"]


@given(st.lists(st.tuples(st.sampled_from(_CODES), st.sampled_from(_VALUES)), max_size=12))
@settings(max_examples=300, deadline=None)
def test_the_field_loop_equals_from_national_on_first_occurrences(children: list[tuple[str, str]]) -> None:
    from xml.sax.saxutils import unescape

    from credit_exchange.standard.mapping import from_national

    (rec,) = parse(_one_record("".join(f"<{c}>{v}</{c}>" for c, v in children)))
    first: dict[str, str] = {}
    for code, value in children:
        first.setdefault(code, unescape(value))
    expected = from_national("administrative_penalty", first)
    assert rec.data == expected.data
    dups = [c for i, (c, _) in enumerate(children) if c in {x for x, _ in children[:i]}]
    assert sorted(p.field_code for p in rec.problems if p.code == "duplicate_field") == sorted(dups)
    assert [p.field_code for p in rec.problems if p.code == "unknown_field"] == expected.unknown
