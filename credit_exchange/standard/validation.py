"""Record validation against the shared schemas, exact and fast.

Two engines see the same schemas and the same format checks (`checks.FORMATS`):
- the fast path, jsonschema-rs, compiled once, answers valid/invalid; valid
  records (the vast majority) never leave it;
- the reference, jsonschema's Draft202012Validator, builds the full list of
  problems, only for records the fast path refused.
Rules plain JSON Schema cannot say (dates against each other or the run date,
at most 6 decimals) are named extra rules run after the schema on both paths;
the schemas mark them with `x-not-before` / `x-not-future`.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from credit_exchange.standard import checks
from credit_exchange.standard.fields import FIELDS, SCHEMAS_DIR
from credit_exchange.standard.messages import message
from hub_messages import WORDS

log = logging.getLogger(__name__)

ENVELOPE_TYPE = "county_record"
# (type field, number field): the number must pass GB 11643 when the type is 身份证.
_ID_PAIRS = (("id_type", "id_number"), ("legal_rep_id_type", "legal_rep_id_number"))
# JSON type -> (its name, its Chinese word), for the type rule's {expected} and {expected_zh}.
_TYPE_NAMES = {t: (t, WORDS[f"type_{t}"])
               for t in ("string", "number", "integer", "boolean", "array", "object")}
_FORMAT_CODES = {"date": "format_date", "date-time": "format_datetime"}
# The structural keywords next to a format: the format's own check (stricter) reports the same, in detail.
_SAID_BY_FORMAT = frozenset({"pattern", "maxLength", "minLength", "not"})


@dataclass(frozen=True)
class Problem:
    """One broken rule of one record, ready for a receipt or the UI."""

    field: str  # canonical name; "" for the record as a whole
    field_code: str  # national code
    label: str  # Chinese label
    code: str  # rule code (messages.MESSAGES)
    message: str  # Chinese with English gloss; personal data masked


@dataclass(frozen=True)
class _ExtraRules:
    not_future: tuple[str, ...]
    not_before: tuple[tuple[str, str], ...]  # (later field, earlier field)
    id_pairs: tuple[tuple[str, str], ...]
    amounts: tuple[str, ...]


def load_schemas(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, dict[str, Any]]:
    """Every `*.schema.json` by name (`common`, record types, `county_record`)."""
    out = {}
    for path in sorted(schemas_dir.glob("*.schema.json")):
        with path.open(encoding="utf-8") as fh:
            out[path.name.removesuffix(".schema.json")] = json.load(fh)
    return out


class _Engines:
    """Both compiled validators for every schema; built once per process."""

    def __init__(self) -> None:
        self.schemas = load_schemas()
        types = [name for name in self.schemas if name != "common"]
        resources = [(s["$id"], s) for s in self.schemas.values()]

        self.registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(s, default_specification=DRAFT202012)) for uri, s in resources
        )
        self.format_checker = jsonschema.FormatChecker(formats=())
        for name, fn in checks.FORMATS.items():
            self.format_checker.checks(name)(fn)
        self.reference = {
            t: jsonschema.Draft202012Validator(self.schemas[t], registry=self.registry, format_checker=self.format_checker)
            for t in types
        }

        rs_registry = jsonschema_rs.Registry(resources)
        self.fast = {
            t: jsonschema_rs.validator_for(
                self.schemas[t], registry=rs_registry, formats=dict(checks.FORMATS), validate_formats=True
            )
            for t in types
        }
        self.extra = {t: self._extra_rules(t) for t in types}
        self.unchecked = {t: self._unchecked_fields(t) for t in types}

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref``s into common.schema.json (a schema with a type of its own is what it says)."""
        in_common = False
        while "$ref" in schema and "type" not in schema:
            ref = schema["$ref"]
            if not (ref.startswith("common.schema.json#/$defs/") or (in_common and ref.startswith("#/$defs/"))):
                break
            target = self.schemas["common"].get("$defs", {}).get(ref.rsplit("/", 1)[1])
            if target is None:
                break
            schema, in_common = target, True
        return schema

    def _unchecked_fields(self, record_type: str) -> tuple[str, ...]:
        """Properties whose schema does not hold the value to text, boolean, integer or a list of text."""
        plain = {"string", "boolean", "integer"}
        out = []
        for name, prop in self.schemas[record_type].get("properties", {}).items():
            prop = self._resolve(prop)
            kind = prop.get("type")
            if kind == "array":
                kind = self._resolve(prop.get("items", {})).get("type")
            if not isinstance(kind, str) or kind not in plain:
                out.append(name)
        return tuple(out)

    def _extra_rules(self, record_type: str) -> _ExtraRules:
        props: dict[str, Any] = self.schemas[record_type].get("properties", {})
        amounts: tuple[str, ...] = ()
        if record_type in FIELDS.record_types():
            amounts = tuple(f.name for f in FIELDS.fields(record_type) if f.wire == "amount_wan")
        return _ExtraRules(
            not_future=tuple(n for n, p in props.items() if p.get("x-not-future")),
            not_before=tuple((n, p["x-not-before"]) for n, p in props.items() if "x-not-before" in p),
            id_pairs=tuple((t, n) for t, n in _ID_PAIRS if t in props and n in props),
            amounts=amounts,
        )


@functools.cache
def _engines() -> _Engines:
    return _Engines()


def _decimals_over_6(v: object) -> bool:
    if isinstance(v, float):
        r = repr(v)
        # Short path for the usual repr; exponent forms go through Decimal.
        if "e" not in r and "n" not in r:
            return len(r) - r.index(".") - 1 > 6
        return checks.decimal_places(v) > 6
    return False


class RecordValidator:
    """Validates canonical records of every record type for one run date."""

    def __init__(self, today: datetime.date) -> None:
        self.today = today
        self._today_iso = today.isoformat()
        self._today_compact = today.strftime("%Y%m%d")
        self._engines = _engines()

    def unchecked_fields(self, record_type: str) -> tuple[str, ...]:
        """Fields a valid record may hold other than text, booleans, integers or lists of text
        (see ``canonical.canonical_json_valid``)."""
        return self._engines.unchecked[record_type]

    def record_types(self) -> list[str]:
        return list(self._engines.fast)

    # --- public API -------------------------------------------------------

    def check(self, record_type: str, data: Mapping[str, Any]) -> list[Problem]:
        """Every rule the record breaks; empty when it is valid."""
        if self.fast_is_valid(record_type, data):
            return []
        problems = self.reference_check(record_type, data)
        if not problems:
            # The reference is authoritative; a disagreement is a bug worth seeing.
            log.warning("fast validator refused a %s record the reference accepts", record_type)
        return problems

    def check_many(self, record_type: str, records: Iterable[Mapping[str, Any]]) -> list[list[Problem]]:
        """`check` for each record, in order."""
        fast = self._engines.fast[record_type].is_valid
        rules = self._engines.extra[record_type]
        out: list[list[Problem]] = []
        for data in records:
            try:
                ok = fast(data) and not self._extra(rules, data, trusted=True)
            except (ValueError, TypeError):
                ok = False
            out.append([] if ok else self.reference_check(record_type, data))
        return out

    def fast_is_valid(self, record_type: str, data: Mapping[str, Any]) -> bool:
        """The hot path's verdict: schema (jsonschema-rs) and extra rules."""
        try:
            return bool(
                self._engines.fast[record_type].is_valid(data)
                and not self._extra(self._engines.extra[record_type], data, trusted=True)
            )
        except (ValueError, TypeError):
            # Values that are not JSON (e.g. a datetime) are for the reference to report.
            return False

    def reference_check(self, record_type: str, data: Mapping[str, Any]) -> list[Problem]:
        """Full detail from the reference validator (jsonschema) and the extra rules."""
        found: list[tuple[str, str, dict[str, Any]]] = []
        for err in self._engines.reference[record_type].iter_errors(data):
            found.extend(self._translate(err))
        if isinstance(data, Mapping):
            found.extend(self._extra(self._engines.extra[record_type], data, trusted=False))
        return self._problems(record_type, found)

    # --- extra rules --------------------------------------------------------

    def _extra(self, rules: _ExtraRules, data: Mapping[str, Any], trusted: bool) -> list[tuple[str, str, dict[str, Any]]]:
        """Cross-field and run-date rules. `trusted`: the schema passed, so formats are valid."""
        if trusted:
            # Hot path: once formats are known valid, canonical dates (and the
            # YYYYMMDD inside an ID number) compare correctly as strings.
            today = self._today_iso
            for name in rules.not_future:
                v = data.get(name)
                if v is not None and v > today:
                    return self._extra(rules, data, trusted=False)
            for later, earlier in rules.not_before:
                a = data.get(later)
                if a is not None:
                    b = data.get(earlier)
                    if b is not None and a < b:
                        return self._extra(rules, data, trusted=False)
            for type_field, number_field in rules.id_pairs:
                if data.get(type_field) == "身份证" and data.get(number_field, "")[6:14] > self._today_compact:
                    return self._extra(rules, data, trusted=False)
            for name in rules.amounts:
                if _decimals_over_6(data.get(name)):
                    return self._extra(rules, data, trusted=False)
            return []

        out: list[tuple[str, str, dict[str, Any]]] = []
        for name in rules.not_future:
            v = data.get(name)
            if isinstance(v, str) and checks.parse_date(v) is not None and v > self._today_iso:
                out.append((name, "date_future", {"today": self._today_iso}))
        for later, earlier in rules.not_before:
            a, b = data.get(later), data.get(earlier)
            if (
                isinstance(a, str) and isinstance(b, str)
                and checks.parse_date(a) is not None and checks.parse_date(b) is not None and a < b
            ):
                out.append((later, "date_order", {"other_field": earlier}))
        for type_field, number_field in rules.id_pairs:
            n = data.get(number_field)
            if data.get(type_field) == "身份证" and isinstance(n, str) and len(n) == 18 and n[:17].isdigit():
                born = checks.id_birth_date(n)
                if born is not None and born > self.today:
                    out.append((number_field, "id_number_birthdate", {}))
        for name in rules.amounts:
            if _decimals_over_6(data.get(name)):
                out.append((name, "amount_decimals", {}))
        return out

    # --- translation of reference errors --------------------------------

    @staticmethod
    def _translate(err: jsonschema.ValidationError) -> list[tuple[str, str, dict[str, Any]]]:
        path = [str(p) for p in err.absolute_path]
        # Record fields are top level; list items and nested objects are
        # reported on their top-level field, except the envelope's sub-objects.
        prefix = ".".join(path[:2]) if path and path[0] in ("data", "subject", "lineage") else (path[0] if path else "")
        schema = err.schema if isinstance(err.schema, dict) else {}
        kw = err.validator
        value = err.validator_value
        rule = schema.get("x-rule")
        if rule:
            return [(prefix, str(rule), {})]
        if kw in _SAID_BY_FORMAT and "format" in schema:
            return []

        def nested(name: str) -> str:
            return f"{prefix}.{name}" if prefix else name

        if kw == "required":
            inst = err.instance if isinstance(err.instance, Mapping) else {}
            return [(nested(p), "required", {}) for p in value if p not in inst]
        if kw == "additionalProperties":
            inst = err.instance if isinstance(err.instance, Mapping) else {}
            known = schema.get("properties", {})
            return [(nested(str(k)), "unknown_field", {}) for k in inst if k not in known]
        if kw == "format":
            inst = err.instance
            if value == "uscc" and isinstance(inst, str):
                return [(prefix, c, {}) for c in checks.uscc_problems(inst)]
            if value == "org-code" and isinstance(inst, str):
                return [(prefix, c, {}) for c in checks.org_code_problems(inst)]
            if value == "gb11643" and isinstance(inst, str):
                return [(prefix, c, {}) for c in checks.id_number_problems(inst)]
            return [(prefix, _FORMAT_CODES.get(str(value), "invalid"), {})]
        if kw == "enum":
            return [(prefix, "enum", {"allowed": "、".join(map(str, value))})]
        if kw == "const":
            return [(prefix, "enum", {"allowed": str(value)})]
        if kw == "type":
            expected, expected_zh = _TYPE_NAMES.get(str(value), (str(value), str(value)))
            return [(prefix, "type", {"expected": expected, "expected_zh": expected_zh})]
        simple = {
            "maxLength": ("max_length", "max"), "minLength": ("empty", None),
            "minimum": ("minimum", "min"), "exclusiveMinimum": ("minimum", "min"),
            "maximum": ("maximum", "max"), "exclusiveMaximum": ("maximum", "max"),
            "pattern": ("pattern", None), "minItems": ("empty_list", None),
            "uniqueItems": ("duplicate_items", None), "maxProperties": ("not_empty", None),
            "not": ("not_allowed", None), "propertyNames": ("enum", None), "false": ("not_allowed", None),
        }
        if kw in simple:
            code, param = simple[kw]
            return [(prefix, code, {param: value} if param else {})]
        return [(prefix, "invalid", {})]

    def _problems(self, record_type: str, found: Sequence[tuple[str, str, dict[str, Any]]]) -> list[Problem]:
        by_name = FIELDS.by_name(record_type) if record_type in FIELDS.record_types() else {}
        order = {name: i for i, name in enumerate(by_name)}
        seen: set[tuple[str, str]] = set()
        problems: list[tuple[int, int, Problem]] = []
        for i, (name, code, params) in enumerate(found):
            if (name, code) in seen:
                continue
            seen.add((name, code))
            f = by_name.get(name)
            label = f.label if f else name
            field_code = f.code if f else name
            if "other_field" in params:
                other = params["other_field"]
                params = {**params, "other": other, "other_label": by_name[other].label if other in by_name else other}
            text = message(code, label=label or WORDS["label_record"], field=name or "record", **params)
            problems.append((order.get(name, len(order)), i, Problem(name, field_code, label, code, text)))
        problems.sort(key=lambda t: (t[0], t[1]))
        return [p for _, _, p in problems]


def problems_for_unknown(record_type: str, codes: Iterable[str]) -> list[Problem]:
    """Problems (`unknown_field`) for source codes that matched no field (MappedRecord.unknown)."""
    return [Problem(c, c, "", "unknown_field", message("unknown_field", field=c)) for c in codes]


@functools.lru_cache(maxsize=16)
def get_validator(today: datetime.date) -> RecordValidator:
    """The validator for a run date; the schemas are compiled once per process."""
    return RecordValidator(today)
