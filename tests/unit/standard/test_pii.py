"""Masking of personal data (credit_exchange/standard/pii.py)."""

from __future__ import annotations

from credit_exchange.standard.pii import mask_id_number, mask_phone, mask_record, mask_text


def test_mask_id_number_18() -> None:
    assert mask_id_number("511123199001011230") == "511123********1230"
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_mask_id_number_other_lengths_keep_first_and_last_two() -> None:
    assert mask_id_number("110105491231002") == "11" + "*" * 11 + "02"
    assert mask_id_number("H12345678") == "H1*****78"
    assert mask_id_number("12345") == "12*45"
    assert mask_id_number("1234") == "****"


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0833-4212345") == "083*****2345"
    assert mask_phone("1234567") == "*******"


def test_mask_record_masks_every_pii_field_and_copies() -> None:
    rec = {"subject_name": "王建国", "id_type": "身份证", "id_number": "511123199001011230",
           "legal_rep_id_number": "11010519491231002X", "decision_no": "犍市监处罚〔2026〕1号"}
    masked = mask_record("administrative_penalty", rec)
    assert masked["id_number"] == "511123********1230"
    assert masked["legal_rep_id_number"] == "110105********002X"
    assert masked["subject_name"] == "王建国" and masked["decision_no"] == rec["decision_no"]
    assert rec["id_number"] == "511123199001011230"  # input untouched
    shop = mask_record("online_shop_registration", {"phone": "13812345678", "shop_name": "x"})
    assert shop == {"phone": "138****5678", "shop_name": "x"}


def test_mask_text_finds_id_numbers() -> None:
    text = "证件号码511123199001011230有误，旧号110105491231002，另见11010519491231002x。"
    out = mask_text(text)
    assert "511123199001011230" not in out and "511123********1230" in out
    assert "110105491231002" not in out and "11***********02" in out
    assert "11010519491231002x" not in out
    assert "13812345678" not in mask_text("联系电话13812345678")


def test_mask_text_leaves_uscc_and_short_numbers() -> None:
    text = "统一社会信用代码91350100M000100Y43，文号2026123，金额0.2万元"
    assert mask_text(text) == text


def test_mask_text_not_inside_longer_numbers() -> None:
    # 20 digits is no ID number.
    assert mask_text("12345678901234567890") == "12345678901234567890"
