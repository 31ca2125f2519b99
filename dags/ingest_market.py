"""
### ingest_market — 市场监管局 XML 文件接收 (market-supervision XML feed)

Takes every complete `MARKET_{KIND}_{YYYYMMDD}_{NNN}.xml` file from `/market/inbox/`
on the inbox server (connection `inbox_sftp`): claims it into `processing/`,
streams and validates every record against the county's schemas, stores the
good ones with their lineage, writes a receipt (回执) to `/market/receipts/`,
and moves the file to `archive/YYYY/MM/` or `quarantine/`.

A run with nothing in the inbox succeeds and does nothing. Uploads still under
way (`.tmp`) are left alone.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_exchange.schedule import DELIVERIES, NETWORK_RETRIES, START, nightly_or_inbox


@dag(
    dag_id="ingest_market",
    schedule=nightly_or_inbox("market"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=NETWORK_RETRIES,
    doc_md=__doc__,
    tags=["qianwei", "ingest", "market"],
)
def ingest_market() -> None:
    @task(task_id="take_market_files")
    def take_files(**context) -> dict:
        from credit_exchange.tasks.inbox import ingest_inbox

        return ingest_inbox("market", context)

    @task.short_circuit(task_id="any_new_records")
    def any_new(summary: dict) -> bool:
        return summary["accepted"] > 0

    @task(task_id="announce_deliveries", outlets=[DELIVERIES])
    def announce() -> None:
        """Emits the deliveries asset so that merge_credit runs."""

    any_new(take_files()) >> announce()


ingest_market()
