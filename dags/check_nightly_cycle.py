"""
### check_nightly_cycle — 夜间交换周期 06:00 检查 (was the nightly cycle done by 06:00?)

At 06:00 Asia/Shanghai it looks at that night's runs of every DAG of the nightly cycle
(the ingests and merge_credit at 01:30, the pushes' nightly runs at 03:30). Each one that has
not succeeded (failed, still running, or never ran) raises a `cycle_late` alert (the Exchange
page, and the chat robot / e-mail when configured); a DAG that is done again closes its
alerts of earlier nights. Replay a night with `airflow dags test check_nightly_cycle <date>`.

Its task names the asset `qianwei://hub/admin-actions` as an inlet, which registers it: the
Exchange page and `qianwei-hub` record each admin action as an event of it (Airflow's audit log).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import (
    ADMIN_ACTIONS,
    ALERTING,
    CYCLE_CHECK,
    START,
    cron,
    display_name,
    named,
    replay_params,
)


@dag(
    dag_id="check_nightly_cycle",
    dag_display_name=display_name("dag_check_nightly_cycle"),
    schedule=cron(CYCLE_CHECK),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args={**ALERTING, "retries": 2, "retry_delay": timedelta(minutes=2),
                  "execution_timeout": timedelta(minutes=10)},
    params=replay_params(),
    doc_md=__doc__,
    tags=["qianwei", "monitoring"],
)
def check_nightly_cycle() -> None:
    @task(**named("check_cycle_done"), inlets=[ADMIN_ACTIONS])
    def check(**context) -> dict:
        from credit_exchange.runtime.cycle import check_nightly_cycle as run

        return run(context)

    check()


check_nightly_cycle()
