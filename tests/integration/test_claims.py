"""Two runs at once never share a received unit (issue 10, point 4): claims with an owner and a lease.

The overlaps that happen in a deployment: a manual ``dags test``, the watcher's run and the nightly
run of the same ingest at the same time. Each is played here with real threads, a real sshd and
both stores.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.sftp import SftpConnector
from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest
from credit_exchange.store import Alert, Claim, ReceivedFile
from credit_exchange.store.claims import Claims, Owner
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import good_records, market_xml
from tests.helpers import as_conn

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
X = "MARKET_PENALTY_20261128_001.xml"
Y = "MARKET_PENALTY_20261128_002.xml"


@pytest.fixture(autouse=True)
def _at(clock: Any) -> None:
    clock.set(AT)


# -- owners and leases -------------------------------------------------------------------------

def test_an_owner_is_gone_when_it_is_an_earlier_try_or_a_dead_process_here() -> None:
    me = Owner("ingest_market/manual__1/take_market_files", "hub-1", 4242)
    assert me.sees_gone(Owner(me.task, "hub-2", 17))  # an earlier try of this task, elsewhere
    assert not me.sees_gone(Owner("ingest_market/scheduled__2/take_market_files", "hub-2", 17))
    assert me.sees_gone(Owner("other/run/task", "hub-1", 2**22 + 12345))  # no such process here
    assert not me.sees_gone(Owner("other/run/task", "hub-1", 1))  # pid 1 lives
    assert Owner.parse(str(me)) == me


def test_a_live_claim_is_left_alone_and_an_expired_one_taken_over(sqlite_store, clock) -> None:
    elsewhere = Claims(sqlite_store, "market", Owner("ingest_market/a/take", "hub-2", 17))
    here = Claims(sqlite_store, "market", Owner("ingest_market/b/take", "hub-1", 18))
    assert elsewhere.take(X)
    assert not here.take(X)
    clock.advance(minutes=9)
    assert not here.take(X)
    elsewhere.renew()  # the owner is alive: its lease moves on
    clock.advance(minutes=9)
    assert not here.take(X)
    clock.advance(minutes=2)  # eleven minutes without a renewal: the owner is gone
    assert here.take(X)
    assert here.holder(X) == str(here.owner)
    assert not elsewhere.take(X)  # the old owner, back from the dead, must not take it back
    here.release(X)
    assert here.holder(X) is None


def test_a_takeover_fails_when_the_owner_renewed_meanwhile(sqlite_store, clock) -> None:
    elsewhere = Claims(sqlite_store, "market", Owner("t/a", "hub-2", 17))
    here = Claims(sqlite_store, "market", Owner("t/b", "hub-1", 18))
    assert elsewhere.take(X)
    clock.advance(minutes=11)
    with sqlite_store.session() as s:  # what the taker read just before the owner's renewal landed
        seen = s.get(Claim, ("market", X))
        seen_generation = seen.generation
    elsewhere.renew()
    with sqlite_store.session() as s:
        assert s.get(Claim, ("market", X)).generation == seen_generation + 1
    clock.advance(minutes=1)  # the renewed lease is live again
    assert not here.take(X)


# -- the inbox: a recovery never re-reads a file another run is reading -------------------------

class _Paused:
    """An inbox whose reading of one file stops at its first byte until the test lets it go on."""

    def __init__(self, inbox: Any, name: str) -> None:
        self._inbox, self._name = inbox, name
        self.reading, self.go = threading.Event(), threading.Event()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inbox, attr)

    def open_read(self, path: str) -> Any:
        inner = self._inbox.open_read(path)
        if not path.endswith("/" + self._name):
            return inner
        paused = self

        class Reader:
            def read(self, n: int = -1) -> bytes:
                paused.reading.set()
                assert paused.go.wait(60), "the test never let the first run go on"
                return inner.read(n)

            def __getattr__(self, attr: str) -> Any:
                return getattr(inner, attr)

            def __enter__(self) -> Reader:
                return self

            def __exit__(self, *exc: object) -> None:
                inner.close()

        return Reader()


def test_a_run_leaves_alone_the_file_another_run_is_reading(inbox_server, inbox, inbox_root, store, vault) -> None:
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, 5), AT), f"/market/inbox/{X}")
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, 4, start=11), AT), f"/market/inbox/{Y}")
    feed = config.feed("market")
    conn = as_conn(inbox_server.airflow_connection(), "inbox_sftp")
    outcome: dict[str, Any] = {}

    with SftpConnector.from_connection(conn) as sftp_a, SftpConnector.from_connection(conn) as sftp_b:
        paused = _Paused(sftp_a, X)

        def first() -> None:
            try:
                outcome["a"] = InboxIngest(feed, paused, store, vault, TODAY, run_id="nightly").run()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["a_error"] = exc

        a = threading.Thread(target=first)
        a.start()
        assert paused.reading.wait(30), "the first run never started reading"
        # The first run is in the middle of X: the second run (a manual `dags test`) starts now.
        b = InboxIngest(feed, sftp_b, store, vault, TODAY, run_id="manual").run()
        paused.go.set()
        a.join(60)

    assert "a_error" not in outcome, outcome.get("a_error")
    assert b.claimed_elsewhere == [X]
    assert [f.name for f in b.files] == [Y]
    assert [f.name for f in outcome["a"].files] == [X]
    with store.session() as s:
        rows = s.execute(select(ReceivedFile.name, ReceivedFile.finished, ReceivedFile.accepted)
                         .order_by(ReceivedFile.name)).all()
        assert s.execute(select(Claim)).scalars().all() == []
        assert s.execute(select(Alert)).scalars().all() == []
    assert [tuple(r) for r in rows] == [(X, True, 5), (Y, True, 4)]
    assert list((inbox_root / "market" / "processing").iterdir()) == []


def test_a_run_takes_over_a_file_whose_owner_is_gone(inbox, inbox_root, store, vault, clock) -> None:
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, 3), AT), f"/market/inbox/{X}")
    # A run on another worker claimed X, moved it to processing/ and died there.
    dead = Claims(store, "market", Owner("ingest_market/nightly/take_market_files", "worker-7", 99))
    assert dead.take(X)
    inbox.claim(f"/market/inbox/{X}", f"/market/processing/{X}")
    first = InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id="manual").run()
    assert first.claimed_elsewhere == [X] and first.files == []
    assert (inbox_root / "market" / "processing" / X).is_file()
    clock.advance(minutes=11)
    second = InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id="manual").run()
    assert [f.name for f in second.files] == [X] and second.files[0].counts["accepted"] == 3
    assert list((inbox_root / "market" / "processing").iterdir()) == []


def test_a_retry_of_the_same_task_takes_its_own_file_back_at_once(inbox, inbox_root, store, vault) -> None:
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, 3), AT), f"/market/inbox/{X}")
    task = "ingest_market/scheduled__2026-11-28/take_market_files"
    crashed = Claims(store, "market", Owner(task, "worker-7", 99))  # try 1, on another worker, lost
    assert crashed.take(X)
    inbox.claim(f"/market/inbox/{X}", f"/market/processing/{X}")
    retry = InboxIngest(config.feed("market"), inbox, store, vault, TODAY, owner=Owner(task, "worker-3", 12)).run()
    assert [f.name for f in retry.files] == [X]
    with store.session() as s:
        assert s.execute(select(Claim)).scalars().all() == []


def test_claims_expire_by_the_hubs_clock(sqlite_store, clock) -> None:
    c = Claims(sqlite_store, "pboc", Owner("t/a", "h", 1), lease=timedelta(minutes=1))
    assert c.take("PBOC_PAYRISK_20261128_01.dat")
    with sqlite_store.session() as s:
        row = s.get(Claim, ("pboc", "PBOC_PAYRISK_20261128_01.dat"))
        assert row.lease_until == AT + timedelta(minutes=1) and row.claimed_at == AT
