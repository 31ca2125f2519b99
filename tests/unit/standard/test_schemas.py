"""The shared schemas themselves (schemas/*.schema.json)."""

from __future__ import annotations

import datetime
import json
import re

import jsonschema
import pytest

from credit_exchange.standard import checks
from credit_exchange.standard.fields import FIELDS, SCHEMAS_DIR, schema_type
from credit_exchange.standard.validation import get_validator
from sandbox.samples import valid_record

ID_RE = re.compile(r"^https://schemas\.qianwei\.gov\.cn/credit/(\d+\.\d+\.\d+)/([a-z_]+)\.schema\.json$")
RECORD_TYPES = FIELDS.record_types()
ALL = ["common", "county_record", *RECORD_TYPES]


def _load(name: str) -> dict:
    return json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ALL)
def test_schema_is_valid_draft_2020_12_with_versioned_id(name: str) -> None:
    schema = _load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    m = ID_RE.match(schema["$id"])
    assert m and m.group(2) == name
    assert m.group(1) == FIELDS.version  # schemas and field table move together


def test_every_schema_file_is_known() -> None:
    assert sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS_DIR.glob("*.schema.json")) == sorted(ALL)


@pytest.mark.parametrize("name", RECORD_TYPES)
def test_record_schema_is_closed_and_uses_common(name: str) -> None:
    schema = _load(name)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert "common.schema.json#/$defs/" in text
    # Shared formats are written once, in common: records only reference them.
    for fmt in ("uscc", "date"):
        assert f'"format": "{fmt}"' not in text


def test_common_definitions() -> None:
    defs = _load("common")["$defs"]
    assert defs["subject_category"]["enum"] == ["法人及非法人组织", "自然人", "个体工商户"]
    assert defs["id_type"]["enum"] == ["身份证", "护照号", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "外国人永久居留身份证"]
    assert defs["uscc"]["format"] == "uscc" and defs["org_code"]["format"] == "org-code"
    assert defs["amount_wan"] == {**defs["amount_wan"], "type": "number", "minimum": 0}
    assert len(defs["penalty_category"]["enum"]) == 14


def test_extra_rules_are_marked_in_the_schemas() -> None:
    marked = {}
    for name in RECORD_TYPES:
        for prop, spec in _load(name)["properties"].items():
            if "x-not-before" in spec:
                marked[(name, prop)] = spec["x-not-before"]
            if spec.get("x-not-future"):
                marked[(name, prop)] = "today"
    assert marked == {
        ("administrative_license", "decision_date"): "today",
        ("administrative_license", "valid_to"): "valid_from",
        ("administrative_penalty", "decision_date"): "today",
        ("administrative_penalty", "valid_until"): "decision_date",
        ("abnormal_operation", "removed_date"): "listed_date",
        ("fraud_case", "closed_date"): "filed_date",
        ("list_entry", "valid_to"): "listed_date",
    }


def test_penalty_has_publicity_until_licence_does_not() -> None:
    assert "publicity_until" in _load("administrative_penalty")["properties"]
    assert "publicity_until" not in _load("administrative_license")["properties"]


def test_changelog_names_the_version() -> None:
    text = (SCHEMAS_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {FIELDS.version}" in text


# -- self-contained: a standard validator gives the hub's verdict on structure -------------------

# What only the hub's formats judge: check characters, real days, and the rules a schema cannot say.
_CHECKS_ONLY = {"uscc_checksum", "uscc_org_code", "org_code_checksum", "id_number_checksum", "id_number_birthdate",
                "format_date", "format_datetime", "date_future", "date_order", "amount_decimals"}
_TODAY = datetime.date(2026, 11, 28)
_USCC = ["91511123MA62Y0PK1G", "91511123ma62y0pk1g", "91511123MA62Y0PK1", "91511123MA62Y0PK1GG",
         "91511123MA62I0PK1G", "91511123MA62Y0PK1G\n", "９1511123MA62Y0PK1G", "91511123MA62Y0PK1H", ""]
_DATES = ["2026-11-20", "2026-02-30", "2026-13-01", "2026-11-00", "2026/11/20", "2026-11-20\n", "２０２６-11-20",
          "20261120", "2026-1-20"]
_VALUES = {
    "administrative_penalty": {"authority_uscc": _USCC, "decision_date": _DATES, "org_code": [
        "MA62Y0PK-1", "MA62Y0PK1", "MA62Y0PK-2", "ma62y0pk-1", "MA62Y0PK-1\n", "MA62Y0PK--1"]},
    "online_shop_registration": {
        "shop_url": ["https://shop1.taobao.com", "http://a.jd.com/x?y=1", "HTTPS://A.COM", "ftp://a.com", "https://",
                     "shop.taobao.com", "https://a .com", "https://a.com/\n", "https://user@a.com/"],
        "phone": ["13812345678", "0833-4212345", "08334212345", "12812345678", "1381234567", "138123456789",
                  "0833-42123", "+8613812345678", "13812345678\n", "１３８１２３４５６７８"],
    },
    "fraud_case": {"id_number": ["110101199003071237", "11010119900307123X", "110101199003071230", "11010119900307123x",
                                 "110101199013071233", "1101011990030712", "110101199003071237\n"]},
}


def _plain(record_type: str) -> jsonschema.Draft202012Validator:
    """A standard validator as a department might run it: the schemas, no format assertions of ours."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schemas = [_load(p.name.removesuffix(".schema.json")) for p in SCHEMAS_DIR.glob("*.schema.json")]
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas)
    return jsonschema.Draft202012Validator(_load(schema_type(record_type)), registry=registry)


@pytest.mark.parametrize(("record_type", "field", "value"), [
    (rt, f, v) for rt, fields in _VALUES.items() for f, values in fields.items() for v in values])
def test_a_standard_validator_gives_the_hubs_verdict_on_structure(record_type: str, field: str, value: str) -> None:
    data = valid_record(record_type, 3, _TODAY)
    if field == "id_number":
        data.update({"subject_category": "自然人", "id_type": "身份证"})
        data.pop("uscc", None)
    data[field] = value
    hub = {p.code for p in get_validator(_TODAY).check(record_type, data)}
    plain_ok = _plain(record_type).is_valid(data)
    if not hub:
        assert plain_ok, f"{value!r}: the hub accepts what a standard validator refuses"
    elif plain_ok:
        assert hub <= _CHECKS_ONLY, f"{value!r}: structure ({hub - _CHECKS_ONLY}) only the hub's formats see"


def test_only_check_characters_and_real_days_are_formats_of_the_hubs_own() -> None:
    formats = set()
    for p in SCHEMAS_DIR.glob("*.schema.json"):
        formats |= set(re.findall(r'"format": "([^"]+)"', p.read_text(encoding="utf-8")))
    assert formats == {"uscc", "org-code", "gb11643", "date", "date-time"}
    assert set(checks.FORMATS) == formats
