"""Masking of personal data (data-standard.md section 4).

Used for the city platform, receipts, logs and the UI; the county platform
gets full values.
"""

from __future__ import annotations

import re
from typing import Any

from credit_exchange.standard.fields import FIELDS

# 18-character ID numbers (last may be X) and 15-digit ones, not part of a
# longer run of letters/digits (a USCC with letters is not matched).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# Mainland mobile numbers: masked in free text too, so no phone leaks either.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d{9})(?![0-9A-Za-z])")
# An ID number glued to letters ("GA110101199003071237" as a record id): masked when it is one,
# i.e. its GB 11643 check character and birth date hold, so a digest's digits are left alone.
_ID_GLUED = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9])")


def mask_id_number(s: str) -> str:
    """18 characters → first 6 + 8 `*` + last 4; other lengths keep first and last 2."""
    if len(s) == 18:
        return s[:6] + "*" * 8 + s[-4:]
    if len(s) <= 4:
        return "*" * len(s)
    return s[:2] + "*" * (len(s) - 4) + s[-2:]


def mask_phone(s: str) -> str:
    """Keep the first 3 and last 4 characters."""
    if len(s) <= 7:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def mask_value(wire: str, value: Any) -> Any:
    """Mask one value by its wire form (id_number or phone); other values unchanged."""
    if not isinstance(value, str):
        return value
    if wire == "phone":
        return mask_phone(value)
    if wire == "id_number":
        return mask_id_number(value)
    return mask_text(value)


def mask_record(record_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a canonical record with every personal-data field masked."""
    out = dict(data)
    for f in FIELDS.pii_fields(record_type):
        if f.name in out:
            out[f.name] = mask_value(f.wire, out[f.name])
    return out


# C0 and C1 control characters (ANSI escapes start with ESC), line and paragraph separators, and
# the bidirectional overrides that make a name display as something else.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(s: str) -> str:
    """Control characters written out (``\\x1b``, ``\\n``, ``\\u202e``), so a name cannot forge a log line or a display."""
    return _CONTROL_CHARS.sub(lambda m: ascii(m.group())[1:-1], s)


def safe_text(s: str) -> str:
    """A department's free text for a log, a message or the UI: personal data masked, control characters escaped."""
    return escape_controls(mask_text(s))


def mask_obj(value: Any) -> Any:
    """``safe_text`` over every string in a JSON-like value (dicts, lists, tuples), keys included."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {mask_obj(k): mask_obj(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_obj(v) for v in value]
    return value


def mask_text(s: str) -> str:
    """Mask anything in free text that looks like an ID number (18 or 15 digits) or a mobile number,
    and ID numbers glued to letters (checked, so a digest or a code is left alone)."""
    s = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(1)), s)
    s = _ID_GLUED.sub(_mask_glued, s)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(1)), s)


def _mask_glued(m: re.Match[str]) -> str:
    from credit_exchange.standard.checks import id_birth_date, id_check_char

    value = m.group(1)
    if id_check_char(value[:17]) == value[17].upper() and id_birth_date(value) is not None:
        return mask_id_number(value)
    return value
