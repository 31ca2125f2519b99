"""The fault matrix, county platform rows (docs/fault-matrix.md): sending a batch and receiving its
answer, each cut before, during and after the platform acted; then a normal run, and the platform's
history holds each (record id, version) once.

The faulted run's client makes one attempt (its own retries would hide the fault inside the run), so
the batch is left ``prepared`` exactly as a task that gave up leaves it; the next run resends the same
bytes under the same batch id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from connectors.county_platform import CountyPlatform
from connectors.http_api import SignedApiClient
from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.merge.deliveries import merge_pending
from credit_exchange.publish.county.push import CountyPusher, PushIncomplete
from credit_exchange.store import Batch, OutboxItem
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import good_records, market_xml
from tests.helpers import as_conn, county_conn
from tests.integration.test_merge_and_push_county import assert_each_version_once, sandbox_faults, sandbox_get

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RECORDS = 30

# (step, when, sandbox fault, whether the platform stored the batch)
CELLS = [
    ("send", "before", {"kind": "reset_before_body"}, False),
    ("send", "during", {"kind": "drop_mid_body"}, False),
    ("send", "after", {"kind": "drop_after_store"}, True),
    ("receive", "before", {"kind": "hang_after_store", "seconds": 30}, True),  # the answer never comes: time-out
    ("receive", "during", {"kind": "truncate_answer"}, True),
]


def one_try_client(county: Any) -> CountyPlatform:
    return CountyPlatform(SignedApiClient.from_connection(
        as_conn(county_conn(county), "county_platform"), max_attempts=1, read_timeout=1.0, sleep=lambda s: None))


@pytest.fixture
def owed(inbox: Any, sqlite_store: Any, vault: Any, clock: Any) -> Any:
    clock.set(AT)
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, RECORDS), AT),
                        "/market/inbox/MARKET_PENALTY_20261128_001.xml")
    InboxIngest(config.feed("market"), inbox, sqlite_store, vault, TODAY).run()
    merge_pending(sqlite_store, vault)
    return sqlite_store


def finish_and_check(store: Any, vault: Any, county: Any, county_client: Any, stored: bool) -> None:
    with store.session() as s:
        (batch,) = s.execute(select(Batch)).scalars().all()
        assert batch.status == "prepared"  # kept, to be resent byte for byte
    assert len(sandbox_get(county, "history")) == (RECORDS if stored else 0)
    summary = CountyPusher(store, vault, county_client).run()
    assert summary.batches_resent == 1 and summary.batches_sent == 0
    assert summary.records == {"accepted": RECORDS}  # on a resend: the platform's stored answers
    assert len(sandbox_get(county, "batches")) == 1
    with store.session() as s:
        assert set(s.execute(select(OutboxItem.status)).scalars()) == {"done"}
    assert_each_version_once(county, store)


@pytest.mark.parametrize(("step", "when", "fault", "stored"), CELLS, ids=[f"{s}-{w}" for s, w, _, _ in CELLS])
def test_a_batch_cut_then_a_normal_run_applies_each_version_once(
        step: str, when: str, fault: dict[str, Any], stored: bool, owed: Any, vault: Any, county: Any,
        county_client: Any) -> None:
    sandbox_faults(county, [fault])
    with pytest.raises(PushIncomplete):
        CountyPusher(owed, vault, one_try_client(county)).run()
    finish_and_check(owed, vault, county, county_client, stored)


class _DiesOnTheAnswer:
    """The answer arrives whole and the task's process ends before the hub records it (a kill does
    the same; the subprocess variant is test_merge_and_push_county.py::test_killed_between_...)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def post_batch(self, body: bytes) -> dict[str, Any]:
        self.inner.post_batch(body)
        raise SystemExit("killed after the answer arrived")


def test_receive_after_the_answer_arrived_but_was_never_recorded(owed: Any, vault: Any, county: Any,
                                                                  county_client: Any) -> None:
    with pytest.raises(SystemExit):
        CountyPusher(owed, vault, _DiesOnTheAnswer(county_client)).run()
    finish_and_check(owed, vault, county, county_client, True)


# -- reconciliation: GET /api/v1/records/{id} cut before, during and after the platform looked it up --

RECONCILE_CELLS = [
    ("before", {"kind": "reset_before_answer", "on": "records"}),
    ("during", {"kind": "truncate_answer", "on": "records"}),
    ("after", {"kind": "drop_after_lookup", "on": "records"}),
]


def _post(county: Any, what: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{county.url}/_sandbox/{what}", data=b"{}", method="POST"),
                           timeout=10).close()


@pytest.mark.parametrize(("when", "fault"), RECONCILE_CELLS, ids=[f"reconcile-{w}" for w, _ in RECONCILE_CELLS])
def test_a_reconciliation_cut_then_a_normal_run_repairs_each_record_once(
        when: str, fault: dict[str, Any], owed: Any, vault: Any, county: Any, county_client: Any) -> None:
    from credit_exchange.publish.county.push import RECONCILE_CURSOR, reconcile
    from credit_exchange.store import Watermark

    assert CountyPusher(owed, vault, county_client).run().records == {"accepted": RECORDS}
    _post(county, "reset")  # the platform lost everything: every record is drift now
    sandbox_faults(county, [fault])
    from connectors.http_api import TransientHttpError

    with pytest.raises(TransientHttpError):  # the task fails, to be retried: nothing half done
        reconcile(owed, one_try_client(county))
    with owed.session() as s:
        assert s.get(Watermark, RECONCILE_CURSOR) is None  # the slice is checked again from its start
    again = reconcile(owed, county_client)
    assert (again.checked, again.requeued) == (RECORDS, RECORDS)
    assert CountyPusher(owed, vault, county_client).run().records == {"accepted": RECORDS}
    history = sandbox_get(county, "history")
    assert sorted((h["record_id"], h["version"]) for h in history) == sorted(
        {(h["record_id"], h["version"]) for h in history})  # each version once since the loss
    assert len(history) == RECORDS
    assert reconcile(owed, county_client).requeued == 0  # in step
