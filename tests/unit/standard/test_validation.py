"""Record validation (credit_exchange/standard/validation.py): every rule of data-standard.md at its boundaries."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_exchange.standard import checks
from credit_exchange.standard.fields import FIELDS, SCHEMAS_DIR
from credit_exchange.standard.validation import Problem, _engines, get_validator, problems_for_unknown
from sandbox.samples import make_id_number, make_uscc, valid_record

TODAY = datetime.date(2026, 11, 28)
TOMORROW = TODAY + datetime.timedelta(days=1)
V = get_validator(TODAY)
TYPES = FIELDS.record_types()
ORG, PLACEHOLDER_BIZ, BIZ, PERSON = 0, 3, 8, 9  # sample indexes by subject kind
P = checks.USCC_PLACEHOLDER


def rec(rt: str, i: int = ORG, **changes: Any) -> dict[str, Any]:
    r = valid_record(rt, i, TODAY)
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def codes(rt: str, r: dict[str, Any]) -> set[tuple[str, str]]:
    problems = V.check(rt, r)
    # The fast path agrees with the reference on every example here.
    assert V.fast_is_valid(rt, r) == (not V.reference_check(rt, r))
    return {(p.field, p.code) for p in problems}


def person_id(born: datetime.date, seq: str = "123") -> str:
    first17 = f"511123{born:%Y%m%d}{seq}"
    return first17 + checks.id_check_char(first17)


# --- samples --------------------------------------------------------------

@pytest.mark.parametrize("rt", TYPES)
def test_samples_are_valid(rt: str) -> None:
    results = V.check_many(rt, [valid_record(rt, i, TODAY) for i in range(60)])
    assert results == [[]] * 60


def test_samples_are_deterministic_and_realistic() -> None:
    a = valid_record("administrative_penalty", 5, TODAY)
    assert a == valid_record("administrative_penalty", 5, TODAY)
    assert a["subject_name"].startswith("犍为县") and a["subject_name"].endswith("有限公司")
    assert checks.uscc_problems(a["uscc"]) == []
    assert checks.id_number_problems(make_id_number(5, TODAY), TODAY) == []
    assert checks.uscc_problems(make_uscc("92", "511123", 42)) == []
    kinds = {valid_record("administrative_license", i, TODAY)["subject_category"] for i in range(10)}
    assert kinds == {"法人及非法人组织", "个体工商户", "自然人"}


# --- required -------------------------------------------------------------

def _required(rt: str) -> list[str]:
    return json.loads((SCHEMAS_DIR / f"{rt}.schema.json").read_text(encoding="utf-8"))["required"]


STANDARD_REQUIRED = {
    "administrative_license": {"subject_name", "subject_category", "decision_doc_name", "decision_doc_no", "licence_category",
                               "content", "decision_date", "valid_from", "valid_to", "authority", "authority_uscc", "status",
                               "source_unit", "source_unit_uscc"},
    "administrative_penalty": {"subject_name", "subject_category", "decision_no", "violation_type", "violation_facts",
                               "legal_basis", "penalty_categories", "penalty_content", "decision_date", "valid_until",
                               "authority", "authority_uscc", "source_unit", "source_unit_uscc"},
    "abnormal_operation": {"subject_name", "uscc", "listed_reason", "listed_date", "listed_by", "source_unit", "source_unit_uscc"},
    "online_shop_registration": {"shop_name", "platform", "shop_url", "operator_name", "subject_category", "registered_date", "status"},
    "fraud_case": {"case_no", "case_type", "subject_name", "subject_category", "filed_date", "serious", "handling_unit"},
    "courier_rating": {"enterprise_name", "uscc", "licence_no", "rating_year", "grade", "status"},
    "payment_risk_event": {"event_id", "merchant_name", "merchant_uscc", "institution_name", "institution_licence",
                           "event_type", "event_date", "risk_level", "action_taken"},
    "credit_profile": {"subject_key", "subject_kind", "subject_name", "record_counts", "record_ids", "list_status", "updated_at"},
    "list_entry": {"subject_name", "subject_category", "list_type", "reason", "basis", "listed_date", "valid_to", "decided_by", "status"},
}


@pytest.mark.parametrize("rt", TYPES)
def test_required_fields_match_the_standard(rt: str) -> None:
    assert set(_required(rt)) == STANDARD_REQUIRED[rt]


@pytest.mark.parametrize(("rt", "field"), [(rt, f) for rt in TYPES for f in sorted(STANDARD_REQUIRED[rt])])
def test_each_required_field(rt: str, field: str) -> None:
    r = rec(rt, 1)
    r.pop(field)
    assert (field, "required") in codes(rt, r)


# --- lengths: N ok, N + 1 refused -----------------------------------------

LENGTHS = [
    ("administrative_license", f, n) for f, n in [
        ("subject_name", 200), ("business_reg_no", 50), ("tax_reg_no", 50), ("institution_cert_no", 50),
        ("social_org_reg_no", 50), ("legal_rep_name", 50), ("legal_rep_id_number", 64), ("decision_doc_name", 64),
        ("decision_doc_no", 64), ("certificate_name", 64), ("licence_no", 64), ("content", 4000), ("authority", 200),
        ("source_unit", 200), ("remark", 512)]
] + [
    ("administrative_penalty", f, n) for f, n in [
        ("subject_name", 200), ("legal_rep_name", 50), ("decision_no", 128), ("violation_type", 2000),
        ("violation_facts", 5000), ("legal_basis", 2048), ("penalty_content", 4000), ("remark", 512)]
] + [
    ("abnormal_operation", "listed_reason", 500), ("abnormal_operation", "remark", 512),
    ("online_shop_registration", "business_scope", 1000), ("online_shop_registration", "remark", 512),
    ("fraud_case", "case_no", 64), ("fraud_case", "platform", 200), ("fraud_case", "outcome", 1000),
    ("fraud_case", "remark", 512), ("courier_rating", "licence_no", 64), ("payment_risk_event", "event_id", 64),
    ("payment_risk_event", "remark", 512), ("list_entry", "remark", 512),
]


@pytest.mark.parametrize(("rt", "field", "n"), LENGTHS)
def test_max_length(rt: str, field: str, n: int) -> None:
    r = rec(rt, ORG, legal_rep_id_type=None)  # a free-text legal-rep ID number
    r[field] = "犍" * n  # lengths are in characters, not bytes
    assert codes(rt, r) == set()
    r[field] = "犍" * (n + 1)
    assert codes(rt, r) == {(field, "max_length")}


def test_length_counts_astral_characters_once() -> None:
    r = rec("fraud_case", case_no="𠀀" * 64)
    assert codes("fraud_case", r) == set()
    r["case_no"] = "𠀀" * 65
    assert codes("fraud_case", r) == {("case_no", "max_length")}


def test_empty_string_is_no_value() -> None:
    assert ("remark", "empty") in codes("administrative_penalty", rec("administrative_penalty", remark=""))


# --- enumerations -----------------------------------------------------------

ENUMS = [
    ("administrative_license", "subject_category", ["法人及非法人组织", "个体工商户", "自然人"]),
    ("administrative_license", "licence_category", ["普通", "特许", "认可", "核准", "登记", "其他"]),
    ("administrative_license", "status", ["有效", "无效"]),
    ("administrative_license", "legal_rep_id_type", ["护照号", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "外国人永久居留身份证"]),
    ("online_shop_registration", "status", ["正常", "注销"]),
    ("fraud_case", "case_type", ["刷单炒信", "虚假交易", "网络诈骗", "侵犯公民个人信息", "制假售假", "恶意评价", "其他"]),
    ("courier_rating", "grade", ["A", "B", "C", "D"]),
    ("courier_rating", "status", ["正常", "停业", "注销"]),
    ("payment_risk_event", "event_type", ["套现", "欺诈", "洗钱可疑", "虚假交易", "其他"]),
    ("payment_risk_event", "risk_level", ["高", "中", "低"]),
    ("payment_risk_event", "action_taken", ["风险提示", "限制收款", "暂停支付", "终止服务"]),
    ("list_entry", "list_type", ["黑名单"]),
    ("list_entry", "status", ["有效", "已移出"]),
    ("credit_profile", "list_status", ["red", "black", "none"]),
]


@pytest.mark.parametrize(("rt", "field", "allowed"), ENUMS)
def test_enumerations(rt: str, field: str, allowed: list[str]) -> None:
    for value in allowed:
        r = rec(rt, ORG, **{field: value})
        if field == "subject_category" and value != "法人及非法人组织":
            continue  # the subject rules are tested on their own below
        assert codes(rt, r) == set(), value
    for bad in ("其它", "1", "a", "有效 "):
        if bad not in allowed:
            assert codes(rt, rec(rt, ORG, **{field: bad})) >= {(field, "enum")}


def test_licence_status_wire_form_is_not_canonical() -> None:
    assert codes("administrative_license", rec("administrative_license", status="1")) == {("status", "enum")}


def test_id_type_enum() -> None:
    r = rec("administrative_license", PERSON, id_type="居民身份证")
    assert ("id_type", "enum") in codes("administrative_license", r)


# --- penalty categories -----------------------------------------------------

def test_penalty_categories_list_rules() -> None:
    rt = "administrative_penalty"
    assert codes(rt, rec(rt, penalty_categories=[])) == {("penalty_categories", "empty_list")}
    assert codes(rt, rec(rt, penalty_categories=["警告", "警告"])) == {("penalty_categories", "duplicate_items")}
    assert codes(rt, rec(rt, penalty_categories=["警告", "批评"])) == {("penalty_categories", "enum")}
    assert ("penalty_categories", "type") in codes(rt, rec(rt, penalty_categories="警告"))
    every = ["警告", "通报批评", "降低资质等级", "限制开展生产经营活动", "责令关闭", "限制从业", "行政拘留", "其他"]
    assert codes(rt, rec(rt, penalty_categories=every)) == set()


@pytest.mark.parametrize(("category", "field", "value"), [
    ("罚款", "fine_amount", 0.2),
    ("没收违法所得", "confiscation_amount", 1),
    ("没收非法财物", "confiscation_amount", 1),
    ("暂扣许可证件", "suspended_licence", "食品经营许可证 JY15111230000001"),
    ("吊销许可证件", "suspended_licence", "食品经营许可证 JY15111230000001"),
])
def test_penalty_category_conditionals(category: str, field: str, value: Any) -> None:
    rt = "administrative_penalty"
    r = rec(rt, penalty_categories=["警告", category])
    assert codes(rt, r) == {(field, "required")}
    r[field] = value
    assert codes(rt, r) == set()
    # Without the category the field is optional, and allowed.
    assert codes(rt, rec(rt, penalty_categories=["警告"], **{field: value})) == set()


# --- amounts ----------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (0, set()), (0.0, set()), (0.2, set()), (0.123456, set()), (20000, set()), (123456789.123456, set()),
    (0.1234567, {("fine_amount", "amount_decimals")}), (1e-7, {("fine_amount", "amount_decimals")}),
    (-0.000001, {("fine_amount", "minimum")}), (-1, {("fine_amount", "minimum")}),
    ("0.2", {("fine_amount", "type")}), (True, {("fine_amount", "type")}),
])
def test_amounts(value: Any, expected: set[tuple[str, str]]) -> None:
    rt = "administrative_penalty"
    assert codes(rt, rec(rt, 7, fine_amount=value)) == expected


def test_confiscation_amount_rules_too() -> None:
    rt = "administrative_penalty"
    r = rec(rt, 5, confiscation_amount=1.0000001)
    assert codes(rt, r) == {("confiscation_amount", "amount_decimals")}


def test_amount_yuan_and_score_and_integers() -> None:
    assert codes("payment_risk_event", rec("payment_risk_event", amount_yuan=-0.01)) == {("amount_yuan", "minimum")}
    assert codes("payment_risk_event", rec("payment_risk_event", amount_yuan=0)) == set()
    rt = "courier_rating"
    for year, ok in ((1999, False), (2000, True), (2100, True), (2101, False)):
        assert (codes(rt, rec(rt, rating_year=year)) == set()) is ok
    assert codes(rt, rec(rt, rating_year="2026")) == {("rating_year", "type")}
    assert codes(rt, rec(rt, rating_year=2026.5)) == {("rating_year", "type")}
    for score, ok in ((0, True), (100, True), (100.5, False), (-1, False), (99.5, True)):
        assert (codes(rt, rec(rt, score=score)) == set()) is ok
    assert codes(rt, rec(rt, violations_count=-1)) == {("violations_count", "minimum")}
    assert codes(rt, rec(rt, violations_count=0)) == set()


def test_boolean_is_boolean() -> None:
    assert codes("fraud_case", rec("fraud_case", serious="是")) == {("serious", "type")}
    assert codes("fraud_case", rec("fraud_case", serious=1)) == {("serious", "type")}


# --- dates ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2026/11/28", "2026-02-29", "20261128", "2026-11-28 ", "2026-1-1"])
def test_date_format(value: str) -> None:
    assert codes("abnormal_operation", rec("abnormal_operation", listed_date=value)) == {("listed_date", "format_date")}


@pytest.mark.parametrize("rt", ["administrative_license", "administrative_penalty"])
def test_decision_date_today_and_tomorrow(rt: str) -> None:
    ok = rec(rt, decision_date=TODAY.isoformat())
    if rt == "administrative_license":
        ok["valid_from"] = TODAY.isoformat()
    assert codes(rt, ok) == set()
    bad = dict(ok, decision_date=TOMORROW.isoformat())
    assert ("decision_date", "date_future") in codes(rt, bad)


def test_date_future_is_per_run_date() -> None:
    r = rec("administrative_penalty", decision_date=TOMORROW.isoformat())
    assert get_validator(TOMORROW).check("administrative_penalty", r) == []


@pytest.mark.parametrize(("rt", "earlier", "later", "extra"), [
    ("administrative_license", "valid_from", "valid_to", {}),
    ("administrative_penalty", "decision_date", "valid_until", {}),
    ("abnormal_operation", "listed_date", "removed_date", {"removed_reason": "已补报", "removed_by": "犍为县市场监督管理局"}),
    ("fraud_case", "filed_date", "closed_date", {}),
    ("list_entry", "listed_date", "valid_to", {}),
])
def test_date_order(rt: str, earlier: str, later: str, extra: dict[str, str]) -> None:
    day = "2025-06-30"
    r = rec(rt, **{earlier: day, later: day}, **extra)
    assert codes(rt, r) == set()
    r[later] = "2025-06-29"
    assert codes(rt, r) == {(later, "date_order")}


def test_long_term_licence() -> None:
    assert codes("administrative_license", rec("administrative_license", valid_to="2099-12-31")) == set()


def test_date_rules_skip_bad_dates() -> None:
    # A malformed date is reported once, as a format error, not also as an order error.
    r = rec("administrative_penalty", valid_until="2020/01/01")
    assert codes("administrative_penalty", r) == {("valid_until", "format_date")}


# --- subject rules ----------------------------------------------------------

SUBJECT_TYPES = ["administrative_license", "administrative_penalty", "online_shop_registration", "fraud_case"]


@pytest.mark.parametrize("rt", SUBJECT_TYPES)
def test_person_needs_id_and_no_uscc(rt: str) -> None:
    person = rec(rt, PERSON)
    assert person["subject_category"] == "自然人" and codes(rt, person) == set()
    assert codes(rt, rec(rt, PERSON, id_type=None)) == {("id_type", "required")}
    assert codes(rt, rec(rt, PERSON, id_number=None)) == {("id_number", "required")}
    assert codes(rt, rec(rt, PERSON, uscc=make_uscc("91", "511123", 1))) == {("uscc", "not_allowed")}


@pytest.mark.parametrize("rt", SUBJECT_TYPES)
@pytest.mark.parametrize("i", [ORG, BIZ])
def test_organisations_need_uscc(rt: str, i: int) -> None:
    assert codes(rt, rec(rt, i)) == set()
    assert codes(rt, rec(rt, i, uscc=None)) == {("uscc", "required")}


@pytest.mark.parametrize("rt", ["administrative_license", "administrative_penalty"])
def test_legal_representative_for_organisations_only(rt: str) -> None:
    assert codes(rt, rec(rt, ORG, legal_rep_name=None)) == {("legal_rep_name", "required")}
    assert codes(rt, rec(rt, BIZ, legal_rep_name=None)) == set()
    assert codes(rt, rec(rt, PERSON)) == set()


@pytest.mark.parametrize("rt", ["administrative_license", "administrative_penalty"])
def test_placeholder_uscc(rt: str) -> None:
    ok = rec(rt, PLACEHOLDER_BIZ)
    assert ok["uscc"] == P and ok["subject_category"] == "个体工商户"
    assert codes(rt, ok) == set()
    assert codes(rt, rec(rt, PLACEHOLDER_BIZ, business_reg_no=None)) == {("business_reg_no", "required")}
    assert codes(rt, rec(rt, ORG, uscc=P, business_reg_no="511123600000001")) == {("uscc", "uscc_placeholder")}
    assert ("uscc", "uscc_placeholder") in codes(rt, rec(rt, ORG, uscc=P))
    # Never for the authority.
    assert codes(rt, rec(rt, ORG, authority_uscc=P)) == {("authority_uscc", "uscc_placeholder")}


@pytest.mark.parametrize("rt", ["online_shop_registration", "fraud_case", "abnormal_operation", "courier_rating"])
def test_placeholder_refused_without_business_reg_no_field(rt: str) -> None:
    r = rec(rt, BIZ if rt in SUBJECT_TYPES else ORG, uscc=P)
    assert codes(rt, r) == {("uscc", "uscc_placeholder")}


@pytest.mark.parametrize(("value", "code"), [
    ("92420300MA49KUFW0H", "uscc_checksum"), ("91230500ma1b3n1n2m", "uscc_charset"), ("91230500MA1B3N1N2", "uscc_length"),
    ("91230500MA1B3NIN2M", "uscc_charset"),
])
@pytest.mark.parametrize(("rt", "field"), [
    ("administrative_penalty", "uscc"), ("administrative_penalty", "authority_uscc"), ("administrative_license", "source_unit_uscc"),
    ("abnormal_operation", "uscc"), ("courier_rating", "uscc"), ("payment_risk_event", "merchant_uscc"),
    ("online_shop_registration", "uscc"), ("fraud_case", "uscc"), ("list_entry", "decided_by_uscc"),
])
def test_uscc_fields(rt: str, field: str, value: str, code: str) -> None:
    assert codes(rt, rec(rt, ORG, **{field: value})) == {(field, code)}


def test_uscc_org_code_part_via_validator() -> None:
    good = "91350100M000100Y43"
    first17 = good[:16] + "5"
    bad = first17 + checks.uscc_check_char(first17)
    assert codes("abnormal_operation", rec("abnormal_operation", uscc=bad)) == {("uscc", "uscc_org_code")}


def test_org_code_field() -> None:
    rt = "administrative_license"
    assert codes(rt, rec(rt, org_code="M000100Y-4")) == set()
    assert codes(rt, rec(rt, org_code="M000100Y4")) == set()
    assert codes(rt, rec(rt, org_code="M000100Y-5")) == {("org_code", "org_code_checksum")}
    assert codes(rt, rec(rt, org_code="m000100y-4")) == {("org_code", "org_code_format")}


@pytest.mark.parametrize("rt", SUBJECT_TYPES)
def test_id_number_checked_when_id_card(rt: str) -> None:
    good = person_id(datetime.date(1990, 1, 1))
    assert codes(rt, rec(rt, PERSON, id_number=good)) == set()
    assert codes(rt, rec(rt, PERSON, id_number=good[:17] + ("0" if good[17] != "0" else "1"))) == {("id_number", "id_number_checksum")}
    assert codes(rt, rec(rt, PERSON, id_number="511123900101123")) == {("id_number", "id_number_15")}
    assert codes(rt, rec(rt, PERSON, id_number="5111231990010112")) == {("id_number", "id_number_format")}
    # Another ID type: no GB 11643 check.
    assert codes(rt, rec(rt, PERSON, id_type="护照号", id_number="E12345678")) == set()


@pytest.mark.parametrize("rt", SUBJECT_TYPES)
def test_id_birth_date_today_and_tomorrow(rt: str) -> None:
    assert codes(rt, rec(rt, PERSON, id_number=person_id(TODAY))) == set()
    assert codes(rt, rec(rt, PERSON, id_number=person_id(TOMORROW))) == {("id_number", "id_number_birthdate")}
    first17 = "51112319900230123"  # 30 February
    assert codes(rt, rec(rt, PERSON, id_number=first17 + checks.id_check_char(first17))) == {("id_number", "id_number_birthdate")}


def test_legal_rep_id_number_checked_when_id_card() -> None:
    rt = "administrative_penalty"
    r = rec(rt, ORG)
    assert r["legal_rep_id_type"] == "身份证"
    assert codes(rt, dict(r, legal_rep_id_number=person_id(TOMORROW))) == {("legal_rep_id_number", "id_number_birthdate")}
    assert codes(rt, dict(r, legal_rep_id_number="110105491231002")) == {("legal_rep_id_number", "id_number_15")}
    assert codes(rt, dict(r, legal_rep_id_type="护照号", legal_rep_id_number="E12345678")) == set()


# --- other record-type rules --------------------------------------------------

def test_abnormal_removal_needs_reason_and_authority() -> None:
    rt = "abnormal_operation"
    r = rec(rt, 1, removed_date=TODAY.isoformat())
    assert codes(rt, r) == {("removed_reason", "required"), ("removed_by", "required")}
    r.update(removed_reason="已补报年度报告", removed_by="犍为县市场监督管理局")
    assert codes(rt, r) == set()
    assert "removed_date" not in rec(rt, 1) and codes(rt, rec(rt, 1)) == set()


def test_shop_url_and_phone() -> None:
    rt = "online_shop_registration"
    assert codes(rt, rec(rt, shop_url="http://shop.example.cn/x")) == set()
    assert codes(rt, rec(rt, shop_url="ftp://shop.example.cn")) == {("shop_url", "format_url")}
    assert codes(rt, rec(rt, phone="0833-4212345")) == set()
    assert codes(rt, rec(rt, phone="1381234567")) == {("phone", "format_phone")}


def test_payment_licence_pattern() -> None:
    rt = "payment_risk_event"
    assert codes(rt, rec(rt, institution_licence="Z2000000000000")) == set()
    for bad in ("Z200000000000", "Z20000000000000", "z2000000000000", "Y2000000000000"):
        assert codes(rt, rec(rt, institution_licence=bad)) == {("institution_licence", "pattern")}


def test_list_entry_subject_rules() -> None:
    rt = "list_entry"
    black = rec(rt, 0)
    assert black["list_type"] == "黑名单" and codes(rt, black) == set()
    assert codes(rt, {k: v for k, v in black.items() if k != "uscc"}) == {("uscc", "required")}
    person = {k: v for k, v in black.items() if k != "uscc"} | {"subject_category": "自然人", "id_number": person_id(TODAY)}
    assert codes(rt, person) == set()
    assert codes(rt, {k: v for k, v in person.items() if k != "id_number"}) == {("id_number", "required")}
    assert codes(rt, dict(person, list_type="红名单")) == {("subject_category", "not_allowed")}


def test_credit_profile_rules() -> None:
    rt = "credit_profile"
    person = rec(rt, 3)
    assert person["subject_kind"] == "person" and codes(rt, person) == set()
    assert codes(rt, dict(person, id_number_masked="511123199001011230")) == {("id_number_masked", "pattern")}
    assert codes(rt, dict(person, uscc=make_uscc("91", "511123", 1))) == {("uscc", "not_allowed")}
    org = rec(rt, 0)
    assert codes(rt, dict(org, uscc=P)) == {("uscc", "uscc_placeholder")}
    assert codes(rt, dict(org, record_counts={"No such type": 1})) == {("record_counts", "pattern")}
    assert codes(rt, dict(org, updated_at="2026-11-28 02:00")) == {("updated_at", "format_datetime")}
    assert codes(rt, dict(org, list_rules=["X1"])) == {("list_rules", "pattern")}


# --- unknown fields, every rule reported, problem form ------------------------

def test_unknown_field() -> None:
    assert codes("administrative_penalty", rec("administrative_penalty", foo="x")) == {("foo", "unknown_field")}
    assert codes("administrative_penalty", rec("administrative_penalty", publicity_until="2029-01-01")) == set()
    assert codes("administrative_license", rec("administrative_license", publicity_until="2029-01-01")) == {("publicity_until", "unknown_field")}


def test_problems_for_unknown_codes() -> None:
    (p,) = problems_for_unknown("administrative_penalty", ["CF_XXX"])
    assert p.code == "unknown_field" and p.field_code == "CF_XXX" and "CF_XXX" in p.message


def test_every_broken_rule_is_reported() -> None:
    rt = "administrative_penalty"
    r = rec(rt, PERSON)
    r.update(uscc="91350100M000100Y43", penalty_categories=["罚款", "罚款"], decision_date=TOMORROW.isoformat(),
             valid_until=TODAY.isoformat(), authority_uscc="92420300MA49KUFW0H", remark="x" * 513, foo=1)
    r.pop("fine_amount", None)
    r.pop("decision_no")
    assert codes(rt, r) == {
        ("uscc", "not_allowed"), ("penalty_categories", "duplicate_items"), ("fine_amount", "required"),
        ("decision_date", "date_future"), ("valid_until", "date_order"), ("authority_uscc", "uscc_checksum"),
        ("remark", "max_length"), ("foo", "unknown_field"), ("decision_no", "required"),
    }


def test_problem_form() -> None:
    rt = "administrative_penalty"
    problems = V.check(rt, rec(rt, authority_uscc="92420300MA49KUFW0H", decision_no=None))
    assert problems == [
        Problem("decision_no", "CF_WSH", "行政处罚决定书文号", "required",
                "行政处罚决定书文号为必填项，请补充 (required field decision_no is missing: fill it in)"),
        Problem("authority_uscc", "CF_CFJGDM", "处罚机关统一社会信用代码", "uscc_checksum",
                "统一社会信用代码校验位错误 (check digit wrong: check the code with the registering authority)"),
    ]  # in the order of the field table
    with pytest.raises(dataclasses.FrozenInstanceError):
        problems[0].code = "x"  # type: ignore[misc]


def test_messages_never_echo_personal_data() -> None:
    rt = "online_shop_registration"
    full_id = "511123199001011231"
    r = rec(rt, PERSON, id_number=full_id, phone="138123456789", foo=full_id)
    r[full_id] = 1  # even an unknown field named like an ID number
    problems = V.check(rt, r)
    assert problems
    for p in problems:
        assert full_id not in p.message and "138123456789" not in p.message
        assert "(" in p.message and ")" in p.message  # Chinese with an English gloss


def test_message_catalogue() -> None:
    from credit_exchange.standard.messages import MESSAGES, message

    assert message("max_length", label="备注", max=512) == "备注超过512个字符，请缩短 (longer than 512 characters: shorten it)"
    assert message("no_such_code", label="备注").startswith("备注不符合数据标准")
    assert "511123199001011230" not in message("invalid", label="511123199001011230")
    assert all("(" in text and text.endswith(")") for text in MESSAGES.values())


def test_not_a_mapping() -> None:
    (p,) = V.check("fraud_case", ["not", "a", "record"])  # type: ignore[arg-type]
    assert p.field == "" and p.code == "type"


def test_non_json_values_fall_back_to_reference() -> None:
    r = rec("fraud_case", filed_date=TODAY)
    assert codes("fraud_case", r) == {("filed_date", "type")}


# --- caching and the hot path ----------------------------------------------

def test_validator_cached_per_date_and_compiled_once() -> None:
    # Not `is V`: the cache keeps the latest dates, and tests run before this one (derive over many
    # run dates) may have pushed V's date out; the schemas are compiled once all the same.
    v = get_validator(TODAY)
    assert get_validator(TODAY) is v
    other = get_validator(TOMORROW)
    assert other is not v and other.today == TOMORROW
    assert other._engines is v._engines is V._engines is _engines()


def test_check_many_matches_check() -> None:
    rt = "administrative_penalty"
    records = [rec(rt, i) for i in range(5)] + [rec(rt, 5, fine_amount=-1), rec(rt, 6, uscc="x")]
    assert V.check_many(rt, records) == [V.check(rt, r) for r in records]
    assert [bool(p) for p in V.check_many(rt, records)] == [False] * 5 + [True, True]


def test_valid_records_take_only_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("reference used for a valid record")

    monkeypatch.setattr(V, "reference_check", boom)
    assert V.check_many("administrative_penalty", [rec("administrative_penalty", i) for i in range(50)]) == [[]] * 50


# --- the county platform envelope -------------------------------------------

def _envelope(**changes: Any) -> dict[str, Any]:
    data = rec("administrative_penalty")
    env = {
        "record_id": "market:administrative_penalty:SCJG-CF-2026-000123", "record_type": "administrative_penalty",
        "op": "upsert", "version": 4, "content_hash": "a" * 64,
        "subject": {"kind": "org", "uscc": data["uscc"], "name": data["subject_name"]},
        "data": data,
        "lineage": {"department": "market", "file": "MARKET_PENALTY_20261127_001.xml", "position": "record 17",
                    "file_sha256": "b" * 64, "received_at": "2026-11-28T02:00:00+08:00"},
    }
    env.update(changes)
    return env


def test_county_envelope() -> None:
    rt = "county_record"
    assert V.check(rt, _envelope()) == []
    assert V.check(rt, _envelope(op="delete", data={})) == []
    assert {(p.field, p.code) for p in V.check(rt, _envelope(op="delete"))} == {("data", "not_empty")}
    bad_data = dict(_envelope()["data"], uscc="92420300MA49KUFW0H")
    assert {(p.field, p.code) for p in V.check(rt, _envelope(data=bad_data))} == {("data.uscc", "uscc_checksum")}
    assert {(p.field, p.code) for p in V.check(rt, _envelope(content_hash="A" * 64))} == {("content_hash", "pattern")}
    black = rec("list_entry", 0)
    env = _envelope(record_id="hub:redlist:" + black["uscc"], record_type="redlist", data=black)
    assert {(p.field, p.code) for p in V.check(rt, env)} == {("data.list_type", "enum")}
    person = _envelope(subject={"kind": "person", "name": "王建国"})
    assert {(p.field, p.code) for p in V.check(rt, person)} == {("subject.id_number", "required")}


# --- property: the fast path and the reference agree --------------------------

_COMMON = json.loads((SCHEMAS_DIR / "common.schema.json").read_text(encoding="utf-8"))["$defs"]


def _resolved(rt: str, field: str) -> dict[str, Any]:
    spec = dict(json.loads((SCHEMAS_DIR / f"{rt}.schema.json").read_text(encoding="utf-8"))["properties"][field])
    while "$ref" in spec:
        ref = spec.pop("$ref").split("/")[-1]
        spec = {**_COMMON[ref], **spec}
    return spec


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)
_USCCS = st.sampled_from([
    "91350100M000100Y43", "92420300MA49KUFW0H", P, "91350100m000100Y43", "91350100M000100Y4", "91350100M000100Y435",
    make_uscc("12", "511123", 7), "91350100M000100Y53",
]) | st.text(alphabet=checks.USCC_ALPHABET, min_size=18, max_size=18)
_IDS = st.sampled_from([
    person_id(TODAY), person_id(TOMORROW), person_id(datetime.date(1990, 1, 1)), "511123900101123", "11010519491231002x",
    "51112319900230123" + checks.id_check_char("51112319900230123"), "E12345678",
]) | st.text(alphabet="0123456789X", min_size=18, max_size=18)
_DATES = st.sampled_from([
    TODAY.isoformat(), TOMORROW.isoformat(), (TODAY - datetime.timedelta(days=1)).isoformat(), "2099-12-31",
    "2026/11/28", "2026-02-29", "2024-02-29", "20261128", "2000-01-01",
])
_AMOUNTS = st.sampled_from([0, 0.0, -0.000001, 0.000001, 0.123456, 0.1234567, 1e-7, 1e-6, 1e16, -1, 123456789.123456, True]) | st.floats(
    allow_nan=False, allow_infinity=False) | st.integers(-10, 10**12)


@st.composite
def _value_for(draw: st.DrawFn, rt: str, field: str) -> Any:
    spec = _resolved(rt, field)
    wire = FIELDS.by_name(rt)[field].wire
    if draw(st.integers(0, 7)) == 0:  # now and then anything at all
        return draw(_JSON)
    options: list[st.SearchStrategy[Any]] = [st.none()]
    if spec.get("format") == "uscc" or field.endswith("uscc"):
        options.append(_USCCS)
    if wire == "id_number":
        options.append(_IDS)
    if wire == "date" or spec.get("format") == "date":
        options.append(_DATES)
    if wire in ("amount_wan", "number", "integer"):
        options += [_AMOUNTS, st.sampled_from([spec.get("minimum", 0), spec.get("maximum", 100), 2000, 2100, 2101, 1999])]
    if "enum" in spec:
        options.append(st.sampled_from([*spec["enum"], "其它"]))
    if "items" in spec and "enum" in _resolved_items(spec):
        items = _resolved_items(spec)["enum"]
        options.append(st.lists(st.sampled_from(items), max_size=3))
    if "maxLength" in spec:
        n = spec["maxLength"]
        options.append(st.sampled_from(["犍" * n, "犍" * (n + 1), "𠀀" * n, "𠀀" * (n + 1), ""]))
    if field in ("id_type", "legal_rep_id_type"):
        options.append(st.sampled_from(["身份证", "护照号"]))
    return draw(st.one_of(options))


def _resolved_items(spec: dict[str, Any]) -> dict[str, Any]:
    items = dict(spec["items"])
    if "$ref" in items:
        items = {**_COMMON[items.pop("$ref").split("/")[-1]], **items}
    return items


_PAIRS = {rt: _engines().extra[rt].not_before for rt in TYPES}


@st.composite
def _records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    rt = draw(st.sampled_from(TYPES))
    r = valid_record(rt, draw(st.integers(0, 400)), TODAY)
    names = [f.name for f in FIELDS.fields(rt)]
    if _PAIRS[rt] and draw(st.booleans()):
        # Both sides of a date-order boundary: equal, one day before, one day after.
        later, earlier = draw(st.sampled_from(_PAIRS[rt]))
        base = datetime.date.fromisoformat(draw(_DATES.filter(lambda d: checks.is_date(d))))
        r[earlier] = base.isoformat()
        r[later] = (base + datetime.timedelta(days=draw(st.sampled_from([-1, 0, 1])))).isoformat()
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from([*names, "extra_field"]))
        value = draw(_JSON) if field == "extra_field" else draw(_value_for(rt, field))
        if value is None:
            r.pop(field, None)
        else:
            r[field] = value
    return rt, r


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_fast_path_and_reference_agree(case: tuple[str, dict[str, Any]]) -> None:
    rt, r = case
    reference = V.reference_check(rt, r)
    assert V.fast_is_valid(rt, r) == (not reference), reference
    assert V.check(rt, r) == reference
