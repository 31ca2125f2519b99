"""
### collect_city_receipts — 收取市信用平台回执 (collect the city platform's receipts)

Hourly: reads `/receipt/511123/{name}.receipt.xml` for every file uploaded to
the city platform (connection `city_platform_sftp`), checks it against the
schema, and marks each record `ok` or `error` (code and message, shown to
admins). A refused record stays failed until its source sends a corrected
version, which then goes out again as `add`. A file still without a receipt 24
hours after its upload raises one `city_receipt_overdue` alert.

Nothing waiting: the run succeeds and does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, cron, display_name, named, pool


@dag(
    dag_id="collect_city_receipts",
    dag_display_name=display_name("dag_collect_city_receipts"),
    schedule=cron("0 * * * *"),
    doc_md=__doc__,
    tags=["qianwei", "receipts", "city"],
    # Hourly: one run never meets the next.
    **{**NETWORK_DAG_ARGS, "dagrun_timeout": timedelta(minutes=50),
       "default_args": {**NETWORK_DAG_ARGS["default_args"], "execution_timeout": timedelta(minutes=45)}},
)
def collect_city_receipts() -> None:
    @task(**named("collect_receipts"), pool=pool("city_platform_sftp"))
    def collect(**context) -> dict:
        from credit_exchange.runtime.city import collect_city_receipts as run

        return run(context)

    collect()


collect_city_receipts()
