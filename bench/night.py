"""Province-size nights through Airflow (issue 12, point 4): N records across the four feeds.

For each executor (the LocalExecutor, and the CeleryExecutor with two workers of point 1) a fresh
cluster (sandbox/cluster.py: PostgreSQL for Airflow and the store, the scheduler, dag-processor,
triggerer, api-server; Redis and the workers for Celery) takes two nights:

1. ``n`` new records (sandbox/night.py: the realistic mix, about 2% defects, several files per
   feed, PBoC pairs and transport items), triggered through the scheduler as in the cluster test;
   merge and the pushes follow by their assets;
2. the same day, 1% of those records again with changed content (the departments' increments).

Measured from Airflow's metadata database (run and task start and end), the hub's store (what
each DAG accepted, pushed, wrote) and the hub's task listener (``HUB_TASK_METRICS``: every task's
peak RSS, credit_exchange.runtime.resources).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox import cluster, standins

# The cycle's DAGs in the order a table lists them.
ORDER = ("ingest_market", "ingest_police", "ingest_pboc", "ingest_transport", "merge_credit", "push_county",
         "push_city")
NIGHT_LIMIT_S = 3 * 3600


def _hub(sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(dbname=cluster.HUB_DB, **cluster.PG)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def store_counts() -> dict[str, int]:
    """What the hub's store holds so far: deliveries per department, merged records, pushes."""
    out = {f"delivered:{d}": int(c) for d, c in _hub("SELECT department, count(*) FROM deliveries GROUP BY 1")}
    out.update({f"accepted:{d}": int(c) for d, c in _hub(
        "SELECT department, count(*) FROM deliveries WHERE outcome = 'accepted' GROUP BY 1")})
    out["record_versions"] = int(_hub("SELECT count(*) FROM record_versions")[0][0])
    out["county_done"] = int(_hub("SELECT count(*) FROM outbox WHERE platform = 'county' AND status = 'done'")[0][0])
    out["city_records"] = int(_hub("SELECT coalesce(sum(record_count), 0) FROM city_files")[0][0])
    out["city_bytes"] = int(_hub("SELECT coalesce(sum(length(body)), 0) FROM city_files")[0][0])
    return out


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _seconds(a: Any, b: Any) -> float:
    return (b - a).total_seconds() if a is not None and b is not None else 0.0


def measure(runs: list[tuple[Any, ...]], triggered_at: datetime, counts: dict[str, int],
            metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """One night's figures: the cycle's wall time, each DAG's run time and records, each task's peak."""
    ids = [r[5] for r in runs]
    rows = cluster._meta(
        "SELECT dr.dag_id, dr.run_id, dr.start_date, dr.end_date FROM dag_run dr WHERE dr.id = ANY(%(ids)s)", ids=ids)
    tis = cluster._meta(
        "SELECT ti.dag_id, ti.task_id, ti.run_id, ti.start_date, ti.end_date, ti.state FROM task_instance ti "
        "JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE dr.id = ANY(%(ids)s)", ids=ids)
    end = max(r[3] for r in rows)
    per_dag: dict[str, dict[str, Any]] = defaultdict(lambda: {"runs": 0, "run_s": 0.0, "first_start": None,
                                                               "last_end": None})
    for dag_id, _, start, stop in rows:
        d = per_dag[dag_id]
        d["runs"] += 1
        d["run_s"] += _seconds(start, stop)
        d["first_start"] = start if d["first_start"] is None else min(d["first_start"], start)
        d["last_end"] = stop if d["last_end"] is None else max(d["last_end"], stop)
    task_s: dict[tuple[str, str], float] = defaultdict(float)
    for dag_id, task_id, _, start, stop, _ in tis:
        task_s[(dag_id, task_id)] += _seconds(start, stop)
    run_ids = {r[1] for r in runs}
    peaks: dict[tuple[str, str], dict[str, float]] = {}
    for m in metrics:
        if m["run_id"] not in run_ids:
            continue
        key = (m["dag_id"], m["task_id"])
        held = peaks.setdefault(key, {"peak_rss_mb": 0.0, "children_peak_rss_mb": 0.0, "cpu_s": 0.0})
        held["peak_rss_mb"] = max(held["peak_rss_mb"], m["peak_rss_mb"] or 0.0)
        held["children_peak_rss_mb"] = max(held["children_peak_rss_mb"], m["children_peak_rss_mb"] or 0.0)
        held["cpu_s"] += m["cpu_s"]
    records = {f"ingest_{k.split(':', 1)[1]}": v for k, v in counts.items() if k.startswith("delivered:")}
    records["merge_credit"] = counts.get("record_versions", 0)
    records["push_county"] = counts.get("county_done", 0)
    records["push_city"] = counts.get("city_records", 0)
    dags = []
    for dag_id in ORDER:
        d = per_dag.get(dag_id)
        if not d:
            continue
        n = records.get(dag_id, 0)
        dags.append({"dag_id": dag_id, "runs": d["runs"], "run_s": round(d["run_s"], 1), "records": n,
                     "records_per_s": round(n / d["run_s"]) if d["run_s"] else 0})
    tasks = [{"dag_id": dag_id, "task_id": task_id, "task_s": round(task_s.get((dag_id, task_id), 0.0), 1), **peak}
             for (dag_id, task_id), peak in sorted(peaks.items(), key=lambda kv: (ORDER.index(kv[0][0])
                                                                                  if kv[0][0] in ORDER else 99, kv[0]))]
    failed = sorted({f"{r[0]} {r[1]}" for r in runs if r[2] != "success"})
    return {"wall_s": round(_seconds(triggered_at, end), 1), "dags": dags, "tasks": tasks, "counts": counts,
            "failed_runs": failed, "merge_task_s": {t["task_id"]: t["task_s"] for t in tasks
                                                    if t["dag_id"] == "merge_credit"}}


def _code_version() -> str:
    """The commit the run measured, ``+`` when the tree had changes beside it."""
    import subprocess

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                              text=True, check=False)
        return proc.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def _metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(n: int, executor: str, state: Path, changed_share: float = 0.01) -> dict[str, Any]:
    """Both nights of ``n`` records under ``executor``; figures of each, and the generator's summaries."""
    import psycopg2

    from credit_exchange.timeutil import now_local
    from sandbox.night import write_night

    cluster.use_names("qw_bench", 8)
    state = state.resolve()
    cluster.stop(state)
    if state.exists():
        import shutil

        shutil.rmtree(state)
    state.mkdir(parents=True)
    metrics_file = state / "task-metrics.jsonl"
    out: dict[str, Any] = {"n": n, "executor": executor, "code": _code_version(),
                           "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
    booted = None
    try:
        booted = cluster.boot(state, executor, extra_env={"HUB_TASK_METRICS": str(metrics_file)})
        for tag, share in (("first", None), ("second", changed_share)):
            now = now_local()
            # The last pull of the transport API was before ``now``: items changed since then.
            since = now - timedelta(minutes=4)
            cluster.say(f"{executor}, {n:,} records: writing the {tag} night ...")
            written = write_night(booted.info, now.date(), now.replace(microsecond=0), n, seed=1,
                                  changed_share=share, first_day=now.date() if share else None,
                                  transport_since=since)
            cluster.say(f"  {written['records_total']:,} records ({written['defects_total']:,} with a defect), "
                        f"{written['bytes']['total'] / 1024**2:.0f} MiB, written in {written['seconds']} s")
            before = store_counts()
            triggered = datetime.now().astimezone()
            runs = cluster.night(booted, f"bench_{tag}", limit_s=NIGHT_LIMIT_S)
            figures = measure(runs, triggered, _delta(store_counts(), before), _metrics(metrics_file))
            figures["written"] = {k: written[k] for k in ("records_total", "defects_total", "bytes", "seconds",
                                                           "file_counts")}
            cluster.say(f"  the {tag} night's cycle: {figures['wall_s']} s; {json.dumps(figures['dags'])}")
            out[tag] = figures
        conn = psycopg2.connect(dbname=cluster.HUB_DB, **cluster.PG)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_database_size(current_database())")
                out["store_bytes"] = int(cur.fetchone()[0])
        finally:
            conn.close()
    finally:
        cluster.stop(state)
        standins.stop(state / "standins")
    (state / "figures.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    return out


# -- the tables of docs/benchmarks.md ------------------------------------------------------------

def section(results: list[dict[str, Any]], changed_share: float) -> list[str]:
    """The markdown of the nights' section from the results of ``run``."""
    lines = ["## Province-size nights through Airflow", "",
             "Whole nightly cycles: the four ingests triggered through the scheduler (`airflow dags trigger`),",
             "merge_credit and both pushes started by their assets, on PostgreSQL (Airflow's metadata and the",
             "hub's store) with every Airflow process running (bench/night.py, sandbox/cluster.py). The night",
             "comes from sandbox/night.py: market 70% (XML files of at most 50,000 records), PBoC 15% (pairs),",
             "police 8% (CSV files of at most 20,000), transport 7% (API items), about 2% defects. The",
             "LocalExecutor has 4 task slots; the CeleryExecutor two workers of 2 (Redis broker). The second",
             f"night is the same day's increment: {changed_share:.0%} of the first night's records, changed.", "",
             "### The cycle, side by side", "",
             "| records | executor | code, run at | cycle, first night (s) | cycle, second night (s) | records/s (first) |"
             " largest task peak RSS (MB) |",
             "|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        first, second = r["first"], r["second"]
        peak = max((t["peak_rss_mb"] for t in first["tasks"] + second["tasks"]), default=0)
        lines.append(f"| {r['n']:,} | {r['executor']} | {r.get('code', '')}, {r.get('date', '')} | "
                     f"{first['wall_s']:,} | {second['wall_s']:,} | "
                     f"{round(r['n'] / first['wall_s']) if first['wall_s'] else 0:,} | {peak:,.0f} |")
    lines.append("")
    for r in results:
        for tag in ("first", "second"):
            f = r[tag]
            lines += [f"### {r['n']:,} records, {r['executor']}, {tag} night: each DAG", "",
                      "Records: what each DAG took in (ingests: records received, the transport pull's",
                      "overlap re-reading some unchanged), merge wrote (record versions), or each push sent.", "",
                      "| DAG | runs | run time (s) | records | records/s |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {d['dag_id']} | {d['runs']} | {d['run_s']:,} | {d['records']:,} | {d['records_per_s']:,} |"
                      for d in f["dags"]]
            lines += ["", "| task | time (s) | peak RSS (MB) | child processes' peak (MB) | CPU (s) |",
                      "|---|---:|---:|---:|---:|"]
            lines += [f"| {t['dag_id']}.{t['task_id']} | {t['task_s']:,} | {t['peak_rss_mb']:,.0f} | "
                      f"{t['children_peak_rss_mb']:,.0f} | {t['cpu_s']:,.1f} |" for t in f["tasks"]]
            if f["failed_runs"]:
                lines += ["", f"Runs that did not succeed: {', '.join(f['failed_runs'])}."]
            lines.append("")
    lines += ["### Merge against the changed records", "",
              "Task time of merge_credit's two working tasks, summed over the night's merge runs (merge runs",
              "after each ingest that accepted records): merging deliveries into records, and deriving",
              "profiles and list entries.", "",
              "| records | executor | task | first night (s) | second night, 1% changed (s) | second / first |",
              "|---:|---|---|---:|---:|---:|"]
    for r in results:
        for task_id in ("merge_deliveries", "derive_lists_and_profiles"):
            a = r["first"]["merge_task_s"].get(task_id, 0.0)
            b = r["second"]["merge_task_s"].get(task_id, 0.0)
            lines.append(f"| {r['n']:,} | {r['executor']} | {task_id} | {a:,.1f} | {b:,.1f} | "
                         f"{b / a if a else 0:.1%} |")
    lines.append("")
    return lines


def floors(results: list[dict[str, Any]]) -> list[str]:
    """The issue's floors against the results: met, or by how much not."""
    lines = ["### Against the floors", ""]
    for r in results:
        peak_task = max(r["first"]["tasks"] + r["second"]["tasks"], key=lambda t: t["peak_rss_mb"], default=None)
        merge_a = sum(r["first"]["merge_task_s"].get(t, 0.0) for t in ("merge_deliveries", "derive_lists_and_profiles"))
        merge_b = sum(r["second"]["merge_task_s"].get(t, 0.0) for t in ("merge_deliveries", "derive_lists_and_profiles"))
        wall = r["first"]["wall_s"]
        head = f"- {r['n']:,} records, {r['executor']}:"
        if r["n"] >= 1_000_000:
            verdict = "met" if wall < 600 else f"**not met** by {wall - 600:,.0f} s"
            lines.append(f"{head} the night in {wall:,} s (floor 600 s): {verdict}.")
        if peak_task is not None:
            peak = peak_task["peak_rss_mb"]
            verdict = "met" if peak < 500 else f"**not met** by {peak - 500:,.0f} MB"
            lines.append(f"{head} the largest task peak is {peak:,.0f} MB "
                         f"({peak_task['dag_id']}.{peak_task['task_id']}; floor 500 MB): {verdict}.")
        if merge_a:
            lines.append(f"{head} merge on the 1% night took {merge_b / merge_a:.1%} of the first night's "
                         f"({merge_b:,.1f} s against {merge_a:,.1f} s).")
    lines.append("")
    return lines
