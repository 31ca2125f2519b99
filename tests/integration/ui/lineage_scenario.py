"""Two nights of one market feed through the real ingest, merge and county push, for the lineage and run views.

Shared by the lineage tests, the web-app tests and the browser test. Night one takes a file of four
penalties (an organisation, a person by ID number, one with a broken USCC, one more organisation)
in run ``RUN_1`` of ``ingest_market``; merge and a push to the county platform sandbox follow
(``push_county`` run ``PUSH_1``). Night two (``RUN_2``) brings the organisation's version 2, the
person's record unchanged and a stale version 1 of the organisation. The city platform's state
of the organisation's record is written as the city push records it (a file and its receipt).

``derived_nights`` goes on from there for derived records: the hub derives the credit profiles
and list entries on the first day, a third file (``RUN_3``) corrects the organisation's penalty
once more and brings a new penalty of it, and the next day's derive gives the organisation's
profile its version 2 (derived versions come from no delivery).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from credit_exchange import config
from credit_exchange.derive.lists import derive, derived_id
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.merge.deliveries import merge_pending
from credit_exchange.publish.county.push import CountyPusher
from credit_exchange.store import CityFile, CityState, Record
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import XmlRecord, break_record, good_records, market_xml

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
PERSON_ID = "511123199001011230"  # a valid ID number (check character 0)
FILE_1 = "MARKET_PENALTY_20261128_001.xml"
FILE_2 = "MARKET_PENALTY_20261128_002.xml"
INGEST = "ingest_market"
RUN_1 = "scheduled__2026-11-28T15:00:00+00:00"
RUN_2 = "manual__2026-11-29T01:00:00+00:00"
FILE_3 = "MARKET_PENALTY_20261129_001.xml"
RUN_3 = "scheduled__2026-11-29T15:00:00+00:00"
PUSH = "push_county"
PUSH_1 = "asset_triggered__2026-11-28T15:20:00+00:00"
CITY_DAG, CITY_RUN = "push_city", "scheduled__2026-11-28T16:00:00+00:00"
CITY_FILE = "XZCF_511123_20261128_0001.xml"


def penalty_id(rec: XmlRecord) -> str:
    return f"market:administrative_penalty:{rec.id}"


def lineage_nights(inbox: Any, store: Any, vault: Any, county_client: Any) -> dict[str, Any]:
    recs = good_records("PENALTY", TODAY, 4)
    person = dict(recs[1].data)
    person.update({"subject_category": "自然人", "id_type": "身份证", "id_number": PERSON_ID})
    person.pop("uscc", None)
    recs[1] = XmlRecord(id=recs[1].id, data=person)
    recs[2] = break_record("PENALTY", recs[2], "uscc_checksum", TODAY)
    inbox.upload_atomic(market_xml("PENALTY", recs, AT), f"/market/inbox/{FILE_1}")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id=RUN_1, dag_id=INGEST).run()
    merge_pending(store, vault)
    CountyPusher(store, vault, county_client, dag_id=PUSH, run_id=PUSH_1).run()

    org = recs[0]
    changed = XmlRecord(id=org.id, version=2, data={**org.data, "penalty_content": "更正后的处罚内容"})
    inbox.upload_atomic(market_xml("PENALTY", [changed, recs[1], org], AT + timedelta(days=1)),
                        f"/market/inbox/{FILE_2}")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id=RUN_2, dag_id=INGEST).run()
    merge_pending(store, vault)

    with store.session() as s:
        s.add(CityFile(name=CITY_FILE, file_type="XZCF", record_count=1, sm3="3" * 64, body=b"<x/>",
                       status="receipted", receipt_status="ok", created_at=AT, uploaded_at=AT, receipt_at=AT,
                       dag_id=CITY_DAG, run_id=CITY_RUN))
        s.add(CityState(record_id=penalty_id(org), record_type="administrative_penalty", hub_version=1, op="add",
                        status="ok", file_name=CITY_FILE, updated_at=AT))
    return {"org": penalty_id(org), "org_uscc": org.data["uscc"], "person": penalty_id(recs[1]),
            "broken": penalty_id(recs[2]), "broken_dept_id": recs[2].id, "other": penalty_id(recs[3]),
            "org_record": changed}


def derived_nights(inbox: Any, store: Any, vault: Any, nights: dict[str, Any]) -> str:
    """Derive, correct the organisation's penalty again (v3, ``RUN_3``), derive the next day: its profile's id."""
    derive(store, vault, TODAY)
    rec = nights["org_record"]
    again = XmlRecord(id=rec.id, version=3, data={**rec.data, "penalty_content": "再次更正的处罚内容"})
    # A new penalty of the same organisation: its profile (record ids and counts) changes for certain.
    [fresh] = good_records("PENALTY", TODAY, 1, start=5)
    fresh = XmlRecord(id=fresh.id, data={**fresh.data, "uscc": rec.data["uscc"]})
    inbox.upload_atomic(market_xml("PENALTY", [again, fresh], AT + timedelta(days=1, hours=1)),
                        f"/market/inbox/{FILE_3}")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY + timedelta(days=1), run_id=RUN_3,
                dag_id=INGEST).run()
    merge_pending(store, vault)
    derive(store, vault, TODAY + timedelta(days=1))
    with store.session() as s:
        org = s.get(Record, nights["org"])
        assert org is not None and org.subject_key is not None
        return derived_id("credit_profile", org.subject_key)
