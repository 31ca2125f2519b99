"""City platform formats (credit_exchange/publish/city/xml.py) and the publication diff rules (credit_exchange/publish/city/push.py)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from lxml import etree

from credit_exchange.publish.city.push import Held, decide, past_publicity, published
from credit_exchange.publish.city.xml import (
    CityReceipt,
    CityRecord,
    CityXmlError,
    ReceiptItem,
    check_exchange,
    file_name,
    ok_line,
    parse_ok,
    parse_receipt,
    sm3_hex,
    write_exchange,
    write_receipt,
)
from credit_exchange.publish.city.xsd import NS, validate_city_xml
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.mapping import to_national
from credit_exchange.timeutil import LOCAL
from sandbox.samples import valid_record

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 29, 1, 30, 5, tzinfo=LOCAL)


def _doc(city_type: str, record_type: str, n: int = 20) -> bytes:
    records = [CityRecord(f"x:{record_type}:{i}", record_type, "add" if i % 2 else "update", i + 1,
                          valid_record(schema_type(record_type), i, TODAY)) for i in range(n)]
    records.append(CityRecord("x:gone", record_type, "delete", 7))
    out = io.BytesIO()
    write_exchange(out, city_type, batch_id="b1", created_at=AT, records=records, count=len(records))
    return out.getvalue()


def test_file_name() -> None:
    assert file_name("XZCF", AT, 3) == "XZCF_511123_20261129013005_0003.xml"
    with pytest.raises(ValueError):
        file_name("XYZ", AT, 1)
    with pytest.raises(ValueError):
        file_name("XZXK", AT, 10000)


@pytest.mark.parametrize(("city_type", "record_type"), [
    ("XZXK", "administrative_license"), ("XZCF", "administrative_penalty"), ("JYYC", "abnormal_operation")])
def test_written_documents_are_valid_and_in_national_form(city_type: str, record_type: str) -> None:
    body = _doc(city_type, record_type)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert validate_city_xml(body) == []
    check_exchange(body, "X.xml")
    root = etree.fromstring(body)
    assert (root.get("type"), root.get("region"), root.get("count")) == (city_type, "511123", "21")
    for i, rec in enumerate(root.findall(f"{{{NS}}}Record")[:-1]):
        got = [(etree.QName(c).localname, c.text) for c in rec]
        assert got == to_national(record_type, valid_record(record_type, i, TODAY), mask_pii=True)
    last = root.findall(f"{{{NS}}}Record")[-1]
    assert (last.get("op"), len(last)) == ("delete", 0)


def test_list_documents() -> None:
    # valid_record("list_entry") alternates black (even) and red (odd) entries.
    black = [CityRecord(f"hub:blacklist:{i}", "blacklist", "add", 1, valid_record("list_entry", i, TODAY))
             for i in range(0, 20, 2)]
    red = [CityRecord(f"hub:redlist:{i}", "redlist", "add", 1, valid_record("list_entry", i, TODAY))
           for i in range(1, 20, 2)]
    for city_type, recs in (("HEIMD", black), ("HONGMD", red)):
        out = io.BytesIO()
        write_exchange(out, city_type, batch_id="b", created_at=AT, records=recs, count=len(recs))
        assert validate_city_xml(out.getvalue()) == []


def test_id_numbers_are_masked() -> None:
    body = _doc("XZCF", "administrative_penalty", 30)
    full = {valid_record("administrative_penalty", i, TODAY).get(f) for i in range(30)
            for f in ("id_number", "legal_rep_id_number")} - {None}
    assert full
    assert not [n for n in full if n.encode() in body]
    assert b"********" in body


def test_a_bad_document_raises() -> None:
    data = {**valid_record("administrative_license", 1, TODAY), "authority_uscc": "not a uscc"}
    out = io.BytesIO()
    write_exchange(out, "XZXK", batch_id="b", created_at=AT, records=[CityRecord("x:1", "administrative_license",
                                                                                 "add", 1, data)], count=1)
    with pytest.raises(CityXmlError, match="XK_XKJGDM"):
        check_exchange(out.getvalue(), "XZXK_511123_20261129013005_0001.xml")


def test_ok_line() -> None:
    digest = sm3_hex(b"abc")
    assert digest == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    line = ok_line("A.xml", 3, digest)
    assert line == f"A.xml|3|{digest}\n".encode()
    assert parse_ok(line) == ("A.xml", 3, digest)
    for bad in (b"A.xml|3", b"A.xml|x|" + digest.encode(), line + line):
        with pytest.raises(ValueError):
            parse_ok(bad)


def test_receipt_round_trip() -> None:
    receipt = CityReceipt("F.xml", "partial", [ReceiptItem("a", "ok"), ReceiptItem("b", "error", "E1", "错误")])
    assert parse_receipt(write_receipt(receipt), expected_file="F.xml") == receipt
    with pytest.raises(CityXmlError):
        parse_receipt(write_receipt(receipt), expected_file="G.xml")


def test_hostile_receipts_are_refused() -> None:
    doctype = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
               b'<Receipt xmlns="' + NS.encode() + b'" file="F.xml" status="accepted"><Item id="a" status="ok">&e;'
               b'</Item></Receipt>')
    for body in (doctype, b"<Receipt", b"<Other/>"):
        with pytest.raises(CityXmlError):
            parse_receipt(body)


def test_publication_rules() -> None:
    d = date(2027, 3, 1)
    assert published("administrative_license", "upsert", {"status": "有效"}, d)
    assert not published("administrative_license", "upsert", {"status": "无效"}, d)
    assert not published("administrative_license", "delete", {}, d)
    pen = {"decision_date": "2027-01-01", "publicity_until": "2027-04-01"}
    assert published("administrative_penalty", "upsert", pen, d)
    assert published("administrative_penalty", "upsert", pen, date(2027, 4, 1))
    assert not published("administrative_penalty", "upsert", pen, date(2027, 4, 2))
    assert past_publicity("administrative_penalty", "upsert", pen, date(2027, 4, 2))
    assert not published("administrative_penalty", "upsert", pen, date(2026, 12, 31))  # decided later
    assert not published("administrative_penalty", "upsert", {"decision_date": "2027-01-01"}, d)  # 警告 only
    assert published("abnormal_operation", "upsert", {"listed_date": "2026-01-01"}, d)
    assert not published("abnormal_operation", "upsert", {"removed_date": "2026-05-01"}, d)
    assert published("redlist", "upsert", {"status": "有效"}, d)
    assert not published("blacklist", "upsert", {"status": "已移出"}, d)
    assert not published("online_shop_registration", "upsert", {"status": "正常"}, d)


@pytest.mark.parametrize(("state", "publish", "version", "op"), [
    (None, True, 1, "add"),
    (None, False, 1, None),
    (Held(1, "add", "sent"), True, 1, None),
    (Held(1, "add", "ok"), True, 2, "update"),
    (Held(1, "update", "ok"), False, 2, "delete"),
    (Held(2, "delete", "ok"), True, 3, "add"),          # withdrawn, wanted again
    (Held(2, "delete", "ok"), False, 3, None),
    (Held(1, "add", "error"), True, 1, None),            # refused: stays failed
    (Held(1, "add", "error"), True, 2, "add"),           # fixed at the source
    (Held(1, "update", "error"), False, 2, None),        # refused, then unwanted: not held
    (Held(2, "delete", "error"), False, 2, None),        # a refused withdrawal stays failed ...
    (Held(2, "delete", "error"), False, 3, "delete"),    # ... until a new version comes
])
def test_decide(state: Held | None, publish: bool, version: int, op: str | None) -> None:
    assert decide(state, publish, version) == op
