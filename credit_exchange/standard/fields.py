"""The field table (`schemas/fields.json`), loaded once.

Every mapping between canonical names, national codes and Chinese labels goes
through `FIELDS`; no other module spells one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
FIELDS_PATH = SCHEMAS_DIR / "fields.json"

WIRE_FORMS = frozenset(
    {
        "text", "date", "datetime", "status_code", "list_semicolon", "amount_wan", "number",
        "integer", "bool_shifou", "id_number", "phone", "object", "array",
    }
)


@dataclass(frozen=True)
class Field:
    """One field of a record type."""

    name: str
    code: str
    label: str
    wire: str
    pii: bool = False


@dataclass(frozen=True)
class OpColumn:
    """A source column that carries the operation, not a field (the police CSV's 记录状态)."""

    code: str
    label: str
    values: MappingProxyType[str, str]


class FieldTable:
    """Read-only view of `schemas/fields.json`."""

    def __init__(self, path: Path = FIELDS_PATH) -> None:
        self._path = path

    @cached_property
    def _doc(self) -> dict[str, Any]:
        with self._path.open(encoding="utf-8") as fh:
            doc: dict[str, Any] = json.load(fh)
        return doc

    @cached_property
    def _fields(self) -> dict[str, tuple[Field, ...]]:
        out: dict[str, tuple[Field, ...]] = {}
        for rt, spec in self._doc["record_types"].items():
            fields = tuple(Field(f["name"], f["code"], f["label"], f["wire"], bool(f.get("pii"))) for f in spec["fields"])
            for f in fields:
                if f.wire not in WIRE_FORMS:
                    raise ValueError(f"fields.json: {rt}.{f.name} has unknown wire form {f.wire!r}")
            out[rt] = fields
        return out

    @cached_property
    def _by_name(self) -> dict[str, MappingProxyType[str, Field]]:
        return {rt: MappingProxyType({f.name: f for f in fs}) for rt, fs in self._fields.items()}

    @cached_property
    def _by_code(self) -> dict[str, MappingProxyType[str, Field]]:
        return {rt: MappingProxyType({f.code: f for f in fs}) for rt, fs in self._fields.items()}

    @property
    def version(self) -> str:
        return str(self._doc["version"])

    def record_types(self) -> list[str]:
        """Record types in the order of the standard."""
        return list(self._fields)

    def _check(self, record_type: str) -> None:
        if record_type not in self._fields:
            raise KeyError(f"unknown record type {record_type!r}")

    def fields(self, record_type: str) -> list[Field]:
        """Fields of a record type in the standard's (and the city XML's) order."""
        self._check(record_type)
        return list(self._fields[record_type])

    def by_code(self, record_type: str) -> MappingProxyType[str, Field]:
        """National code → field."""
        self._check(record_type)
        return self._by_code[record_type]

    def by_name(self, record_type: str) -> MappingProxyType[str, Field]:
        """Canonical name → field."""
        self._check(record_type)
        return self._by_name[record_type]

    def label(self, record_type: str, name: str) -> str:
        """Chinese label of a canonical field."""
        return self.by_name(record_type)[name].label

    def type_label(self, record_type: str) -> str:
        """Chinese name of the record type."""
        self._check(record_type)
        return str(self._doc["record_types"][record_type]["label"])

    def feed(self, record_type: str) -> str:
        """Source format of the record type: xml, csv, json, dat or derived."""
        self._check(record_type)
        return str(self._doc["record_types"][record_type]["feed"])

    def id_field(self, record_type: str) -> str | None:
        """Canonical field that is also the department's record id (CSV, pboc), if any."""
        self._check(record_type)
        return self._doc["record_types"][record_type].get("id_field")

    def op_column(self, record_type: str) -> OpColumn | None:
        """The source column that carries the operation (police CSV), if any."""
        self._check(record_type)
        spec = self._doc["record_types"][record_type].get("op_column")
        if spec is None:
            return None
        return OpColumn(spec["code"], spec["label"], MappingProxyType(dict(spec["values"])))

    def pii_fields(self, record_type: str) -> list[Field]:
        return [f for f in self.fields(record_type) if f.pii]

    def subject_fields(self, record_type: str) -> tuple[str, str, str | None]:
        """Where a record type names its legal subject: (name field, USCC field, category field or None)."""
        self._check(record_type)
        spec = self._doc["record_types"][record_type].get("subject")
        if spec is None:
            raise KeyError(f"fields.json: {record_type} names no subject")
        return str(spec["name"]), str(spec["uscc"]), spec.get("category")

    def department_types(self) -> list[str]:
        """The record types departments send (not the ones the hub derives)."""
        return [rt for rt in self.record_types() if self._doc["record_types"][rt]["feed"] != "derived"]


FIELDS = FieldTable()


# Record types the hub pushes under their own name but that share a schema and field table.
SHARED_SCHEMA = {"redlist": "list_entry", "blacklist": "list_entry"}


def schema_type(record_type: str) -> str:
    """The schema / field-table name of a record type (``redlist`` and ``blacklist`` are list entries)."""
    return SHARED_SCHEMA.get(record_type, record_type)


@cache
def free_text_fields(record_type: str) -> frozenset[str]:
    """Fields whose schema is free text (``common#/$defs/text``): where a clerk may type anything,
    personal data included. Codes with a format of their own (USCC, dates, enumerations) are not."""
    path = SCHEMAS_DIR / f"{schema_type(record_type)}.schema.json"
    properties = json.loads(path.read_text(encoding="utf-8")).get("properties", {})
    return frozenset(name for name, spec in properties.items()
                     if str(spec.get("$ref", "")).endswith("common.schema.json#/$defs/text"))
