"""
### housekeeping — 数据保留清理 (retention: the hub's store and Airflow's database)

Every Sunday at 04:30 Asia/Shanghai (after the night's cycle), counting back from the run's
logical date with the periods of `config/retention.yaml`:

- `clean_hub_store`: empties the bodies of answered county batches and of receipted city files,
  and removes old derive-run bookkeeping (never the newest) and long-resolved alerts. Nothing
  traceability needs is touched: files, deliveries, rejects, receipts, records, versions, pushes.
- `clean_airflow_db`: Airflow's own `airflow db clean --clean-before-timestamp <date - keep_days>
  --skip-archive --yes` for runs, task instances, XComs, jobs and the like, and the audit log
  (`log`) separately with its longer period.

Each task logs what it removed. Run it by hand for a date with
`airflow dags test housekeeping <date>`: it cleans as of that date.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import ALERTING, START, cron, display_name, named

# Sunday 04:30 Asia/Shanghai: the nightly cycle (01:30) and the pushes' catch-up (03:30) are done.
HOUSEKEEPING = "30 4 * * 0"


@dag(
    dag_id="housekeeping",
    dag_display_name=display_name("dag_housekeeping"),
    schedule=cron(HOUSEKEEPING),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args={**ALERTING, "retries": 1, "retry_delay": timedelta(minutes=10),
                  "execution_timeout": timedelta(hours=1)},
    doc_md=__doc__,
    tags=["qianwei", "housekeeping"],
)
def housekeeping() -> None:
    @task(**named("clean_hub_store"))
    def clean_hub_store(**context) -> dict:
        from credit_exchange.runtime.housekeeping import clean_hub_store as run

        return run(context)

    @task(**named("clean_airflow_db"))
    def clean_airflow_db(**context) -> dict:
        from credit_exchange.runtime.housekeeping import clean_airflow_db as run

        return run(context)

    clean_hub_store()
    clean_airflow_db()


housekeeping()
