"""ingest_market's core against a real sshd and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest, IngestInterrupted
from credit_exchange.store import Delivery, ReceivedFile, Reject
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import XmlRecord, break_record, good_records, market_xml

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
D = "20261128"


def run(inbox: Any, store: Any, vault: Any) -> Any:
    return InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id="test").run()


def drop(inbox: Any, name: str, body: bytes) -> None:
    inbox.upload_atomic(body, f"/market/inbox/{name}")


def receipt(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / "market" / "receipts" / f"{name}.receipt.json").read_text(encoding="utf-8"))


def archived(root: Path, name: str) -> bool:
    return any((root / "market" / "archive").rglob(name))


def test_good_file_is_taken_receipted_and_archived(inbox, inbox_root, store, vault, clock) -> None:
    clock.set(AT)
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 5), AT))
    summary = run(inbox, store, vault)
    assert summary.totals()["accepted"] == 5
    r = receipt(inbox_root, name)
    assert r["status"] == "accepted"
    assert r["records"] == {"total": 5, "accepted": 5, "rejected": 0, "unchanged": 0, "stale": 0}
    assert len(r["sha256"]) == 64 and r["errors"] == []
    assert not (inbox_root / "market" / "inbox" / name).exists()
    assert not (inbox_root / "market" / "processing" / name).exists()
    assert archived(inbox_root, name)
    with store.session() as s:
        rows = s.execute(select(Delivery).order_by(Delivery.id)).scalars().all()
        f = s.execute(select(ReceivedFile)).scalar_one()
    assert [d.position for d in rows] == [f"record {i}" for i in range(1, 6)]
    assert rows[0].record_id.startswith("market:administrative_penalty:SCJG-CF-2026-")
    assert f.sha256 == r["sha256"] and f.finished and f.stored_path == f"/market/archive/2026/11/{name}"
    assert r["received_at"] == r["processed_at"] == "2026-11-28T23:10:00+08:00"


@pytest.mark.parametrize("at, month", [
    (datetime(2026, 11, 30, 23, 59, 30, tzinfo=LOCAL), "2026/11"),  # 15:59:30 UTC, still November here
    (datetime(2026, 12, 1, 0, 0, 30, tzinfo=LOCAL), "2026/12"),     # 16:00:30 UTC on November 30
    (datetime(2026, 12, 31, 23, 59, 0, tzinfo=LOCAL), "2026/12"),
    (datetime(2027, 1, 1, 0, 1, 0, tzinfo=LOCAL), "2027/01"),
])
def test_receipt_times_and_archive_month_are_asia_shanghai_whatever_the_host_tz(
        inbox, inbox_root, store, vault, clock, host_tz, at, month) -> None:
    clock.set(at)
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 2), AT))
    run(inbox, store, vault)
    r = receipt(inbox_root, name)
    assert r["received_at"] == r["processed_at"] == at.isoformat(timespec="seconds")
    assert (inbox_root / "market" / "archive" / month / name).is_file()
    with store.session() as s:
        f = s.execute(select(ReceivedFile)).scalar_one()
    assert f.received_at == at and f.received_at.utcoffset().total_seconds() == 8 * 3600
    assert f.stored_path == f"/market/archive/{month}/{name}"


def test_bad_records_are_named_in_the_receipt_and_not_stored_as_accepted(inbox, inbox_root, store, vault) -> None:
    name = f"MARKET_PENALTY_{D}_001.xml"
    recs = good_records("PENALTY", TODAY, 4)
    recs[1] = break_record("PENALTY", recs[1], "uscc_checksum", TODAY)
    recs[2] = break_record("PENALTY", recs[2], "fine_missing", TODAY)
    drop(inbox, name, market_xml("PENALTY", recs, AT))
    run(inbox, store, vault)
    r = receipt(inbox_root, name)
    assert r["status"] == "partially_accepted"
    assert r["records"]["accepted"] == 2 and r["records"]["rejected"] == 2
    by_pos = {e["position"]: e for e in r["errors"]}
    assert by_pos["record 2"]["record_id"] == recs[1].id
    assert by_pos["record 2"]["field"] == "统一社会信用代码"
    assert by_pos["record 2"]["code"].startswith("uscc")
    assert by_pos["record 3"]["field"] == "罚款金额（万元）"
    assert all("(" in e["message"] for e in r["errors"])
    with store.session() as s:
        outcomes = dict(s.execute(select(Delivery.dept_record_id, Delivery.outcome)).all())
        rejects = s.execute(select(func.count()).select_from(Reject)).scalar_one()
    assert outcomes[recs[1].id] == "rejected" and outcomes[recs[0].id] == "accepted"
    assert rejects == 2


def test_receipts_never_hold_a_full_id_number(inbox, inbox_root, store, vault) -> None:
    name = f"MARKET_LICENSE_{D}_001.xml"
    recs = good_records("LICENSE", TODAY, 2)
    bad = dict(recs[1].data)
    bad.update({"subject_category": "自然人", "id_type": "身份证", "id_number": "511123199001011234"})
    bad.pop("uscc", None)
    recs[1] = XmlRecord(id=recs[1].id, data=bad)
    drop(inbox, name, market_xml("LICENSE", recs, AT))
    run(inbox, store, vault)
    text = (inbox_root / "market" / "receipts" / f"{name}.receipt.json").read_text(encoding="utf-8")
    assert "511123199001011234" not in text
    assert receipt(inbox_root, name)["records"]["rejected"] == 1


def test_upload_in_transit_is_left_alone(inbox, inbox_root, store, vault) -> None:
    inbox.write_bytes(f"/market/inbox/MARKET_PENALTY_{D}_001.xml.tmp", b"<?xml")
    summary = run(inbox, store, vault)
    assert summary.files == []
    assert (inbox_root / "market" / "inbox" / f"MARKET_PENALTY_{D}_001.xml.tmp").exists()
    assert list((inbox_root / "market" / "receipts").iterdir()) == []


@pytest.mark.parametrize(("name", "body", "code"), [
    (f"MARKET_PENALTY_{D}_002.xml", lambda: market_xml("PENALTY", good_records("PENALTY", TODAY, 3), AT,
                                                        record_count=5), "record_count_mismatch"),
    (f"MARKET_PENALTY_{D}_003.xml", lambda: market_xml("PENALTY", good_records("PENALTY", TODAY, 1), AT,
                                                        doctype="<!DOCTYPE CreditData>"), "xml_doctype"),
    ("penalties-final.xml", lambda: b"<CreditData/>", "file_name"),
])
def test_refused_files_go_to_quarantine_and_harm_nothing_else(inbox, inbox_root, store, vault, name, body,
                                                               code) -> None:
    good = f"MARKET_LICENSE_{D}_001.xml"
    drop(inbox, good, market_xml("LICENSE", good_records("LICENSE", TODAY, 3), AT))
    drop(inbox, name, body())
    run(inbox, store, vault)
    r = receipt(inbox_root, name)
    assert r["status"] == "rejected"
    assert [(e["position"], e["code"]) for e in r["errors"]] == [("file", code)]
    assert (inbox_root / "market" / "quarantine" / name).exists()
    assert receipt(inbox_root, good)["records"]["accepted"] == 3
    with store.session() as s:
        taken = s.execute(select(func.count()).select_from(Delivery)).scalar_one()
    assert taken == 3  # nothing of the refused file was kept as a record


def test_redelivery_unchanged_and_versions(inbox, inbox_root, store, vault) -> None:
    recs = good_records("PENALTY", TODAY, 3)
    drop(inbox, f"MARKET_PENALTY_{D}_001.xml", market_xml("PENALTY", recs, AT))
    run(inbox, store, vault)
    # The same content again, a changed record at version 2, and a stale version 0 -> use 1 after 2.
    changed = XmlRecord(id=recs[0].id, version=2, data={**recs[0].data, "penalty_content": "更正后的处罚内容"})
    drop(inbox, f"MARKET_PENALTY_{D}_002.xml", market_xml("PENALTY", [changed, recs[1], recs[2]], AT))
    run(inbox, store, vault)
    r2 = receipt(inbox_root, f"MARKET_PENALTY_{D}_002.xml")
    assert r2["records"] == {"total": 3, "accepted": 1, "rejected": 0, "unchanged": 2, "stale": 0}
    assert r2["status"] == "accepted"
    drop(inbox, f"MARKET_PENALTY_{D}_003.xml", market_xml("PENALTY", [recs[0]], AT))
    run(inbox, store, vault)
    r3 = receipt(inbox_root, f"MARKET_PENALTY_{D}_003.xml")
    assert r3["records"]["stale"] == 1
    assert [(e["record_id"], e["code"]) for e in r3["errors"]] == [(recs[0].id, "stale_version")]


def test_same_file_delivered_twice_changes_nothing(inbox, inbox_root, store, vault) -> None:
    name = f"MARKET_ABNORMAL_{D}_001.xml"
    body = market_xml("ABNORMAL", good_records("ABNORMAL", TODAY, 4), AT)
    drop(inbox, name, body)
    run(inbox, store, vault)
    drop(inbox, name, body)
    run(inbox, store, vault)
    with store.session() as s:
        accepted = s.execute(select(func.count()).select_from(Delivery).where(Delivery.outcome == "accepted")).scalar_one()
        files = s.execute(select(ReceivedFile.name, ReceivedFile.unchanged).order_by(ReceivedFile.id)).all()
    assert accepted == 4
    assert [u for _, u in files] == [0, 4]
    assert len(list((inbox_root / "market" / "archive").rglob(f"{name}*"))) == 2


class _Crashing:
    """The inbox, but the connection drops after some bytes of a file: a worker dying mid-file."""

    def __init__(self, inbox: Any, after: int) -> None:
        self._inbox, self._after = inbox, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inbox, name)

    def open_read(self, path: str) -> Any:
        inner = self._inbox.open_read(path)
        after = self._after

        class Reader:
            def __init__(self) -> None:
                self.n = 0

            def read(self, size: int = -1) -> bytes:
                if self.n >= after:
                    raise ConnectionResetError("connection dropped mid-file")
                data = inner.read(min(size if size > 0 else 65536, 4096))
                self.n += len(data)
                return data

            def __enter__(self) -> Reader:
                return self

            def __exit__(self, *a: object) -> None:
                inner.close()

        return Reader()


def test_a_crash_mid_file_loses_nothing_and_takes_nothing_twice(inbox, inbox_root, store, vault) -> None:
    name = f"MARKET_PENALTY_{D}_001.xml"
    drop(inbox, name, market_xml("PENALTY", good_records("PENALTY", TODAY, 50), AT))
    with pytest.raises(IngestInterrupted) as interrupted:
        InboxIngest(config.feed("market"), _Crashing(inbox, 20_000), store, vault, TODAY).run()
    assert interrupted.value.summary.interrupted == [name]
    assert (inbox_root / "market" / "processing" / name).exists()
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
    run(inbox, store, vault)  # the next run finds it in processing/ and takes it
    assert receipt(inbox_root, name)["records"]["accepted"] == 50
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 50
    assert archived(inbox_root, name)
