"""merge_credit and push_county against the real store and the county platform sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.merge.deliveries import merge_pending
from credit_exchange.publish.county.push import CountyPusher, PushIncomplete
from credit_exchange.store import Batch, OutboxItem, Record, RecordVersion, Store
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import XmlRecord, good_records, market_xml
from tests.helpers import REPO, connection_env, county_conn

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
D = "20261128"


def take(inbox: Any, store: Any, vault: Any, name: str, kind: str, recs: list[XmlRecord]) -> None:
    inbox.upload_atomic(market_xml(kind, recs, AT), f"/market/inbox/{name}")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY).run()


def sandbox_get(server: Any, what: str) -> Any:
    with urllib.request.urlopen(f"{server.url}/_sandbox/{what}", timeout=10) as resp:
        return json.load(resp)


def sandbox_faults(server: Any, faults: list[dict[str, Any]]) -> None:
    req = urllib.request.Request(f"{server.url}/_sandbox/faults", data=json.dumps(faults).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).close()


def assert_each_version_once(server: Any, store: Store) -> None:
    history = sandbox_get(server, "history")
    seen = [(h["record_id"], h["version"]) for h in history]
    assert len(seen) == len(set(seen)), "a record version was applied twice"
    with store.session() as s:
        owed = set(s.execute(select(RecordVersion.record_id, RecordVersion.hub_version)).all())
    assert set(seen) == owed, "the platform does not hold every record version"


def test_merge_versions_unchanged_and_deletes(inbox, store, vault) -> None:
    recs = good_records("PENALTY", TODAY, 3)
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", recs)
    first = merge_pending(store, vault)
    assert (first.new_versions, first.deletes) == (3, 0)
    assert merge_pending(store, vault).deliveries == 0  # nothing left to merge

    changed = XmlRecord(id=recs[0].id, version=2, data={**recs[0].data, "penalty_content": "更正"})
    gone = XmlRecord(id=recs[1].id, version=2, op="delete")
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_002.xml", "PENALTY", [changed, gone, recs[2]])
    second = merge_pending(store, vault)
    assert (second.new_versions, second.deletes) == (2, 1)
    with store.session() as s:
        recs_now = {r.record_id.rsplit(":", 1)[1]: r for r in s.execute(select(Record)).scalars()}
        owed = s.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.platform == "county")).scalar_one()
    assert (recs_now[recs[0].id].hub_version, recs_now[recs[0].id].op) == (2, "upsert")
    assert (recs_now[recs[1].id].hub_version, recs_now[recs[1].id].op) == (2, "delete")
    assert recs_now[recs[2].id].hub_version == 1
    assert owed == 5
    # The hub's enrichment: a penalty carries its computed publicity end.
    data = vault.open("administrative_penalty", recs_now[recs[2].id].data_enc)
    assert data["publicity_until"] >= data["decision_date"]


def test_id_numbers_are_not_stored_in_clear(inbox, sqlite_store, vault, tmp_path) -> None:
    recs = good_records("SHOP", TODAY, 12)
    people = [r for r in recs if r.data.get("id_number")]
    assert people, "the sample shops include natural persons"
    take(inbox, sqlite_store, vault, f"MARKET_SHOP_{D}_001.xml", "SHOP", recs)
    merge_pending(sqlite_store, vault)
    sqlite_store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("exchange.db*"))
    for r in people:
        assert r.data["id_number"].encode() not in raw


def test_push_in_batches_of_500_each_version_once(inbox, store, vault, county, county_client) -> None:
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 1200))
    merge_pending(store, vault)
    summary = CountyPusher(store, vault, county_client).run()
    assert summary.batches_sent == 3
    assert summary.records == {"accepted": 1200}
    with store.session() as s:
        sizes = sorted(b.record_count for b in s.execute(select(Batch)).scalars())
        states = set(s.execute(select(OutboxItem.status)).scalars())
    assert sizes == [200, 500, 500] and states == {"done"}
    assert_each_version_once(county, store)
    # A second run with nothing new sends nothing.
    again = CountyPusher(store, vault, county_client).run()
    assert (again.batches_sent, again.batches_resent) == (0, 0)


def test_only_the_newest_owed_version_of_a_record_is_sent(inbox, store, vault, county, county_client) -> None:
    recs = good_records("PENALTY", TODAY, 3)
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", recs)
    merge_pending(store, vault)
    changed = XmlRecord(id=recs[0].id, version=2, data={**recs[0].data, "penalty_content": "更正"})
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_002.xml", "PENALTY", [changed])
    merge_pending(store, vault)  # recs[0] is owed twice now: v1 and v2
    summary = CountyPusher(store, vault, county_client, max_records=2).run()
    assert summary.records == {"accepted": 3} and summary.batches_sent == 2
    with store.session() as s:
        states = {(i.record_id.rsplit(":", 1)[1], i.hub_version): i.status
                  for i in s.execute(select(OutboxItem).where(OutboxItem.platform == "county")).scalars()}
    assert states == {(recs[0].id, 1): "superseded", (recs[0].id, 2): "done",
                      (recs[1].id, 1): "done", (recs[2].id, 1): "done"}
    held = {r["record_id"].rsplit(":", 1)[1]: r["version"] for r in sandbox_get(county, "records")}
    assert held == {recs[0].id: 2, recs[1].id: 1, recs[2].id: 1}


def test_batches_stay_under_4_mib(inbox, store, vault, county, county_client) -> None:
    recs = good_records("PENALTY", TODAY, 400)
    for r in recs:
        r.data["violation_facts"] = "违法事实" * 1200  # ~14 KB each in UTF-8: 400 of them are > 4 MiB
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", recs)
    merge_pending(store, vault)
    summary = CountyPusher(store, vault, county_client).run()
    assert summary.records == {"accepted": 400} and summary.batches_sent >= 2
    assert_each_version_once(county, store)


def test_503_and_429_are_retried_then_delivered(inbox, store, vault, county, county_client) -> None:
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 10))
    merge_pending(store, vault)
    sandbox_faults(county, [{"kind": "status", "status": 503, "retry_after": 0},
                            {"kind": "status", "status": 429, "retry_after": 0}])
    summary = CountyPusher(store, vault, county_client).run()
    assert summary.records == {"accepted": 10}
    assert sandbox_get(county, "stats")["by_status"].get("503") == 1
    assert_each_version_once(county, store)


def test_connection_dropped_after_store_is_resent_under_the_same_batch_id(inbox, store, vault, county,
                                                                          county_client) -> None:
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 10))
    merge_pending(store, vault)
    sandbox_faults(county, [{"kind": "drop_after_store"}])
    CountyPusher(store, vault, county_client).run()
    batches = sandbox_get(county, "batches")
    assert len(batches) == 1  # one batch id, stored once, answered on the resend
    assert_each_version_once(county, store)


def test_a_platform_that_stays_down_leaves_the_batch_queued(inbox, store, vault, county, county_client) -> None:
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 5))
    merge_pending(store, vault)
    sandbox_faults(county, [{"kind": "status", "status": 503, "retry_after": 0, "times": 50}])
    with pytest.raises(PushIncomplete) as err:
        CountyPusher(store, vault, county_client).run()
    with store.session() as s:
        (batch,) = s.execute(select(Batch)).scalars().all()
    assert batch.status == "prepared" and batch.batch_id in str(err.value)
    county.reset()
    summary = CountyPusher(store, vault, county_client).run()
    assert summary.batches_resent == 1 and summary.records == {"accepted": 5}
    assert_each_version_once(county, store)


def test_killed_between_platform_store_and_hub_record(inbox, store_url, store, vault, pii_key, county,
                                                      tmp_path: Path) -> None:
    """The worker dies after the platform stored a batch but before the hub recorded the answer."""
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 30))
    merge_pending(store, vault)
    sandbox_faults(county, [{"kind": "hang_after_store", "seconds": 60}])
    db = ({"conn_type": "sqlite", "host": store_url.removeprefix("sqlite:///")} if store_url.startswith("sqlite")
          else _pg_conn(store_url))
    env = {**os.environ, **connection_env(county_platform=county_conn(county), exchange_db=db,
                                          pii_key={"conn_type": "generic", "password": pii_key}),
           "AIRFLOW_HOME": str(tmp_path / "airflow")}
    proc = subprocess.Popen([sys.executable, "-c", "from credit_exchange.runtime.push_county import push_county; push_county({})"],
                            env=env, cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not sandbox_get(county, "history"):
            assert proc.poll() is None, "the push ended before the platform stored the batch"
            assert time.monotonic() < deadline, "the platform never stored the batch"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(sandbox_get(county, "history")) == 30
    with store.session() as s:
        assert s.execute(select(Batch.status)).scalar_one() == "prepared"  # the hub never heard the answer
    from connectors.county_platform import CountyPlatform
    from connectors.http_api import SignedApiClient
    from tests.helpers import as_conn

    client = CountyPlatform(SignedApiClient.from_connection(as_conn(county_conn(county), "county_platform")))
    summary = CountyPusher(store, vault, client).run()
    assert summary.batches_resent == 1 and summary.batches_sent == 0
    assert summary.records == {"accepted": 30}  # the platform's stored answers, replayed
    with store.session() as s:
        assert set(s.execute(select(OutboxItem.status)).scalars()) == {"done"}
    assert_each_version_once(county, store)


def _pg_conn(url: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {"conn_type": "postgres", "host": u.host, "port": u.port, "login": u.username, "schema": u.database}


def test_two_versions_of_a_record_in_one_merge_chunk(inbox, store, vault) -> None:
    recs = good_records("PENALTY", TODAY, 2)
    v2 = XmlRecord(id=recs[0].id, version=2, data={**recs[0].data, "penalty_content": "第二版"})
    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", [recs[0], recs[1], v2])
    summary = merge_pending(store, vault)
    assert summary.new_versions == 3
    with store.session() as s:
        current = s.execute(select(Record.hub_version).where(Record.record_id.like(f"%{recs[0].id}"))).scalar_one()
    assert current == 2


def test_reconcile_repairs_drift(inbox, store, vault, county, county_client) -> None:
    from credit_exchange.publish.county.push import reconcile

    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 6))
    merge_pending(store, vault)
    CountyPusher(store, vault, county_client).run()
    in_step = reconcile(store, county_client)
    assert (in_step.checked, in_step.in_step, in_step.requeued) == (6, 6, 0)
    county.reset()  # the platform lost everything (restored from an old backup, say)
    drift = reconcile(store, county_client)
    assert (drift.checked, drift.requeued) == (6, 6)
    repaired = CountyPusher(store, vault, county_client).run()
    assert repaired.records == {"accepted": 6}
    assert (r := reconcile(store, county_client)).in_step == 6 and r.requeued == 0
    assert_each_version_once(county, store)


def test_reconcile_walks_the_records_round_robin(inbox, store, vault, county, county_client) -> None:
    from credit_exchange.publish.county.push import reconcile

    take(inbox, store, vault, f"MARKET_PENALTY_{D}_001.xml", "PENALTY", good_records("PENALTY", TODAY, 5))
    merge_pending(store, vault)
    CountyPusher(store, vault, county_client).run()
    seen = [reconcile(store, county_client, limit=2).checked for _ in range(3)]
    assert seen == [2, 2, 2]  # 5 records, 2 a run: the third run wraps around
