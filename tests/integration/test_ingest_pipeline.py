"""ingest_market's core with big files taken through the pipeline (a worker process parses and validates).

Every test of ``test_market_ingest`` runs again here with the pipeline's size
threshold at zero, so both paths are covered against the real sshd and both
stores; then what only the pipeline can do wrong: a worker that dies.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest, IngestInterrupted
from credit_exchange.intake import pipeline
from credit_exchange.store import Delivery, ReceivedFile
from sandbox.market_files import good_records, market_xml
from tests.integration.test_market_ingest import (  # noqa: F401 - collected again, through the pipeline
    AT,
    TODAY,
    D,
    archived,
    drop,
    receipt,
    run,
    test_a_crash_mid_file_loses_nothing_and_takes_nothing_twice,
    test_bad_records_are_named_in_the_receipt_and_not_stored_as_accepted,
    test_good_file_is_taken_receipted_and_archived,
    test_receipts_never_hold_a_full_id_number,
    test_redelivery_unchanged_and_versions,
    test_refused_files_go_to_quarantine_and_harm_nothing_else,
    test_same_file_delivered_twice_changes_nothing,
    test_upload_in_transit_is_left_alone,
)


@pytest.fixture(autouse=True)
def through_pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every market file goes through the worker; the names taken that way are listed."""
    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    taken: list[str] = []
    real = pipeline.take_records

    def spy(intake: Any, feed: Any, name: str, *args: Any) -> None:
        taken.append(name)
        real(intake, feed, name, *args)

    monkeypatch.setattr(pipeline, "take_records", spy)
    yield taken


def test_big_files_really_go_through_the_worker(inbox, inbox_root, store, vault, through_pipeline) -> None:
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 5), AT))
    run(inbox, store, vault)
    assert through_pipeline == [name]
    assert receipt(inbox_root, name)["records"]["accepted"] == 5


def test_small_files_stay_in_process(inbox, inbox_root, store, vault, through_pipeline,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 1 << 30)
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 5), AT))
    run(inbox, store, vault)
    assert through_pipeline == []
    assert receipt(inbox_root, name)["records"]["accepted"] == 5


# The real worker, which exits abruptly right after sending its first batch.
_DYING = ("import os, credit_exchange.intake.prepare as p\n"
          "real = p.send\n"
          "def send(out, obj):\n"
          "    real(out, obj)\n"
          "    if obj[0] == 'batch':\n"
          "        os._exit(9)\n"
          "p.send = send\n"
          "p.main()\n")


# The real worker, whose output falls out of step after its first batch (stray bytes on the pipe).
_GARBLED = ("import os, credit_exchange.intake.prepare as p\n"
            "real = p.send\n"
            "def send(out, obj):\n"
            "    real(out, obj)\n"
            "    if obj[0] == 'batch':\n"
            "        os.write(out, b'stray bytes, not a frame')\n"
            "p.send = send\n"
            "p.main()\n")


@pytest.mark.parametrize("command", [
    pytest.param([sys.executable, "-c", _DYING], id="after-a-batch"),
    pytest.param([sys.executable, "-c", _GARBLED], id="out-of-step"),
    pytest.param([sys.executable, "-c", "import os; os._exit(3)"], id="at-once"),
])
def test_a_worker_that_dies_fails_the_file_cleanly(inbox, inbox_root: Path, store, vault, command: list[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 20), AT))
    with monkeypatch.context() as m:
        m.setattr(pipeline, "worker_command", lambda: command)
        with pytest.raises(IngestInterrupted) as interrupted:
            InboxIngest(config.feed("market"), inbox, store, vault, TODAY).run()
    assert interrupted.value.summary.interrupted == [name]
    assert (inbox_root / "market" / "processing" / name).exists()
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
        assert s.execute(select(ReceivedFile.status)).scalar_one() == "processing"
    run(inbox, store, vault)  # the next run finds it in processing/ and takes it, with a healthy worker
    assert receipt(inbox_root, name)["records"]["accepted"] == 20
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 20
    assert archived(inbox_root, name)
