"""Check algorithms of data-standard.md section 5, written once.

Each `*_problems` function returns the rule codes a value breaks (empty when
it is valid); the `is_*` functions are the boolean forms registered as JSON
Schema formats (see `FORMATS`). Messages for the codes are in `messages.py`.
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from credit_exchange.fast import CHECKS

# GB 32100-2015: 31 characters, no I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# The individual-business placeholder fails the check digit on purpose.
USCC_PLACEHOLDER = "00000000000000000X"
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_CHARS = frozenset(USCC_ALPHABET)

ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# ASCII digits only, and \Z rather than $ (which also matches before a final newline): Python's
# \d takes any Unicode digit, and int() reads full-width ones, so "２０２６-１１-２８" passed as a date
# and full-width ID numbers passed GB 11643.
_ORG_CODE_RE = re.compile(r"^([0-9A-Z]{8})-?([0-9X])\Z")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ID_ASCII_OFFSET = 48 * sum(ID_WEIGHTS)
_ID18_RE = re.compile(r"^[0-9]{17}[0-9X]\Z")
_ID15_RE = re.compile(r"^[0-9]{15}\Z")

_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATETIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})\Z")
# Mobile (11 digits) or fixed line with area code, optionally hyphenated.


# --- organisation code (GB 11714-1997) ------------------------------------

# Digits are their value, letters 10 + position (A = 10 ... Z = 35).
_ORG_VALUE = {**{str(d): d for d in range(10)}, **{chr(ord("A") + i): 10 + i for i in range(26)}}


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(body) != 8:
        raise ValueError("an organisation code body has 8 characters")
    # map/operator: these checks run as JSON Schema formats on the hot path.
    total = sum(map(operator.mul, map(_ORG_VALUE.__getitem__, body), ORG_CODE_WEIGHTS))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def org_code_problems(value: str) -> list[str]:
    """Rule codes broken by an organisation code (`XXXXXXXX-C` or `XXXXXXXXC`)."""
    m = _ORG_CODE_RE.match(value)
    if not m:
        return ["org_code_format"]
    if org_code_check_char(m.group(1)) != m.group(2):
        return ["org_code_checksum"]
    return []


@functools.lru_cache(maxsize=65536)
def _org_code_ok(value: str) -> bool:
    return not org_code_problems(value)


def is_org_code(value: object) -> bool:
    return not isinstance(value, str) or _org_code_ok(value)


# --- USCC (GB 32100-2015) ---------------------------------------------------

def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (position 18) for the first 17 characters."""
    if len(first17) != 17:
        raise ValueError("uscc_check_char takes the first 17 characters")
    total = sum(map(operator.mul, map(_USCC_VALUE.__getitem__, first17), USCC_WEIGHTS))
    c = 31 - total % 31
    return USCC_ALPHABET[0 if c == 31 else c]


def uscc_problems(value: str) -> list[str]:
    """Rule codes broken by a USCC; the placeholder is reported as such."""
    if value == USCC_PLACEHOLDER:
        return ["uscc_placeholder"]
    if len(value) != 18:
        return ["uscc_length"]
    # Lower case is an error, never fixed silently (data-standard.md section 5).
    if not _USCC_CHARS.issuperset(value):
        return ["uscc_charset"]
    problems = []
    # Positions 9-17 are the organisation code with its own GB 11714 check.
    if org_code_check_char(value[8:16]) != value[16]:
        problems.append("uscc_org_code")
    if uscc_check_char(value[:17]) != value[17]:
        problems.append("uscc_checksum")
    return problems


# The same USCCs (authorities, source units) recur in every record of a file.
@functools.lru_cache(maxsize=65536)
def _uscc_ok(value: str) -> bool:
    return not uscc_problems(value)


def is_uscc(value: object) -> bool:
    return not isinstance(value, str) or _uscc_ok(value)


# --- citizen ID number (GB 11643-1999) ------------------------------------

def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17:
        raise ValueError("id_check_char takes the first 17 digits")
    if first17.isascii() and first17.isdigit():
        # ASCII digits as bytes are 48 + their value: one C-level pass instead of int() per digit.
        total = sum(map(operator.mul, first17.encode("ascii"), ID_WEIGHTS)) - _ID_ASCII_OFFSET
    else:
        total = sum(map(operator.mul, map(int, first17), ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def id_birth_date(value: str) -> datetime.date | None:
    """Birth date encoded at positions 7-14, or None if it is not a real date."""
    try:
        return datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_number_problems(value: str, today: datetime.date | None = None) -> list[str]:
    """Rule codes broken by a GB 11643 ID number; `today` adds the not-future check."""
    if _ID15_RE.match(value):
        return ["id_number_15"]
    if not _ID18_RE.match(value):
        return ["id_number_format"]
    problems = []
    born = id_birth_date(value)
    if born is None or (today is not None and born > today):
        problems.append("id_number_birthdate")
    if id_check_char(value[:17]) != value[17]:
        problems.append("id_number_checksum")
    return problems


@functools.lru_cache(maxsize=65536)
def _id_number_ok(value: str) -> bool:
    return not id_number_problems(value)


def is_id_number(value: object) -> bool:
    # Structure, real birth date and check character; "not in the future"
    # depends on the run date and is an extra rule of the validator.
    return not isinstance(value, str) or _id_number_ok(value)


# --- dates, URLs, phones, amounts -----------------------------------------

def parse_date(value: str) -> datetime.date | None:
    """A canonical `YYYY-MM-DD` date, or None."""
    if not _DATE_RE.match(value):
        return None
    try:
        return datetime.date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return None


# A night's records carry few distinct dates.
@functools.lru_cache(maxsize=16384)
def _date_ok(value: str) -> bool:
    return parse_date(value) is not None


def is_date(value: object) -> bool:
    # Stricter than date.fromisoformat, which also takes `20260301`.
    return not isinstance(value, str) or _date_ok(value)


def is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATETIME_RE.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def decimal_places(value: float | int | Decimal) -> int:
    """Number of decimals of a JSON number as written (shortest repr for floats)."""
    if isinstance(value, bool) or isinstance(value, int):
        return 0
    try:
        d = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        return 0
    if not d.is_finite():
        return 0
    exponent = d.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# The same four checks in C (credit_exchange/fast, built at install; tests/unit/standard/test_checks.py
# holds them to the functions above): jsonschema-rs calls them for every record, and in Python they
# were about two thirds of its time on records with distinct codes. The functions above are the
# reference; QW_PURE_PYTHON=1 or a missing compiler leaves them in use.
_fast = CHECKS

# Registered as JSON Schema formats, in the reference and the fast validator.
FORMATS: dict[str, Callable[[object], bool]] = {
    "uscc": _fast.is_uscc if _fast else is_uscc,
    "org-code": _fast.is_org_code if _fast else is_org_code,
    "gb11643": _fast.is_id_number if _fast else is_id_number,
    "date": _fast.is_date if _fast else is_date,
    "date-time": is_datetime,
}
