"""The field table (schemas/fields.json, credit_exchange/standard/fields.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from credit_exchange.standard.fields import FIELDS, SCHEMAS_DIR, WIRE_FORMS, Field

TYPES = [
    "administrative_license", "administrative_penalty", "abnormal_operation", "online_shop_registration",
    "fraud_case", "courier_rating", "payment_risk_event", "credit_profile", "list_entry",
]


def test_record_types_in_standard_order() -> None:
    assert FIELDS.record_types() == TYPES


def test_field_is_frozen() -> None:
    f = FIELDS.fields("administrative_penalty")[0]
    assert f == Field("subject_name", "CF_XDR_MC", "行政相对人名称", "text", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.name = "x"  # type: ignore[misc]


def test_licence_order_and_codes() -> None:
    codes = [f.code for f in FIELDS.fields("administrative_license")]
    assert codes[:3] == ["XK_XDR_MC", "XK_XDR_LB", "XK_XDR_SHXYM"]
    assert codes[-4:] == ["XK_ZT", "XK_LYDW", "XK_LYDWDM", "BZ"]
    assert codes.index("XK_YXQZ") + 1 == codes.index("XK_YXQZI")
    assert len(codes) == 28


def test_penalty_order_and_wire_forms() -> None:
    fields = FIELDS.fields("administrative_penalty")
    names = [f.name for f in fields]
    assert names.index("id_number") == 12 and names[13] == "decision_no"
    assert names.index("publicity_until") == names.index("valid_until") + 1
    by_name = FIELDS.by_name("administrative_penalty")
    assert by_name["penalty_categories"].wire == "list_semicolon"
    assert by_name["fine_amount"].wire == "amount_wan" and by_name["fine_amount"].code == "CF_NR_FK"
    assert by_name["decision_date"].wire == "date"
    assert FIELDS.by_name("administrative_license")["status"].wire == "status_code"


def test_by_code_and_label() -> None:
    assert FIELDS.by_code("abnormal_operation")["YC_YCRQ"].name == "removed_date"
    assert FIELDS.label("abnormal_operation", "removed_date") == "移出日期"
    assert FIELDS.label("administrative_penalty", "authority_uscc") == "处罚机关统一社会信用代码"


def test_fraud_case_codes_are_the_csv_columns() -> None:
    columns = "案件编号, 案件类型, 主体名称, 主体类别, 统一社会信用代码, 证件类型, 证件号码, 涉案平台, 立案日期, 结案日期, 处理结果, 认定严重失信, 办案单位, 记录状态, 备注"
    expected = [c for c in columns.split(", ") if c != "记录状态"]
    assert [f.code for f in FIELDS.fields("fraud_case")] == expected
    assert FIELDS.by_name("fraud_case")["serious"].wire == "bool_shifou"
    op = FIELDS.op_column("fraud_case")
    assert op is not None and op.code == "记录状态" and dict(op.values) == {"有效": "upsert", "撤销": "delete"}
    assert FIELDS.id_field("fraud_case") == "case_no"
    assert FIELDS.op_column("administrative_penalty") is None


@pytest.mark.parametrize("rt", ["courier_rating", "payment_risk_event", "credit_profile"])
def test_types_without_national_codes_use_canonical_names(rt: str) -> None:
    assert all(f.code == f.name for f in FIELDS.fields(rt))


def test_list_entry_codes() -> None:
    codes = [f.code for f in FIELDS.fields("list_entry")]
    assert all(c.startswith("HMD_") for c in codes[:-1]) and codes[-1] == "BZ"


def test_pii_flags() -> None:
    flagged = {(rt, f.name) for rt in TYPES for f in FIELDS.fields(rt) if f.pii}
    assert {name for _, name in flagged} == {"id_number", "legal_rep_id_number", "phone"}
    assert ("online_shop_registration", "phone") in flagged
    assert ("administrative_license", "legal_rep_id_number") in flagged
    assert ("list_entry", "id_number") in flagged


@pytest.mark.parametrize("rt", TYPES)
def test_table_is_consistent(rt: str) -> None:
    fields = FIELDS.fields(rt)
    assert len({f.name for f in fields}) == len(fields)
    assert len({f.code for f in fields}) == len(fields)
    assert all(f.wire in WIRE_FORMS and f.label for f in fields)
    assert list(FIELDS.by_name(rt)) == [f.name for f in fields]
    assert list(FIELDS.by_code(rt)) == [f.code for f in fields]


@pytest.mark.parametrize("rt", TYPES)
def test_table_matches_schema_properties(rt: str) -> None:
    schema = json.loads((SCHEMAS_DIR / f"{rt}.schema.json").read_text(encoding="utf-8"))
    assert list(schema["properties"]) == [f.name for f in FIELDS.fields(rt)]


def test_unknown_record_type() -> None:
    with pytest.raises(KeyError):
        FIELDS.fields("nope")
