"""Hub records for the city tests, written the way merge and the list rules write them."""

from __future__ import annotations

from datetime import date
from typing import Any

from credit_exchange.merge.versioning import write_versions
from credit_exchange.standard import publication
from credit_exchange.standard.canonical import EMPTY_HASH, content_hash
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.subjects import subject_of
from credit_exchange.store import Store
from credit_exchange.timeutil import now_local
from sandbox.samples import valid_record

TODAY = date(2026, 11, 28)


class Hub:
    """Writes record versions through ``versioning.write_versions``, as merge and the list rules do."""

    def __init__(self, store: Store, vault: PiiVault) -> None:
        self.store = store
        self.vault = vault
        self.current: dict[str, tuple[int, str, str, str]] = {}  # rid -> (version, type, dept, subject_enc)
        self.data: dict[str, dict[str, Any]] = {}

    def put(self, record_type: str, key: str, data: dict[str, Any], *, department: str = "market") -> str:
        return self.put_many([(record_type, key, data)], department=department)[0]

    def put_many(self, items: list[tuple[str, str, dict[str, Any]]], *, department: str = "market") -> list[str]:
        rows, ids = [], []
        for record_type, key, data in items:
            dept = "hub" if record_type in ("redlist", "blacklist") else department
            rid = f"{dept}:{record_type}:{key}"
            data = publication.enrich(record_type, data)
            subject = subject_of(schema_type(record_type), data, self.vault)
            version = self.current.get(rid, (0,))[0] + 1
            sealed_subject = subject.seal(self.vault)
            rows.append({"record_id": rid, "department": dept, "record_type": record_type, "hub_version": version,
                         "op": "upsert", "content_hash": content_hash(data),
                         "data_enc": self.vault.seal(record_type, data), "subject_key": subject.key,
                         "subject_kind": subject.kind, "subject_name": subject.name, "subject_enc": sealed_subject,
                         "delivery_id": None})
            self.current[rid] = (version, record_type, dept, sealed_subject)
            self.data[rid] = data
            ids.append(rid)
        with self.store.session() as s:
            for start in range(0, len(rows), 2000):
                write_versions(s, rows[start:start + 2000], now_local())
        return ids

    def delete(self, rid: str) -> None:
        version, record_type, dept, sealed_subject = self.current[rid]
        row = {"record_id": rid, "department": dept, "record_type": record_type, "hub_version": version + 1,
               "op": "delete", "content_hash": EMPTY_HASH, "data_enc": "{}", "subject_key": None,
               "subject_kind": None, "subject_name": None, "subject_enc": sealed_subject, "delivery_id": None}
        with self.store.session() as s:
            write_versions(s, [row], now_local())
        self.current[rid] = (version + 1, record_type, dept, sealed_subject)

    def version(self, rid: str) -> int:
        return self.current[rid][0]


def licence(i: int, **over: Any) -> dict[str, Any]:
    return {**valid_record("administrative_license", i, TODAY), "status": "有效", **over}


def penalty(i: int, categories: list[str] | None = None, **over: Any) -> dict[str, Any]:
    data = valid_record("administrative_penalty", i, TODAY)
    if categories is not None:
        for k in ("fine_amount", "confiscation_amount", "suspended_licence"):
            data.pop(k, None)
        data["penalty_categories"] = categories
        data["penalty_content"] = "、".join(categories)
        if "罚款" in categories:
            data["fine_amount"] = 50
    data.update(over)
    return data


def abnormal(i: int, **over: Any) -> dict[str, Any]:
    data = valid_record("abnormal_operation", i, TODAY)
    for k in ("removed_reason", "removed_date", "removed_by"):
        data.pop(k, None)
    data.update(over)
    return data


def list_entry(i: int, black: bool, **over: Any) -> dict[str, Any]:
    # valid_record gives a black-list entry for even i, a red-list one for odd i.
    n = i * 2 if black else i * 2 + 1
    return {**valid_record("list_entry", n, TODAY), **over}
