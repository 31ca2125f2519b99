"""PBoC payment-risk data files (contracts.md 1.4): UTF-8, LF, no header, ``|``-separated, no quoting.

Line oriented, so it is written as a push parser (``DatParser.feed(bytes)``)
that the PBoC pair reader drives straight from the SFTP download while the
same bytes are hashed (one pass, memory flat); ``parse`` is the usual pull
interface over a stream for everything else.

Every non-blank line is one record, ``position`` = ``line N`` (physical lines,
counting from 1). A line that cannot be read (not UTF-8, wrong column count,
bad op or version, too long) is still a record, with the problem, so the
count check against the control file and the receipt both see it. Blank lines
are not records. A trailing CR is tolerated (a CRLF file reads the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from credit_exchange.config import Feed
from credit_exchange.feeds import envelope
from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.mapping import from_national
from credit_exchange.standard.records import FileRejected, SourceRecord, record_problem

RECORD_TYPE = "payment_risk_event"
COLUMNS = (
    "event_id", "version", "op", "merchant_name", "merchant_uscc", "institution_name", "institution_licence",
    "event_type", "event_date", "risk_level", "action_taken", "amount_yuan", "remark",
)
# The columns that are fields of the record type (version and op are the envelope).
FIELD_COLUMNS = tuple(c for c in COLUMNS if c not in {"version", "op"})
OPS = {"U": "upsert", "D": "delete"}
# A delete may stop after event_id|version|op.
DELETE_COLUMNS = 3
# Far above any real line (remark ≤ 512 characters); longer lines are not buffered.
MAX_LINE_BYTES = 64 * 1024
MAX_ID_LENGTH = envelope.MAX_ID_LENGTH
READ_SIZE = 1024 * 1024


class DatParser:
    """Turns the bytes of one data file, fed in any chunking, into records."""

    def __init__(self, record_type: str = RECORD_TYPE) -> None:
        self.record_type = record_type
        known = set(FIELDS.by_code(record_type))
        missing = [c for c in FIELD_COLUMNS if c not in known]
        if missing:
            raise ValueError(f"fields.json: {record_type} lacks the pboc columns {missing}")
        self.lines = 0  # physical lines seen
        self.records = 0  # records produced (non-blank lines): what the control file counts
        self._tail = bytearray()
        self._overflow = False  # the current line passed MAX_LINE_BYTES: skipping to its end

    def feed(self, data: bytes) -> list[SourceRecord]:
        """Records of every line completed by ``data``."""
        out: list[SourceRecord] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return out
            self._keep(data[start:end])
            rec = self._line()
            if rec is not None:
                out.append(rec)
            start = end + 1

    def finish(self) -> list[SourceRecord]:
        """The last line, when the file does not end with a line feed."""
        if not self._tail and not self._overflow:
            return []
        rec = self._line()
        return [rec] if rec is not None else []

    def _keep(self, part: bytes) -> None:
        if self._overflow:
            return
        if len(self._tail) + len(part) > MAX_LINE_BYTES:
            self._overflow = True
            self._tail.clear()
            return
        self._tail += part

    def _line(self) -> SourceRecord | None:
        self.lines += 1
        raw, overflow = bytes(self._tail), self._overflow
        self._tail.clear()
        self._overflow = False
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not overflow and not raw.strip():
            return None
        self.records += 1
        return self._record(raw, overflow)

    def _record(self, raw: bytes, overflow: bool) -> SourceRecord:
        rec = SourceRecord(ordinal=self.records, position=f"line {self.lines}", record_type=self.record_type,
                           dept_record_id=None, dept_version=None, op=None)
        if overflow:
            rec.problems.append(record_problem("pboc_line_too_long", limit=MAX_LINE_BYTES))
            return rec
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Still name the record in the receipt when its id column is readable.
            head = raw.split(b"|", 1)[0].decode("utf-8", errors="replace").strip()
            rec.dept_record_id = head[:MAX_ID_LENGTH] if head and "\ufffd" not in head else None
            rec.problems.append(record_problem("pboc_encoding"))
            return rec
        if text.startswith("\ufeff") and self.lines == 1:
            text = text[1:]
        values = text.split("|")
        event_id = values[0].strip()
        raw_version = values[1].strip() if len(values) > 1 else ""
        raw_op = values[2].strip() if len(values) > 2 else ""
        rec.dept_record_id = event_id[:MAX_ID_LENGTH] or None
        rec.dept_version = envelope.version(raw_version)
        rec.op = OPS.get(raw_op)
        if not event_id:
            rec.problems.append(record_problem("record_id_missing"))
        elif len(event_id) > MAX_ID_LENGTH:
            rec.problems.append(record_problem("record_id_too_long"))
        if rec.dept_version is None:
            rec.problems.append(record_problem("record_version", value=envelope.quoted(raw_version)))
        if rec.op is None:
            rec.problems.append(record_problem("pboc_op", value=envelope.quoted(raw_op)))
        allowed = {len(COLUMNS), DELETE_COLUMNS} if rec.op == "delete" else {len(COLUMNS)}
        if len(values) not in allowed:
            rec.problems.append(record_problem("pboc_columns", found=len(values), expected=len(COLUMNS)))
            return rec
        if rec.op == "upsert":
            raw_fields = dict(zip(COLUMNS, values, strict=True))
            rec.data = from_national(self.record_type, {c: raw_fields[c] for c in FIELD_COLUMNS}).data
        return rec


def parse(stream: BinaryIO, feed: Feed, file_name: str) -> Iterator[SourceRecord]:
    """Records of one ``PBOC_PAYRISK_{YYYYMMDD}_{NN}.dat`` file read from ``stream``."""
    if not feed.match_name(file_name):
        raise FileRejected("file_name", name=file_name)
    parser = DatParser(feed.record_type or RECORD_TYPE)
    while chunk := stream.read(READ_SIZE):
        yield from parser.feed(chunk)
    yield from parser.finish()
