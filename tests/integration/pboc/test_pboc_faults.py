"""The fault matrix, PBoC rows (docs/fault-matrix.md): the read-only outbox's list and the reads of a
pair, cut before, during and after the server answered; then a normal run takes the pair once.

The cut is real (tests/sftp_faults.py shuts the TCP connection to the real sshd). PBoC's server is
read-only for us, so there is no rename or write row: the hub's memory of a pair (by name and digest)
is what keeps a pair from being taken twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.sftp import SftpError
from credit_exchange import config
from credit_exchange.feeds.pboc.source import PbocIngest, PbocInterrupted
from credit_exchange.store import Alert, Delivery, ReceivedFile, SourcePair
from sandbox.pboc_files import control_name, events, pboc_pair, write_pair
from tests.sftp_faults import SftpCut

TODAY = date(2026, 11, 28)
NAME = "PBOC_PAYRISK_20261128_01.dat"
OK = control_name(NAME)
EVENTS = 30

CELLS = [
    ("list", "before", "/outbox"),
    ("list", "during", "/outbox"),
    ("list", "after", "/outbox"),
    ("read", "before", OK),
    ("read", "after", OK),
    ("read", "before", NAME),
    ("read", "during", NAME),
    ("read", "after", NAME),
]


def run(outbox: Any, store: Any, vault: Any) -> Any:
    return PbocIngest(config.feed("pboc"), outbox, store, vault, TODAY, run_id="fault-matrix").run()


@pytest.mark.parametrize(("step", "when", "target"), CELLS,
                         ids=[f"{s}-{w}{'-ok' if t == OK else '-dat' if t == NAME else ''}" for s, w, t in CELLS])
def test_a_pboc_read_cut_then_a_normal_run_takes_the_pair_once(
        step: str, when: str, target: str, pboc_outbox: Any, pboc_outbox_dir: Any, sqlite_store: Any,
        vault: Any) -> None:
    write_pair(pboc_outbox_dir, pboc_pair(events(TODAY, EVENTS), NAME))

    with SftpCut(step, when, target) as cut:
        with pytest.raises((PbocInterrupted, SftpError)) as failed:
            run(pboc_outbox, sqlite_store, vault)
    assert cut.tripped
    if isinstance(failed.value, PbocInterrupted):
        assert failed.value.summary.interrupted in ([OK], [NAME])  # named by the file being read
    with sqlite_store.session() as s:
        # Nothing half-taken: no records, no refusal, no alert, and the pair not marked taken.
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
        assert set(s.execute(select(ReceivedFile.status)).scalars()) <= {"processing"}
        assert "taken" not in set(s.execute(select(SourcePair.status)).scalars())
        assert s.execute(select(func.count()).select_from(Alert)).scalar_one() == 0

    summary = run(pboc_outbox, sqlite_store, vault)
    assert summary.as_xcom()["accepted"] == EVENTS
    assert run(pboc_outbox, sqlite_store, vault).already_taken == [NAME]  # and never again
    with sqlite_store.session() as s:
        accepted = s.execute(select(ReceivedFile).where(ReceivedFile.status == "accepted")).scalars().all()
        assert [(f.name, f.finished) for f in accepted] == [(NAME, True)]
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == EVENTS
        assert s.execute(select(SourcePair.status)).scalars().all() == ["taken"]
    assert sorted(p.name for p in pboc_outbox_dir.iterdir()) == sorted([OK, NAME])  # their server: untouched
