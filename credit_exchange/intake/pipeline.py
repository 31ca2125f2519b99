"""Taking a big file on two cores: a worker process reads the records, this process stores them.

A file above ``PIPELINE_MIN_BYTES`` is split across two processes:

- the worker (``python -m credit_exchange.intake.prepare``, a fresh interpreter:
  never a fork of a process that holds paramiko's threads) parses, maps,
  validates, serialises and hashes (``prepare``) and sends compact batches of
  ``Prepared`` records back;
- this process streams the file from the inbox to the worker (a thread, through
  ``HashingReader``, so the file's digest and size limit are exactly those of the
  single-process path), seals what it keeps and classifies and writes each batch
  inside the file's one transaction (``RecordIntake.take_prepared``).

Both paths share ``prepare`` and ``take_prepared``, so outcomes, receipts and
lineage are the same by construction. The PII key never reaches the worker
(sealing happens here), and the worker logs nothing about records.

Failures: a file refused whole in the worker (``FileRejected``) is refused here
with the same code and parameters; a worker that dies or fails otherwise raises
``PipelineFailed``, so the transaction rolls back and the file stays in
``processing/`` for the next run, like any crash mid-file.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Protocol

from credit_exchange.config import Feed
from credit_exchange.intake.prepare import BLOCK, FrameError, receive, send, write_all
from credit_exchange.intake.records import RecordIntake
from credit_exchange.standard.records import FileRejected

# Files at least this big go through the worker; smaller ones are not worth its start-up
# (a fresh interpreter importing lxml and compiling the schemas: about half a second).
# A module attribute so that tests can send small files through the pipeline.
PIPELINE_MIN_BYTES = 16 << 20
# Parsers known to stream from a plain byte pipe and tested through the pipeline.
PIPELINE_PARSERS = frozenset({"market_xml"})


class PipelineFailed(RuntimeError):
    """The worker process died or failed: the file is left for the next run."""


class _Reader(Protocol):
    def read(self, n: int = -1) -> bytes: ...

    @property
    def chunk_size(self) -> int: ...


def wanted(feed: Feed, size: int | None) -> bool:
    """Whether a file of this size from this feed goes through the worker."""
    return feed.parser in PIPELINE_PARSERS and size is not None and size >= PIPELINE_MIN_BYTES


def worker_command() -> list[str]:
    """How the worker is started (a module attribute, so a test can start one that dies)."""
    return [sys.executable, "-m", "credit_exchange.intake.prepare"]



def _widen(fd: int) -> None:
    """A pipe of a megabyte (Linux's default cap for users) instead of 64 KiB, so the two processes
    do not wait on each other for every block; elsewhere, or if refused, the pipe stays as it is."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), BLOCK)
    except OSError:
        pass


def take_records(intake: RecordIntake, feed: Feed, name: str, today: date, reader: _Reader, parser: str) -> None:
    """Take every record of one file through the worker; returns once all are stored.

    ``parser`` is where the worker finds the feed's parser ("module:function", feeds/registry.py).

    ``reader`` is read to its end here (by the feeding thread), as the single-process
    path does, so the caller's digest and size are those of the whole file.
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                            close_fds=True)
    assert proc.stdin is not None and proc.stdout is not None
    feeding_error: list[BaseException] = []
    stdin = proc.stdin
    to_worker, from_worker = stdin.fileno(), proc.stdout.fileno()
    _widen(to_worker)
    _widen(from_worker)

    def feed_worker() -> None:
        try:
            send(to_worker, {"feed": feed, "name": name, "today": today, "parser": parser})
            size = reader.chunk_size
            while True:
                block = reader.read(size)
                if not block:
                    break
                write_all(to_worker, block)
        except BrokenPipeError:
            pass  # the worker stopped reading: it says why on its own pipe (or died)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, raised there
            feeding_error.append(exc)
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed_worker, name=f"ingest-feed-{name}", daemon=True)
    feeder.start()
    done = False
    try:
        while True:
            try:
                msg = receive(from_worker)
            except FrameError as exc:
                raise PipelineFailed(f"ingest worker failed on {name}: {exc}") from exc
            if msg is None:
                break
            kind = msg[0]
            if kind == "batch":
                intake.take_prepared(msg[1])
            elif kind == "rejected":
                feeder.join()
                if feeding_error:
                    raise feeding_error[0]  # e.g. file_too_large or a dropped connection: the cause
                raise FileRejected(msg[1], **msg[2])
            elif kind == "done":
                done = True
                break
            else:
                raise PipelineFailed(f"ingest worker failed on {name}: {msg[1]}")
        feeder.join()
        if feeding_error:
            raise feeding_error[0]
        if not done:
            raise PipelineFailed(f"ingest worker ended early on {name} (exit code {proc.wait()})")
    finally:
        if proc.poll() is None and not done:
            proc.kill()
        proc.stdout.close()
        feeder.join()
        proc.wait()
