"""Masking of personal data (data-standard.md section 4).

Used for the city platform, receipts, logs and the UI; the county platform
gets full values.
"""

from __future__ import annotations

import re
from typing import Any

from credit_exchange.fields import FIELDS

# 18-character ID numbers (last may be X) and 15-digit ones, not part of a
# longer run of letters/digits (a USCC with letters is not matched).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# Mainland mobile numbers: masked in free text too, so no phone leaks either.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d{9})(?![0-9A-Za-z])")


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


def mask_text(s: str) -> str:
    """Mask anything in free text that looks like an ID number (18 or 15 digits) or a mobile number."""
    s = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(1)), s)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(1)), s)
