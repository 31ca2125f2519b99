"""National ⇄ canonical mapping (credit_exchange/standard/mapping.py)."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.mapping import from_canonical_json, from_national, parse_number, to_national
from sandbox.samples import valid_record

TODAY = datetime.date(2026, 11, 28)
WIRE_TYPES = [rt for rt in FIELDS.record_types() if rt != "credit_profile"]


@pytest.mark.parametrize("rt", WIRE_TYPES)
@pytest.mark.parametrize("i", range(12))
def test_round_trip(rt: str, i: int) -> None:
    rec = valid_record(rt, i, TODAY)
    wire = to_national(rt, rec, mask_pii=False)
    mapped = from_national(rt, dict(wire))
    assert mapped.unknown == []
    assert mapped.data == rec


def test_to_national_order_and_forms() -> None:
    rec = valid_record("administrative_penalty", 5, TODAY)  # 罚款 + 没收违法所得
    rec["fine_amount"] = 0.000001
    pairs = to_national("administrative_penalty", rec)
    codes = [c for c, _ in pairs]
    order = [f.code for f in FIELDS.fields("administrative_penalty")]
    assert codes == [c for c in order if c in codes]
    values = dict(pairs)
    assert values["CF_NR_FK"] == "0.000001"  # never 1e-06
    assert values["CF_CFLB"] == "罚款;没收违法所得"
    assert values["CF_JDRQ"] == rec["decision_date"].replace("-", "/")
    assert "BZ" not in values  # absent values are omitted


def test_to_national_masks_by_default() -> None:
    rec = valid_record("administrative_license", 9, TODAY)  # a natural person with a 身份证
    values = dict(to_national("administrative_license", rec))
    assert values["XK_XDR_ZJHM"] == rec["id_number"][:6] + "********" + rec["id_number"][-4:]
    assert dict(to_national("administrative_license", rec, mask_pii=False))["XK_XDR_ZJHM"] == rec["id_number"]


def test_to_national_status_bool_and_integral_amount() -> None:
    lic = {"status": "无效", "valid_to": "2099-12-31"}
    assert dict(to_national("administrative_license", lic)) == {"XK_YXQZI": "2099/12/31", "XK_ZT": "2"}
    assert dict(to_national("fraud_case", {"serious": False}))["认定严重失信"] == "否"
    assert dict(to_national("administrative_penalty", {"fine_amount": 2}))["CF_NR_FK"] == "2"
    assert dict(to_national("administrative_penalty", {"fine_amount": 12345678.5}))["CF_NR_FK"] == "12345678.5"


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026/03/01", "2026-03-01"), ("2026-03-01", "2026-03-01"), (" 2026/03/01 ", "2026-03-01"),
    ("2026/3/1", "2026/3/1"), ("2026年3月1日", "2026年3月1日"), ("2026-03/01", "2026-03/01"), ("20260301", "20260301"),
])
def test_xml_dates(raw: str, expected: str) -> None:
    assert from_national("administrative_penalty", {"CF_JDRQ": raw}).data == {"decision_date": expected}


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-03-01", "2026-03-01"), ("2026/3/1", "2026-03-01"), ("2026/03/01", "2026-03-01"),
    ("2026年3月1日", "2026-03-01"), ("2026年12月31日", "2026-12-31"), ("2026-3-1", "2026-3-1"), ("2026.03.01", "2026.03.01"),
])
def test_csv_dates(raw: str, expected: str) -> None:
    assert from_national("fraud_case", {"立案日期": raw}).data == {"filed_date": expected}


@pytest.mark.parametrize(("raw", "expected"), [("1", "有效"), ("2", "无效"), ("3", "3")])
def test_status_code(raw: str, expected: str) -> None:
    assert from_national("administrative_license", {"XK_ZT": raw}).data == {"status": expected}


def test_categories_split_trimmed_empties_dropped() -> None:
    assert from_national("administrative_penalty", {"CF_CFLB": " 警告; 罚款;;"}).data == {"penalty_categories": ["警告", "罚款"]}
    assert from_national("administrative_penalty", {"CF_CFLB": " ; "}).data == {}


@pytest.mark.parametrize(("raw", "expected"), [
    ("0.2", 0.2), ("2", 2), ("2.000", 2), ("0.123456", 0.123456), ("0.1234567", 0.1234567), ("-1", -1),
    ("1e3", "1e3"), ("1E-7", "1E-7"), ("abc", "abc"), ("1,000", "1,000"), (".5", 0.5),
    ("12345678901234.123456", "12345678901234.123456"),  # a double cannot carry it: kept as text
])
def test_amounts(raw: str, expected: object) -> None:
    out = from_national("administrative_penalty", {"CF_NR_FK": raw}).data["fine_amount"]
    assert out == expected and type(out) is type(expected)


def test_integers_numbers_booleans() -> None:
    assert from_national("courier_rating", {"rating_year": "2026", "score": "95.5", "violations_count": "0"}).data == {
        "rating_year": 2026, "score": 95.5, "violations_count": 0}
    assert from_national("courier_rating", {"rating_year": "2026.5"}).data == {"rating_year": "2026.5"}
    assert from_national("fraud_case", {"认定严重失信": "是"}).data == {"serious": True}
    assert from_national("fraud_case", {"认定严重失信": "否"}).data == {"serious": False}
    assert from_national("fraud_case", {"认定严重失信": "对"}).data == {"serious": "对"}


def test_trim_empty_none_and_unknown() -> None:
    mapped = from_national("administrative_penalty", {"CF_XDR_MC": "  某公司 ", "CF_WSH": "   ", "BZ": None, "CF_XXX": "1"})
    assert mapped.data == {"subject_name": "某公司"}
    assert mapped.unknown == ["CF_XXX"]


def test_op_column_is_not_unknown() -> None:
    mapped = from_national("fraud_case", {"案件编号": "A1", "记录状态": "有效"})
    assert mapped.data == {"case_no": "A1"} and mapped.unknown == []


def test_from_canonical_json() -> None:
    mapped = from_canonical_json("administrative_penalty", {
        "subject_name": " 某公司 ", "remark": "", "penalty_categories": [" 罚款 ", ""], "fine_amount": 0.2,
        "suspended_licence": None, "extra": 1})
    assert mapped.data == {"subject_name": "某公司", "penalty_categories": ["罚款"], "fine_amount": 0.2}
    assert mapped.unknown == ["extra"]


def test_parse_number_never_loses_decimals() -> None:
    assert parse_number("0.1") == 0.1
    assert parse_number("99999999.999999") == 99999999.999999
    # 16 significant digits a double cannot carry: kept as text, the schema reports it.
    assert parse_number("9999999999.999999") == "9999999999.999999"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(WIRE_TYPES), st.data())
def test_mapping_never_raises(rt: str, data: st.DataObject) -> None:
    codes = [f.code for f in FIELDS.fields(rt)] + ["UNKNOWN"]
    raw = data.draw(st.dictionaries(st.sampled_from(codes), st.one_of(st.none(), st.text(max_size=30))))
    mapped = from_national(rt, raw)
    assert set(mapped.data) <= set(FIELDS.by_name(rt))
    assert all(v != "" for v in mapped.data.values())


def _parse_number_reference(s: str) -> object:
    """The rule as data-standard.md says it, without the fast paths of ``parse_number``."""
    from decimal import Decimal, InvalidOperation

    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", s):
        return s
    try:
        d = Decimal(s)
    except InvalidOperation:
        return s
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else s


@given(st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"[+-]?[0-9]{0,20}(\.[0-9]{0,12})?", fullmatch=True),
))
@settings(max_examples=1000)
def test_parse_number_equals_the_reference_rule(s: str) -> None:
    got, expected = parse_number(s), _parse_number_reference(s)
    assert (type(got), got) == (type(expected), expected)
