"""collect_city_receipts and the city platform stand-in's receipts, with a real sshd and the real store."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from city_helpers import TODAY, Hub, abnormal, licence
from lxml import etree
from sqlalchemy import select

from credit_exchange.publish.city.push import CityPusher, CityReceiptCollector
from credit_exchange.publish.city.xml import ok_line, parse_receipt, sm3_hex
from credit_exchange.store import Alert, CityFile, CityState
from credit_exchange.timeutil import now_local
from sandbox import city_platform
from tests.helpers import REPO

UPLOAD = Path("upload/511123")
RECEIPTS = Path("receipt/511123")


def push(hub: Hub, sftp: Any) -> Any:
    return CityPusher(hub.store, hub.vault, sftp, TODAY).run()


def alerts_of(hub: Hub, kind: str) -> list[Alert]:
    with hub.store.session() as s:
        return list(s.execute(select(Alert).where(Alert.kind == kind)).scalars())


def test_receipts_mark_each_record(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    lic = hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(3)])
    ab = hub.put_many([("abnormal_operation", f"YC-{i}", abnormal(i)) for i in range(2)])
    files = push(hub, city_sftp).files
    written = city_platform.process_uploads(city_root, refuse_ids={lic[1], ab[0], ab[1]})
    assert sorted(written) == sorted(files)
    receipts = {n: parse_receipt((city_root / RECEIPTS / f"{n}.receipt.xml").read_bytes(), n) for n in files}
    assert sorted(r.status for r in receipts.values()) == ["partial", "rejected"]

    summary = CityReceiptCollector(hub.store, city_sftp).run()
    assert (summary.receipts, summary.ok, summary.error, summary.waiting) == (2, 2, 3, 0)
    with hub.store.session() as s:
        states = {st.record_id: st for st in s.execute(select(CityState)).scalars()}
        statuses = {f.name: (f.status, f.receipt_status) for f in s.execute(select(CityFile)).scalars()}
    assert {rid: st.status for rid, st in states.items()} == {
        lic[0]: "ok", lic[1]: "error", lic[2]: "ok", ab[0]: "error", ab[1]: "error"}
    assert states[lic[1]].code == "E_CHECK" and states[lic[1]].message
    assert sorted(statuses.values()) == [("receipted", "partial"), ("receipted", "rejected")]
    # Collected once: a second run finds nothing to do.
    again = CityReceiptCollector(hub.store, city_sftp).run()
    assert (again.receipts, again.waiting) == (0, 0)


def test_a_missing_receipt_alerts_once_after_24_hours(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    hub.put("administrative_license", "XK-1", licence(1))
    (name,) = push(hub, city_sftp).files
    early = CityReceiptCollector(hub.store, city_sftp).run()
    assert (early.waiting, early.overdue, early.new_alerts) == (1, 0, [])
    later = now_local() + timedelta(hours=24, minutes=5)
    first = CityReceiptCollector(hub.store, city_sftp, now=later).run()
    second = CityReceiptCollector(hub.store, city_sftp, now=later + timedelta(hours=1)).run()
    assert len(first.new_alerts) == 1 and second.new_alerts == []
    (alert,) = alerts_of(hub, "city_receipt_overdue")
    assert (alert.source, alert.subject, alert.resolved_at) == ("city", name, None)
    assert "24" in alert.message
    # The receipt comes at last: applied, and the alert is resolved.
    city_platform.process_uploads(city_root)
    assert CityReceiptCollector(hub.store, city_sftp, now=later).run().receipts == 1
    (alert,) = alerts_of(hub, "city_receipt_overdue")
    assert alert.resolved_at is not None


def test_a_malformed_receipt_is_not_applied_and_alerts(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    rid = hub.put("administrative_license", "XK-1", licence(1))
    (name,) = push(hub, city_sftp).files
    (city_root / RECEIPTS / f"{name}.receipt.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><Receipt>&x;</Receipt>')
    summary = CityReceiptCollector(hub.store, city_sftp).run()
    assert (summary.invalid, summary.receipts) == (1, 0)
    assert len(alerts_of(hub, "city_receipt_invalid")) == 1
    with hub.store.session() as s:
        assert s.get(CityFile, name).status == "uploaded"
        assert s.get(CityState, rid).status == "sent"


def test_the_stand_in_ignores_incomplete_and_rejects_inconsistent_uploads(city_root: Path) -> None:
    folder = city_root / UPLOAD
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Exchange xmlns="urn:leshan:credit:exchange:2" type="XZXK" '
            b'region="511123" batchId="b" createdAt="2026-11-29T01:30:00+08:00" count="1">'
            b'<Record op="delete" id="x:1" version="2"/></Exchange>')
    assert etree.fromstring(body) is not None
    no_ok = "XZXK_511123_20261129013000_0001.xml"
    (folder / no_ok).write_bytes(body)
    (folder / "XZXK_511123_20261129013000_0002.xml.tmp").write_bytes(body)
    bad_count = "XZXK_511123_20261129013000_0003.xml"
    (folder / bad_count).write_bytes(body)
    (folder / f"{bad_count}.ok").write_bytes(ok_line(bad_count, 5, sm3_hex(body)))
    assert city_platform.process_uploads(city_root) == [bad_count]
    receipt = parse_receipt((city_root / RECEIPTS / f"{bad_count}.receipt.xml").read_bytes(), bad_count)
    assert receipt.status == "rejected" and receipt.items[0].code == "E_COUNT"
    # A delete for a record it does not hold is refused too.
    good = "XZXK_511123_20261129013000_0004.xml"
    (folder / good).write_bytes(body)
    (folder / f"{good}.ok").write_bytes(ok_line(good, 1, sm3_hex(body)))
    out = subprocess.run([sys.executable, "-m", "sandbox.city_platform", "process", "--data-root", str(city_root)],
                         capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == [good]
    receipt = parse_receipt((city_root / RECEIPTS / f"{good}.receipt.xml").read_bytes(), good)
    assert receipt.items[0].code == "E_NOT_HELD"
    out = subprocess.run([sys.executable, "-m", "sandbox.city_platform", "holdings", "--data-root", str(city_root)],
                         capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
