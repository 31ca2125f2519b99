"""Validator throughput per record type, records/s on one core.

Compares the hub's validator (fast path, valid records) with jsonschema's
`validate()` per record and a reused `Draft202012Validator` (the reference).
Run: `python -c "from bench.validation import main; main()"`.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from typing import Any

import jsonschema

from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.validation import _engines, get_validator
from sandbox.samples import valid_record

TODAY = datetime.date(2026, 11, 28)


def _pin_one_core() -> None:
    # "One core" is meant literally: keep the process on a single CPU.
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass


def _rate(fn: Callable[[dict[str, Any]], object], records: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for r in records:
        fn(r)
    return len(records) / (time.perf_counter() - start)


def run(n: int = 20000) -> list[dict[str, Any]]:
    """Measure every record type; one row per type with records/s of each validator."""
    validator = get_validator(TODAY)
    engines = _engines()
    rows = []
    for rt in FIELDS.record_types():
        # Distinct records for warm-up and measurement, so caches do not flatter.
        warm = [valid_record(rt, n + i, TODAY) for i in range(min(n, 500))]
        records = [valid_record(rt, i, TODAY) for i in range(n)]
        validator.check_many(rt, warm)
        start = time.perf_counter()
        results = validator.check_many(rt, records)
        hub = n / (time.perf_counter() - start)
        assert not any(results), f"{rt}: a sample record is invalid"

        reference = engines.reference[rt]
        schema = engines.schemas[rt]
        registry, fmt = engines.registry, engines.format_checker  # same refs and formats as the hub
        small = records[: max(1, n // 20)]  # the slow ones get a smaller sample

        def naive(r: dict[str, Any], schema: dict[str, Any] = schema, fmt: Any = fmt, registry: Any = registry) -> None:
            # The naive baseline the issue asks for: jsonschema.validate checks and compiles the
            # schema again for every record. Only this benchmark may call it.
            jsonschema.validate(r, schema, cls=jsonschema.Draft202012Validator, format_checker=fmt, registry=registry)

        reused = _rate(reference.validate, small)  # once: the column and the ratio share it
        rows.append({
            "record_type": rt,
            "records": n,
            "hub_fast": round(hub),
            "jsonschema_validate": round(_rate(naive, small)),
            "draft202012_reused": round(reused),
            "speedup_vs_reused": round(hub / reused, 1),
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    head = "| record type | hub validator (fast path) | jsonschema.validate() | reused Draft202012Validator | hub / reused |"
    lines = [head, "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['record_type']} | {r['hub_fast']:,} | {r['jsonschema_validate']:,} | "
            f"{r['draft202012_reused']:,} | {r['speedup_vs_reused']}× |"
        )
    return "\n".join(lines)


def main() -> None:
    _pin_one_core()
    print(f"Valid records/s on one core (run date {TODAY}):\n")
    print(table(run()))


if __name__ == "__main__":
    main()
