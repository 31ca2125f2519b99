"""A small hub for the list tests: department records written the way merge writes them, then derive.

Records go in through `versioning.write_versions` (delivery_id None) with realistic sample data
about a chosen subject, which is what merge would produce after ingest, only faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from credit_exchange.derive.lists import DeriveSummary, derive_all
from credit_exchange.derive.rules import RuleSet
from credit_exchange.merge.versioning import write_versions
from credit_exchange.standard.canonical import EMPTY_HASH, content_hash
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.subjects import PLACEHOLDER_USCC, subject_of
from credit_exchange.store import Record, RecordVersion, Store
from credit_exchange.timeutil import LOCAL
from sandbox.samples import REGION, make_id_number, make_uscc, valid_record

DEPARTMENT = {
    "administrative_license": "market", "administrative_penalty": "market", "abnormal_operation": "market",
    "online_shop_registration": "market", "fraud_case": "police", "courier_rating": "transport",
    "payment_risk_event": "pboc",
}
# Where each record type names its subject (name, uscc) and whether it carries category and ID fields.
_NAME = {"online_shop_registration": "operator_name", "courier_rating": "enterprise_name",
         "payment_risk_event": "merchant_name"}
_USCC = {"payment_risk_event": "merchant_uscc"}
_CATEGORISED = {"administrative_license", "administrative_penalty", "online_shop_registration", "fraud_case"}
_SUBJECT_FIELDS = ("subject_category", "uscc", "business_reg_no", "id_type", "id_number", "org_code",
                   "legal_rep_name", "legal_rep_id_type", "legal_rep_id_number")


@dataclass(frozen=True)
class Who:
    name: str
    category: str = "法人及非法人组织"
    uscc: str | None = None
    id_number: str | None = None
    regno: str | None = None

    @property
    def key_hint(self) -> str:
        return self.uscc if self.uscc and self.uscc != PLACEHOLDER_USCC else f"regno:{self.regno}"


def org(n: int, name: str | None = None) -> Who:
    return Who(name or f"犍为县测试{n}号有限公司", uscc=make_uscc("91", REGION, 7000 + n))


def business(n: int) -> Who:
    return Who(f"犍为县测试{n}号个体店", category="个体工商户", uscc=make_uscc("92", REGION, 8000 + n))


def placeholder_business(n: int) -> Who:
    return Who(f"犍为县老字号{n}号个体店", category="个体工商户", uscc=PLACEHOLDER_USCC, regno=f"{REGION}600{n:06d}")


def person(n: int, today: date) -> Who:
    return Who(f"测试人{n}", category="自然人", id_number=make_id_number(9000 + n, today))


class Hub:
    def __init__(self, store: Store, vault: PiiVault) -> None:
        self.store = store
        self.vault = vault
        self.clock = datetime(2026, 1, 5, 10, 0, tzinfo=LOCAL)

    def put(self, record_type: str, rid: str, who: Who, at: date | None = None, **data: Any) -> str:
        """Write (or update) a department record about ``who``; returns its record id."""
        body = valid_record(record_type, 1, at or date(2026, 11, 29))
        for f in _SUBJECT_FIELDS:
            body.pop(f, None)
        body[_NAME.get(record_type, "subject_name")] = who.name
        if record_type in _CATEGORISED:
            body["subject_category"] = who.category
        if who.id_number:
            body.update(id_type="身份证", id_number=who.id_number)
        else:
            body[_USCC.get(record_type, "uscc")] = who.uscc
            if who.regno:
                body["business_reg_no"] = who.regno
        body.update(data)
        return self._write(record_type, f"{DEPARTMENT[record_type]}:{record_type}:{rid}", "upsert", body, at)

    def delete(self, record_id: str, at: date | None = None) -> None:
        record_type = record_id.split(":")[1]
        self._write(record_type, record_id, "delete", None, at)

    def _write(self, record_type: str, record_id: str, op: str, body: dict[str, Any] | None, at: date | None) -> str:
        now = datetime.combine(at, time(23, 0), tzinfo=LOCAL) if at else self.clock
        with self.store.session() as s:
            cur = s.get(Record, record_id)
            if body is None:
                assert cur is not None
                sealed_subject = s.execute(select(RecordVersion.subject_enc).where(
                    RecordVersion.record_id == record_id, RecordVersion.hub_version == cur.hub_version)).scalar_one()
                who = (cur.subject_key, cur.subject_kind, cur.subject_name)
                digest, sealed = EMPTY_HASH, "{}"
            else:
                subject = subject_of(record_type, body, self.vault)
                who = (subject.key, subject.kind, subject.name)
                sealed_subject, digest, sealed = subject.seal(self.vault), content_hash(body), self.vault.seal(
                    record_type, body)
            write_versions(s, [{
                "record_id": record_id, "department": DEPARTMENT[record_type], "record_type": record_type,
                "hub_version": cur.hub_version + 1 if cur else 1, "op": op, "content_hash": digest,
                "data_enc": sealed, "subject_key": who[0], "subject_kind": who[1], "subject_name": who[2],
                "subject_enc": sealed_subject, "delivery_id": None}], now)
        return record_id

    def derive(self, day: date, rules: RuleSet | None = None) -> DeriveSummary:
        return derive_all(self.store, self.vault, day, rules)

    def record(self, record_id: str) -> tuple[int, dict[str, Any]] | None:
        """(hub version, data) of a record, or None."""
        with self.store.session() as s:
            r = s.get(Record, record_id)
            return None if r is None else (r.hub_version, self.vault.open(r.record_type, r.data_enc))

    def key_of(self, record_id: str) -> str:
        with self.store.session() as s:
            r = s.get(Record, record_id)
            assert r is not None and r.subject_key
            return r.subject_key

    def version_count(self) -> int:
        with self.store.session() as s:
            return len(s.execute(select(RecordVersion.id)).all())


def hub_for_dag_runs(tmp_path: Any, monkeypatch: Any, pii_key: str) -> tuple[Store, Hub]:
    """A SQLite store and its Hub, with the connections a dag.test() run of the DAGs reads."""
    from tests.helpers import connection_env

    db = tmp_path / "exchange.db"
    for k, v in connection_env(exchange_db={"conn_type": "sqlite", "host": str(db)},
                               pii_key={"conn_type": "generic", "password": pii_key}).items():
        monkeypatch.setenv(k, v)
    store = Store(f"sqlite:///{db}")
    return store, Hub(store, PiiVault(pii_key))
