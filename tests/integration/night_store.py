"""A store filled the way a night fills it, and every sealed value in it opened (rotation and retention tests)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from credit_exchange import config
from credit_exchange.derive.lists import derive
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.merge.deliveries import merge_pending
from credit_exchange.publish.county.push import CountyPusher
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.subjects import Subject
from credit_exchange.store import Batch, Delivery, Record, RecordVersion, Store
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import good_records, market_xml

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)


def fill_like_a_night(store: Store, vault: PiiVault, inbox: Any, county_client: Any) -> None:
    for n, kind in enumerate(("PENALTY", "LICENSE"), start=1):
        inbox.upload_atomic(market_xml(kind, good_records(kind, TODAY, 12), AT),
                            f"/market/inbox/MARKET_{kind}_20261128_00{n}.xml")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY).run()
    assert merge_pending(store, vault).new_versions == 24
    derive(store, vault, TODAY)
    CountyPusher(store, vault, county_client).run()


def read_everything(store: Store, vault: PiiVault) -> dict[str, Any]:
    """Every sealed value of the store, opened: deliveries, records, versions with their subjects, batches."""
    with store.session() as s:
        deliveries = {d.id: vault.open(d.record_type, d.data_enc)
                      for d in s.execute(select(Delivery)).scalars() if d.data_enc is not None}
        records = {r.record_id: (vault.open(r.record_type, r.data_enc), r.subject_key)
                   for r in s.execute(select(Record)).scalars()}
        types = {r.record_id: r.record_type for r in s.execute(select(Record)).scalars()}
        versions = {}
        for v in s.execute(select(RecordVersion)).scalars():
            subject = Subject.open(v.subject_enc, vault)
            versions[v.id] = (vault.open(types[v.record_id], v.data_enc), subject)
        batches = {b.batch_id: vault.decrypt_bytes(b.body_enc) if b.body_enc else b""  # b"": dropped by retention
                   for b in s.execute(select(Batch)).scalars()}
    return {"deliveries": deliveries, "records": records, "versions": versions, "batches": batches}
