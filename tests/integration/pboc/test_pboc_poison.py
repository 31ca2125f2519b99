"""Hostile PBoC pairs stay inside their pair, and two runs never take one pair at once (issue 10, points 3-4)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.feeds.pboc import parser as pboc_dat
from credit_exchange.feeds.pboc.source import PbocIngest
from credit_exchange.store import Alert, Delivery, Receipt, ReceivedFile, SourcePair
from credit_exchange.store.claims import Claims, Owner
from sandbox.pboc_files import dat_line, events, pboc_pair, write_pair

TODAY = date(2026, 11, 28)
GOOD = "PBOC_PAYRISK_20261128_01.dat"
BAD = "PBOC_PAYRISK_20261128_02.dat"
HUGE = "9" * 5000


def run(outbox: Any, store: Any, vault: Any, run_id: str = "test") -> Any:
    return PbocIngest(config.feed("pboc"), outbox, store, vault, TODAY, run_id=run_id).run()


def receipt_of(store: Any, name: str) -> dict[str, Any]:
    with store.session() as s:
        body = s.execute(select(Receipt.body).join(ReceivedFile, Receipt.file_id == ReceivedFile.id)
                         .where(ReceivedFile.name == name)).scalar_one()
    return json.loads(body)


def good_pair(outbox_dir: Any) -> None:
    write_pair(outbox_dir, pboc_pair(events(TODAY, 3), GOOD))


def accepted(store: Any) -> int:
    with store.session() as s:
        return s.execute(select(func.count()).select_from(Delivery).where(Delivery.outcome == "accepted")).scalar_one()


@pytest.mark.parametrize("version", ["²", "３", HUGE, "0"])
def test_a_line_with_an_odd_or_huge_version_rejects_that_line_only(pboc_outbox, pboc_outbox_dir, store, vault,
                                                                    version) -> None:
    good_pair(pboc_outbox_dir)
    rows = events(TODAY, 3, start=11)
    rows[0] = {"raw": dat_line(rows[0]).replace("|1|U|", f"|{version}|U|", 1)}
    write_pair(pboc_outbox_dir, pboc_pair(rows, BAD))
    summary = run(pboc_outbox, store, vault)
    assert sorted(p.name for p in summary.taken) == [GOOD, BAD]
    r = receipt_of(store, BAD)
    assert r["status"] == "partially_accepted"
    assert [(e["position"], e["code"]) for e in r["errors"]] == [("line 1", "record_version")]
    assert accepted(store) == 5


def test_a_huge_amount_rejects_its_line_only(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    good_pair(pboc_outbox_dir)
    rows = events(TODAY, 2, start=21)
    rows[1]["amount_yuan"] = HUGE
    write_pair(pboc_outbox_dir, pboc_pair(rows, BAD))
    run(pboc_outbox, store, vault)
    r = receipt_of(store, BAD)
    assert r["records"]["rejected"] == 1
    assert [(e["position"], e.get("field_code")) for e in r["errors"]] == [("line 2", "amount_yuan")]
    assert accepted(store) == 4


@pytest.mark.parametrize("count", ["³", HUGE, "3 "])
def test_a_control_count_in_odd_digits_is_a_failed_check_not_a_crash(pboc_outbox, pboc_outbox_dir, store, vault,
                                                                      count) -> None:
    good_pair(pboc_outbox_dir)
    files = pboc_pair(events(TODAY, 3, start=31), BAD)
    ok = BAD.removesuffix(".dat") + ".ok"
    name, _, digest = files[ok].decode().strip().split("|")
    files[ok] = f"{name}|{count}|{digest}\n".encode()
    write_pair(pboc_outbox_dir, files)
    summary = run(pboc_outbox, store, vault)
    assert [p.name for p in summary.taken] == [GOOD] and summary.pending == [BAD]
    with store.session() as s:
        (problem,) = s.execute(select(SourcePair.last_problem).where(SourcePair.name == BAD)).scalars().all()
    assert "记录数" in problem


def test_a_pair_whose_reading_raises_is_recorded_as_refused(pboc_outbox, pboc_outbox_dir, store, vault,
                                                             monkeypatch) -> None:
    real = pboc_dat.DatParser._record

    def record(self: Any, raw: bytes, overflow: bool) -> Any:
        if b"BOOM" in raw:
            raise RuntimeError("a bug meets hostile bytes")
        return real(self, raw, overflow)

    monkeypatch.setattr(pboc_dat.DatParser, "_record", record)
    good_pair(pboc_outbox_dir)
    rows = events(TODAY, 2, start=41)
    rows[1]["remark"] = "BOOM"
    write_pair(pboc_outbox_dir, pboc_pair(rows, BAD))
    summary = run(pboc_outbox, store, vault)
    assert sorted(p.name for p in summary.taken) == [GOOD, BAD]
    r = receipt_of(store, BAD)
    assert r["status"] == "rejected" and [e["code"] for e in r["errors"]] == ["unit_unreadable"]
    with store.session() as s:
        assert s.execute(select(SourcePair.status).where(SourcePair.name == BAD)).scalar_one() == "taken"
        assert s.execute(select(Alert.kind).where(Alert.subject == BAD)).scalar_one() == "pboc_pair_refused"
    assert accepted(store) == 3
    # Their outbox still holds it, and it is not read again: it counts as taken.
    assert run(pboc_outbox, store, vault).already_taken == [GOOD, BAD]


def test_a_pair_another_run_is_taking_is_left_to_it(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    good_pair(pboc_outbox_dir)
    write_pair(pboc_outbox_dir, pboc_pair(events(TODAY, 2, start=51), BAD))
    other = Claims(store, "pboc", Owner("ingest_pboc/manual__x/take_pboc_pairs", "worker-2", 7))
    assert other.take(BAD)
    summary = run(pboc_outbox, store, vault)
    assert [p.name for p in summary.taken] == [GOOD] and summary.claimed_elsewhere == [BAD]
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(SourcePair).where(SourcePair.name == BAD)).scalar_one() == 0
    other.release(BAD)
    assert [p.name for p in run(pboc_outbox, store, vault).taken] == [BAD]
