"""What every hub DAG shares: time zone, schedules, retries and the errors never retried, time limits, assets.

Imported by the DAG files at parse time, so it stays cheap: no I/O, no heavy imports.

Every schedule is an explicit ``CronTriggerTimetable`` in Asia/Shanghai (a plain cron string
changes meaning with ``[scheduler] create_cron_data_intervals``). Every task has an
``execution_timeout`` and every DAG a ``dagrun_timeout``; at 06:00 ``check_nightly_cycle`` alerts for every DAG of the
nightly cycle that has not succeeded that night. Retries back off exponentially, and ``FailFast``
fails a task at once on an error that the next try cannot mend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    RetryDecision,
    RetryPolicy,
    task,
)

from hub_messages import text  # a small leaf of the standard library only: parsing stays cheap

LOCAL_TZ = "Asia/Shanghai"
START = pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ)
NIGHTLY = "30 1 * * *"  # 01:30 Asia/Shanghai: the nightly full cycle (operations.md)
# The pushes follow merge (record versions) and also run nightly after the cycle, so a record an
# admin re-queued on the Exchange page goes out even on a night without new versions.
PUSH_CATCH_UP = "30 3 * * *"
# The nightly cycle must be done by 06:00 (operations.md): check_nightly_cycle looks then, and alerts
# for every DAG of the cycle without a successful run of that night (its run at its cron time).
CYCLE_CHECK = "0 6 * * *"


def nightly_cycle() -> dict[str, str]:
    """The DAGs of the nightly cycle and their cron times: every department's ingest, merge, the pushes."""
    from credit_exchange import config

    ingests = {f"ingest_{department}": NIGHTLY for department in config.departments()}
    return {**ingests, "merge_credit": NIGHTLY, "push_county": PUSH_CATCH_UP, "push_city": PUSH_CATCH_UP}



# -- owners and display names (docs/operations.md, "Owners and names in the UI") ---------------
# County IT runs the hub and answers its alerts: it owns every DAG. A department's own DAGs (its
# ingest, its inbox watcher) are owned by the department's id as well, so the UI's owner filter
# finds them and the list says whose feed a failing run is.
HUB_OWNER = "county-it"


def department_owner(department: str) -> str:
    """The owner of a department's own DAGs: county IT, and the department."""
    return f"{HUB_OWNER}, {department}"  # the form of Airflow's own DAG.owner (owners joined by ", ")


def display_name(code: str, **params: Any) -> str:
    """A DAG's or task's display name from the catalogue: "中文 id" (LABELS ``dag_*`` / ``task_*``)."""
    return text(code, **params)


def named(task_id: str, code: str | None = None, **params: Any) -> dict[str, Any]:
    """``task_id`` and ``task_display_name`` for ``@task(...)``: the name is LABELS ``task_{code or task_id}``."""
    return {"task_id": task_id, "task_display_name": display_name(f"task_{code or task_id}", **params)}


def department_zh(label: str) -> str:
    """The Chinese name of a department from its ``label`` in config/departments.yaml ("中文 (English)")."""
    return label.split(" (", 1)[0].strip()


# Data-aware scheduling: ingests announce new deliveries, merge announces new versions.
DELIVERIES = Asset("qianwei://hub/deliveries")
RECORD_VERSIONS = Asset("qianwei://hub/record-versions")
# What admins changed (page and qianwei-hub): each action is an event of this asset, which puts it in
# Airflow's audit log (credit_exchange/audit.py, whose ADMIN_ACTIONS_URI must be this URI: parsing
# imports no core module, so the two are tied by tests/unit/test_audit.py). No DAG is scheduled on
# it; check_nightly_cycle names it as an inlet only so that Airflow registers the asset.
ADMIN_ACTIONS = Asset("qianwei://hub/admin-actions")

# -- time limits (the reasons are in docs/operations.md, "Time limits and retries") -----------
# A task's own work: a 2 GiB market file is read in minutes and its transfer has a deadline of
# an hour (transfer_timeout); merging a province's night takes minutes. Two hours is a hang.
TASK_LIMIT = timedelta(hours=2)
# Bookkeeping tasks (a short circuit, an asset announcement): they do no I/O at all.
SHORT_TASK_LIMIT = timedelta(minutes=10)
# A whole run: the nightly cycle starts at 01:30 and must be done by 06:00.
RUN_LIMIT = timedelta(hours=4)


def cron(expression: str) -> CronTriggerTimetable:
    """A cron schedule in Asia/Shanghai, fixed points in time (never data intervals)."""
    return CronTriggerTimetable(expression, timezone=LOCAL_TZ)


def nightly() -> CronTriggerTimetable:
    return cron(NIGHTLY)


# -- errors never retried ----------------------------------------------------------------------
# By the class's full name, so this module imports none of them (DAG parsing stays cheap).
_FAIL_FAST = {
    "connectors.sftp.HostKeyMismatch": text("retry_host_key_mismatch"),
    "connectors.sftp.HostKeyNotPinned": text("retry_host_key_not_pinned"),
    "connectors.sftp.SftpAuthError": text("retry_sftp_auth"),
    "connectors.http_api.PermanentHttpError": text("retry_http_refused"),
    "credit_exchange.standard.crypto.PiiKeyMissing": text("retry_pii_key"),
    "credit_exchange.config.ConfigError": text("retry_config"),
    "credit_exchange.derive.rules.RulesConfigError": text("retry_rules"),
    "airflow.sdk.exceptions.AirflowNotFoundException": text("retry_not_found"),
}


def fail_fast_reason(exc: BaseException) -> str | None:
    """Why retrying ``exc`` cannot help (None: it may). An exception may also say so itself (``fail_fast``)."""
    for cls in type(exc).__mro__:
        reason = _FAIL_FAST.get(f"{cls.__module__}.{cls.__qualname__}")
        if reason:
            return reason
    if getattr(exc, "fail_fast", False):
        return str(getattr(exc, "fail_fast_reason", "") or text("retry_cannot_help"))
    return None


class FailFast(RetryPolicy):
    """Fail at once, without the retries, on errors that only a person can mend; everything else as usual."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        reason = fail_fast_reason(exception)
        return RetryDecision.fail(reason) if reason else RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"fail_fast": sorted(_FAIL_FAST)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> FailFast:
        return cls()


FAIL_FAST = FailFast()


def alert_on_failure(context: dict[str, Any]) -> None:
    """on_failure_callback of every task: the failure becomes an alert (imported lazily: parse stays cheap)."""
    from credit_exchange.alerts import on_task_failure

    on_task_failure(context)


# Tasks that reach the network: retried with exponential back-off, up to about 20 minutes apart.
NETWORK_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "retry_policy": FAIL_FAST,
    "execution_timeout": TASK_LIMIT,
    "on_failure_callback": alert_on_failure,
    "owner": HUB_OWNER,
}
# Tasks without network retries still alert when they fail, and still end.
ALERTING = {"on_failure_callback": alert_on_failure, "retry_policy": FAIL_FAST, "execution_timeout": TASK_LIMIT,
            "owner": HUB_OWNER}


def versions_or_nightly() -> AssetOrTimeSchedule:
    return AssetOrTimeSchedule(timetable=cron(PUSH_CATCH_UP), assets=[RECORD_VERSIONS])


def inbox_asset(department: str) -> Asset:
    """Emitted by the office-hours watcher when files wait in a department's inbox."""
    return Asset(f"qianwei://inbox/{department}")


def nightly_or_inbox(department: str) -> AssetOrTimeSchedule:
    """The nightly cycle, and also whenever the watcher sees files waiting (operations.md: within 15 minutes)."""
    return AssetOrTimeSchedule(timetable=nightly(), assets=[inbox_asset(department)])


# -- replaying a day (docs/operations.md, "Replaying a day") -------------------------------------
# The run date of every DAG whose work depends on it (credit_exchange.timeutil.run_date): the
# logical date in Asia/Shanghai, or this param when a run sets it (a backfill's --dag-run-conf,
# "Trigger DAG w/ config" in the UI, `qianwei-hub replay`). JSON Schema's "date" format checks
# that it is a real day; Airflow refuses a run whose conf fails it.
REPLAY_DATE = "replay_date"


def replay_params() -> dict[str, Param]:
    return {REPLAY_DATE: Param(None, type=["null", "string"], format="date", title=text("param_replay_date_title"),
                               description=text("param_replay_date"))}


# What every DAG whose tasks reach the network passes to @dag besides its id, schedule, docs and tags.
NETWORK_DAG_ARGS: dict[str, Any] = {"start_date": START, "catchup": False, "max_active_runs": 1,
                                   "dagrun_timeout": RUN_LIMIT, "default_args": NETWORK_RETRIES,
                                   "params": replay_params()}


# -- pools: one per remote server or API, named after its connection ------------------------------
# `config/pools.json` holds their slots (`airflow pools import config/pools.json`, an init step of
# every deployment); every task that talks to a server runs in its pool, so no server sees more
# sessions than it allows, and a department's slot is its own (one slow feed never holds up another).
def pool(connection: str) -> str:
    """The pool of the tasks that reach the server of ``connection``.

    A connection without a pool in ``config/pools.json`` (a new department's own server, before
    its pool is added) runs in Airflow's ``default_pool``: a task in a pool that does not exist
    would never be scheduled.
    """
    from credit_exchange import config  # at call time: the DAG files that call this read config anyway

    return connection if connection in config.pools() else "default_pool"


def ingest_tasks(take: Callable[..., dict[str, Any]], connection: str, take_display_name: str) -> None:
    """The shape every ingest DAG shares, built inside its @dag function:
    take the feed (in the pool of its server) → any_new_records → announce_deliveries.

    ``take`` is the DAG file's task body (its name is the task id); the short circuit skips the
    announcement, and so merge_credit, when nothing new was accepted.
    """

    @task.short_circuit(**named("any_new_records"), retries=0, execution_timeout=SHORT_TASK_LIMIT)
    def any_new(summary: dict[str, Any]) -> bool:
        # accepted_in_run: what an earlier, failed try of this run already committed (API pulls).
        return summary["accepted"] > 0 or summary.get("accepted_in_run", 0) > 0

    @task(**named("announce_deliveries"), outlets=[DELIVERIES], retries=0, execution_timeout=SHORT_TASK_LIMIT)
    def announce(summary: dict[str, Any], **context: Any) -> None:
        """Emits the deliveries asset so that merge_credit runs; its extra names the department, files, counts."""
        from credit_exchange.runtime.assets import announce_deliveries

        announce_deliveries(context, DELIVERIES, summary)

    summary = task(pool=pool(connection), task_display_name=take_display_name)(take)()
    any_new(summary) >> announce(summary)  # type: ignore[arg-type]  # an XComArg at authoring time
