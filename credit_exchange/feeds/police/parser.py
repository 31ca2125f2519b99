"""Police fraud-case CSV files (contracts.md 1.2), streamed line by line.

Encoding: GB18030 unless the file starts with a UTF-8 BOM, which means UTF-8.
The bytes are split at ``\\n`` and each physical line is decoded on its own:
in both encodings the byte 0x0A only ever stands for a line feed (it is never
part of a multi-byte character), so the split is exact, memory stays flat
(one line at a time, bounded by ``MAX_LINE_BYTES``), and a byte sequence
that does not decode is reported with its line number.

The decoded lines feed Python's ``csv`` module, which gives RFC 4180 quoting
(commas, doubled quotes and line breaks inside quoted fields); it counts the
lines it pulls, so a record's ``position`` is the physical line it starts on
(the header is line 1).

Identity and versions: a row is identified by 案件编号, and "a later file that
repeats a case number carries the newer state of that case". The CSV has no
version column, so the department version of every row is taken from the file
name: ``YYYYMMDD * 100 + NN`` (``POLICE_FRAUD_20261128_02.csv`` -> 2026112802).
It grows with every file the police send (by date, then by sequence), so a
later file wins, the same file sent again is ``unchanged``, and an older file
sent after a newer one is ``stale`` for the cases the newer file carried. All
rows of one file share the version: the same case twice in one file with
different content is a ``version_conflict`` for the second row. The value fits
the store's 32-bit version column for any date up to the year 2147; names
with an impossible date are refused (``file_name``).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from credit_exchange.config import Feed
from credit_exchange.standard.fields import FIELDS, OpColumn
from credit_exchange.standard.mapping import from_national
from credit_exchange.standard.pii import mask_text
from credit_exchange.standard.records import FileRejected, SourceRecord, record_problem
from hub_messages import text

UTF8_BOM = b"\xef\xbb\xbf"
DEFAULT_ENCODING = "gb18030"
BLOCK = 1 << 16
# No real row comes near this (the longest field is 1,000 characters); a line
# this long means a broken file, e.g. a quote that is never closed.
MAX_LINE_BYTES = 1 << 20
_MAX_VERSION = 2**31 - 1


class _Dialect(csv.Dialect):
    """RFC 4180: comma, double quote, quotes doubled inside quoted fields; strict about stray quotes."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def parse(stream: BinaryIO, feed: Feed, file_name: str) -> Iterator[SourceRecord]:
    """The records of one police CSV file, in file order."""
    version = file_version(feed, file_name)
    record_type = feed.record_type
    if record_type is None:
        raise ValueError(f"{feed.department}: config/departments.yaml gives no record_type")
    op_column = FIELDS.op_column(record_type)
    id_field = FIELDS.id_field(record_type)
    if op_column is None or id_field is None:
        raise ValueError(f"{record_type} has no operation column or id field in the field table")
    id_code = FIELDS.by_name(record_type)[id_field].code

    lines = _Lines(stream)
    reader = csv.reader(lines, _Dialect)
    columns = _header(reader, lines, record_type, op_column)
    ordinal = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if lines.done:
                raise FileRejected("csv_unterminated_quote", line=start) from exc
            if "field limit" in str(exc):
                raise FileRejected("csv_line_too_long", line=start,
                                   limit=text("csv_limit_characters", limit=csv.field_size_limit())) from exc
            ordinal += 1
            rec = SourceRecord(ordinal=ordinal, position=f"line {start}", record_type=record_type,
                               dept_record_id=None, dept_version=version, op=None)
            rec.problems.append(record_problem("csv_quoting", detail=str(exc)))
            yield rec
            continue
        if not any(cell.strip() for cell in row):
            continue  # blank lines and rows of bare commas (spreadsheet exports) carry nothing
        ordinal += 1
        yield _record(row, ordinal, start, columns, version, record_type, op_column, id_code)


def file_version(feed: Feed, file_name: str) -> int:
    """The department version of every row of a file: ``YYYYMMDD * 100 + NN`` from its name."""
    match = feed.match_name(file_name)
    if not match:
        raise FileRejected("file_name", name=file_name)
    raw_date, raw_seq = match.group("date"), match.group("seq")
    try:
        datetime.strptime(raw_date, "%Y%m%d")
    except ValueError:
        raise FileRejected("file_name", name=file_name) from None
    version = int(raw_date) * 100 + int(raw_seq)
    if version > _MAX_VERSION:
        raise FileRejected("file_name", name=file_name)
    return version


def _header(reader: Iterator[list[str]], lines: _Lines, record_type: str, op_column: OpColumn) -> dict[str, int]:
    """Column name -> index; every column of the contract exactly once, nothing else.

    All columns are required, optional fields included: a row is the whole new
    state of a case, so a column that went missing would silently clear that
    field in every case of the file.
    """
    try:
        header = next(reader)
    except StopIteration:
        raise FileRejected("csv_header", detail=text("csv_header_empty_file")) from None
    except csv.Error as exc:
        raise FileRejected("csv_header", detail=text("csv_header_unreadable") + f": {exc}") from exc
    if lines.number != 1:
        raise FileRejected("csv_header", detail=text("csv_header_multiline"))
    expected = [f.code for f in FIELDS.fields(record_type)] + [op_column.code]
    names = [cell.strip() for cell in header]
    duplicate = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    missing = [c for c in expected if c not in names]
    unknown = [n for n in dict.fromkeys(names) if n not in expected]
    parts = []
    if missing:
        parts.append(text("csv_header_missing") + ": " + "、".join(missing))
    if unknown:
        empty = f"({text('csv_empty_column_name')})"
        parts.append(text("csv_header_unknown") + ": " + "、".join(n or empty for n in unknown))
    if duplicate:
        parts.append(text("csv_header_duplicate") + ": " + "、".join(duplicate))
    if parts:
        raise FileRejected("csv_header", detail="；".join(parts))
    return {name: i for i, name in enumerate(names)}


def _record(row: list[str], ordinal: int, line: int, columns: dict[str, int], version: int, record_type: str,
            op_column: OpColumn, id_code: str) -> SourceRecord:
    rec = SourceRecord(ordinal=ordinal, position=f"line {line}", record_type=record_type,
                       dept_record_id=None, dept_version=version, op=None)
    if len(row) != len(columns):
        # The case number is named if its column is there; masked, because in a
        # shifted row that cell may hold someone's ID number.
        idx = columns[id_code]
        case_no = row[idx].strip() if idx < len(row) else ""
        rec.dept_record_id = mask_text(case_no)[:128] or None
        rec.problems.append(record_problem("csv_field_count", expected=len(columns), found=len(row)))
        return rec
    raw = {code: row[i] for code, i in columns.items()}
    case_no = raw.pop(id_code).strip()
    status = raw.pop(op_column.code).strip()
    rec.dept_record_id = case_no or None
    rec.op = op_column.values.get(status)
    if not case_no:
        rec.problems.append(record_problem("record_id_missing"))
    elif len(case_no) > 128:
        rec.problems.append(record_problem("record_id_too_long"))
    if rec.op is None:
        rec.problems.append(record_problem("record_status", label=op_column.label, field_code=op_column.code,
                                           value=status[:20]))
    if rec.op == "delete":
        return rec  # a withdrawal needs only the case number; other cells may be empty
    raw[id_code] = case_no
    rec.data = from_national(record_type, raw).data
    return rec


class _Lines:
    """Physical lines of the file, decoded, line ends kept (what ``csv`` expects with ``newline=''``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._ready: deque[bytes] = deque()
        self._rest = b""
        self._eof = False
        self.number = 0  # lines handed out so far
        self.done = False  # every line handed out and the end of the file seen
        head = b""
        while len(head) < len(UTF8_BOM):
            block = stream.read(BLOCK)
            if not block:
                self._eof = True
                break
            head += block
        if head.startswith(UTF8_BOM):
            self.encoding = "utf-8"
            head = head[len(UTF8_BOM):]
        else:
            self.encoding = DEFAULT_ENCODING
        self._split(head)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        while not self._ready:
            if self._eof:
                if self._rest:
                    self._ready.append(self._rest)
                    self._rest = b""
                    break
                self.done = True
                raise StopIteration
            block = self._stream.read(BLOCK)
            if block:
                self._split(block)
            else:
                self._eof = True
        raw = self._ready.popleft()
        self.number += 1
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise FileRejected("csv_encoding", line=self.number,
                               encoding="UTF-8" if self.encoding == "utf-8" else "GB18030") from None

    def _split(self, block: bytes) -> None:
        parts = (self._rest + block).split(b"\n")
        self._rest = parts.pop()
        self._ready.extend(p + b"\n" for p in parts)
        if len(self._rest) > MAX_LINE_BYTES:
            raise FileRejected("csv_line_too_long", line=self.number + len(self._ready) + 1,
                                limit=text("csv_limit_bytes", limit=MAX_LINE_BYTES))
