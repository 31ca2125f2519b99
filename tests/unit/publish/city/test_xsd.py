"""The city platform's XML schema (schemas/city_exchange.xsd, credit_exchange/publish/city/xsd.py)."""

from __future__ import annotations

import datetime
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from credit_exchange.publish.city.xsd import CITY_TYPES, NS, XSD_PATH, validate_city_xml
from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.mapping import to_national
from sandbox.samples import valid_record

TODAY = datetime.date(2026, 11, 28)


def _record(record_type: str, i: int, op: str = "add", pairs: list[tuple[str, str]] | None = None) -> str:
    if pairs is None:
        pairs = to_national(record_type, valid_record(record_type, i, TODAY))
    body = "".join(f"<{c}>{escape(v)}</{c}>" for c, v in pairs)
    return f'<Record op="{op}" id="market:{record_type}:{i}" version="{i + 1}">{body}</Record>'


def _doc(city_type: str, records: list[str], count: int | None = None, ns: str = NS) -> bytes:
    n = len(records) if count is None else count
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Exchange xmlns="{ns}" type="{city_type}" region="511123" '
        f'batchId="b-1" createdAt="2026-11-28T02:00:00+08:00" count="{n}">' + "".join(records) + "</Exchange>"
    ).encode()


def _list_records(black: bool) -> list[str]:
    return [_record("list_entry", i) for i in range(0 if black else 1, 12, 2)]


@pytest.mark.parametrize("city_type", ["XZXK", "XZCF", "JYYC"])
def test_valid_documents(city_type: str) -> None:
    rt = CITY_TYPES[city_type]
    records = [_record(rt, i) for i in range(12)] + ['<Record op="delete" id="x:1" version="3"/>']
    assert validate_city_xml(_doc(city_type, records)) == []


def test_valid_list_documents() -> None:
    assert validate_city_xml(_doc("HEIMD", _list_records(black=True))) == []
    assert validate_city_xml(_doc("HONGMD", _list_records(black=False))) == []


def test_valid_document_from_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "XZCF_511123_20261128020000_0001.xml"
    path.write_bytes(_doc("XZCF", [_record("administrative_penalty", 1)]))
    assert validate_city_xml(path) == []
    assert validate_city_xml(str(path)) == []


def test_receipt() -> None:
    ok = (f'<Receipt xmlns="{NS}" file="XZCF_511123_20261128020000_0001.xml" status="partial">'
          '<Item id="market:administrative_penalty:1" status="ok"/>'
          '<Item id="market:administrative_penalty:2" status="error" code="E101">统一社会信用代码错误</Item></Receipt>').encode()
    assert validate_city_xml(ok) == []
    bad = ok.replace(b'status="partial"', b'status="done"')
    assert validate_city_xml(bad)
    assert validate_city_xml(ok.replace(b' status="ok"', b""))


def test_element_order_follows_the_field_table() -> None:
    tree = etree.parse(str(XSD_PATH))
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for group in tree.getroot().iter(f"{xs}group"):
        name = group.get("name")
        if not name:
            continue
        rt = CITY_TYPES.get(name.removesuffix("Fields"), "list_entry")
        elements = [e.get("name") for e in group.iter(f"{xs}element")]
        assert elements == [f.code for f in FIELDS.fields(rt)], name


def _bad(doc: bytes, needle: str) -> None:
    errors = validate_city_xml(doc)
    assert errors, "expected errors"
    assert any(needle in e for e in errors), errors


def test_doctype_and_entities_refused() -> None:
    doc = _doc("XZCF", [])
    _bad(doc.replace(b"<Exchange", b'<!DOCTYPE Exchange [<!ENTITY x "y">]>\n<Exchange', 1), "DOCTYPE")
    external = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    errors = validate_city_xml(external)
    assert errors and not any("root:" in e for e in errors)


def test_not_well_formed() -> None:
    _bad(b"<Exchange xmlns='urn:leshan:credit:exchange:2'>", "not well-formed")


def test_wrong_namespace() -> None:
    _bad(_doc("XZCF", [], ns="urn:other"), "Exchange")


def test_count_mismatch() -> None:
    _bad(_doc("XZCF", [_record("administrative_penalty", 1)], count=2), "count=2")


def test_delete_must_be_empty_and_add_must_not() -> None:
    full = _record("administrative_penalty", 1, op="delete")
    _bad(_doc("XZCF", [full]), "delete Record must be empty")
    _bad(_doc("XZCF", ['<Record op="add" id="x:1" version="1"/>']), "needs its fields")


def test_bad_op_version_and_duplicate_id() -> None:
    _bad(_doc("XZCF", ['<Record op="upsert" id="x:1" version="1"/>']), "op")
    _bad(_doc("XZCF", ['<Record op="delete" id="x:1" version="0"/>']), "version")
    _bad(_doc("XZCF", ['<Record op="delete" id="x:1" version="1"/>'] * 2), "id repeated")


def test_fields_of_another_type() -> None:
    _bad(_doc("XZXK", [_record("administrative_penalty", 1)]), "does not belong to a XZXK file")


def test_wrong_order_and_missing_required() -> None:
    pairs = to_national("administrative_penalty", valid_record("administrative_penalty", 1, TODAY))
    _bad(_doc("XZCF", [_record("administrative_penalty", 1, pairs=[pairs[1], pairs[0], *pairs[2:]])]), "line")
    missing = [p for p in pairs if p[0] != "CF_WSH"]
    _bad(_doc("XZCF", [_record("administrative_penalty", 1, pairs=missing)]), "CF_WSH")


@pytest.mark.parametrize(("code", "value"), [
    ("CF_NR_FK", "1E-7"), ("CF_NR_FK", "0.1234567"), ("CF_NR_FK", "-1"), ("CF_JDRQ", "2026-11-28"),
    ("CF_CFJGDM", "91350100m000100Y43"), ("CF_XDR_LB", "公司"),
])
def test_bad_values(code: str, value: str) -> None:
    pairs = [(c, value if c == code else v) for c, v in to_national("administrative_penalty", valid_record("administrative_penalty", 7, TODAY))]
    assert code in dict(pairs)
    _bad(_doc("XZCF", [_record("administrative_penalty", 7, pairs=pairs)]), code)


def test_licence_status_code() -> None:
    pairs = [(c, "有效" if c == "XK_ZT" else v) for c, v in to_national("administrative_license", valid_record("administrative_license", 1, TODAY))]
    _bad(_doc("XZXK", [_record("administrative_license", 1, pairs=pairs)]), "XK_ZT")


def test_personal_data_must_be_masked() -> None:
    rec = valid_record("administrative_license", 9, TODAY)
    pairs = to_national("administrative_license", rec, mask_pii=False)
    _bad(_doc("XZXK", [_record("administrative_license", 9, pairs=pairs)]), "XK_XDR_ZJHM must be masked")


def test_list_type_matches_file_type() -> None:
    _bad(_doc("HONGMD", _list_records(black=True)), "HMD_MDLX 黑名单 in a HONGMD file")
