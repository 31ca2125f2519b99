"""``make bench``: every benchmark of the hub, written to docs/benchmarks.md with the machine and date.

Options: --quick (smaller sizes, for a smoke run), --skip-memory (no multi-GiB file),
--nights N,N (the province-size nights through Airflow; default 100000,1000000), --skip-nights,
--only nights (run only those and rewrite only their section of the document).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from bench import ingest, night, stages, validation

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    out = ["| " + " | ".join(h for h, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for _, k in cols) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--state", type=Path, default=REPO / ".state" / "bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--nights", default="100000,1000000", help="records of each night size, comma separated")
    parser.add_argument("--executors", default="LocalExecutor,CeleryExecutor")
    parser.add_argument("--skip-nights", action="store_true")
    parser.add_argument("--only", choices=["all", "nights"], default="all")
    parser.add_argument("--figures", nargs="*", type=Path, default=[],
                        help="with --only nights: write the section from these figures.json of earlier runs")
    args = parser.parse_args(argv)
    if args.only == "nights":
        return nights_only(args)
    shutil.rmtree(args.state, ignore_errors=True)
    args.state.mkdir(parents=True)
    n_ingest = 20_000 if args.quick else 200_000
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"machine: {machine()}\ndate: {stamp}", flush=True)

    print("validation ...", flush=True)
    val_rows = validation.run(2_000 if args.quick else 20_000)
    print(validation.table(val_rows), flush=True)

    print(f"ingest_market with {n_ingest:,} penalty records ...", flush=True)
    with tempfile.TemporaryDirectory(dir=args.state) as tmp:
        source = Path(tmp) / "penalties.xml"
        size = ingest.write_penalty_file(source, n_ingest, distinct=n_ingest)
        hub = ingest.hub_dag_run(args.state / "hub", source, n_ingest)
        plain = ingest.plain_pipeline(source, Path(tmp), n_ingest if args.quick else 20_000)
    print(hub, plain, flush=True)
    print("ingest stages, one at a time ...", flush=True)
    stage_row = stages.run(args.state, 5_000 if args.quick else 50_000)
    print(stages.table(stage_row), flush=True)
    memory = None
    if not args.skip_memory:
        gib = 0.2 if args.quick else 1.99
        print(f"ingest core on a {gib} GiB file ...", flush=True)
        memory = ingest.hub_core_memory(args.state / "memory", gib)
        print(memory, flush=True)

    doc = [
        "# Benchmarks", "",
        "Produced by `make bench` (`python -m bench`); numbers from one run, rewritten on every run.", "",
        f"- machine: {machine()}", f"- date: {stamp}", "",
        "## Validation (records per second, one core, valid records)", "",
        "The hub's validator (jsonschema-rs fast path, full error detail only for failing records) beside",
        "`jsonschema.validate` called per record and a reused `Draft202012Validator` (the reference).", "",
        validation.table(val_rows), "",
        "## Ingest: a market penalty file through `ingest_market`", "",
        f"{n_ingest:,} valid penalty records ({size / 1024**2:.0f} MiB; every record a different subject, ID number",
        "and decision) on the inbox server (a real sshd on",
        "loopback), taken by `airflow dags test ingest_market`: claimed, streamed over SFTP, parsed, validated,",
        "stored with lineage in the SQLite store, receipt written, file archived. Records per second subtract",
        "the time of an identical run with an empty inbox (Airflow's fixed cost). Runs with the file and",
        f"empty runs alternate, {hub['runs']} of each, each full run on a fresh store; the times are medians,",
        "and the range is each full run against the median empty run.", "",
        table([hub], [("records", "records"), ("empty run (s)", "empty_run_s"), ("run (s)", "run_s"),
                      ("records/s", "records_per_s"), ("range of runs", "records_per_s_range"),
                      ("peak RSS (MB)", "peak_rss_mb"), ("peak RSS, empty run (MB)", "empty_peak_rss_mb")]), "",
        "The plain pipeline on the same file and machine (lxml iterparse, a reused jsonschema",
        "`Draft202012Validator`, per-batch SQLite inserts; local file, no SFTP, receipts or lineage):", "",
        table([plain], [("records", "records"), ("run (s)", "run_s"), ("records/s", "records_per_s"),
                        ("peak RSS (MB)", "peak_rss_mb")]), "",
    ]
    doc += [
        "## Where a record's time goes", "",
        f"Each stage of the ingest path alone, on one core, for {stage_row['records']:,} distinct penalty records",
        "(CPU time, best of two; no SFTP, no Airflow). In `ingest_market` a big file runs the first four",
        "stages in the parse worker and the last in the task's process, beside the SFTP transfer, while",
        "both cores are shared with the sshd and Airflow (bench/stages.py).", "",
        stages.table(stage_row), "",
    ]
    if memory:
        doc += ["## Memory: a multi-GiB file", "",
                "The hub's ingest core (no Airflow around it) taking one large penalty file over SFTP (its",
                "records repeat the bodies of 20,000 with fresh ids, so that writing the file stays quick):", "",
                table([memory], [("file (GiB)", "file_gib"), ("records", "records"), ("run (s)", "run_s"),
                                 ("records/s", "records_per_s"), ("peak RSS (MB)", "peak_rss_mb"),
                                 ("parse worker peak RSS (MB)", "worker_peak_rss_mb"),
                                 ("task CPU (s)", "cpu_s"), ("parse worker CPU (s)", "worker_cpu_s")]), "",
                "Files of 16 MiB or more are parsed, mapped and validated in a worker process while the",
                "task's process streams, classifies and stores (credit_exchange/intake/pipeline.py): two processes,",
                "each with its own peak. Peaks are each process's own high-water mark (VmHWM in /proc), not",
                "getrusage's ru_maxrss, which Linux carries over from the image a process had before exec",
                "(a worker started by a 180 MB task would report 180 MB however little it used).", ""]
    doc += ["## Against the issue's floors", "",
            f"- ingest: {hub['records_per_s']:,} records/s through `ingest_market` (floor 25,000): "
            + ("met." if hub["records_per_s"] >= 25_000 else "**not met**."),
            f"- validation of valid penalties: {next(r['hub_fast'] for r in val_rows if r['record_type'] == 'administrative_penalty'):,}"
            " records/s on one core (floor 30,000).", ""]
    if memory:
        doc.append(f"- memory on a {memory['file_gib']} GiB file: {memory['peak_rss_mb']} MB (task process) and "
                   f"{memory.get('worker_peak_rss_mb', 0)} MB (parse worker); floor 300 MB.")
        doc.append("")
    if not args.skip_nights:
        doc += nights(args)
    args.out.write_text("\n".join(doc), encoding="utf-8")
    print(f"written to {args.out}")
    return 0


def nights(args: argparse.Namespace) -> list[str]:
    """Every night size under every executor (bench/night.py); the markdown of their section.

    With ``--figures``: the section from the figures.json of earlier runs instead of new ones.
    """
    import json

    results = []
    if args.figures:
        results = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.figures]
    else:
        sizes = [10_000] if args.quick else [int(n) for n in args.nights.split(",") if n]
        for n in sizes:
            for executor in args.executors.split(","):
                print(f"a night of {n:,} records under the {executor} ...", flush=True)
                results.append(night.run(n, executor, args.state / f"night-{n}-{executor}"))
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = night.section(results, 0.01)
    lines[1:1] = ["", f"- machine: {machine()}", f"- date: {stamp}"]
    return lines + night.floors(results)


def nights_only(args: argparse.Namespace) -> int:
    """Run the nights and put their section in place of the old one (the rest of the document stays)."""
    args.state.mkdir(parents=True, exist_ok=True)
    section = nights(args)
    old = args.out.read_text(encoding="utf-8").splitlines() if args.out.exists() else ["# Benchmarks", ""]
    heading = section[0]
    if heading in old:
        start = old.index(heading)
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")
                    and old[i] != heading), len(old))
        new = old[:start] + section + old[end:]
    else:
        new = old + [""] + section
    args.out.write_text("\n".join(new) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
