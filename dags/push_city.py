"""
### push_city — 推送市信用平台（信用中国·乐山） (push to the city credit platform)

Keeps the city platform (connection `city_platform_sftp`, folder `/upload/511123/`)
equal to what it must publish on the run date: licences in force, penalties
within their publicity period, abnormal-operation entries not removed, red and
black list entries in force (data-standard.md 4). The difference to what the
platform holds from us goes out as `add` / `update` / `delete` records in
`XZXK`, `XZCF`, `JYYC`, `HONGMD`, `HEIMD` files of at most 5,000 records,
each checked against the XSD, stored before upload, and uploaded as
`{name}.tmp` → `{name}` → `{name}.ok`. An interrupted upload is completed from
the stored bytes on the next run; no record version is sent twice.

Runs when merge produced new record versions, and nightly at 03:30 (catch-up). The run date is the logical date
in Asia/Shanghai. Nothing to send: the run succeeds and does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, display_name, named, pool, versions_or_nightly


@dag(
    dag_id="push_city",
    dag_display_name=display_name("dag_push_city"),
    schedule=versions_or_nightly(),
    doc_md=__doc__,
    tags=["qianwei", "push", "city"],
    **NETWORK_DAG_ARGS,
)
def push_city() -> None:
    @task(**named("push_city_files"), pool=pool("city_platform_sftp"))
    def push(**context) -> dict:
        from credit_exchange.runtime.city import push_city as run

        return run(context)

    push()


push_city()
