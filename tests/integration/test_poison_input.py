"""Hostile input never stalls an inbox: each bad file stays inside its unit (issue 10, point 3).

Every test drops a good file beside the bad one and checks that the good file is taken, the bad
one is refused or reported with a receipt, and nothing is left in ``processing/`` after the run.
Against the real sshd and both stores.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from credit_exchange import config
from credit_exchange.feeds.inbox import InboxIngest, IngestInterrupted
from credit_exchange.feeds.market import parser as market_parser
from credit_exchange.intake.receipts import receipt_file_name
from credit_exchange.store import Alert, Claim, Delivery, ReceivedFile
from credit_exchange.timeutil import LOCAL
from sandbox.market_files import good_records, market_xml

TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
D = "20261128"
GOOD = f"MARKET_LICENSE_{D}_001.xml"
BAD = f"MARKET_PENALTY_{D}_001.xml"
HUGE = "9" * 5000


def run(inbox: Any, store: Any, vault: Any, run_id: str = "test") -> Any:
    return InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id=run_id).run()


def market_dir(root: Path) -> Path:
    return root / "market"


def receipt(root: Path, name: str) -> dict[str, Any]:
    return json.loads((market_dir(root) / "receipts" / receipt_file_name(name)).read_text(encoding="utf-8"))


def drop_good(inbox: Any) -> None:
    inbox.upload_atomic(market_xml("LICENSE", good_records("LICENSE", TODAY, 3), AT), f"/market/inbox/{GOOD}")


def drop_local(root: Path, name: str, body: bytes) -> None:
    """Write straight into the inbox on the server's disk (names SFTP clients would refuse to type)."""
    (market_dir(root) / "inbox" / name).write_bytes(body)


def assert_good_taken_and_processing_empty(root: Path) -> None:
    assert sorted(p.name for p in (market_dir(root) / "processing").iterdir()) == []
    r = receipt(root, GOOD)
    assert r["status"] == "accepted" and r["records"]["accepted"] == 3
    assert (market_dir(root) / "archive" / "2026" / "11" / GOOD).is_file()


def penalty(records: int = 3) -> bytes:
    return market_xml("PENALTY", good_records("PENALTY", TODAY, records), AT)


def codes(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["position"], e["code"]) for e in r["errors"]]


@pytest.fixture(autouse=True)
def _at_the_files_time(clock: Any) -> None:
    clock.set(AT)


# -- numbers in the envelope and in fields ------------------------------------------------

@pytest.mark.parametrize("version", ["²", "３", "٣", HUGE, "-1", "1.0", "0"])
def test_a_version_in_odd_digits_or_huge_rejects_its_record_only(inbox, inbox_root, store, vault, version) -> None:
    drop_good(inbox)
    body = penalty().replace(b'version="1"', f'version="{version}"'.encode(), 1)
    inbox.upload_atomic(body, f"/market/inbox/{BAD}")
    run(inbox, store, vault)
    r = receipt(inbox_root, BAD)
    assert r["status"] == "partially_accepted"
    assert codes(r) == [("record 1", "record_version")]
    assert r["records"]["accepted"] == 2
    assert len(r["errors"][0]["message"]) < 300  # a huge value is quoted short, not in full
    assert_good_taken_and_processing_empty(inbox_root)


@pytest.mark.parametrize("count", ["³", "３", HUGE, "2.0", "-3"])
def test_a_record_count_in_odd_digits_or_huge_refuses_its_file_only(inbox, inbox_root, store, vault, count) -> None:
    drop_good(inbox)
    body = penalty().replace(b'recordCount="3"', f'recordCount="{count}"'.encode(), 1)
    inbox.upload_atomic(body, f"/market/inbox/{BAD}")
    run(inbox, store, vault)
    r = receipt(inbox_root, BAD)
    assert r["status"] == "rejected" and codes(r) == [("file", "record_count_invalid")]
    assert (market_dir(inbox_root) / "quarantine" / BAD).is_file()
    assert_good_taken_and_processing_empty(inbox_root)


@pytest.mark.parametrize("amount", [HUGE, "1" + "0" * 400 + ".5", "１２", "1e400"])
def test_a_huge_or_odd_amount_rejects_its_record_only(inbox, inbox_root, store, vault, amount) -> None:
    drop_good(inbox)
    body = penalty()
    start = body.index(b"<CF_NR_FK>") + len(b"<CF_NR_FK>")
    body = body[:start] + amount.encode() + body[body.index(b"</CF_NR_FK>", start):]
    inbox.upload_atomic(body, f"/market/inbox/{BAD}")
    run(inbox, store, vault)
    r = receipt(inbox_root, BAD)
    assert r["status"] == "partially_accepted" and r["records"]["rejected"] == 1
    assert [e["field_code"] for e in r["errors"]] == ["CF_NR_FK"]
    assert_good_taken_and_processing_empty(inbox_root)


# -- names --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    f"MARKET_PENALTY_{D}_001.xml\n",          # a trailing newline: "$" would match before it
    "MARKET_PENALTY_２０２６１１２８_001.xml",  # full-width digits: "\d" would take them
    f"MARKET_PENALTY_{D}_00١.xml",           # an Arabic-Indic digit
    f"MARKET_PENALTY_{D}_001.xml.bak",
])
def test_names_must_match_the_whole_contract_pattern_in_ascii(inbox, inbox_root, store, vault, name) -> None:
    drop_good(inbox)
    drop_local(inbox_root, name, penalty())
    run(inbox, store, vault)
    r = receipt(inbox_root, name)
    assert r["status"] == "rejected" and codes(r) == [("file", "file_name")]
    assert r["file"] == name
    assert (market_dir(inbox_root) / "quarantine" / name).is_file()
    assert_good_taken_and_processing_empty(inbox_root)


def test_a_name_too_long_for_its_receipt_gets_a_shortened_receipt(inbox, inbox_root, store, vault) -> None:
    name = "MARKET_PENALTY_" + "长" * 78 + ".xml"  # 253 bytes: legal, but not with ".receipt.json.tmp"
    assert len(name.encode()) <= 255 < len((name + ".receipt.json.tmp").encode())
    drop_good(inbox)
    drop_local(inbox_root, name, penalty())
    run(inbox, store, vault)
    receipt_name = receipt_file_name(name)
    assert len((receipt_name + ".tmp").encode()) <= 255 and receipt_name.endswith(".receipt.json")
    r = receipt(inbox_root, name)
    assert r["file"] == name and codes(r) == [("file", "file_name")]
    assert (market_dir(inbox_root) / "quarantine" / name).is_file()
    assert_good_taken_and_processing_empty(inbox_root)


def test_control_characters_in_a_name_reach_no_log_raw(inbox, inbox_root, store, vault, caplog) -> None:
    name = "MARKET_\x1b[31mRED\x1b[0m_\r\nFAKE LOG LINE\u202e.xml"
    drop_good(inbox)
    drop_local(inbox_root, name, penalty())
    with caplog.at_level(logging.DEBUG):
        run(inbox, store, vault)
    assert caplog.records, "the run logs what it does"
    for record in caplog.records:
        text = record.getMessage()
        assert not any(ch in text for ch in ("\x1b", "\r", "\u202e")), text
        assert "\n" not in text or record.exc_info, text
    assert any("\\x1b[31mRED" in rec.getMessage() for rec in caplog.records)
    r = receipt(inbox_root, name)  # the receipt's own name has the control characters replaced
    assert r["file"] == name and "\x1b" not in receipt_file_name(name)
    assert_good_taken_and_processing_empty(inbox_root)


# -- entries that are not files -------------------------------------------------------------

def test_links_and_special_files_are_refused_unread_and_directories_reported(inbox, inbox_root, store, vault,
                                                                             tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(penalty())
    link = f"MARKET_PENALTY_{D}_002.xml"
    fifo = f"MARKET_PENALTY_{D}_003.xml"
    (market_dir(inbox_root) / "inbox" / link).symlink_to(secret)
    os.mkfifo(market_dir(inbox_root) / "inbox" / fifo)
    (market_dir(inbox_root) / "inbox" / "some-folder").mkdir()
    drop_good(inbox)
    summary = run(inbox, store, vault)
    for name in (link, fifo):
        r = receipt(inbox_root, name)
        assert r["status"] == "rejected" and codes(r) == [("file", "file_not_regular")]
        assert r["sha256"] == ""  # never opened
        assert os.path.lexists(market_dir(inbox_root) / "quarantine" / name)
    assert (market_dir(inbox_root) / "quarantine" / link).is_symlink()
    assert summary.not_regular == ["some-folder"]
    with store.session() as s:
        assert s.execute(select(Alert.subject).where(Alert.kind == "inbox_not_regular",
                                                     Alert.resolved_at.is_(None))).scalars().all() == ["some-folder"]
        assert s.execute(select(Delivery.id).where(Delivery.record_id.like("%-2026-000001"),
                                                   Delivery.record_type == "administrative_penalty")).first() is None
    assert_good_taken_and_processing_empty(inbox_root)
    (market_dir(inbox_root) / "inbox" / "some-folder").rmdir()
    run(inbox, store, vault)
    with store.session() as s:
        assert s.execute(select(Alert.id).where(Alert.kind == "inbox_not_regular",
                                                Alert.resolved_at.is_(None))).first() is None


# -- anything else that raises ------------------------------------------------------------------

def test_a_parser_that_raises_refuses_that_file_only(inbox, inbox_root, store, vault, monkeypatch) -> None:
    real = market_parser.parse

    def parse(stream: Any, feed: Any, file_name: str) -> Any:
        if file_name == BAD:
            raise ValueError("a bug meets hostile bytes, id 11010119900307123X")
        return real(stream, feed, file_name)

    monkeypatch.setattr(market_parser, "parse", parse)
    drop_good(inbox)
    inbox.upload_atomic(penalty(), f"/market/inbox/{BAD}")
    InboxIngest(config.feed("market"), inbox, store, vault, TODAY, run_id="test").run()
    r = receipt(inbox_root, BAD)
    assert r["status"] == "rejected" and codes(r) == [("file", "unit_unreadable")]
    assert "11010119900307123X" not in json.dumps(r, ensure_ascii=False)
    assert (market_dir(inbox_root) / "quarantine" / BAD).is_file()
    with store.session() as s:
        alert = s.execute(select(Alert).where(Alert.kind == "inbox_file_unreadable")).scalar_one()
    assert alert.subject == BAD and "11010119900307123X" not in alert.message
    assert_good_taken_and_processing_empty(inbox_root)


class _AlwaysDropping:
    """The inbox, but the connection drops whenever one file is read."""

    def __init__(self, inbox: Any, name: str) -> None:
        self._inbox, self._name = inbox, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inbox, attr)

    def open_read(self, path: str) -> Any:
        if path.endswith("/" + self._name):
            raise ConnectionResetError("connection dropped")
        return self._inbox.open_read(path)


def test_a_file_whose_reading_always_breaks_is_refused_after_three_tries(inbox, inbox_root, store, vault) -> None:
    drop_good(inbox)
    inbox.upload_atomic(penalty(), f"/market/inbox/{BAD}")
    flaky = _AlwaysDropping(inbox, BAD)
    for attempt in (1, 2, 3):
        with pytest.raises(IngestInterrupted) as stopped:
            run(flaky, store, vault)
        assert stopped.value.summary.interrupted == [BAD], attempt
        assert (market_dir(inbox_root) / "processing" / BAD).is_file()
    assert receipt(inbox_root, GOOD)["status"] == "accepted"  # taken on the first run all the same
    run(flaky, store, vault)  # the fourth try refuses it without reading
    r = receipt(inbox_root, BAD)
    assert codes(r) == [("file", "unit_attempts")] and "ConnectionResetError" in r["errors"][0]["message"]
    assert (market_dir(inbox_root) / "quarantine" / BAD).is_file()
    assert_good_taken_and_processing_empty(inbox_root)
    with store.session() as s:
        assert s.execute(select(ReceivedFile.finished).where(ReceivedFile.name == BAD)).scalars().all() == [True]
        assert s.execute(select(Claim)).scalars().all() == []


# -- whatever the bytes: nothing stays in processing/, the good file is taken -----------------

_HOSTILE = ["²", "３", "٣", "9" * 5000, "-1", "", " ", "\x00", "\x1b[2J", "\u202e", "]]>", "&amp;", "&bogus;",
            "<x/>", "11010519491231002X", "13812345678", "1e400", "NaN", "长" * 300]


def _mutations() -> Any:
    from hypothesis import strategies as st

    byte_edit = st.tuples(st.sampled_from(["flip", "insert", "delete", "cut"]), st.floats(0, 1),
                          st.integers(0, 255))
    field_edit = st.tuples(st.sampled_from(['version="1"', 'recordCount="3"', 'op="upsert"', 'id="SCJG-CF-',
                                            "<CF_NR_FK>", "<CF_JDRQ>", "<CF_XDR_MC>", 'kind="PENALTY"']),
                           st.one_of(st.sampled_from(_HOSTILE), st.text(max_size=12)))
    return st.lists(st.one_of(byte_edit, field_edit), min_size=1, max_size=4)


def _mutate(body: bytes, edits: list[tuple[Any, ...]]) -> bytes:
    for edit in edits:
        if len(edit) == 3:
            kind, where, value = edit
            at = min(int(where * len(body)), max(len(body) - 1, 0))
            if kind == "flip" and body:
                body = body[:at] + bytes([body[at] ^ (value or 1)]) + body[at + 1:]
            elif kind == "insert":
                body = body[:at] + bytes([value]) + body[at:]
            elif kind == "delete":
                body = body[:at] + body[at + 1:]
            else:
                body = body[:at]
        else:
            marker, value = edit
            text = body.decode("utf-8", "surrogateescape")
            if marker in text:
                head, tail = text.split(marker, 1)
                if marker.endswith('="'):
                    replaced = marker + value.replace('"', "&quot;")
                elif marker.endswith('"'):
                    replaced = marker.split("=")[0] + '="' + value.replace('"', "&quot;") + '"'
                else:
                    replaced = marker + value
                    tail = tail.split("<", 1)[1] if "<" in tail else tail
                    tail = "<" + tail if not tail.startswith("<") else tail
                text = head + replaced + tail
            body = text.encode("utf-8", "surrogateescape")
    return body


def test_random_mutations_never_stall_the_inbox(inbox_server, tmp_path_factory) -> None:
    from hypothesis import HealthCheck, given, settings

    from connectors.sftp import SftpConnector
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.store import Store
    from tests.helpers import as_conn

    root = Path(inbox_server.data_root) / "market"
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('mutations') / 'exchange.db'}")
    vault = PiiVault(PiiVault.generate_key())
    good = market_xml("LICENSE", good_records("LICENSE", TODAY, 3), AT)
    base = penalty()
    seen = {"runs": 0, "refused": 0}

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_mutations())
    def one(edits: list[tuple[Any, ...]]) -> None:
        for sub in ("inbox", "processing", "receipts", "quarantine", "archive"):
            folder = root / sub
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
        (root / "inbox" / GOOD).write_bytes(good)
        (root / "inbox" / BAD).write_bytes(_mutate(base, edits))
        with SftpConnector.from_connection(as_conn(inbox_server.airflow_connection(), "inbox_sftp")) as sftp:
            summary = InboxIngest(config.feed("market"), sftp, store, vault, TODAY, run_id="mutations").run()
        seen["runs"] += 1
        assert sorted(p.name for p in (root / "processing").iterdir()) == [], edits
        outcome = {f.name: f.status for f in summary.files}
        assert outcome.get(GOOD) == "accepted", (edits, outcome)
        assert BAD in outcome, (edits, outcome)
        seen["refused"] += outcome[BAD] == "rejected"
        assert json.loads((root / "receipts" / receipt_file_name(BAD)).read_text(encoding="utf-8"))["file"] == BAD
        where = "quarantine" if outcome[BAD] == "rejected" else "archive"
        assert any(p.name.startswith(BAD) for p in (root / where).rglob("*")), (edits, where)

    try:
        one()
    finally:
        store.dispose()
    assert seen["runs"] >= 40 and seen["refused"] >= 5  # the mutations did break files


def test_a_night_with_one_file_of_every_class_takes_every_good_file(inbox, inbox_root, store, vault,
                                                                    tmp_path: Path) -> None:
    good = {f"MARKET_LICENSE_{D}_001.xml": market_xml("LICENSE", good_records("LICENSE", TODAY, 3), AT),
            f"MARKET_SHOP_{D}_001.xml": market_xml("SHOP", good_records("SHOP", TODAY, 2), AT),
            f"MARKET_ABNORMAL_{D}_001.xml": market_xml("ABNORMAL", good_records("ABNORMAL", TODAY, 2), AT)}
    body = penalty()
    bad = {
        f"MARKET_PENALTY_{D}_001.xml": body.replace(b'version="1"', 'version="²"'.encode(), 1),
        f"MARKET_PENALTY_{D}_002.xml": body.replace(b'recordCount="3"', 'recordCount="³"'.encode(), 1),
        f"MARKET_PENALTY_{D}_003.xml": body.replace(b'version="1"', f'version="{HUGE}"'.encode(), 1),
        f"MARKET_PENALTY_{D}_004.xml\n": body,
        "MARKET_PENALTY_２０２６１１２８_005.xml": body,
        "MARKET_PENALTY_" + "长" * 78 + ".xml": body,
        "MARKET_\x1b[31mPENALTY\x1b[0m.xml": body,
    }
    for name, content in {**good, **bad}.items():
        drop_local(inbox_root, name, content)
    secret = tmp_path / "elsewhere.xml"
    secret.write_bytes(body)
    (market_dir(inbox_root) / "inbox" / f"MARKET_PENALTY_{D}_006.xml").symlink_to(secret)
    summary = run(inbox, store, vault)
    outcome = {f.name: f.status for f in summary.files}
    assert all(outcome[name] == "accepted" for name in good), outcome
    assert set(outcome) == set(good) | set(bad) | {f"MARKET_PENALTY_{D}_006.xml"}
    assert list((market_dir(inbox_root) / "processing").iterdir()) == []
    assert list((market_dir(inbox_root) / "inbox").iterdir()) == []
    assert all(receipt(inbox_root, name)["file"] == name for name in outcome)
