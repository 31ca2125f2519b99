"""Mapping between national field codes / wire forms and canonical records.

Driven by the field table (`fields.py`). Mapping never raises on bad data: a
value that cannot be converted is kept as its original string so that the
schema reports it with the field's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from typing import Any

from credit_exchange.standard.fields import FIELDS, Field, free_text_fields
from credit_exchange.standard.pii import mask_text, mask_value

_STATUS_FROM_WIRE = {"1": "有效", "2": "无效"}
_STATUS_TO_WIRE = {v: k for k, v in _STATUS_FROM_WIRE.items()}
_BOOL_FROM_WIRE = {"是": True, "否": False}

# Plain decimals in ASCII digits only: exponent forms (1e3) and other digits ("１２", "²") are
# refused, not silently accepted. All patterns are used with fullmatch.
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
# Longest number text converted: far beyond any amount or count of the standard, far below
# int()'s digit limit. A longer value stays text and the schema reports it (wrong type).
MAX_NUMBER_TEXT = 40
# National/XML dates: YYYY/MM/DD or YYYY-MM-DD (same separator twice).
_DATE_RE = re.compile(r"([0-9]{4})([/-])([0-9]{2})\2([0-9]{2})")
# The police CSV also writes 2026/3/1 and 2026年3月1日 (contracts.md 1.2).
_CSV_DATE_RES = (
    re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
    re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日"),
)


@dataclass(frozen=True)
class MappedRecord:
    """A canonical record and the source codes that matched no field."""

    data: dict[str, Any]
    unknown: list[str] = field(default_factory=list)


def parse_number(s: str) -> int | float | str:
    """Decimal text → int if integral else float; unparseable, too long or lossy → the string itself."""
    if len(s) < 19 and s.isascii() and s.isdigit():
        # Plain ASCII digits: the Decimal round trip below gives the same int.
        return int(s)
    if len(s) > MAX_NUMBER_TEXT or not _DECIMAL_RE.fullmatch(s):
        return s
    f = float(s)
    if not f.is_integer() and repr(f) == s:
        # Written exactly as the double's shortest form: what the Decimal checks below conclude.
        return f
    try:
        d = Decimal(s)
    except InvalidOperation:
        return s
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    # Never lose decimals: a value a double cannot carry exactly as written
    # stays text and is reported by the schema.
    if Decimal(repr(f)) != d:
        return s
    return f


def _date_from_wire(s: str, csv: bool) -> str:
    if csv:
        for rx in _CSV_DATE_RES:
            m = rx.fullmatch(s)
            if m:
                return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        return s
    m = _DATE_RE.fullmatch(s)
    return f"{m.group(1)}-{m.group(3)}-{m.group(4)}" if m else s


def _xml_date(s: str) -> str:
    # _date_from_wire(s, csv=False) without the regular expression (hot for XML files): the same
    # result, as ASCII str.isdigit is exactly the pattern's [0-9].
    if len(s) == 10 and s.isascii():
        sep = s[4]
        if (sep == "-" or sep == "/") and s[7] == sep and s[:4].isdigit() and s[5:7].isdigit() \
                and s[8:].isdigit():
            return s if sep == "-" else f"{s[:4]}-{s[5:7]}-{s[8:]}"
    return s


def _from_wire(f: Field, s: str, csv: bool) -> Any:
    fn = _converter(f.wire, csv)
    return s if fn is None else fn(s)


def _split_list(s: str) -> list[str]:
    if ";" not in s:
        return [s.strip()] if s.strip() else []
    return [part.strip() for part in s.split(";") if part.strip()]


def _integer(s: str) -> int | str:
    return int(s) if len(s) <= MAX_NUMBER_TEXT and _INTEGER_RE.fullmatch(s) else s


def _converter(wire: str, csv: bool) -> Callable[[str], Any] | None:
    """The function turning a trimmed wire string into its canonical value (None: kept as text)."""
    if wire == "date":
        return partial(_date_from_wire, csv=True) if csv else _xml_date
    if wire == "status_code":
        return lambda s: _STATUS_FROM_WIRE.get(s, s)
    if wire == "list_semicolon":
        return _split_list
    if wire in ("amount_wan", "number"):
        return parse_number
    if wire == "integer":
        return _integer
    if wire == "bool_shifou":
        return lambda s: _BOOL_FROM_WIRE.get(s, s)
    return None


PlanEntry = tuple[str, Callable[[str], Any] | None]
Plan = dict[str, PlanEntry]


@cache
def national_plan(record_type: str) -> tuple[Plan, str | None]:
    """Per record type, once: national code → (canonical name, converter), and the op column's code.

    Public so that a streaming parser can map values as it reads them (one pass, no
    intermediate dict) with exactly the rules of ``from_national``.
    """
    csv = FIELDS.feed(record_type) == "csv"
    op = FIELDS.op_column(record_type)
    plan = {code: (f.name, _converter(f.wire, csv)) for code, f in FIELDS.by_code(record_type).items()}
    return plan, (op.code if op is not None else None)


def map_values(pairs: Iterable[tuple[Any, str | None]], plan: Mapping[Any, PlanEntry],
               data: dict[str, Any]) -> list[Any]:
    """Map (key, wire text) pairs through a plan into ``data``; returns the keys the plan does not know.

    Text is trimmed; empty text and empty lists are no value. A key seen twice keeps its last value
    (callers with repeated keys say which one wins). The loop every mapped field of every record runs.
    """
    unknown: list[Any] = []
    for key, value in pairs:
        entry = plan.get(key)
        if entry is None:
            unknown.append(key)
            continue
        if value is None:
            continue
        s = value.strip()
        if not s:
            continue
        name, fn = entry
        if fn is None:
            data[name] = s
            continue
        converted = fn(s)
        if converted == []:
            continue
        data[name] = converted
    return unknown


def from_national(record_type: str, raw: Mapping[str, str | None]) -> MappedRecord:
    """National codes and wire values (XML elements, CSV columns, pboc columns) → canonical record."""
    plan, op_code = national_plan(record_type)
    data: dict[str, Any] = {}
    unknown = [code for code in map_values(raw.items(), plan, data) if code != op_code]
    return MappedRecord(data, unknown)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        items = [_clean(v) for v in value]
        return [v for v in items if v != "" and v is not None]
    return value


def from_canonical_json(record_type: str, obj: Mapping[str, Any]) -> MappedRecord:
    """A JSON API item with canonical names → canonical record (trimmed, empty strings dropped).

    The caller removes the feed's envelope keys (id, version, updated_at,
    deleted) first; any other key that is not a field is listed in `unknown`
    and left out of `data`.
    """
    by_name = FIELDS.by_name(record_type)
    data: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in obj.items():
        if key not in by_name:
            unknown.append(key)
            continue
        v = _clean(value)
        if v is None or v == "":
            continue
        data[key] = v
    return MappedRecord(data, unknown)


def format_decimal(value: int | float | Decimal) -> str:
    """A number as plain decimal text, never with an exponent (0.0000001, not 1e-07)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    d = value if isinstance(value, Decimal) else Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_wire(f: Field, value: Any) -> str:
    wire = f.wire
    if wire == "date" and isinstance(value, str) and len(value) == 10:
        return value.replace("-", "/")
    if wire == "status_code":
        return _STATUS_TO_WIRE.get(value, str(value))
    if wire == "list_semicolon" and isinstance(value, list):
        return ";".join(str(v) for v in value)
    if wire in ("amount_wan", "number") and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return format_decimal(value)
    if wire == "bool_shifou" and isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def to_national(record_type: str, data: Mapping[str, Any], *, mask_pii: bool = True) -> list[tuple[str, str]]:
    """Canonical record → (national code, wire value) pairs in the standard's order, empty omitted.

    For the city XML writer; personal data is masked unless `mask_pii` is False
    (the city platform always gets masked values, contracts.md 2.2): the personal-data
    fields, and any ID or phone number a clerk typed into a free-text field.
    """
    out: list[tuple[str, str]] = []
    free = free_text_fields(record_type) if mask_pii else frozenset()
    for f in FIELDS.fields(record_type):
        value = data.get(f.name)
        if value is None or value == "" or value == []:
            continue
        if mask_pii and f.pii:
            value = mask_value(f.wire, value)
        elif f.name in free and isinstance(value, str):
            value = mask_text(value)
        text = _to_wire(f, value)
        if text:
            out.append((f.code, text))
    return out
