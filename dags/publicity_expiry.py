"""
### publicity_expiry — 公示期满撤下 (withdraw penalties past their publicity period)

Daily at 01:00 Asia/Shanghai: every administrative penalty whose publicity end
(`publicity_until`) lies before the run date and that the city platform still
holds is withdrawn from it with an `op="delete"` record (connection
`city_platform_sftp`). The records stay in the hub and on the county platform.

The same machinery as `push_city`, restricted to these withdrawals. The run
date is the logical date in Asia/Shanghai, so
`airflow dags test publicity_expiry 2029-12-01` replays that day.
Nothing expired: the run succeeds and does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, cron, display_name, named, pool


@dag(
    dag_id="publicity_expiry",
    dag_display_name=display_name("dag_publicity_expiry"),
    schedule=cron("0 1 * * *"),
    doc_md=__doc__,
    tags=["qianwei", "push", "city", "publication"],
    **NETWORK_DAG_ARGS,
)
def publicity_expiry() -> None:
    @task(**named("withdraw_expired_penalties"), pool=pool("city_platform_sftp"))
    def withdraw(**context) -> dict:
        from credit_exchange.runtime.city import publicity_expiry as run

        return run(context)

    withdraw()


publicity_expiry()
