"""The police CSV parser: encodings, header, RFC 4180 quoting, line numbers, values, versions."""

from __future__ import annotations

import io
from datetime import date

import pytest

from credit_exchange import config
from credit_exchange.feeds.police.parser import file_version
from credit_exchange.feeds.registry import FileRejected, get_parser
from sandbox.police_files import (
    COLUMNS,
    csv_row,
    good_cases,
    police_csv,
    shuffled_columns,
    withdrawal_row,
)

TODAY = date(2026, 11, 28)
NAME = "POLICE_FRAUD_20261128_01.csv"
FEED = config.feed("police")


def parse(body: bytes, name: str = NAME, stream: io.RawIOBase | None = None) -> list:
    return list(get_parser("police_csv")(stream or io.BytesIO(body), FEED, name))


def rows(n: int = 3, **kw) -> list[dict[str, str]]:
    return [csv_row(c, **kw) for c in good_cases(TODAY, n)]


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read, like a slow link."""

    def __init__(self, data: bytes, step: int = 1) -> None:
        self._data, self._pos, self._step, self.reads = data, 0, step, 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        out = self._data[self._pos:self._pos + self._step]
        self._pos += len(out)
        return out


def test_records_are_mapped_with_line_positions_and_the_file_version() -> None:
    cases = good_cases(TODAY, 5)
    out = parse(police_csv([csv_row(c) for c in cases]))
    assert [r.position for r in out] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert [r.dept_record_id for r in out] == [c["case_no"] for c in cases]
    assert all(r.op == "upsert" and r.dept_version == 2026112801 and not r.problems for r in out)
    assert [r.data for r in out] == cases  # the round trip through the wire forms is exact
    assert {r.record_type for r in out} == {"fraud_case"}


@pytest.mark.parametrize("columns", [COLUMNS, list(reversed(COLUMNS)), shuffled_columns(1), shuffled_columns(99)])
def test_header_in_any_order_gives_the_same_records(columns: list[str]) -> None:
    reference = parse(police_csv(rows(4), columns=COLUMNS))
    out = parse(police_csv(rows(4), columns=columns))
    assert [(r.dept_record_id, r.data, r.op) for r in out] == [(r.dept_record_id, r.data, r.op) for r in reference]


def test_quoted_commas_quotes_and_line_breaks_keep_physical_line_numbers() -> None:
    rs = rows(4)
    rs[0]["备注"] = '第一行\r\n第二行，含逗号\r\n第三行 "引号"'   # spans 3 physical lines
    rs[2]["处理结果"] = "罚款, 拘留\n另处"                           # a bare LF inside a field
    body = police_csv(rs, columns=COLUMNS)
    assert body.count(b"\r\n") == 7  # header, 4 rows, 2 breaks inside the first remark
    out = parse(body)
    assert [r.position for r in out] == ["line 2", "line 5", "line 6", "line 8"]
    assert out[0].data["remark"] == '第一行\r\n第二行，含逗号\r\n第三行 "引号"'
    assert out[2].data["outcome"] == "罚款, 拘留\n另处"
    assert all(not r.problems for r in out)


def test_the_three_date_forms_mean_the_same_day() -> None:
    case = good_cases(TODAY, 1)[0]
    out = parse(police_csv([csv_row(case, date_form=f) for f in ("iso", "slash", "chinese")]))
    assert {r.data["filed_date"] for r in out} == {case["filed_date"]}
    raw = police_csv([csv_row(case)], columns=COLUMNS).decode("gb18030")
    filed = case["filed_date"]
    y, m, d = (int(x) for x in filed.split("-"))
    for text in (f"{y}/{m:02d}/{d:02d}", f"{y}年{m:02d}月{d:02d}日", f"{y}/{m}/{d}"):
        (rec,) = parse(raw.replace(filed, text).encode("gb18030"))
        assert rec.data["filed_date"] == filed
    (rec,) = parse(raw.replace(filed, f"{y}.{m}.{d}").encode("gb18030"))
    assert rec.data["filed_date"] == f"{y}.{m}.{d}"  # left as written: the schema names the field


def test_shi_fou_become_booleans() -> None:
    rs = rows(2)
    rs[0]["认定严重失信"], rs[1]["认定严重失信"] = "是", "否"
    out = parse(police_csv(rs))
    assert [r.data["serious"] for r in out] == [True, False]


def test_bom_utf8_and_gb18030_give_identical_records() -> None:
    rs = rows(6)
    rs[1]["备注"] = "涉案金额约1.2万元，\r\n嫌疑人“张某”已到案"
    gb = parse(police_csv(rs, encoding="gb18030"))
    utf = parse(police_csv(rs, encoding="utf-8-sig"))
    assert police_csv(rs, encoding="utf-8-sig").startswith(b"\xef\xbb\xbf")
    assert [(r.position, r.dept_record_id, r.dept_version, r.op, r.data) for r in gb] == \
           [(r.position, r.dept_record_id, r.dept_version, r.op, r.data) for r in utf]


def test_a_slow_stream_gives_the_same_records() -> None:
    body = police_csv(rows(3), encoding="utf-8-sig")
    assert parse(b"", stream=Trickle(body, 1)) == parse(body)


def test_records_stream_before_the_file_is_read() -> None:
    body = police_csv(rows(200))
    stream = Trickle(body, 4096)
    it = get_parser("police_csv")(stream, FEED, NAME)
    first = next(it)
    assert first.position == "line 2"
    assert stream.reads * 4096 < len(body) // 2  # only the head was read for the first record


@pytest.mark.parametrize(("encoding", "bad", "code_name"), [
    ("gb18030", b"\xff\xfe", "GB18030"),
    ("utf-8-sig", "案件".encode("gbk"), "UTF-8"),  # GBK bytes in a file that declared UTF-8 with its BOM
])
def test_bytes_that_do_not_decode_refuse_the_file_naming_the_line(encoding: str, bad: bytes, code_name: str) -> None:
    lines = police_csv(rows(4), encoding=encoding).split(b"\r\n")
    lines[3] = lines[3].replace(b",", b"," + bad, 1)
    with pytest.raises(FileRejected) as err:
        parse(b"\r\n".join(lines))
    assert err.value.code == "csv_encoding"
    assert err.value.params["line"] == 4
    assert "第4行" in err.value.message and "line 4" in err.value.message and code_name in err.value.message


@pytest.mark.parametrize(("columns", "named"), [
    ([c for c in COLUMNS if c != "备注"], ["缺少", "备注"]),
    ([c for c in COLUMNS if c not in {"案件编号", "记录状态"}], ["案件编号", "记录状态"]),
    (COLUMNS + ["联系电话"], ["未知", "联系电话"]),
    (COLUMNS + ["证件号码"], ["重复", "证件号码"]),
])
def test_a_wrong_header_refuses_the_file_naming_the_columns(columns: list[str], named: list[str]) -> None:
    with pytest.raises(FileRejected) as err:
        parse(police_csv(rows(2), columns=columns))
    assert err.value.code == "csv_header"
    assert all(n in err.value.message for n in named)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(FileRejected) as err:
        parse(b"")
    assert err.value.code == "csv_header"


def test_wrong_field_count_is_a_record_problem_not_a_file_refusal() -> None:
    body = police_csv(rows(3), columns=COLUMNS).decode("gb18030").split("\r\n")
    body[2] = body[2] + ",多余的一列"
    out = parse("\r\n".join(body).encode("gb18030"))
    assert [r.position for r in out] == ["line 2", "line 3", "line 4"]
    assert [p.code for p in out[1].problems] == ["csv_field_count"]
    assert out[1].dept_record_id == good_cases(TODAY, 3)[1]["case_no"]
    assert "16" in out[1].problems[0].message and "15" in out[1].problems[0].message
    assert not out[0].problems and not out[2].problems


def test_a_shifted_row_never_shows_an_id_number_as_its_record_id() -> None:
    body = police_csv(rows(1), columns=COLUMNS).decode("gb18030")
    body += "\r\n511123199001011237,多出的列"  # an ID number where the case number belongs
    out = parse(body.encode("gb18030"))
    assert out[1].dept_record_id is not None and "511123199001011237" not in out[1].dept_record_id


def test_withdrawal_and_unknown_status() -> None:
    rs = rows(2)
    rs[1]["记录状态"] = "作废"
    out = parse(police_csv([*rs, withdrawal_row("JWGA2025000901")]))
    assert (out[2].op, out[2].dept_record_id, out[2].data, out[2].problems) == ("delete", "JWGA2025000901", {}, [])
    assert out[1].op is None
    assert [(p.code, p.label) for p in out[1].problems] == [("record_status", "记录状态")]
    assert "作废" in out[1].problems[0].message
    assert out[0].op == "upsert"


def test_missing_case_number_is_a_record_problem() -> None:
    rs = rows(1)
    rs[0]["案件编号"] = "  "
    (rec,) = parse(police_csv(rs))
    assert rec.dept_record_id is None and [p.code for p in rec.problems] == ["record_id_missing"]


def test_stray_quote_is_a_record_problem_and_later_lines_keep_their_numbers() -> None:
    body = police_csv(rows(3), columns=COLUMNS).decode("gb18030").split("\r\n")
    cells = body[2].split(",")
    cells[-1] = '"备注"多写了字'
    body[2] = ",".join(cells)
    out = parse("\r\n".join(body).encode("gb18030"))
    assert [r.position for r in out] == ["line 2", "line 3", "line 4"]
    assert [p.code for p in out[1].problems] == ["csv_quoting"]
    assert not out[2].problems and out[2].dept_record_id == good_cases(TODAY, 3)[2]["case_no"]


def test_a_quote_never_closed_refuses_the_file() -> None:
    body = police_csv(rows(3), columns=COLUMNS).decode("gb18030").split("\r\n")
    cells = body[2].split(",")
    cells[-1] = '"备注没有结束'
    body[2] = ",".join(cells)
    with pytest.raises(FileRejected) as err:
        parse("\r\n".join(body).encode("gb18030"))
    assert err.value.code == "csv_unterminated_quote" and err.value.params["line"] == 3


def test_blank_lines_carry_nothing() -> None:
    body = police_csv(rows(2), columns=COLUMNS) + b"\r\n" + b"," * 14 + b"\r\n\r\n"
    assert [r.position for r in parse(body)] == ["line 2", "line 3"]


def test_lf_only_line_ends_are_read_too() -> None:
    body = police_csv(rows(2), columns=COLUMNS).replace(b"\r\n", b"\n")
    out = parse(body)
    assert [r.position for r in out] == ["line 2", "line 3"] and not any(r.problems for r in out)


@pytest.mark.parametrize(("name", "version"), [
    ("POLICE_FRAUD_20261128_01.csv", 2026112801),
    ("POLICE_FRAUD_20261128_02.csv", 2026112802),
    ("POLICE_FRAUD_20261129_01.csv", 2026112901),
])
def test_the_version_grows_with_date_and_sequence(name: str, version: int) -> None:
    assert file_version(FEED, name) == version
    (rec,) = parse(police_csv(rows(1)), name=name)
    assert rec.dept_version == version


@pytest.mark.parametrize("name", ["POLICE_FRAUD_20261332_01.csv", "POLICE_FRAUD_99991231_01.csv", "fraud.csv"])
def test_names_without_a_usable_date_are_refused(name: str) -> None:
    with pytest.raises(FileRejected) as err:
        parse(police_csv(rows(1)), name=name)
    assert err.value.code == "file_name"
