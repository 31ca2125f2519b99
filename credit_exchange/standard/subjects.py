"""Legal subjects: who a record is about, and the key records are merged under (data-standard.md 2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.fields import FIELDS, schema_type

PLACEHOLDER_USCC = "00000000000000000X"
KIND_OF_CATEGORY = {"法人及非法人组织": "org", "个体工商户": "individual_business", "自然人": "person"}



@dataclass(frozen=True)
class Subject:
    key: str
    kind: str  # org | individual_business | person
    name: str
    uscc: str | None = None
    id_type: str | None = None
    id_number: str | None = None

    def for_county(self) -> dict[str, Any]:
        """The ``subject`` object of a county platform record (full ID number: contracts.md 2.1)."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.kind == "person":
            out["id_number"] = self.id_number
        else:
            out["uscc"] = self.uscc
        return out

    def seal(self, vault: PiiVault) -> str:
        data = {"key": self.key, "kind": self.kind, "name": self.name, "uscc": self.uscc,
                "id_type": self.id_type,
                "id_number": vault.encrypt(self.id_number) if self.id_number else None}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def open(cls, sealed: str, vault: PiiVault) -> Subject:
        data = json.loads(sealed)
        if data.get("id_number"):
            data["id_number"] = vault.decrypt(data["id_number"])
        return cls(**data)


def subject_of(record_type: str, data: dict[str, Any], vault: PiiVault) -> Subject:
    name_f, uscc_f, cat_f = FIELDS.subject_fields(schema_type(record_type))
    name = str(data.get(name_f) or "")
    kind = KIND_OF_CATEGORY.get(str(data.get(cat_f)), "org") if cat_f else "org"
    if kind == "person":
        id_type, id_number = str(data.get("id_type") or ""), str(data.get("id_number") or "")
        return Subject(key=vault.subject_hash(id_type, id_number), kind="person", name=name,
                       id_type=id_type, id_number=id_number)
    uscc = data.get(uscc_f)
    if uscc == PLACEHOLDER_USCC:
        return Subject(key=f"regno:{data.get('business_reg_no')}", kind=kind, name=name, uscc=uscc)
    return Subject(key=str(uscc), kind=kind, name=name, uscc=str(uscc))
