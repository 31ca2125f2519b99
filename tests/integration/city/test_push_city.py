"""push_city and publicity_expiry against the real store (SQLite and PostgreSQL) and a real sshd."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from city_helpers import TODAY, Hub, abnormal, licence, list_entry, penalty
from lxml import etree
from sqlalchemy import func, select

from connectors.sftp import SftpConnectionLost
from credit_exchange.publish.city.push import CityPusher, CityReceiptCollector
from credit_exchange.publish.city.xml import CityXmlError, sm3_hex
from credit_exchange.publish.city.xsd import NS, validate_city_xml
from credit_exchange.standard.fields import schema_type
from credit_exchange.standard.mapping import to_national
from credit_exchange.standard.pii import mask_id_number
from credit_exchange.standard.publication import add_months
from credit_exchange.store import CityFile, CityState, OutboxItem, Record
from sandbox import city_platform
from sandbox.samples import valid_record

UPLOAD = Path("upload/511123")


def push(hub: Hub, sftp: Any, run_date: Any = TODAY, **kw: Any) -> Any:
    return CityPusher(hub.store, hub.vault, sftp, run_date, **kw).run()


def expire(hub: Hub, sftp: Any, run_date: Any) -> Any:
    return CityPusher(hub.store, hub.vault, sftp, run_date, only_expired=True).run()


def xml_files(root: Path) -> list[Path]:
    return sorted((root / UPLOAD).glob("*.xml"))


def sent(root: Path, names: list[str] | None = None) -> list[tuple[str, str, str, int]]:
    """(city type, op, record id, version) of every Record in the uploaded files (or in ``names``)."""
    out = []
    for path in xml_files(root):
        if names is not None and path.name not in names:
            continue
        doc = etree.parse(str(path)).getroot()
        for rec in doc.findall(f"{{{NS}}}Record"):
            out.append((doc.get("type"), rec.get("op"), rec.get("id"), int(rec.get("version"))))
    return out


def state(hub: Hub, rid: str) -> CityState | None:
    with hub.store.session() as s:
        return s.get(CityState, rid)


def settle(hub: Hub, sftp: Any, root: Path, refuse: set[str] | frozenset[str] = frozenset()) -> None:
    """The platform loads what arrived and writes receipts; the hub collects them."""
    city_platform.process_uploads(root, refuse_ids=refuse)
    CityReceiptCollector(hub.store, sftp).run()


def test_only_public_records_within_their_windows_are_sent(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    want = {
        hub.put("administrative_license", "XK-1", licence(1)),
        hub.put("administrative_penalty", "CF-IN", penalty(2, ["罚款"], decision_date="2026-08-01")),
        hub.put("abnormal_operation", "YC-OPEN", abnormal(1)),
        hub.put("redlist", "RED-1", list_entry(0, black=False)),
        hub.put("blacklist", "BLACK-1", list_entry(0, black=True)),
    }
    hub.put("administrative_license", "XK-VOID", licence(2, status="无效"))
    hub.put("administrative_penalty", "CF-WARN", penalty(3, ["警告"], decision_date="2026-11-01"))
    hub.put("administrative_penalty", "CF-PAST", penalty(4, ["通报批评"], decision_date="2026-05-01"))
    hub.put("administrative_penalty", "CF-LATER", penalty(5, ["罚款"], decision_date="2026-11-29"))
    hub.put("abnormal_operation", "YC-OUT", abnormal(2, removed_reason="已补报", removed_date="2026-10-01",
                                                      removed_by="犍为县市场监督管理局"))
    hub.put("blacklist", "BLACK-OUT", list_entry(1, black=True, status="已移出"))
    hub.put("online_shop_registration", "WD-1", valid_record("online_shop_registration", 1, TODAY))
    hub.put("fraud_case", "FR-1", valid_record("fraud_case", 1, TODAY), department="police")
    gone = hub.put("administrative_license", "XK-GONE", licence(3))
    hub.delete(gone)

    summary = push(hub, city_sftp)
    records = sent(city_root)
    assert {r[2] for r in records} == want
    assert {r[1] for r in records} == {"add"}
    assert {(r[0], r[2].split(":")[1]) for r in records} == {
        ("XZXK", "administrative_license"), ("XZCF", "administrative_penalty"), ("JYYC", "abnormal_operation"),
        ("HONGMD", "redlist"), ("HEIMD", "blacklist")}
    assert summary.files_sent == 5 and summary.records == {"add": 5}
    assert sorted(p.name.split("_")[0] for p in xml_files(city_root)) == ["HEIMD", "HONGMD", "JYYC", "XZCF", "XZXK"]


def test_national_forms_and_order(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    ids = hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(12)]
                       + [("administrative_penalty", f"CF-{i}", penalty(i, ["警告", "罚款"], fine_amount=0.000001,
                                                                         decision_date="2026-10-01"))
                          for i in range(12)]
                       + [("abnormal_operation", f"YC-{i}", abnormal(i)) for i in range(6)]
                       + [("blacklist", f"B-{i}", list_entry(i, black=True)) for i in range(6)])
    push(hub, city_sftp)
    seen = set()
    for path in xml_files(city_root):
        body = path.read_bytes()
        assert validate_city_xml(body) == []
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = etree.fromstring(body)
        assert root.get("region") == "511123" and root.get("count") == str(len(root))
        for rec in root:
            rid = rec.get("id")
            seen.add(rid)
            record_type = rid.split(":")[1]
            got = [(etree.QName(c).localname, c.text) for c in rec]
            assert got == to_national(schema_type(record_type), hub.data[rid], mask_pii=True)
            fields = dict(got)
            if record_type == "administrative_license":
                assert fields["XK_ZT"] == "1" and fields["XK_JDRQ"].count("/") == 2
            if record_type == "administrative_penalty":
                assert fields["CF_CFLB"] == "警告;罚款" and fields["CF_NR_FK"] == "0.000001"
                assert fields["CF_GSJZQ"] == "2027/01/01"  # a small fine: 3 months
    assert seen == set(ids)


def test_id_numbers_are_masked_on_the_city_platform(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(20)]
                 + [("administrative_penalty", f"CF-{i}", penalty(i, ["罚款"], decision_date="2026-10-01"))
                    for i in range(20)]
                 + [("blacklist", f"B-{i}", list_entry(i, black=True)) for i in range(10)])
    full = {d[f] for d in hub.data.values() for f in ("id_number", "legal_rep_id_number") if d.get(f)}
    assert len(full) > 10
    push(hub, city_sftp)
    blob = b"".join(p.read_bytes() for p in (city_root / UPLOAD).iterdir())
    assert [n for n in full if n.encode() in blob] == []
    for n in full:
        assert mask_id_number(n).encode() in blob
    for code in (b"<XK_FR_ZJHM>", b"<XK_XDR_ZJHM>", b"<CF_FR_ZJHM>", b"<HMD_ZJHM>"):
        assert code in blob


def test_at_most_5000_records_a_file(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    hub.put_many([("administrative_license", f"XK-{i:05d}", licence(i)) for i in range(5001)])
    summary = push(hub, city_sftp)
    counts = sorted(int(etree.parse(str(p)).getroot().get("count")) for p in xml_files(city_root))
    assert counts == [1, 5000] and summary.files_sent == 2
    assert city_platform.process_uploads(city_root) and len(city_platform.holdings(city_root)) == 5001


def test_tmp_then_rename_then_ok(hub: Hub, city_sftp: Any, city_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(3)]
                 + [("abnormal_operation", f"YC-{i}", abnormal(i)) for i in range(2)])
    client = city_sftp.sftp
    calls: list[tuple[str, ...]] = []
    real_open, real_rename = client.open, client.posix_rename
    monkeypatch.setattr(client, "open", lambda path, mode="r", *a, **k: (
        calls.append(("open", path, mode)), real_open(path, mode, *a, **k))[1])
    monkeypatch.setattr(client, "posix_rename", lambda src, dst: (
        calls.append(("rename", src, dst)), real_rename(src, dst))[1])
    summary = push(hub, city_sftp)
    assert summary.files_sent == 2
    for name in summary.files:
        path = f"/upload/511123/{name}"
        steps = [c for c in calls if c[1] in (path + ".tmp", path + ".ok.tmp")]
        assert steps == [("open", path + ".tmp", "wb"), ("rename", path + ".tmp", path),
                         ("open", path + ".ok.tmp", "wb"), ("rename", path + ".ok.tmp", path + ".ok")]
        body = (city_root / UPLOAD / name).read_bytes()
        count = int(etree.fromstring(body).get("count"))
        assert (city_root / UPLOAD / f"{name}.ok").read_bytes() == f"{name}|{count}|{sm3_hex(body)}\n".encode()
        with hub.store.session() as s:
            f = s.get(CityFile, name)
            assert (f.status, f.sm3, f.body, f.record_count) == ("uploaded", sm3_hex(body), body, count)
    assert not list((city_root / UPLOAD).glob("*.tmp"))


def test_a_second_run_sends_nothing(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(5)])
    assert push(hub, city_sftp).files_sent == 1
    again = push(hub, city_sftp)
    assert (again.files_sent, again.files_resumed, again.records) == (0, 0, {})
    settle(hub, city_sftp, city_root)
    assert push(hub, city_sftp).files_sent == 0
    assert len(xml_files(city_root)) == 1


def test_update_and_source_delete(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    rid = hub.put("administrative_license", "XK-1", licence(1))
    first = push(hub, city_sftp).files
    settle(hub, city_sftp, city_root)
    hub.put("administrative_license", "XK-1", licence(1, content="变更后的许可内容"))
    second = push(hub, city_sftp).files
    settle(hub, city_sftp, city_root)
    assert city_platform.holdings(city_root)[0]["fields"]["XK_NR"] == "变更后的许可内容"
    hub.delete(rid)
    third = push(hub, city_sftp).files
    settle(hub, city_sftp, city_root)
    assert sent(city_root, first) == [("XZXK", "add", rid, 1)]
    assert sent(city_root, second) == [("XZXK", "update", rid, 2)]
    assert sent(city_root, third) == [("XZXK", "delete", rid, 3)]
    assert city_platform.holdings(city_root) == []
    assert {h["status"] for h in city_platform.history(city_root)} == {"ok"}
    st = state(hub, rid)
    assert (st.op, st.hub_version, st.status) == ("delete", 3, "ok")
    assert push(hub, city_sftp).files_sent == 0


def test_a_refused_record_goes_out_again_as_add_once_fixed(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    bad, good = hub.put_many([("administrative_license", "XK-1", licence(1)),
                              ("administrative_license", "XK-2", licence(2))])
    push(hub, city_sftp)
    settle(hub, city_sftp, city_root, refuse={bad})
    st = state(hub, bad)
    assert (st.status, st.code, st.op) == ("error", "E_CHECK", "add")
    assert "refused" in (st.message or "")
    assert state(hub, good).status == "ok"
    # Not fixed yet: it stays failed and nothing is sent.
    assert push(hub, city_sftp).files_sent == 0
    # Fixed at the source: a new version, sent as add (the platform does not hold it).
    hub.put("administrative_license", "XK-1", licence(1, remark="更正后重报"))
    summary = push(hub, city_sftp)
    assert sent(city_root, summary.files) == [("XZXK", "add", bad, 2)]
    settle(hub, city_sftp, city_root)
    assert state(hub, bad).status == "ok"
    assert {h["record_id"]: h["version"] for h in city_platform.holdings(city_root)} == {bad: 2, good: 1}


def test_list_entries_added_while_in_force_withdrawn_when_removed(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    red = hub.put("redlist", "91511123RED", list_entry(0, black=False))
    black = hub.put("blacklist", "91511123BLK", list_entry(0, black=True))
    first = push(hub, city_sftp).files
    assert sorted(sent(city_root, first)) == [("HEIMD", "add", black, 1), ("HONGMD", "add", red, 1)]
    settle(hub, city_sftp, city_root)
    hub.put("blacklist", "91511123BLK", list_entry(0, black=True, status="已移出"))
    second = push(hub, city_sftp).files
    assert sent(city_root, second) == [("HEIMD", "delete", black, 2)]
    settle(hub, city_sftp, city_root)
    assert [h["record_id"] for h in city_platform.holdings(city_root)] == [red]


def test_a_penalty_with_only_a_warning_is_never_published(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    rid = hub.put("administrative_penalty", "CF-1", penalty(1, ["警告"], decision_date="2026-11-20"))
    assert "publicity_until" not in hub.data[rid]
    for day in (TODAY, TODAY + timedelta(days=400)):
        assert push(hub, city_sftp, day).files_sent == 0
        assert expire(hub, city_sftp, day).files_sent == 0
    assert xml_files(city_root) == []
    with hub.store.session() as s:
        assert s.get(Record, rid).op == "upsert"  # in the hub, as ever


def test_three_month_window_and_expiry_on_the_day_after(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    decided = TODAY - timedelta(days=20)
    rid = hub.put("administrative_penalty", "CF-1", penalty(1, ["通报批评"], decision_date=decided.isoformat()))
    until = add_months(decided, 3)
    assert hub.data[rid]["publicity_until"] == until.isoformat()
    assert push(hub, city_sftp, TODAY).records == {"add": 1}
    settle(hub, city_sftp, city_root)
    # On the last day of the window nothing happens; the day after, publicity_expiry withdraws it.
    assert expire(hub, city_sftp, until).files_sent == 0
    assert push(hub, city_sftp, until).files_sent == 0
    summary = expire(hub, city_sftp, until + timedelta(days=1))
    assert sent(city_root, summary.files) == [("XZCF", "delete", rid, 1)]
    settle(hub, city_sftp, city_root)
    assert city_platform.holdings(city_root) == []
    assert expire(hub, city_sftp, until + timedelta(days=2)).files_sent == 0
    assert push(hub, city_sftp, until + timedelta(days=2)).files_sent == 0


def test_publicity_expiry_withdraws_only_expired_and_the_hub_keeps_them(hub: Hub, city_sftp: Any,
                                                                        city_root: Path) -> None:
    old = hub.put("administrative_penalty", "CF-OLD", penalty(1, ["罚款"], decision_date="2026-01-10"))
    new = hub.put("administrative_penalty", "CF-NEW", penalty(2, ["罚款"], decision_date="2026-11-01"))
    push(hub, city_sftp, TODAY)
    settle(hub, city_sftp, city_root)
    lic = hub.put("administrative_license", "XK-1", licence(1))  # not yet pushed: not publicity_expiry's business
    day = add_months(TODAY.replace(day=10, month=1), 36) + timedelta(days=1)  # 2029-01-11
    summary = expire(hub, city_sftp, day)
    assert sent(city_root, summary.files) == [("XZCF", "delete", old, 1)]
    assert state(hub, lic) is None and state(hub, new).op == "add"
    with hub.store.session() as s:
        assert (s.get(Record, old).op, s.get(Record, old).hub_version) == ("upsert", 1)
        county = s.execute(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.record_id == old, OutboxItem.platform == "county")).scalar_one()
    assert county == 1  # the county platform's share is untouched
    # The same day replayed: nothing more.
    assert expire(hub, city_sftp, day).files_sent == 0


class Interrupting:
    """The city connector, dropping the connection once at a chosen step of the upload protocol."""

    def __init__(self, inner: Any, step: str) -> None:
        self.inner, self.step, self.tripped = inner, step, False

    def upload_atomic(self, src: bytes, path: str, hasher_names: Any = ("sha256",)) -> Any:
        if self.step == "rename" and not self.tripped:
            self.tripped = True
            with self.inner.sftp.open(path + ".tmp", "wb") as remote:
                remote.write(src[: len(src) // 2])
            raise SftpConnectionLost("connection dropped before the rename (test)")
        return self.inner.upload_atomic(src, path, hasher_names)

    def write_bytes(self, path: str, data: bytes) -> Any:
        if self.step == "ok" and not self.tripped:
            self.tripped = True
            raise SftpConnectionLost("connection dropped before the .ok (test)")
        return self.inner.write_bytes(path, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("step", ["rename", "ok"])
def test_an_interrupted_upload_is_completed_and_each_version_arrives_once(
        hub: Hub, city_sftp: Any, city_root: Path, step: str) -> None:
    hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(4)]
                 + [("abnormal_operation", f"YC-{i}", abnormal(i)) for i in range(3)])
    with pytest.raises(SftpConnectionLost):
        push(hub, Interrupting(city_sftp, step))
    with hub.store.session() as s:
        (stored,) = s.execute(select(CityFile)).scalars().all()
        assert stored.status == "prepared"
        assert {st.file_name for st in s.execute(select(CityState)).scalars()} == {stored.name}
    on_disk = sorted(p.name for p in (city_root / UPLOAD).iterdir())
    expect = {"rename": [stored.name + ".tmp"], "ok": [stored.name]}[step]
    assert on_disk == expect
    assert city_platform.process_uploads(city_root) == []  # invisible to the platform without its .ok

    summary = push(hub, city_sftp)
    assert summary.files_resumed == 1 and summary.files_sent == 1  # the interrupted one, then the other type
    assert (city_root / UPLOAD / stored.name).read_bytes() == stored.body
    assert not list((city_root / UPLOAD).glob("*.tmp"))
    assert len(xml_files(city_root)) == 2
    settle(hub, city_sftp, city_root)
    delivered = Counter((h["record_id"], h["version"]) for h in city_platform.history(city_root))
    assert set(delivered.values()) == {1} and len(delivered) == 7
    assert len(city_platform.holdings(city_root)) == 7
    assert push(hub, city_sftp).files_sent == 0


def test_a_file_that_fails_the_xsd_is_never_uploaded(hub: Hub, city_sftp: Any, city_root: Path) -> None:
    hub.put("administrative_license", "XK-1", licence(1, authority_uscc="NOT-A-USCC"))
    with pytest.raises(CityXmlError, match="XK_XKJGDM"):
        push(hub, city_sftp)
    with hub.store.session() as s:
        assert s.execute(select(func.count()).select_from(CityFile)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(CityState)).scalar_one() == 0
    assert list((city_root / UPLOAD).iterdir()) == []
