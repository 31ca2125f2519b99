"""ingest_pboc's core against a real read-only sshd and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from credit_exchange import config
from credit_exchange.feeds.pboc.source import PbocIngest
from credit_exchange.store import Alert, Delivery, Receipt, ReceivedFile, Reject, SourcePair
from credit_exchange.timeutil import LOCAL
from sandbox.pboc_files import control_name, demo_night, events, pboc_pair, write_pair
from sandbox.samples import make_id_number

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 22, 0, tzinfo=LOCAL)
NAME = "PBOC_PAYRISK_20261128_01.dat"
OK = control_name(NAME)


def run(outbox: Any, store: Any, vault: Any) -> Any:
    return PbocIngest(config.feed("pboc"), outbox, store, vault, TODAY, run_id="test").run()


def count(store: Any, model: Any, *where: Any) -> int:
    with store.session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def pairs(store: Any) -> list[tuple[str, str, int]]:
    with store.session() as s:
        return [tuple(r) for r in s.execute(select(SourcePair.name, SourcePair.status, SourcePair.attempts)
                                            .order_by(SourcePair.id)).all()]


def alerts(store: Any, kind: str | None = None) -> list[Alert]:
    with store.session() as s:
        q = select(Alert).order_by(Alert.id)
        return list(s.execute(q.where(Alert.kind == kind) if kind else q).scalars())


def receipt_of(store: Any, name: str) -> tuple[dict[str, Any], Receipt]:
    with store.session() as s:
        rec = s.execute(select(Receipt).join(ReceivedFile, Receipt.file_id == ReceivedFile.id)
                        .where(ReceivedFile.name == name).order_by(Receipt.id.desc())).scalars().first()
    assert rec is not None
    return json.loads(rec.body), rec


def test_good_pair_is_taken_once_and_a_second_run_takes_nothing(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    files = pboc_pair(events(TODAY, 5), NAME)
    write_pair(pboc_outbox_dir, files)
    summary = run(pboc_outbox, store, vault)
    assert summary.as_xcom()["accepted"] == 5 and summary.as_xcom()["files"] == 1
    with store.session() as s:
        f = s.execute(select(ReceivedFile)).scalar_one()
        positions = s.execute(select(Delivery.position).order_by(Delivery.id)).scalars().all()
    assert (f.name, f.department, f.status, f.finished) == (NAME, "pboc", "accepted", True)
    assert f.sha256 == hashlib.sha256(files[NAME]).hexdigest()
    assert f.stored_path == f"/outbox/{NAME}" and f.size == len(files[NAME])
    assert positions == [f"line {i}" for i in range(1, 6)]
    assert pairs(store) == [(NAME, "taken", 0)]

    again = run(pboc_outbox, store, vault)
    assert again.taken == [] and again.already_taken == [NAME]
    assert again.as_xcom()["accepted"] == 0
    assert count(store, ReceivedFile) == 1 and count(store, Delivery) == 5


def test_data_file_without_control_file_is_left_alone(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    files = pboc_pair(events(TODAY, 3), NAME)
    (pboc_outbox_dir / NAME).write_bytes(files[NAME])
    summary = run(pboc_outbox, store, vault)
    assert summary.in_transit == [NAME] and summary.taken == []
    assert pairs(store) == [] and count(store, ReceivedFile) == 0 and alerts(store) == []
    # ... and it is taken once the control file arrives.
    write_pair(pboc_outbox_dir, {OK: files[OK]})
    assert run(pboc_outbox, store, vault).as_xcom()["accepted"] == 3


@pytest.mark.parametrize("broken", ["wrong_digest", "wrong_count"])
def test_failing_pair_is_not_taken_and_alerts_on_the_third_run(pboc_outbox, pboc_outbox_dir, store, vault,
                                                               broken) -> None:
    write_pair(pboc_outbox_dir, pboc_pair(events(TODAY, 4), NAME, **{broken: True}))
    for attempt in (1, 2):
        summary = run(pboc_outbox, store, vault)
        assert summary.pending == [NAME] and summary.taken == [] and summary.alerts == []
        assert pairs(store) == [(NAME, "pending", attempt)]
        assert alerts(store) == []
    summary = run(pboc_outbox, store, vault)
    assert summary.corrupt == [NAME] and summary.as_xcom()["corrupt"] == 1
    assert pairs(store) == [(NAME, "corrupt", 3)]
    (alert,) = alerts(store)
    assert (alert.kind, alert.source, alert.subject) == ("pboc_pair_corrupt", "pboc", NAME)
    assert "3" in alert.message and ("SM3" in alert.message or "记录" in alert.message)
    # Nothing of it was stored, on any run.
    assert count(store, Delivery) == 0 and count(store, ReceivedFile) == 0 and count(store, Receipt) == 0
    # Later runs re-check it quietly: no second alert.
    run(pboc_outbox, store, vault)
    assert len(alerts(store)) == 1 and pairs(store) == [(NAME, "corrupt", 4)]


def test_pair_still_in_transit_is_taken_on_the_next_run_without_alert(pboc_outbox, pboc_outbox_dir, store,
                                                                       vault) -> None:
    files = pboc_pair(events(TODAY, 6), NAME)
    complete = files[NAME]
    # The control file is there, the data file only half written: the SM3 does not match yet.
    write_pair(pboc_outbox_dir, {NAME: complete[: len(complete) // 2], OK: files[OK]})
    first = run(pboc_outbox, store, vault)
    assert first.pending == [NAME] and count(store, Delivery) == 0
    (pboc_outbox_dir / NAME).write_bytes(complete)
    second = run(pboc_outbox, store, vault)
    assert [p.name for p in second.taken] == [NAME] and second.as_xcom()["accepted"] == 6
    assert pairs(store) == [(NAME, "taken", 1)]
    assert alerts(store) == [] and count(store, Delivery) == 6


def test_pair_whose_digest_changed_is_taken_again(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    rows = events(TODAY, 4)
    write_pair(pboc_outbox_dir, pboc_pair(rows, NAME))
    run(pboc_outbox, store, vault)
    # The sub-branch regenerates the file: one event corrected (version 2), one withdrawn, the rest as before.
    changed = [{**rows[0], "version": 2, "amount_yuan": 123.45}, rows[1], rows[2],
               {"event_id": rows[3]["event_id"], "version": 2, "op": "D"}]
    files = pboc_pair(changed, NAME)
    write_pair(pboc_outbox_dir, files)
    summary = run(pboc_outbox, store, vault)
    assert [p.counts for p in summary.taken] == [
        {"total": 4, "accepted": 2, "rejected": 0, "unchanged": 2, "stale": 0}]
    assert [(n, s) for n, s, _ in pairs(store)] == [(NAME, "taken"), (NAME, "taken")]
    assert count(store, ReceivedFile, ReceivedFile.name == NAME) == 2
    # An older version again under yet another digest: stale, noted in the receipt.
    write_pair(pboc_outbox_dir, pboc_pair([rows[0]], NAME))
    assert run(pboc_outbox, store, vault).taken[0].counts["stale"] == 1
    body, _ = receipt_of(store, NAME)
    assert [(e["position"], e["code"]) for e in body["errors"]] == [("line 1", "stale_version")]


def test_hub_never_writes_or_renames_on_their_server(pboc_server, pboc_outbox, pboc_outbox_dir, store,
                                                      vault) -> None:
    write_pair(pboc_outbox_dir, demo_night(TODAY, AT))
    write_pair(pboc_outbox_dir, pboc_pair(events(TODAY, 2, start=40), "PBOC_PAYRISK_20261128_02.dat",
                                          wrong_digest=True))
    (pboc_outbox_dir / "PBOC_PAYRISK_20261128_03.dat").write_bytes(b"half a line")
    (pboc_outbox_dir / "readme.txt").write_bytes(b"not ours")
    root = Path(pboc_server.data_root)

    def snapshot() -> dict[str, Any]:
        return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else "dir", p.stat().st_mtime_ns)
                for p in sorted(root.rglob("*"))}

    before = snapshot()
    for _ in range(4):
        summary = run(pboc_outbox, store, vault)
    assert snapshot() == before
    assert summary.ignored == ["readme.txt"] and summary.in_transit == ["PBOC_PAYRISK_20261128_03.dat"]
    assert summary.already_taken == [NAME] and summary.corrupt == ["PBOC_PAYRISK_20261128_02.dat"]


def test_receipt_is_kept_in_the_store_with_line_positions_and_no_full_id_number(pboc_outbox, pboc_outbox_dir,
                                                                                 store, vault) -> None:
    id_number = make_id_number(7, TODAY)
    rows = events(TODAY, 5)
    rows[1] = {**rows[1], "merchant_uscc": id_number, "remark": f"法定代表人身份证 {id_number}"}
    rows[3] = {**rows[3], "op": "X"}
    rows.append({"raw": "PBOC-BROKEN|1|U|只有四列"})
    files = pboc_pair(rows, NAME)
    write_pair(pboc_outbox_dir, files)
    run(pboc_outbox, store, vault)
    body, rec = receipt_of(store, NAME)
    assert rec.written_to is None and rec.department == "pboc"
    assert body["file"] == NAME and body["sha256"] == hashlib.sha256(files[NAME]).hexdigest()
    assert body["status"] == "partially_accepted"
    assert body["records"] == {"total": 6, "accepted": 3, "rejected": 3, "unchanged": 0, "stale": 0}
    by_pos = {e["position"]: e for e in body["errors"]}
    assert set(by_pos) == {"line 2", "line 4", "line 6"}
    assert by_pos["line 2"]["record_id"] == rows[1]["event_id"]
    assert by_pos["line 2"]["field"] == "商户统一社会信用代码"
    assert by_pos["line 4"]["code"] == "pboc_op"
    assert by_pos["line 6"]["code"] == "pboc_columns" and by_pos["line 6"]["record_id"] == "PBOC-BROKEN"
    assert all("(" in e["message"] for e in body["errors"])
    with store.session() as s:
        texts = [rec.body, *s.execute(select(Reject.message)).scalars(), *s.execute(select(Alert.message)).scalars()]
    assert id_number not in "\n".join(texts)


def test_too_many_bad_records_refuse_the_pair_whole_with_receipt_and_alert(pboc_outbox, pboc_outbox_dir, store,
                                                                            vault) -> None:
    rows = events(TODAY, 24)
    for i in range(13):  # over the feed's limit of half
        rows[i] = {**rows[i], "risk_level": "极高"}
    write_pair(pboc_outbox_dir, pboc_pair(rows, NAME))
    summary = run(pboc_outbox, store, vault)
    assert summary.as_xcom()["files_refused"] == 1 and summary.as_xcom()["accepted"] == 0
    body, rec = receipt_of(store, NAME)
    assert body["status"] == "rejected" and rec.written_to is None
    assert [(e["position"], e["code"]) for e in body["errors"]] == [("file", "reject_threshold")]
    (alert,) = alerts(store, "pboc_pair_refused")
    assert "13" in alert.message and "24" in alert.message and "50%" in alert.message
    assert count(store, Delivery) == 0
    assert pairs(store) == [(NAME, "taken", 0)]
    assert run(pboc_outbox, store, vault).already_taken == [NAME]


def test_control_file_without_data_file_or_malformed_is_a_failed_check(pboc_outbox, pboc_outbox_dir, store,
                                                                       vault) -> None:
    other = "PBOC_PAYRISK_20261128_02.dat"
    files = pboc_pair(events(TODAY, 2), NAME)
    write_pair(pboc_outbox_dir, {OK: files[OK]})
    write_pair(pboc_outbox_dir, {other: files[NAME], control_name(other): b"garbage\n"})
    summary = run(pboc_outbox, store, vault)
    assert sorted(summary.pending) == [NAME, other]
    with store.session() as s:
        problems = dict(s.execute(select(SourcePair.name, SourcePair.last_problem)).all())
    assert "missing" in problems[NAME] and "control file" in problems[other]


def test_demo_night(pboc_outbox, pboc_outbox_dir, store, vault) -> None:
    write_pair(pboc_outbox_dir, demo_night(TODAY, AT))
    (outcome,) = run(pboc_outbox, store, vault).taken
    assert outcome.status == "partially_accepted"
    assert outcome.counts == {"total": 12, "accepted": 11, "rejected": 1, "unchanged": 0, "stale": 0}
    with store.session() as s:
        ops = s.execute(select(Delivery.op, func.count()).group_by(Delivery.op)).all()
    assert dict(ops) == {"upsert": 11, "delete": 1}
