"""
### merge_credit — 合并信用记录 (merge credit records)

Turns every accepted delivery into a versioned record: a record's hub version
grows by one each time its content changes, re-deliveries with the same
content change nothing, and source deletes become delete versions. Each new
version is queued for the platforms.

Runs when an ingest produced new records (asset `qianwei://hub/deliveries`), and
can be run by hand at any time: with nothing to merge it does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_exchange.schedule import DELIVERIES, RECORD_VERSIONS, START


@dag(
    dag_id="merge_credit",
    schedule=[DELIVERIES],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["qianwei", "merge"],
)
def merge_credit() -> None:
    @task(task_id="merge_deliveries", retries=2)
    def merge_deliveries(**context) -> dict:
        from credit_exchange.tasks.merge import merge

        return merge(context)

    @task.short_circuit(task_id="any_new_versions")
    def any_new(summary: dict) -> bool:
        return summary["new_versions"] > 0

    @task(task_id="announce_versions", outlets=[RECORD_VERSIONS])
    def announce() -> None:
        """Emits the record-versions asset so that the pushes run."""

    any_new(merge_deliveries()) >> announce()


merge_credit()
