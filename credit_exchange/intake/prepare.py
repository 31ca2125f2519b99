"""The per-record work before the store, shared by both ingest paths, and the pipeline's worker.

``prepare`` validates (in bulk), serialises and hashes a chunk of parsed records;
``RecordIntake.take_prepared`` (intake.py) then classifies and stores them. The
single-process path calls both in turn; a big file's worker process
(``python -m credit_exchange.intake.prepare``, see pipeline.py) runs
``prepare`` and sends the results to the process that stores them. This module
imports no SQLAlchemy, so the worker starts quickly.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, NamedTuple

from credit_exchange.standard.canonical import EMPTY_HASH, canonical_json, canonical_json_valid
from credit_exchange.standard.records import FileRejected, SourceRecord, record_problem
from credit_exchange.standard.validation import Problem, RecordValidator

CHUNK = 2000
# Bytes moved per read or write between the inbox, the worker and back.
BLOCK = 1 << 20
_HEAD = struct.Struct("<4sQ")
_MARK = b"QWF1"


def chunked(items: Iterable[SourceRecord], size: int = CHUNK) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def few_collections() -> Iterator[None]:
    """Hold the cyclic garbage collector back while one file's records stream through.

    Records, rows and frames are tuples, dicts and lists without cycles, made by the million and
    freed by reference counting. At CPython's default thresholds the collector runs every 700
    allocations, and as survivors pile up it walks every object the process holds (in a task,
    all of Airflow's) again and again: about a third of the ingest's CPU time. Inside this block
    the objects that existed before are frozen (never walked, still freed by reference counting)
    and the young generation is collected every 100,000 allocations. Both are undone afterwards,
    so a cycle made meanwhile is collected then at the latest.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 100_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class Prepared(NamedTuple):
    """One record after the per-record work that does not need the store.

    Validation problems are in ``problems``; ``digest`` is the content hash of a
    record that can be classified (None: it is rejected whatever the store
    holds); ``body`` is the canonical JSON of its data (None: no data). A plain
    tuple, so a pipeline worker can send batches of them cheaply (see
    ``credit_exchange.intake.pipeline``).
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


def prepare(chunk: Sequence[SourceRecord], validator: RecordValidator) -> list[tuple[Any, ...]]:
    """Validate (in bulk), serialise and hash one chunk of records: everything before classification.

    Each record comes out as a plain tuple in ``Prepared``'s field order: the pipeline's worker
    pickles them as they are (named tuples cost more to make and several times more to unpickle).
    """
    # Validate every upsert without structural problems in one call (the fast path).
    by_type: dict[str, list[SourceRecord]] = {}
    for r in chunk:
        if r.op == "upsert" and not r.problems:
            by_type.setdefault(r.record_type, []).append(r)
    for record_type, recs in by_type.items():
        for r, problems in zip(recs, validator.check_many(record_type, [r.data for r in recs]), strict=True):
            if problems:
                r.problems.extend(problems)
    out: list[tuple[Any, ...]] = []
    append = out.append
    sha256 = hashlib.sha256
    unchecked: dict[str, tuple[str, ...]] = {}
    for r in chunk:
        data = r.data
        problems = r.problems
        # Canonical JSON once per record: the content hash, and the sealed copy the store keeps of
        # an accepted or rejected record (the seal is over exactly these bytes).
        digest = body = None
        if not problems and r.dept_record_id and r.dept_version is not None and r.op is not None:
            if r.op == "upsert":
                # Valid: its schema vouches for the types, so the fast serialiser applies.
                fields = unchecked.get(r.record_type)
                if fields is None:
                    fields = unchecked[r.record_type] = validator.unchecked_fields(r.record_type)
                if data:
                    body = canonical_json_valid(data, fields)
                    digest = sha256(body).hexdigest()
                else:
                    digest = EMPTY_HASH
            else:
                digest = EMPTY_HASH
                body = canonical_json(data) if data else None
        elif data:
            body = canonical_json(data)
        append((r.ordinal, r.position, r.record_type, r.dept_record_id, r.dept_version, r.op, problems, digest,
                body))
    return out


def prepare_safely(chunk: Sequence[SourceRecord], validator: RecordValidator) -> list[tuple[Any, ...]]:
    """``prepare``, with a record that makes it raise refused alone (``record_unreadable``).

    Every byte of a record is hostile: should one make validation or serialisation raise, the
    chunk is prepared again record by record and only the culprit is refused; the rest of the
    file goes on. (Preparing is CPU work on values in memory: nothing here is transient.)
    """
    problems = [list(r.problems) for r in chunk]
    try:
        return prepare(chunk, validator)
    except Exception:  # noqa: BLE001 - found out record by record below
        pass
    out: list[tuple[Any, ...]] = []
    for r, before in zip(chunk, problems, strict=True):
        r.problems = before
        try:
            out.extend(prepare([r], validator))
        except Exception as exc:  # noqa: BLE001 - this record is the poison
            detail = type(exc).__name__
            r.problems = [*before, record_problem("record_unreadable", detail=detail)]
            r.data = {}
            out.extend(prepare([r], validator))
    return out


# -- the pipeline's worker ------------------------------------------------------------------

class FrameError(RuntimeError):
    """The pipe between the processes is out of step (a frame without its marker, or cut short)."""


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte to a pipe's file descriptor, whatever a signal interrupts.

    Plain ``os.write`` in a loop: with io's buffered writer, frames were seen to arrive
    corrupted when a process was stopped and resumed mid-write (under a sampling profiler).
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd: int, n: int) -> bytes | None:
    """Exactly ``n`` bytes from a pipe, or None when it ends first."""
    parts: list[bytes] = []
    while n:
        part = os.read(fd, min(n, BLOCK))
        if not part:
            return None
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def send(fd: int, obj: Any) -> None:
    """One framed message (marker and length, then pickle) on a pipe."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    write_all(fd, _HEAD.pack(_MARK, len(payload)) + payload)


def receive(fd: int) -> Any:
    """The next framed message, or None at the end of the pipe (the other side is gone)."""
    head = read_exact(fd, _HEAD.size)
    if head is None:
        return None
    mark, n = _HEAD.unpack(head)
    if mark != _MARK:
        raise FrameError("the ingest worker's output is out of step (frame marker missing)")
    payload = read_exact(fd, n)
    if payload is None:
        return None
    try:
        return pickle.loads(payload)  # noqa: S301 - between the hub's own processes, over private pipes
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the stream is damaged
        raise FrameError(f"the ingest worker's output is damaged ({type(exc).__name__})") from exc


def _work(src: IO[bytes], out: int) -> None:
    from importlib import import_module

    from credit_exchange.standard.validation import get_validator

    header = receive(src.fileno())
    if header is None:
        return
    feed = header["feed"]
    validator = get_validator(header["today"])
    module_name, function_name = header["parser"].split(":")  # the feed's parser, named by its caller
    parser = getattr(import_module(module_name), function_name)
    try:
        with few_collections():
            for chunk in chunked(parser(src, feed, header["name"])):  # type: ignore[arg-type]
                send(out, ("batch", prepare_safely(chunk, validator)))
    except FileRejected as exc:
        send(out, ("rejected", exc.code, exc.params))
        while src.read(BLOCK):
            pass  # let the feeding thread read the file to its end: the receipt names it by its digest
        return
    except (BrokenPipeError, FrameError):
        raise
    except Exception as exc:  # noqa: BLE001 - the parser met bytes it could not handle: the file is poison
        # Reported by type only: a message may quote record data.
        send(out, ("rejected", "unit_unreadable", {"detail": type(exc).__name__}))
        while src.read(BLOCK):
            pass
        return
    send(out, ("done",))


def main() -> None:
    """The worker: a header and the file's bytes on stdin, framed batches on stdout."""
    src, out = sys.stdin.buffer, sys.stdout.fileno()
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
    # credit_exchange.intake.prepare.Prepared for the parent, not __main__.Prepared.
    from credit_exchange.intake.prepare import main as _main

    _main()
