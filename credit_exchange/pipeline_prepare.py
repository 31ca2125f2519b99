"""The per-record work before the store, shared by both ingest paths, and the pipeline's worker.

``prepare`` validates (in bulk), serialises and hashes a chunk of parsed records;
``RecordIntake.take_prepared`` (intake.py) then classifies and stores them. The
single-process path calls both in turn; a big file's worker process
(``python -m credit_exchange.pipeline_prepare``, see pipeline.py) runs
``prepare`` and sends the results to the process that stores them. This module
imports no SQLAlchemy, so the worker starts quickly.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, NamedTuple

from credit_exchange.canonical import EMPTY_HASH, canonical_json
from credit_exchange.parsers.base import FileRejected, SourceRecord
from credit_exchange.validation import Problem, RecordValidator

CHUNK = 2000
# Bytes moved per read or write between the inbox, the worker and back.
BLOCK = 1 << 20
_LEN = struct.Struct("<Q")


def chunked(items: Iterable[SourceRecord], size: int = CHUNK) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Prepared(NamedTuple):
    """One record after the per-record work that does not need the store.

    Validation problems are in ``problems``; ``digest`` is the content hash of a
    record that can be classified (None: it is rejected whatever the store
    holds); ``body`` is the canonical JSON of its data (None: no data). A plain
    tuple, so a pipeline worker can send batches of them cheaply (see
    ``credit_exchange.pipeline``).
    """

    ordinal: int
    position: str
    record_type: str
    dept_record_id: str | None
    dept_version: int | None
    op: str | None
    problems: list[Problem]
    digest: str | None
    body: bytes | None


def prepare(chunk: Sequence[SourceRecord], validator: RecordValidator) -> list[Prepared]:
    """Validate (in bulk), serialise and hash one chunk of records: everything before classification."""
    # Validate every upsert without structural problems in one call (the fast path).
    by_type: dict[str, list[SourceRecord]] = {}
    for r in chunk:
        if r.op == "upsert" and not r.problems:
            by_type.setdefault(r.record_type, []).append(r)
    for record_type, recs in by_type.items():
        for r, problems in zip(recs, validator.check_many(record_type, [r.data for r in recs]), strict=True):
            if problems:
                r.problems.extend(problems)
    out: list[Prepared] = []
    append = out.append
    sha256 = hashlib.sha256
    for r in chunk:
        data = r.data
        # Canonical JSON once per record: the content hash, and the sealed copy the store keeps of
        # an accepted or rejected record (the seal is over exactly these bytes).
        body = canonical_json(data) if data else None
        digest = None
        if not r.problems and r.dept_record_id and r.dept_version is not None and r.op is not None:
            if r.op == "upsert":
                digest = sha256(body if body is not None else canonical_json(data)).hexdigest()
            else:
                digest = EMPTY_HASH
        append(Prepared(r.ordinal, r.position, r.record_type, r.dept_record_id, r.dept_version, r.op, r.problems,
                        digest, body))
    return out



# -- the pipeline's worker ------------------------------------------------------------------

def send(out: IO[bytes], obj: Any) -> None:
    """One framed message (length, then pickle) on a pipe."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LEN.pack(len(payload)))
    out.write(payload)
    out.flush()


def receive(src: IO[bytes]) -> Any:
    """The next framed message, or None at the end of the pipe (the other side is gone)."""
    head = src.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (n,) = _LEN.unpack(head)
    payload = src.read(n)
    if len(payload) < n:
        return None
    return pickle.loads(payload)  # noqa: S301 - between the hub's own processes, over private pipes


def _work(src: IO[bytes], out: IO[bytes]) -> None:
    from credit_exchange.parsers import get_parser
    from credit_exchange.validation import get_validator

    header = receive(src)
    if header is None:
        return
    feed = header["feed"]
    validator = get_validator(header["today"])
    parser = get_parser(feed.parser)
    try:
        for chunk in chunked(parser(src, feed, header["name"])):  # type: ignore[arg-type]
            send(out, ("batch", prepare(chunk, validator)))
    except FileRejected as exc:
        send(out, ("rejected", exc.code, exc.params))
        while src.read(BLOCK):
            pass  # let the feeding thread read the file to its end: the receipt names it by its digest
        return
    send(out, ("done",))


def main() -> None:
    """The worker: a header and the file's bytes on stdin, framed batches on stdout."""
    src, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the pipe the parent reads
    try:
        _work(src, out)
    except BrokenPipeError:
        sys.exit(1)  # the parent is gone
    except Exception as exc:  # noqa: BLE001 - reported by type only: messages may quote record data
        try:
            send(out, ("error", type(exc).__name__))
        except BrokenPipeError:
            pass
        sys.exit(1)


if __name__ == "__main__":
    # Run from the module imported by its real name, so what is pickled (Prepared) is
    # credit_exchange.pipeline_prepare.Prepared for the parent, not __main__.Prepared.
    from credit_exchange.pipeline_prepare import main as _main

    _main()
