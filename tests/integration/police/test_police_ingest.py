"""ingest_police's core against a real sshd and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.store import Alert, Delivery, ReceivedFile
from credit_exchange.timeutil import LOCAL
from sandbox.police_files import csv_row, demo_night, file_name, good_cases, police_csv, withdrawal_row

TODAY = date(2026, 11, 28)  # the conftest's run date
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
NAME = file_name(TODAY, 1)
DAY = 86_400


def quiet_feed(seconds: float) -> Any:
    feed = config.feed("police")
    return dataclasses.replace(feed, options={**feed.options, "quiet_period_seconds": seconds})


def deliveries(store: Any) -> list[Any]:
    with store.session() as s:
        return s.execute(select(Delivery).order_by(Delivery.id)).scalars().all()


def test_a_growing_file_is_left_alone_until_it_is_quiet(police) -> None:
    feed = quiet_feed(2)
    cases = good_cases(TODAY, 8)
    body = police_csv([csv_row(c) for c in cases])
    path = f"/police/inbox/{NAME}"
    # The police client writes the final name directly, slowly.
    half = body.rindex(b"\r\n", 0, len(body) // 2) + 2
    with police.inbox.sftp.open(path, "wb") as fh:
        fh.write(body[:half])
    summary = police.run(feed)
    assert summary.files == [] and summary.in_transit == [NAME]
    assert (police.dir / "inbox" / NAME).exists()
    assert list((police.dir / "receipts").iterdir()) == []
    assert list((police.dir / "processing").iterdir()) == []  # the clock probe is gone again

    with police.inbox.sftp.open(path, "ab") as fh:
        fh.write(body[half:])
    appended = time.monotonic()
    summary = police.run(feed)
    assert summary.files == [] and summary.in_transit == [NAME]
    with police.store.session() as s:
        assert s.execute(select(func.count()).select_from(ReceivedFile)).scalar_one() == 0

    deadline = appended + 15
    while not summary.files and time.monotonic() < deadline:
        time.sleep(0.5)
        summary = police.run(feed)
    assert [f.name for f in summary.files] == [NAME]
    assert time.monotonic() - appended >= 1  # not before the quiet period (mtime has whole seconds)
    assert police.receipt(NAME)["records"] == {"total": 8, "accepted": 8, "rejected": 0, "unchanged": 0,
                                              "stale": 0}
    assert not (police.dir / "inbox" / NAME).exists()


def test_a_writer_that_keeps_an_old_mtime_is_caught_by_the_size(police) -> None:
    """The second look finds another size: the file is still being written whatever its mtime says."""
    local = police.drop(NAME, police_csv([csv_row(c) for c in good_cases(TODAY, 2)]), age_seconds=3600)
    old = os.stat(local).st_mtime

    class GrowsBetweenLooks:
        def __init__(self, inbox: Any) -> None:
            self._inbox = inbox

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inbox, name)

        def stat(self, path: str) -> Any:
            if path.endswith(NAME):
                with open(local, "ab") as fh:
                    fh.write(b"JWGA2026999999,")
                os.utime(local, (old, old))
            return self._inbox.stat(path)

    from credit_exchange.feeds.inbox import InboxIngest

    summary = InboxIngest(config.feed("police"), GrowsBetweenLooks(police.inbox), police.store, police.vault,
                          TODAY).run()
    assert summary.files == [] and summary.in_transit == [NAME]
    assert local.exists()


def test_gb18030_and_bom_utf8_files_give_the_same_records(police) -> None:
    cases = good_cases(TODAY, 6)
    rows = [csv_row(c, date_form=("iso", "slash", "chinese")[i % 3]) for i, c in enumerate(cases)]
    rows[2]["备注"] = "含逗号，\r\n和换行的备注"
    police.drop(file_name(TODAY, 1), police_csv(rows, encoding="gb18030"))
    police.drop(file_name(TODAY, 2), police_csv(rows, encoding="utf-8-sig"))
    police.run()
    r1, r2 = police.receipt(file_name(TODAY, 1)), police.receipt(file_name(TODAY, 2))
    assert r1["records"]["accepted"] == 6
    assert r2["records"] == {"total": 6, "accepted": 0, "rejected": 0, "unchanged": 6, "stale": 0}
    by_file: dict[int, dict[str, tuple[str, str | None]]] = {}
    for d in deliveries(police.store):
        by_file.setdefault(d.file_id, {})[d.dept_record_id] = (d.position, d.content_hash)
    first, second = by_file.values()
    assert first == second


def test_a_redelivered_file_changes_nothing(police) -> None:
    body = police_csv([csv_row(c) for c in good_cases(TODAY, 5)] + [withdrawal_row("JWGA2025000901")])
    police.drop(NAME, body)
    police.run()
    assert police.receipt(NAME)["records"]["accepted"] == 6
    police.drop(NAME, body)
    police.run()
    r = police.receipt(NAME)
    assert r["status"] == "accepted"
    assert r["records"] == {"total": 6, "accepted": 0, "rejected": 0, "unchanged": 6, "stale": 0}
    with police.store.session() as s:
        accepted = s.execute(select(func.count()).select_from(Delivery).where(
            Delivery.outcome == "accepted")).scalar_one()
    assert accepted == 6
    assert len(list((police.dir / "archive").rglob(f"{NAME}*"))) == 2


def test_a_newer_file_updates_and_an_older_one_is_stale(police) -> None:
    cases = good_cases(TODAY, 3)
    police.drop(file_name(TODAY, 1), police_csv([csv_row(c) for c in cases]))
    police.run()
    closed = {**cases[0], "closed_date": TODAY.isoformat(), "outcome": "移送检察机关审查起诉"}
    police.drop(file_name(TODAY, 2), police_csv([csv_row(closed), csv_row(cases[1])]))
    police.run()
    r2 = police.receipt(file_name(TODAY, 2))
    assert r2["records"] == {"total": 2, "accepted": 1, "rejected": 0, "unchanged": 1, "stale": 0}
    # Yesterday's export arrives late: it still carries the case's older state.
    late = file_name(TODAY.replace(day=27), 1)
    police.drop(late, police_csv([csv_row(cases[0]), csv_row(cases[2])]))
    police.run()
    r3 = police.receipt(late)
    assert r3["records"] == {"total": 2, "accepted": 0, "rejected": 0, "unchanged": 0, "stale": 2}
    assert [(e["position"], e["record_id"], e["code"]) for e in r3["errors"]] == [
        ("line 2", cases[0]["case_no"], "stale_version"), ("line 3", cases[2]["case_no"], "stale_version")]
    with police.store.session() as s:
        versions = dict(s.execute(select(Delivery.dept_record_id, func.max(Delivery.dept_version)).where(
            Delivery.outcome == "accepted").group_by(Delivery.dept_record_id)).all())
    assert versions[cases[0]["case_no"]] == 2026112802 and versions[cases[2]["case_no"]] == 2026112801


def test_receipts_name_physical_lines_and_never_a_full_id_number(police) -> None:
    (name, body), = demo_night(TODAY, AT).items()
    text = body.decode("gb18030")
    police.drop(name, body)
    police.run()
    r = police.receipt(name)
    assert r["status"] == "partially_accepted"
    assert r["records"] == {"total": 16, "accepted": 13, "rejected": 3, "unchanged": 0, "stale": 0}
    lines = text.split("\r\n")
    by_code = {e["code"]: e for e in r["errors"]}
    assert set(by_code) == {"format_date", "id_number_checksum", "id_number_15"}
    for e in r["errors"]:
        assert e["position"].startswith("line ")
        n = int(e["position"].removeprefix("line "))
        assert e["record_id"] in lines[n - 1]  # the physical line the case starts on
        assert "(" in e["message"]
    assert by_code["format_date"]["field"] == "立案日期"
    assert by_code["id_number_checksum"]["field"] == "证件号码"
    # The second row's remark spans two lines, so every later position is one line further down.
    assert int(by_code["format_date"]["position"].removeprefix("line ")) == 8
    receipt_text = police.receipt_text(name)
    ids = {c["id_number"] for c in good_cases(TODAY, 15) if c.get("id_type") == "身份证"}
    written = {cell for line in lines for cell in line.split(",") if len(cell) in (15, 18) and cell[:6].isdigit()}
    assert len(written) >= 3
    assert not [i for i in ids | written if i in receipt_text]


def test_a_stuck_upload_raises_one_alert(police) -> None:
    stuck = f"{NAME}.tmp"
    recent = f"{file_name(TODAY, 2)}.tmp"
    police.drop(stuck, b"\xb0\xb8\xbc\xfe", age_seconds=8 * DAY)
    police.drop(recent, b"\xb0\xb8\xbc\xfe", age_seconds=6 * DAY)
    first = police.run()
    second = police.run()
    assert first.stuck == [stuck] and second.stuck == [stuck]
    assert sorted(first.in_transit) == sorted([stuck, recent])
    assert (police.dir / "inbox" / stuck).exists()
    assert list((police.dir / "receipts").iterdir()) == []
    with police.store.session() as s:
        alerts = s.execute(select(Alert)).scalars().all()
    assert [(a.kind, a.source, a.subject, a.resolved_at) for a in alerts] == [("inbox_stuck", "police", stuck, None)]
    assert "8天" in alerts[0].message and "8 days" in alerts[0].message
    # Once the department cleared it up, the alert is closed.
    (police.dir / "inbox" / stuck).unlink()
    police.run()
    with police.store.session() as s:
        assert s.execute(select(Alert.resolved_at)).scalar_one() is not None
