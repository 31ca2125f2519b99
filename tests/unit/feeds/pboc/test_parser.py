"""The PBoC .dat parser: columns, ops, versions, broken lines, and any chunking of the bytes."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from credit_exchange import config
from credit_exchange.feeds.pboc.parser import MAX_LINE_BYTES, DatParser
from credit_exchange.feeds.pboc.source import PairCheckFailed, parse_control
from credit_exchange.feeds.registry import FileRejected, get_parser
from credit_exchange.standard.validation import get_validator
from credit_exchange.timeutil import LOCAL
from sandbox.pboc_files import dat_file, demo_night, events, pboc_pair, sm3

TODAY = date(2026, 11, 28)
NAME = "PBOC_PAYRISK_20261128_01.dat"


def parse(body: bytes, name: str = NAME) -> list:
    return list(get_parser("pboc_dat")(io.BytesIO(body), config.feed("pboc"), name))


def codes(rec) -> list[str]:
    return [p.code for p in rec.problems]


def test_records_are_mapped_to_canonical_fields_and_valid() -> None:
    rows = events(TODAY, 3)
    out = parse(dat_file(rows))
    assert [r.position for r in out] == ["line 1", "line 2", "line 3"]
    assert [r.dept_record_id for r in out] == [r["event_id"] for r in rows]
    assert all(r.op == "upsert" and r.dept_version == 1 and not r.problems for r in out)
    expected = {k: v for k, v in rows[0].items() if k != "version"}
    assert out[0].data == expected
    assert get_validator(TODAY).check_many("payment_risk_event", [r.data for r in out]) == [[], [], []]


def test_delete_rows_carry_no_fields_short_or_full() -> None:
    full = "PBOC20261101000007|3|D||||||||||\n"
    out = parse(b"PBOC20261101000009|2|D\n" + full.encode())
    assert [(r.op, r.dept_version, r.data, r.problems) for r in out] == [
        ("delete", 2, {}, []), ("delete", 3, {}, [])]


@pytest.mark.parametrize(("line", "code"), [
    ("E1|1|U|只有四列", "pboc_columns"),
    ("E1|1|U" + "|x" * 11, "pboc_columns"),
    ("E1|1|X" + "|" * 10, "pboc_op"),
    ("E1|1|u" + "|" * 10, "pboc_op"),
    ("E1|0|U" + "|" * 10, "record_version"),
    ("E1|v2|U" + "|" * 10, "record_version"),
    ("E1|99999999999|D", "record_version"),
    ("|1|D", "record_id_missing"),
    ("E1|1|U", "pboc_columns"),
])
def test_line_problems(line: str, code: str) -> None:
    (rec,) = parse((line + "\n").encode())
    assert code in codes(rec)
    assert rec.position == "line 1"


def test_positions_are_physical_lines_and_blank_lines_are_not_records() -> None:
    rows = events(TODAY, 2)
    body = dat_file(rows[:1]) + b"\n" + dat_file(rows[1:]) + b"\n"
    p = DatParser()
    out = p.feed(body) + p.finish()
    assert [r.position for r in out] == ["line 1", "line 3"]
    assert p.records == 2


def test_no_trailing_line_feed_and_crlf() -> None:
    rows = events(TODAY, 2)
    body = dat_file(rows).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    out = parse(body)
    assert len(out) == 2 and all(not r.problems for r in out)
    assert out[1].data["event_id"] == rows[1]["event_id"]


def test_bad_utf8_is_a_line_problem_and_names_the_record() -> None:
    good = dat_file(events(TODAY, 1))
    bad = "E9|1|U|犍为".encode("gb18030") + b"|" * 9 + b"\n"
    out = parse(good + bad)
    assert codes(out[0]) == [] and codes(out[1]) == ["pboc_encoding"]
    assert out[1].dept_record_id == "E9" and out[1].position == "line 2"


def test_overlong_line_is_not_buffered() -> None:
    body = b"E1|1|U|" + b"x" * (MAX_LINE_BYTES * 3) + b"\n" + dat_file(events(TODAY, 1))
    p = DatParser()
    out = []
    for i in range(0, len(body), 4096):
        out += p.feed(body[i:i + 4096])
        assert len(p._tail) <= MAX_LINE_BYTES
    out += p.finish()
    assert codes(out[0]) == ["pboc_line_too_long"] and codes(out[1]) == []


@pytest.mark.parametrize("step", [1, 7, 64, 100_000])
def test_any_chunking_gives_the_same_records(step: int) -> None:
    body = demo_night(TODAY, datetime(2026, 11, 28, 22, 0, tzinfo=LOCAL))[NAME]
    whole = parse(body)
    p = DatParser()
    pieces = []
    for i in range(0, len(body), step):
        pieces += p.feed(body[i:i + step])
    pieces += p.finish()
    assert [(r.position, r.dept_record_id, r.op, r.data, codes(r)) for r in pieces] == \
           [(r.position, r.dept_record_id, r.op, r.data, codes(r)) for r in whole]


def test_demo_night_has_a_delete_a_bad_row_and_a_high_risk_termination() -> None:
    files = demo_night(TODAY, datetime(2026, 11, 28, 22, 0, tzinfo=LOCAL))
    assert set(files) == {NAME, NAME.replace(".dat", ".ok")}
    out = parse(files[NAME])
    assert len(out) == 12
    assert sum(r.op == "delete" for r in out) == 1
    assert any(r.data.get("risk_level") == "高" and r.data.get("action_taken") == "终止服务" for r in out)
    problems = get_validator(TODAY).check_many("payment_risk_event", [r.data for r in out if r.op == "upsert"])
    assert sum(bool(p) for p in problems) == 1


def test_wrong_file_name_is_refused() -> None:
    with pytest.raises(FileRejected) as exc:
        parse(b"", "payrisk.dat")
    assert exc.value.code == "file_name"


# -- control files --------------------------------------------------------------------------

def test_control_line_round_trip() -> None:
    files = pboc_pair(events(TODAY, 4), NAME)
    ctl = parse_control(files[NAME.replace(".dat", ".ok")], NAME)
    assert (ctl.name, ctl.count, ctl.sm3) == (NAME, 4, sm3(files[NAME]))
    assert parse_control(f"{NAME}|4|{ctl.sm3.upper()}".encode(), NAME).sm3 == ctl.sm3  # no trailing LF


@pytest.mark.parametrize(("raw", "code", "keyed"), [
    (b"", "pboc_control_malformed", False),
    (f"{NAME}|4".encode(), "pboc_control_malformed", False),
    (f"{NAME}|4|abc\n".encode(), "pboc_control_malformed", False),
    (f"{NAME}|four|{'a' * 64}\n".encode(), "pboc_control_malformed", True),
    (f"{NAME}|4|{'a' * 64}\n\n".encode(), "pboc_control_malformed", False),
    (f"{NAME}|4|{'a' * 64}|x\n".encode(), "pboc_control_malformed", False),
    (f"PBOC_PAYRISK_20261128_02.dat|4|{'a' * 64}\n".encode(), "pboc_control_name", True),
    (b"\xff\xfe", "pboc_control_malformed", False),
])
def test_malformed_control_lines_fail_the_check(raw: bytes, code: str, keyed: bool) -> None:
    with pytest.raises(PairCheckFailed) as exc:
        parse_control(raw, NAME)
    assert exc.value.code == code
    assert (exc.value.sm3 == "a" * 64) is keyed
