"""The province-size night generator (sandbox/night.py): the plan, files the hub's parsers read, counts
that match what the hub's validation finds, determinism, and the second night's increments.

No servers but a tiny local HTTP server standing in for the transport sandbox's ``/_sandbox/items``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from credit_exchange import config
from credit_exchange.feeds.registry import get_parser
from credit_exchange.feeds.transport.source import source_record
from credit_exchange.intake.prepare import Prepared, chunked, prepare
from credit_exchange.standard import checks
from credit_exchange.standard.fields import FIELDS, schema_type
from credit_exchange.standard.subjects import KIND_OF_CATEGORY, PLACEHOLDER_USCC
from credit_exchange.standard.validation import get_validator
from credit_exchange.timeutil import LOCAL
from sandbox import night

DAY = date(2026, 11, 28)
AT = datetime.combine(DAY, dtime(22, 30), LOCAL)
PARSERS = {"market": "market_xml", "police": "police_csv", "pboc": "pboc_dat"}


# --- a stand-in for the transport sandbox's item control -----------------------------------

class _Sink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.bodies: list[bytes] = []
        self.url = f"http://127.0.0.1:{self.server_port}"

    def items(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for body in self.bodies:
            payload = json.loads(body)
            out.setdefault(payload["endpoint"], []).extend(payload["items"])
        return out


class _SinkHandler(BaseHTTPRequestHandler):
    server: _Sink

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/_sandbox/items":
            self.send_error(404)
            return
        self.server.bodies.append(body)
        out = json.dumps({"added": len(json.loads(body)["items"])}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[_Sink]:
    server = _Sink()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def fake_info(root: Path, sink: _Sink) -> dict[str, Any]:
    return {"inbox_data": str(root / "inbox-data"), "pboc_data": str(root / "pboc-data"), "transport_url": sink.url}


def folder(info: dict[str, Any], feed: str) -> Path:
    if feed == "pboc":
        return Path(info["pboc_data"]) / "outbox"
    return Path(info["inbox_data"]) / feed / "inbox"


# --- reading a night back as the hub does ---------------------------------------------------

def read_file(info: dict[str, Any], feed: str, name: str, run_day: date) -> list[tuple[Any, Prepared]]:
    """(source record, prepared record) of every record of a file: the hub's parser, then its validation."""
    parse = get_parser(PARSERS[feed])
    validator = get_validator(run_day)
    out = []
    with (folder(info, feed) / name).open("rb") as fh:
        for chunk in chunked(parse(fh, config.feed(feed), name)):
            out.extend(zip(chunk, (Prepared(*t) for t in prepare(chunk, validator)), strict=True))
    return out


def read_transport(items: list[dict[str, Any]], endpoint: str, run_day: date) -> list[tuple[Any, Prepared]]:
    record_type = night.TRANSPORT_RECORD_TYPES[endpoint]
    recs = [source_record(record_type, item, k, f"item {k}") for k, item in enumerate(items, start=1)]
    validator = get_validator(run_day)
    out = []
    for chunk in chunked(recs):
        out.extend(zip(chunk, (Prepared(*t) for t in prepare(chunk, validator)), strict=True))
    return out


def read_night(info: dict[str, Any], summary: dict[str, Any], sink: _Sink,
               run_day: date) -> dict[tuple[str, str], list[tuple[Any, Prepared]]]:
    """(feed, file name or endpoint) -> its records, read back."""
    out = {}
    for feed in ("market", "police", "pboc"):
        for entry in summary["files"][feed]:
            out[(feed, entry["name"])] = read_file(info, feed, entry["name"], run_day)
    for endpoint, items in sink.items().items():
        out[("transport", endpoint)] = read_transport(items, endpoint, run_day)
    return out


def all_bytes(info: dict[str, Any]) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for root in (Path(info["inbox_data"]), Path(info["pboc_data"])) for p in sorted(root.rglob("*"))
            if p.is_file()}


# --- the plan ---------------------------------------------------------------------------------

def test_the_plan_of_100_000_records() -> None:
    p = night.plan(100_000)
    feeds = p["feeds"]
    assert {f: feeds[f]["records"] for f in feeds} == {"market": 70_000, "police": 8_000, "pboc": 15_000,
                                                      "transport": 7_000}
    assert {t: e["records"] for t, e in feeds["market"]["types"].items()} == {
        "LICENSE": 25_000, "PENALTY": 25_000, "ABNORMAL": 10_000, "SHOP": 10_000}
    assert {t: e["records"] for t, e in feeds["transport"]["types"].items()} == {
        "courier-violations": 4_000, "courier-enterprises": 3_000}
    assert [e["files"] for e in feeds["market"]["types"].values()] == [[25_000], [25_000], [10_000], [10_000]]
    assert feeds["police"]["types"]["fraud_case"]["files"] == [8_000]
    assert feeds["pboc"]["types"]["payment_risk_event"]["files"] == [15_000]
    assert {f: feeds[f]["files"] for f in feeds} == {"market": 4, "police": 1, "pboc": 1, "transport": 0}
    assert {f: feeds[f]["share"] for f in feeds} == {"market": 0.70, "police": 0.08, "pboc": 0.15, "transport": 0.07}


def test_the_plan_of_a_million_records() -> None:
    feeds = night.plan(1_000_000)["feeds"]
    assert {f: feeds[f]["records"] for f in feeds} == {"market": 700_000, "police": 80_000, "pboc": 150_000,
                                                      "transport": 70_000}
    market = {t: e["files"] for t, e in feeds["market"]["types"].items()}
    assert market == {"LICENSE": [50_000] * 5, "PENALTY": [50_000] * 5, "ABNORMAL": [50_000] * 2,
                      "SHOP": [50_000] * 2}
    assert feeds["police"]["types"]["fraud_case"]["files"] == [20_000] * 4
    assert feeds["pboc"]["types"]["payment_risk_event"]["files"] == [50_000] * 3
    assert {f: feeds[f]["files"] for f in feeds} == {"market": 14, "police": 4, "pboc": 3, "transport": 0}
    assert {t: e["posts"] for t, e in feeds["transport"]["types"].items()} == {
        "courier-violations": 20, "courier-enterprises": 15}


@pytest.mark.parametrize("n", [0, 1, 7, 12_345, 1_234_567])
def test_the_plan_adds_up_and_no_file_is_too_big(n: int) -> None:
    feeds = night.plan(n)["feeds"]
    assert sum(f["records"] for f in feeds.values()) == n
    for feed, limit in night.MAX_RECORDS_PER_FILE.items():
        for entry in feeds[feed]["types"].values():
            assert sum(entry["files"]) == entry["records"]
            assert all(0 < size <= limit for size in entry["files"])
            if entry["files"]:
                assert max(entry["files"]) - min(entry["files"]) <= 1


def test_more_files_than_the_pattern_numbers_is_refused_clearly() -> None:
    night.plan(24_000_000)  # police: 1.92 million records, 96 files
    with pytest.raises(ValueError, match=r"police fraud_case: 100 files needed .*2-digit"):
        night.plan(25_000_000)
    with pytest.raises(ValueError):
        night.plan(-1)


# --- subjects ---------------------------------------------------------------------------------

def test_id_numbers_stay_distinct_and_valid_far_beyond_a_million() -> None:
    some = [*range(0, 300_000), *range(10_000_000, 10_050_000), *range(night._ID_SPACE - 1000, night._ID_SPACE)]
    numbers = [night.id_number(k) for k in some]
    assert len(set(numbers)) == len(numbers)
    assert all(not checks.id_number_problems(v, DAY) for v in numbers[::97])
    with pytest.raises(ValueError):
        night.id_number(night._ID_SPACE)


# --- a small night, read back with the hub's parsers and validation ---------------------------

@pytest.fixture
def small_night(tmp_path: Path, sink: _Sink) -> tuple[dict[str, Any], dict[str, Any], Any]:
    info = fake_info(tmp_path / "night1", sink)
    summary = night.write_night(info, DAY, AT, 4_000, seed=3)
    return info, summary, read_night(info, summary, sink, DAY)


def test_every_file_parses_and_the_hub_finds_the_defects_the_summary_counts(small_night: Any) -> None:
    info, summary, read = small_night
    assert summary["records_total"] == 4_000
    expected = {(feed, e["name"]): e for feed in night.FEEDS for e in summary["files"][feed]}
    assert set(read) == set(expected)
    per_feed: Counter[str] = Counter()
    for (feed, name), recs in read.items():
        entry = expected[(feed, name)]
        rejected = sum(1 for _src, p in recs if p.problems)
        assert len(recs) == entry["records"], name
        assert rejected == entry["defects"], (name, [p.problems for _s, p in recs if p.problems][:3])
        assert all(p.op == "upsert" for _s, p in recs if not p.problems)  # a bad 记录状态 has no op
        assert entry["records"] < 50 or 0.01 <= rejected / entry["records"] <= 0.03
        per_feed[feed] += rejected
    assert dict(per_feed) == {feed: sum(c.values()) for feed, c in summary["defects"].items()}
    for feed in night.FEEDS:
        records = sum(summary["records"][feed].values())
        assert 0.015 <= sum(summary["defects"][feed].values()) / records <= 0.025, feed
        assert len(summary["defect_kinds"][feed]) >= 4, feed  # several kinds of mistake in every feed
    assert summary["defects_total"] == sum(per_feed.values())


def test_records_are_distinct_and_each_subject_keeps_its_name(small_night: Any) -> None:
    _info, _summary, read = small_night
    ids: Counter[tuple[str, str]] = Counter()
    names: dict[tuple[str, ...], str] = {}
    for (feed, _name), recs in read.items():
        for src, p in recs:
            ids[(feed, src.dept_record_id)] += 1
            if p.problems:
                continue
            data = src.data
            name_f, uscc_f, cat_f = FIELDS.subject_fields(schema_type(src.record_type))
            kind = KIND_OF_CATEGORY.get(str(data.get(cat_f)), "org") if cat_f else "org"
            if kind == "person":
                key: tuple[str, ...] = ("person", data["id_type"], data["id_number"])
            elif data[uscc_f] == PLACEHOLDER_USCC:
                key = ("regno", data["business_reg_no"])
            else:
                key = ("uscc", data[uscc_f])
            assert names.setdefault(key, data[name_f]) == data[name_f], key
            if data.get("legal_rep_id_number"):
                rep = ("person", "身份证", data["legal_rep_id_number"])
                assert names.setdefault(rep, data["legal_rep_name"]) == data["legal_rep_name"], rep
    assert max(ids.values()) == 1
    assert len(ids) == 4_000
    kinds = Counter(k[0] for k in names)
    assert kinds["uscc"] > 1_000 and kinds["person"] > 500 and kinds["regno"] > 0


def test_the_files_are_named_finished_and_dated_back(small_night: Any) -> None:
    info, summary, _read = small_night
    for feed in ("market", "police", "pboc"):
        names = sorted(p.name for p in folder(info, feed).iterdir())
        assert not [n for n in names if n.endswith((".tmp", ".part"))]
        for entry in summary["files"][feed]:
            assert config.feed(feed).match_name(entry["name"]), entry["name"]
            assert (folder(info, feed) / entry["name"]).stat().st_size == entry["bytes"]
    assert [e["name"] for e in summary["files"]["market"]] == [
        f"MARKET_{k}_20261128_001.xml" for k in ("LICENSE", "PENALTY", "ABNORMAL", "SHOP")]
    assert [e["name"] for e in summary["files"]["police"]] == ["POLICE_FRAUD_20261128_01.csv"]
    for feed in ("market", "police"):
        for p in folder(info, feed).iterdir():
            assert 3000 < time.time() - p.stat().st_mtime < 4000  # past the quiet period
    for entry in summary["files"]["pboc"]:
        data = (folder(info, "pboc") / entry["name"]).read_bytes()
        control = (folder(info, "pboc") / entry["control"]).read_text()
        assert control == f"{entry['name']}|{entry['records']}|{hashlib.new('sm3', data).hexdigest()}\n"
    assert summary["bytes"]["total"] == sum(summary["bytes"][f] for f in night.FEEDS)
    assert summary["file_counts"] == {"market": 4, "police": 1, "pboc": 1}


# --- determinism and the second night -------------------------------------------------------

def test_the_same_seed_writes_the_same_bytes(tmp_path: Path, sink: _Sink) -> None:
    outputs = []
    for run, seed in (("a", 1), ("b", 1), ("c", 2)):
        sink.bodies.clear()
        info = fake_info(tmp_path / run, sink)
        night.write_night(info, DAY, AT, 1_500, seed=seed)
        outputs.append((all_bytes(info), list(sink.bodies)))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].keys() == outputs[2][0].keys()
    assert all(outputs[0][0][k] != outputs[2][0][k] for k in outputs[0][0] if k.endswith((".xml", ".csv", ".dat")))


def _by_id(read: dict[tuple[str, str], list[tuple[Any, Prepared]]]) -> dict[str, dict[str, Prepared]]:
    out: dict[str, dict[str, Prepared]] = {}
    for (feed, _name), recs in read.items():
        for _src, p in recs:
            assert p.dept_record_id is not None
            out.setdefault(feed, {})[p.dept_record_id] = p
    return out


def test_the_changed_night_sends_a_share_of_the_first_nights_records_changed(tmp_path: Path, sink: _Sink) -> None:
    n, share = 3_000, 0.05
    first_info = fake_info(tmp_path / "first", sink)
    first = night.write_night(first_info, DAY, AT, n, seed=2)
    first_read = _by_id(read_night(first_info, first, sink, DAY))
    sink.bodies.clear()

    day2 = DAY + timedelta(days=1)
    second_info = fake_info(tmp_path / "second", sink)
    second = night.write_night(second_info, day2, AT + timedelta(days=1), n, seed=2, changed_share=share)
    second_read = _by_id(read_night(second_info, second, sink, day2))

    for feed in night.FEEDS:
        for type_name, count in first["records"][feed].items():
            assert second["records"][feed][type_name] == round(count * share)
        old, new = first_read[feed], second_read[feed]
        assert set(new) <= set(old), feed
        assert len(new) == sum(second["records"][feed].values())
        both_valid = [i for i in new if not new[i].problems and not old[i].problems]
        assert len(new) - len(both_valid) <= 2 + 0.05 * len(new)  # defects of either night
        for rec_id in both_valid:
            assert new[rec_id].digest != old[rec_id].digest, (feed, rec_id)  # the content changed
            assert new[rec_id].dept_version > old[rec_id].dept_version, (feed, rec_id)
    first_names = {e["name"] for feed in ("market", "police", "pboc") for e in first["files"][feed]}
    second_names = {e["name"] for feed in ("market", "police", "pboc") for e in second["files"][feed]}
    assert not first_names & second_names
    assert second["first_day"] == DAY.isoformat()


def test_a_changed_night_on_the_first_nights_day_takes_the_next_sequence_numbers(tmp_path: Path,
                                                                                  sink: _Sink) -> None:
    info = fake_info(tmp_path / "night", sink)
    first = night.write_night(info, DAY, AT, 2_000)
    again = night.write_night(info, DAY, AT + timedelta(hours=1), 2_000, changed_share=0.1, first_day=DAY)
    assert [e["name"] for e in first["files"]["police"]] == ["POLICE_FRAUD_20261128_01.csv"]
    assert [e["name"] for e in again["files"]["police"]] == ["POLICE_FRAUD_20261128_02.csv"]
    assert [e["name"] for e in again["files"]["market"]][0] == "MARKET_LICENSE_20261128_002.xml"
    assert [e["name"] for e in again["files"]["pboc"]] == ["PBOC_PAYRISK_20261128_02.dat"]
    with pytest.raises(ValueError):
        night.write_night(info, DAY, AT, 2_000, changed_share=1.5)
