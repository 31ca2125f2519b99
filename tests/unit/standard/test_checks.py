"""Check algorithms of data-standard.md section 5 (credit_exchange/standard/checks.py)."""

from __future__ import annotations

import datetime

import pytest

from credit_exchange.standard import checks

VALID_USCC = ["91350100M000100Y43", "91230500MA1B3N1N2M"]


def _with_check(first17: str) -> str:
    return first17 + checks.uscc_check_char(first17)


@pytest.mark.parametrize("uscc", VALID_USCC)
def test_published_valid_usccs(uscc: str) -> None:
    assert checks.uscc_problems(uscc) == []
    assert checks.is_uscc(uscc)
    assert checks.uscc_check_char(uscc[:17]) == uscc[17]


def test_published_invalid_uscc() -> None:
    assert checks.uscc_problems("92420300MA49KUFW0H") == ["uscc_checksum"]
    assert not checks.is_uscc("92420300MA49KUFW0H")


def test_uscc_org_code_part_checked() -> None:
    # Positions 9-17 of the example carry GB 11714 check "4"; change it and
    # recompute the USCC check character: only the embedded check fails.
    good = "91350100M000100Y43"
    assert checks.org_code_check_char(good[8:16]) == good[16]
    bad = _with_check(good[:16] + "5")
    assert checks.uscc_problems(bad) == ["uscc_org_code"]
    # Both checks broken: both reported.
    assert checks.uscc_problems(good[:16] + "5" + good[17]) == ["uscc_org_code", "uscc_checksum"]


def test_uscc_check_digit_each_wrong_value() -> None:
    good = VALID_USCC[0]
    for ch in checks.USCC_ALPHABET:
        if ch != good[17]:
            assert checks.uscc_problems(good[:17] + ch) == ["uscc_checksum"]


def test_uscc_check_char_31_becomes_0() -> None:
    # A body whose weighted sum is a multiple of 31 gets check char "0" (c = 31 → 0).
    for ch in checks.USCC_ALPHABET:
        first17 = "915111230000000" + ch + "0"
        total = sum(checks.USCC_ALPHABET.index(c) * w for c, w in zip(first17, checks.USCC_WEIGHTS, strict=True))
        if total % 31 == 0:
            assert checks.uscc_check_char(first17) == "0"
            return
    raise AssertionError("no body with a sum divisible by 31 found")


def test_uscc_lower_case_is_an_error() -> None:
    assert checks.uscc_problems("91230500ma1b3n1n2m") == ["uscc_charset"]
    assert checks.uscc_problems("91230500MA1B3N1N2m") == ["uscc_charset"]


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_uscc_forbidden_letters(letter: str) -> None:
    assert checks.uscc_problems("91230500M" + letter + "1B3N1N2M") == ["uscc_charset"]


@pytest.mark.parametrize("value", ["9123050MA1B3N1N2M", "91230500MA1B3N1N2MA", ""])
def test_uscc_length(value: str) -> None:
    assert checks.uscc_problems(value) == ["uscc_length"]


def test_uscc_placeholder_fails_on_purpose() -> None:
    assert checks.uscc_problems(checks.USCC_PLACEHOLDER) == ["uscc_placeholder"]
    assert not checks.is_uscc(checks.USCC_PLACEHOLDER)


def test_no_91_prefix_required() -> None:
    for prefix in ("11", "12", "51", "52", "92", "Y1"):
        body = "511123" + "MA1B3N1N"
        first17 = prefix + body + checks.org_code_check_char(body[6:])
        assert checks.uscc_problems(_with_check(first17)) == []


# --- organisation code ---------------------------------------------------

def test_org_code_both_spellings() -> None:
    assert checks.org_code_problems("M000100Y-4") == []
    assert checks.org_code_problems("M000100Y4") == []
    assert checks.is_org_code("MA1B3N1N-2")


def test_org_code_wrong_check() -> None:
    assert checks.org_code_problems("M000100Y-5") == ["org_code_checksum"]


@pytest.mark.parametrize("value", ["m000100y-4", "M000100Y--4", "M000100-4", "M000100Y4A", "M000100Y_4", "M000100Y-A"])
def test_org_code_format(value: str) -> None:
    assert checks.org_code_problems(value) == ["org_code_format"]


def test_org_code_check_10_is_X_and_11_is_0() -> None:
    seen = set()
    for n in range(2000):
        body = f"{n:08d}"
        total = sum(int(c) * w for c, w in zip(body, checks.ORG_CODE_WEIGHTS, strict=True))
        c = 11 - total % 11
        if c == 10:
            assert checks.org_code_check_char(body) == "X"
            assert checks.org_code_problems(body + "-X") == []
            seen.add(10)
        elif c == 11:
            assert checks.org_code_check_char(body) == "0"
            seen.add(11)
    assert seen == {10, 11}


def test_org_code_letter_values() -> None:
    # A = 10 ... Z = 35 (GB 11714), worked through by hand for "MA1B3N1N".
    assert 22 * 3 + 10 * 7 + 1 * 9 + 11 * 10 + 3 * 5 + 23 * 8 + 1 * 4 + 23 * 2 == 504
    assert checks.org_code_check_char("MA1B3N1N") == "2"


# --- ID number -----------------------------------------------------------

GOOD_ID = "11010519491231002X"  # the GB 11643 example


def test_id_number_valid() -> None:
    assert checks.id_number_problems(GOOD_ID) == []
    assert checks.id_check_char(GOOD_ID[:17]) == "X"


def test_id_number_check_char_wrong() -> None:
    assert checks.id_number_problems(GOOD_ID[:17] + "1") == ["id_number_checksum"]


def test_id_number_lower_x() -> None:
    assert checks.id_number_problems(GOOD_ID[:17] + "x") == ["id_number_format"]


def test_id_number_15_digits_refused_with_own_code() -> None:
    assert checks.id_number_problems("110105491231002") == ["id_number_15"]


@pytest.mark.parametrize("value", ["11010519491231002", "1101051949123100200", "11010519491231002Y", "A1010519491231002X"])
def test_id_number_format(value: str) -> None:
    assert checks.id_number_problems(value) == ["id_number_format"]


def test_id_number_birth_date_must_be_real() -> None:
    first17 = "11010519490230002"  # 30 February
    assert checks.id_number_problems(first17 + checks.id_check_char(first17)) == ["id_number_birthdate"]


def test_id_number_birth_date_today_and_tomorrow() -> None:
    today = datetime.date(2026, 11, 28)
    born_today = f"511123{today:%Y%m%d}123"
    born_tomorrow = f"511123{today + datetime.timedelta(days=1):%Y%m%d}123"
    assert checks.id_number_problems(born_today + checks.id_check_char(born_today), today) == []
    tomorrow_id = born_tomorrow + checks.id_check_char(born_tomorrow)
    assert checks.id_number_problems(tomorrow_id, today) == ["id_number_birthdate"]
    # Without a run date only structure, real date and check char are checked.
    assert checks.id_number_problems(tomorrow_id) == []


def test_id_number_reports_both_date_and_check() -> None:
    assert checks.id_number_problems("110105194902300021") == ["id_number_birthdate", "id_number_checksum"]


# --- dates and other formats ----------------------------------------------

@pytest.mark.parametrize("value", ["2026-11-28", "2024-02-29", "2099-12-31", "2026-01-01"])
def test_date_valid(value: str) -> None:
    assert checks.is_date(value)


@pytest.mark.parametrize("value", ["2026-02-29", "2026/11/28", "20261128", "2026-1-1", "2026-13-01", "2026-11-28T00:00:00", " 2026-11-28"])
def test_date_invalid(value: str) -> None:
    assert not checks.is_date(value)


def test_datetime() -> None:
    assert checks.is_datetime("2026-11-28T02:00:00+08:00")
    assert checks.is_datetime("2026-11-28T02:00:00.123Z")
    assert not checks.is_datetime("2026-11-28T02:00:00")  # offset required
    assert not checks.is_datetime("2026-11-28 02:00:00+08:00")
    assert not checks.is_datetime("2026-02-30T02:00:00+08:00")


@pytest.mark.parametrize(("value", "places"), [
    (0, 0), (2, 0), (0.2, 1), (0.123456, 6), (0.1234567, 7), (1e-7, 7), (1e-6, 6), (100.0, 0), (123456789.123456, 6),
])
def test_decimal_places(value: float, places: int) -> None:
    assert checks.decimal_places(value) == places


def test_formats_ignore_non_strings() -> None:
    # The type keyword reports wrong types; formats only judge strings.
    for fn in checks.FORMATS.values():
        assert fn(12) is True


# --- ASCII only -----------------------------------------------------------

@pytest.mark.parametrize(("fn", "value"), [
    (checks.is_date, "２０２６-１１-２８"),  # full-width digits: Python's \d and int() take them
    (checks.is_date, "2026-11-28\n"),  # $ matched before a final newline
    (checks.is_id_number, "５１１１２９１９７６１１２３００７７"),
    (checks.is_id_number, "511129197611230077\n"),
    (checks.is_org_code, "YAAM8000-6\n"),
    (checks.is_datetime, "２０２６-11-28T02:00:00+08:00"),
])
def test_only_ascii_digits_and_no_trailing_newline(fn, value: str) -> None:
    assert fn(value.rstrip("\n")) if value.endswith("\n") else True  # the value without the flaw is valid
    assert fn(value) is False


# --- the C checks (_checks.c) against the Python references ---------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from credit_exchange import fast  # noqa: E402
from credit_exchange.fast import _checks  # noqa: E402  # the C module itself, whatever the product chose
from sandbox.samples import make_id_number, make_uscc  # noqa: E402

_PAIRS = [(_checks.is_uscc, checks.is_uscc), (_checks.is_org_code, checks.is_org_code),
          (_checks.is_id_number, checks.is_id_number), (_checks.is_date, checks.is_date)]


@pytest.mark.skipif(fast.PURE_PYTHON, reason="QW_PURE_PYTHON=1 runs the reference paths; CI runs this without it")
def test_the_formats_are_the_c_checks() -> None:
    # Built by `make install`; a silent fall-back to Python would make validation about three times slower.
    assert [checks.FORMATS[k] for k in ("uscc", "org-code", "gb11643", "date")] == [c for c, _ in _PAIRS]


def _near(valid: str) -> st.SearchStrategy[str]:
    """A valid value, or one with a character replaced, inserted or removed."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabxz-/ \n１０年"
    return st.one_of(
        st.just(valid),
        st.builds(lambda i, c: valid[:i] + c + valid[i + 1:], st.integers(0, len(valid)), st.sampled_from(alphabet)),
        st.builds(lambda i, c: valid[:i] + c + valid[i:], st.integers(0, len(valid)), st.sampled_from(alphabet)),
        st.builds(lambda i: valid[:i] + valid[i + 1:], st.integers(0, len(valid))),
    )


_VALUES = st.one_of(
    st.integers(0, 10**6).flatmap(lambda n: _near(make_uscc("91", "511123", n))),
    st.integers(0, 10**6).flatmap(lambda n: _near(make_uscc("91", "511123", n)[8:17])),
    st.integers(0, 10**6).flatmap(lambda n: _near(make_uscc("91", "511123", n)[8:16] + "-" +
                                                  make_uscc("91", "511123", n)[16])),
    st.integers(0, 10**6).flatmap(lambda n: _near(make_id_number(n, datetime.date(2026, 11, 28)))),
    st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)).flatmap(lambda d: _near(f"{d:%Y-%m-%d}")),
    st.sampled_from(["0000-01-01", "2024-02-29", "2100-02-29", "2000-02-29", "00000000000000000X", ""]),
    st.text(max_size=20),
)


@given(_VALUES)
@settings(max_examples=3000, deadline=None)
def test_the_c_checks_answer_as_the_python_references(value: str) -> None:
    for c_check, reference in _PAIRS:
        assert c_check(value) is reference(value), (reference.__name__, value)


def test_the_c_checks_take_anything() -> None:
    for c_check, reference in _PAIRS:
        for value in (None, 12, 1.5, b"2026-11-28", ["x"], True):
            assert c_check(value) is reference(value) is True
