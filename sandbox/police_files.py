"""Police fraud-case CSV files as the department's old client writes them (contracts.md 1.2).

Used by the demo and the tests to play the clerk: GB18030 (or UTF-8 with a
BOM), CRLF, RFC 4180 quoting, the header in whatever order the export tool
chose, dates in any of the three forms the police write.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.mapping import to_national
from sandbox.samples import valid_record

RECORD_TYPE = "fraud_case"
_OP = FIELDS.op_column(RECORD_TYPE)
assert _OP is not None
STATUS_COLUMN = _OP.code  # 记录状态
# The contract's order (contracts.md 1.2): the field table's, with 记录状态 before 备注.
COLUMNS: list[str] = [f.code for f in FIELDS.fields(RECORD_TYPE) if f.name != "remark"] + [
    STATUS_COLUMN, FIELDS.by_name(RECORD_TYPE)["remark"].code]
DATE_FORMS = ("iso", "slash", "chinese")


def file_name(day: date, seq: int = 1) -> str:
    return f"POLICE_FRAUD_{day:%Y%m%d}_{seq:02d}.csv"


def shuffled_columns(seed: int = 7) -> list[str]:
    """The contract's columns in another order (the header may come in any order)."""
    cols = list(COLUMNS)
    random.Random(seed).shuffle(cols)
    return cols


def police_csv(rows: Iterable[Mapping[str, Any]], encoding: str = "gb18030",
               columns: list[str] | None = None) -> bytes:
    """One police file: ``rows`` keyed by CSV column name, values as the wire text.

    ``encoding`` is ``gb18030`` (the contract's) or ``utf-8-sig`` (UTF-8 with a
    BOM). ``columns`` is the header, by default the contract's columns shuffled;
    a row's missing cells are written empty.
    """
    if encoding not in {"gb18030", "utf-8-sig"}:
        raise ValueError(f"the police write GB18030 or UTF-8 with a BOM, not {encoding!r}")
    cols = columns if columns is not None else shuffled_columns()
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(cols)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in cols])
    return out.getvalue().encode(encoding)


def _date_text(iso: str, form: str) -> str:
    d = date.fromisoformat(iso)
    if form == "iso":
        return d.isoformat()
    if form == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if form == "chinese":
        return f"{d.year}年{d.month}月{d.day}日"
    raise ValueError(form)


def csv_row(data: Mapping[str, Any], status: str = "有效", date_form: str = "iso") -> dict[str, str]:
    """A canonical fraud_case as a CSV row (wire values; dates in ``iso``, ``slash`` or ``chinese`` form)."""
    row = dict(to_national(RECORD_TYPE, dict(data), mask_pii=False))
    for f in FIELDS.fields(RECORD_TYPE):
        if f.wire == "date" and data.get(f.name):
            row[f.code] = _date_text(str(data[f.name]), date_form)
    row[STATUS_COLUMN] = status
    return row


def withdrawal_row(case_no: str) -> dict[str, str]:
    """A 撤销 row: the case number and the status, nothing else."""
    return {FIELDS.by_name(RECORD_TYPE)["case_no"].code: case_no, STATUS_COLUMN: "撤销"}


def good_cases(today: date, count: int, start: int = 1) -> list[dict[str, Any]]:
    """Valid canonical fraud cases (a fifth of them natural persons with valid ID numbers)."""
    return [valid_record(RECORD_TYPE, i, today) for i in range(start, start + count)]


def break_case(data: Mapping[str, Any], how: str) -> dict[str, Any]:
    """A copy of a canonical case with one realistic mistake."""
    out = dict(data)
    if how == "id_checksum":
        number = str(out["id_number"])
        out["id_number"] = number[:-1] + ("1" if number[-1] != "1" else "2")
    elif how == "id_15_digits":
        out.update({"subject_category": "自然人", "id_type": "身份证", "id_number": "511123850101123"})
        out.pop("uscc", None)
    else:
        raise ValueError(how)
    return out


def demo_night(today: date, at: datetime) -> dict[str, bytes]:
    """A realistic night of police files: 16 rows, most good, three wrong, one withdrawal.

    ``at`` is when the police exported the file; the withdrawal's remark says so.
    """
    cases = good_cases(today, 15)
    rows = [csv_row(c, date_form=DATE_FORMS[i % 3]) for i, c in enumerate(cases)]
    remark = FIELDS.by_name(RECORD_TYPE)["remark"].code
    # Cells the quoting must carry: a comma, a quote, a line break.
    rows[1][remark] = '嫌疑人供述："先刷单，再返现"，涉及店铺3家\r\n另案处理1人'
    outcome = FIELDS.by_name(RECORD_TYPE)["outcome"].code
    rows[2][outcome] = "行政拘留十日，并处罚款人民币2000元"
    # Three rows the police must correct: wrong ID check digit, a 15-digit ID, a date in no agreed form.
    persons = [i for i, c in enumerate(cases) if c.get("id_type") == "身份证"]
    rows[persons[0]] = csv_row(break_case(cases[persons[0]], "id_checksum"))
    rows[persons[1]] = csv_row(break_case(cases[persons[1]], "id_15_digits"), date_form="slash")
    filed = FIELDS.by_name(RECORD_TYPE)["filed_date"].code
    d = date.fromisoformat(cases[5]["filed_date"])
    rows[5][filed] = f"{d.year}.{d.month}.{d.day}"
    # A case taken back after review, filed in an earlier year.
    withdrawn = withdrawal_row(f"JWGA{today.year - 1}000901")
    withdrawn[remark] = f"{at:%Y年%m月%d日}经复核撤销"
    rows.append(withdrawn)
    return {file_name(today, 1): police_csv(rows)}
