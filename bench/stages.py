"""Where an ingested record's time goes: each stage of the ingest path alone, on one core.

The same code the ingest runs (``credit_exchange.feeds.registry``, ``prepare``, ``RecordIntake``), timed
stage by stage on a local file of distinct penalty records, with the Python format checks' caches
emptied first (the reference path uses them; the C checks keep none), the garbage collector held
back as in the ingest (``few_collections``). CPU time, best of ``repeats``.
"""

from __future__ import annotations

import itertools
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest import TODAY, write_penalty_file

NAME = "MARKET_PENALTY_20261128_001.xml"


def _clear_caches() -> None:
    from credit_exchange.standard import checks

    for fn in (checks._uscc_ok, checks._org_code_ok, checks._id_number_ok, checks._date_ok):
        fn.cache_clear()


def _once(source: Path, n: int, work: Path) -> dict[str, float]:
    from credit_exchange import config
    from credit_exchange.feeds.registry import get_parser
    from credit_exchange.intake.prepare import chunked, prepare
    from credit_exchange.intake.records import RecordIntake
    from credit_exchange.standard.canonical import canonical_json_valid
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.standard.validation import get_validator
    from credit_exchange.store import Store
    from credit_exchange.store.models import ReceivedFile

    feed = config.feed("market")
    validator = get_validator(TODAY)
    _clear_caches()
    out: dict[str, float] = {}

    t = time.process_time()
    with source.open("rb") as fh:
        chunks = list(chunked(itertools.islice(get_parser(feed.parser)(fh, feed, NAME), n)))
    out["parse_map"] = time.process_time() - t

    t = time.process_time()
    for chunk in chunks:
        validator.check_many("administrative_penalty", [r.data for r in chunk])
    out["validate"] = time.process_time() - t

    unchecked = validator.unchecked_fields("administrative_penalty")
    import hashlib

    t = time.process_time()
    for chunk in chunks:
        for r in chunk:
            hashlib.sha256(canonical_json_valid(r.data, unchecked)).hexdigest()
    out["canonical_hash"] = time.process_time() - t

    _clear_caches()
    prepared = [prepare(chunk, validator) for chunk in chunks]
    t = time.process_time()
    frames = [pickle.dumps(("batch", batch), protocol=pickle.HIGHEST_PROTOCOL)
              for batch in prepared]
    batches = [pickle.loads(f)[1] for f in frames]  # noqa: S301 - our own frames
    out["pipe_frames"] = time.process_time() - t

    for p in work.glob("stages.db*"):
        p.unlink()
    store = Store(f"sqlite:///{work / 'stages.db'}")
    vault = PiiVault(PiiVault.generate_key())
    t = time.process_time()
    with store.session() as s:
        f = ReceivedFile(department="market", name=NAME, sha256="0" * 64, size=0, status="processing",
                         received_at=datetime.now(UTC))
        s.add(f)
        s.flush()
        intake = RecordIntake(s, "market", f.id, vault, validator)
        for batch in batches:
            intake.take_prepared(batch)
    out["store"] = time.process_time() - t
    store.dispose()
    return {k: v / n * 1e6 for k, v in out.items()}


def run(work: Path, n: int = 50_000, repeats: int = 2) -> dict[str, Any]:
    source = work / "stages.xml"
    write_penalty_file(source, n, distinct=n)
    from credit_exchange.intake.prepare import few_collections

    # As in the ingest (both processes hold the collector back while a file streams); here every
    # stage's output stays in memory until the next, which the default thresholds would walk over
    # and over.
    with few_collections():
        runs = [_once(source, n, work) for _ in range(repeats)]
    best = {k: round(min(r[k] for r in runs), 1) for k in runs[0]}
    best["total"] = round(sum(best.values()), 1)
    best["records"] = n
    return best


LABELS = [
    ("parse and map (C reader on libxml2, field table)", "parse_map"),
    ("validate (jsonschema-rs, C format checks, extra rules)", "validate"),
    ("canonical JSON and SHA-256", "canonical_hash"),
    ("frames between the processes (pickle out and in)", "pipe_frames"),
    ("classify, seal, insert, commit (SQLite store)", "store"),
    ("total", "total"),
]


def table(row: dict[str, Any]) -> str:
    lines = ["| stage | µs per record |", "|---|---:|"]
    lines += [f"| {label} | {row[key]} |" for label, key in LABELS]
    return "\n".join(lines)
