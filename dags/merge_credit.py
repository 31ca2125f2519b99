"""
### merge_credit — 合并信用记录并认定红黑名单 (merge credit records, derive profiles and lists)

1. `merge_deliveries`: turns every accepted delivery into a versioned record: a
   record's hub version grows by one each time its content changes, re-deliveries
   with the same content change nothing, and source deletes become delete versions.
2. `derive_lists_and_profiles`: for the run date (the logical date in
   Asia/Shanghai), re-decides the credit profile and the red / black list entries
   under `config/rules.yaml` of the subjects that need it: those whose records
   merge changed since the last run, and those whose review date came (a window
   ran out, a penalty or licence expired; red-listed subjects every run, as their
   valid-to moves with the run date). Every subject is re-decided on the first
   run, after a change of the rules, when the run date is before the last run's
   (a replayed day) or after a full run that did not finish. It runs even when
   nothing was merged, since time windows move; only derived records whose
   content changed get a new version. The result is the same as re-deciding
   every subject; the log says how many were re-decided and why.
3. `any_new_versions` / `announce_versions`: when either step wrote versions, the
   record-versions asset is announced and the pushes run; otherwise the run ends here.

Runs when an ingest produced new records (asset `qianwei://hub/deliveries`) and every
night, and can be run by hand for any day (`airflow dags test merge_credit <date>`):
with nothing to merge and nothing to re-decide it does nothing and succeeds.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, dag, task

from credit_exchange.runtime.schedule import (
    ALERTING,
    DELIVERIES,
    RECORD_VERSIONS,
    RUN_LIMIT,
    SHORT_TASK_LIMIT,
    START,
    display_name,
    named,
    nightly,
    replay_params,
)


@dag(
    dag_id="merge_credit",
    dag_display_name=display_name("dag_merge_credit"),
    schedule=AssetOrTimeSchedule(timetable=nightly(), assets=[DELIVERIES]),
    dagrun_timeout=RUN_LIMIT,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=ALERTING,
    params=replay_params(),
    doc_md=__doc__,
    tags=["qianwei", "merge"],
)
def merge_credit() -> None:
    @task(**named("merge_deliveries"), retries=2)
    def merge_deliveries(**context) -> dict:
        from credit_exchange.runtime.merge import merge

        return merge(context)

    @task(**named("derive_lists_and_profiles"), retries=2)
    def derive_lists_and_profiles(**context) -> dict:
        from credit_exchange.runtime.merge import derive

        return derive(context)

    @task.short_circuit(**named("any_new_versions"), execution_timeout=SHORT_TASK_LIMIT)
    def any_new(merged: dict, derived: dict) -> bool:
        return merged["new_versions"] + derived["new_versions"] > 0

    @task(**named("announce_versions"), outlets=[RECORD_VERSIONS], execution_timeout=SHORT_TASK_LIMIT)
    def announce(merged: dict, derived: dict, **context) -> None:
        """Emits the record-versions asset so that the pushes run; its extra says what merge and derive wrote."""
        from credit_exchange.runtime.assets import announce_versions

        announce_versions(context, RECORD_VERSIONS, DELIVERIES, merged, derived)

    merged = merge_deliveries()
    derived = derive_lists_and_profiles()
    merged >> derived
    any_new(merged, derived) >> announce(merged, derived)


merge_credit()
