"""
### push_county — 推送县社会信用信息平台 (push to the county credit platform)

Sends every owed record version to the county platform (connection
`county_platform`) in signed batches of at most 500 records / 4 MiB. A batch is
stored before it is sent and resent byte for byte, under the same batch id,
until its answer is recorded: the platform sees each version once in effect.

A failed run shows red with the batch ids that are still owed; they are resent
on the next run or retry. After the push, in the nightly run and in runs started
by hand, a slice of the records (round robin) is compared with what the platform
holds (`GET /api/v1/records/{id}`); a record the platform lacks or holds at an
older version is queued again. Runs started by merge's asset skip that slice (the
platform answers 5 requests a second: it would hold up the night's records).

Runs when merge produced new record versions, and nightly at 03:30 as a catch-up (records
an admin re-sent from the Exchange page go out then at the latest).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, display_name, named, pool, versions_or_nightly


@dag(
    dag_id="push_county",
    dag_display_name=display_name("dag_push_county"),
    schedule=versions_or_nightly(),
    doc_md=__doc__,
    tags=["qianwei", "push", "county"],
    **NETWORK_DAG_ARGS,
)
def push_county() -> None:
    @task(**named("push_county_batches"), pool=pool("county_platform"))
    def push(**context) -> dict:
        from credit_exchange.runtime.push_county import push_county as run

        return run(context)

    @task(**named("reconcile_county"), pool=pool("county_platform"))
    def reconcile(**context) -> dict:
        """Compares a slice of the records with GET /api/v1/records/{id}; drift is queued again."""
        from credit_exchange.runtime.push_county import reconcile_county

        return reconcile_county(context)

    push() >> reconcile()


push_county()
