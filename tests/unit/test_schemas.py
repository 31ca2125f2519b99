"""The shared schemas themselves (schemas/*.schema.json)."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from credit_exchange.fields import FIELDS, SCHEMAS_DIR

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
