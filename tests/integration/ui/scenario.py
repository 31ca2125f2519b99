"""One night the Exchange page must show: files and rejects through the real ingest, the rest as store rows.

Shared by the dashboard unit tests, the web-app tests and the browser test, so all
three check the same numbers (``EXPECTED``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.store import (
    Alert,
    Batch,
    CityFile,
    CityState,
    DataQualityIssue,
    OutboxItem,
    ReceivedFile,
    SourcePair,
)
from credit_exchange.timeutil import now_local
from sandbox.market_files import XmlRecord, break_record, good_records, market_xml

FULL_ID = "511123199001011234"
GOOD_NAME_KIND = "PENALTY"
REFUSED_NAME = "penalties-final.xml"

# The numbers the page must show for this scenario.
EXPECTED = {
    "market": {"quarantined": 1, "rejected_records": 3, "waiting": 0, "alerts_open": 1},
    "police": {"quarantined": 0, "rejected_records": 0, "waiting": 1, "alerts_open": 0},
    "transport": {"quarantined": 0, "rejected_records": 0, "waiting": 0, "alerts_open": 0},
    "pboc": {"quarantined": 1, "rejected_records": 0, "waiting": 1, "alerts_open": 0},
    "county": {"pending_records": 3, "failed_records": 2, "batches_prepared": 1, "batches_failed": 1,
               "alerts_open": 1},
    "city": {"pending_records": 1, "failed_records": 2, "batches_prepared": 0, "files_unreceipted": 2,
             "receipts_overdue": 1, "alerts_open": 0},
    "alerts_open": 2,
    "data_quality": 1,
}


def market_night(inbox: Any, store: Any, vault: Any, now: datetime) -> dict[str, str]:
    """Two market files through the real ingest: one partly accepted (3 rejects), one refused whole."""
    today = now.date()
    good = f"MARKET_{GOOD_NAME_KIND}_{today:%Y%m%d}_001.xml"
    recs = good_records(GOOD_NAME_KIND, today, 8)
    recs[1] = break_record(GOOD_NAME_KIND, recs[1], "uscc_checksum", today)
    recs[2] = break_record(GOOD_NAME_KIND, recs[2], "fine_missing", today)
    person = dict(recs[3].data)
    # A person with a broken ID number: the reject names the field, never the full number.
    person.update({"subject_category": "自然人", "id_type": "身份证", "id_number": FULL_ID[:-1] + "9"})
    person.pop("uscc", None)
    recs[3] = XmlRecord(id=recs[3].id, data=person)
    inbox.upload_atomic(market_xml(GOOD_NAME_KIND, recs, now), f"/market/inbox/{good}")
    inbox.upload_atomic(b"<CreditData/>", f"/market/inbox/{REFUSED_NAME}")
    InboxIngest(config.feed("market"), inbox, store, vault, today, run_id="ui-scenario").run()
    return {"good": good, "refused": REFUSED_NAME}


def other_rows(store: Any, now: datetime) -> None:
    """The rest of the night as store rows: platforms, pairs, alerts, quality findings."""
    old = now - timedelta(hours=30)
    with store.session() as s:
        # police: a file claimed by a run that has not finished it (waiting)
        s.add(ReceivedFile(department="police", name=f"POLICE_FRAUD_{now:%Y%m%d}_01.csv", size=10,
                           status="processing", received_at=now, finished=False))
        # pboc: one pair waiting for its re-check, one refused whole (read-only outbox: stays there)
        s.add(SourcePair(department="pboc", name=f"PBOC_PAYRISK_{now:%Y%m%d}_01.dat", announced_sm3="a" * 64,
                         status="pending", attempts=1, last_problem="count mismatch", first_seen_at=now,
                         updated_at=now))
        s.add(ReceivedFile(department="pboc", name=f"PBOC_PAYRISK_{now:%Y%m%d}_02.dat", size=10, status="rejected",
                           received_at=now, processed_at=now, finished=True,
                           stored_path=f"/outbox/PBOC_PAYRISK_{now:%Y%m%d}_02.dat", error_code="file_name",
                           error_message=f"bad file, holder {FULL_ID}"))
        # county: a failed batch with two refused records, a prepared batch, a done batch, pending records
        s.add(Batch(batch_id="b-failed", platform="county", status="failed", record_count=2, body_sha256="0" * 64,
                    body_enc=b"x", attempts=1, last_error="HTTP 400", created_at=old))
        s.add(Batch(batch_id="b-prepared", platform="county", status="prepared", record_count=1,
                    body_sha256="1" * 64, body_enc=b"x", attempts=0, created_at=now))
        s.add(Batch(batch_id="b-done", platform="county", status="done", record_count=1, body_sha256="2" * 64,
                    body_enc=b"x", attempts=1, created_at=old, completed_at=old + timedelta(minutes=1)))
        for i in (1, 2):
            s.add(OutboxItem(platform="county", record_id=f"market:administrative_penalty:F-{i}", hub_version=1,
                             op="upsert", status="failed", batch_id="b-failed", result="rejected",
                             result_code="bad_subject", result_message=f"subject {FULL_ID} unknown",
                             created_at=old, updated_at=old))
        s.add(OutboxItem(platform="county", record_id="market:administrative_penalty:P-1", hub_version=1, op="upsert",
                         status="batched", batch_id="b-prepared", created_at=now, updated_at=now))
        for i in (2, 3):
            s.add(OutboxItem(platform="county", record_id=f"market:administrative_penalty:P-{i}", hub_version=1,
                             op="upsert", status="pending", created_at=now, updated_at=now))
        # city: one file overdue for its receipt, one recent, one receipted; two refused records, one in flight
        for name, uploaded, status in (("XZCF_511123_1_0001.xml", old, "uploaded"),
                                       ("XZCF_511123_2_0001.xml", now - timedelta(hours=1), "uploaded"),
                                       ("XZCF_511123_0_0001.xml", old - timedelta(days=1), "receipted")):
            s.add(CityFile(name=name, file_type="XZCF", record_count=1, sm3="3" * 64, body=b"<x/>", status=status,
                           created_at=uploaded, uploaded_at=uploaded))
        s.add(CityState(record_id="market:administrative_penalty:C-1", record_type="administrative_penalty",
                        hub_version=2, op="add", status="error", file_name="XZCF_511123_0_0001.xml", code="E01",
                        message="缺少字段 missing field", updated_at=old))
        s.add(CityState(record_id="market:administrative_penalty:C-2", record_type="administrative_penalty",
                        hub_version=3, op="delete", status="error", file_name="XZCF_511123_0_0001.xml", code="E09",
                        message="记录不存在 not held", updated_at=old))
        s.add(CityState(record_id="market:administrative_penalty:C-3", record_type="administrative_penalty",
                        hub_version=1, op="add", status="sent", file_name="XZCF_511123_2_0001.xml", updated_at=now))
        # alerts: two open, one resolved; one data-quality finding
        s.add(Alert(kind="inbox_stuck", source="market", subject="X.xml", message=f"stuck, holder {FULL_ID}",
                    created_at=now))
        s.add(Alert(kind="batch_failed", source="county", subject="b-failed", message="HTTP 400", created_at=now))
        s.add(Alert(kind="old", source="police", subject=None, message="done", created_at=old, resolved_at=now))
        s.add(DataQualityIssue(kind="uscc_two_names", subject_key="91511123MA62T0XX1X", record_id=None,
                               details=f"两个名称 two names; contact {FULL_ID}", created_at=now))


def fill(inbox: Any, store: Any, vault: Any, now: datetime | None = None) -> dict[str, str]:
    now = now or now_local()
    names = market_night(inbox, store, vault, now)
    other_rows(store, now)
    return names
