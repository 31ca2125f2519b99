"""The fault matrix, inbox rows (docs/fault-matrix.md): the inbox server's list, read, rename and
write, each cut before, during and after the server acted; then a normal run, and every record
of the file reaches the county platform exactly once in effect.

The cut is real (tests/sftp_faults.py shuts the TCP connection to the real sshd); the store is
SQLite (the same code runs on PostgreSQL in test_market_ingest.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.sftp import SftpError
from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest, IngestInterrupted
from credit_exchange.merge.deliveries import merge_pending
from credit_exchange.publish.county.push import CountyPusher
from credit_exchange.store import Delivery, ReceivedFile, RecordVersion
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import good_records, market_xml
from tests.sftp_faults import SftpCut

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
NAME = "MARKET_PENALTY_20261128_001.xml"
RECORDS = 40
DEPT = Path("market")

# (step, when, what the cut aims at); rename has no "during" (atomic on the server).
CELLS = [
    ("list", "before", "/market/inbox"),
    ("list", "during", "/market/inbox"),
    ("list", "after", "/market/inbox"),
    ("rename", "before", "/market/inbox/"),       # the claim: inbox/ -> processing/
    ("rename", "after", "/market/inbox/"),
    ("read", "before", NAME),
    ("read", "during", NAME),
    ("read", "after", NAME),
    ("write", "before", f"{NAME}.receipt.json"),  # the receipt: .tmp, then renamed
    ("write", "during", f"{NAME}.receipt.json"),
    ("write", "after", f"{NAME}.receipt.json"),
    ("rename", "before", "/market/processing/"),  # the move to archive/
    ("rename", "after", "/market/processing/"),
]


def ingest(inbox: Any, store: Any, vault: Any) -> Any:
    return InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id="fault-matrix").run()


def files_named(root: Path, folder: str) -> list[Path]:
    return [p for p in (root / DEPT / folder).rglob("*") if p.is_file() and p.name.startswith(NAME)]


def county_history(county: Any) -> list[tuple[str, int]]:
    import urllib.request

    with urllib.request.urlopen(f"{county.url}/_sandbox/history", timeout=10) as resp:
        return [(h["record_id"], h["version"]) for h in json.load(resp)]


@pytest.mark.parametrize(("step", "when", "target"), CELLS,
                         ids=[f"{s}-{w}-{'claim' if t == '/market/inbox/' else 'archive' if 'processing' in t else ''}"
                              .rstrip("-") for s, w, t in CELLS])
def test_an_inbox_step_cut_then_a_normal_run_delivers_each_record_once(
        step: str, when: str, target: str, inbox: Any, inbox_root: Path, sqlite_store: Any, vault: Any,
        county: Any, county_client: Any, clock: Any) -> None:
    clock.set(AT)
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", TODAY, RECORDS), AT), f"/market/inbox/{NAME}")

    with SftpCut(step, when, target) as cut:
        with pytest.raises((IngestInterrupted, SftpError)) as failed:
            ingest(inbox, sqlite_store, vault)
    assert cut.tripped
    # The failure says what it is (a dropped connection), never a bare OSError or a quarantine.
    assert not files_named(inbox_root, "quarantine")
    if isinstance(failed.value, IngestInterrupted):
        assert failed.value.summary.interrupted == [NAME]
    with sqlite_store.session() as s:
        assert set(s.execute(select(ReceivedFile.status)).scalars()) <= {"processing", "accepted"}
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() in (0, RECORDS)

    # The next run (the task's retry) meets a healthy server.
    ingest(inbox, sqlite_store, vault)
    assert [p.parent.relative_to(inbox_root / DEPT).as_posix() for p in files_named(inbox_root, "archive")] \
        == ["archive/2026/11"]
    assert not files_named(inbox_root, "inbox") and not files_named(inbox_root, "processing")
    receipts = files_named(inbox_root, "receipts")
    assert [p.name for p in receipts] == [f"{NAME}.receipt.json"]
    receipt = json.loads(receipts[0].read_text(encoding="utf-8"))
    assert receipt["status"] == "accepted" and receipt["records"]["accepted"] == RECORDS
    with sqlite_store.session() as s:
        (row,) = s.execute(select(ReceivedFile)).scalars().all()
        assert row.finished and row.status == "accepted" and row.stored_path == f"/market/archive/2026/11/{NAME}"
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == RECORDS

    merge_pending(sqlite_store, vault)
    CountyPusher(sqlite_store, vault, county_client).run()
    history = county_history(county)
    assert len(history) == len(set(history)) == RECORDS
    with sqlite_store.session() as s:
        assert set(history) == set(s.execute(select(RecordVersion.record_id, RecordVersion.hub_version)).all())
