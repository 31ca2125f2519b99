"""
### watch_{department}_inbox — 办公时间收件箱监视 (office-hours inbox watcher)

During office hours a deferred watcher (the hub's own SFTP connector, in the
triggerer) watches the department's inbox on the inbox server (connection
`inbox_sftp`) without holding a worker slot; when
a file matching the contract's name pattern is there, it emits the asset
`qianwei://inbox/{department}`, which starts the department's ingest DAG. A
dropped file is so taken within 15 minutes. With nothing dropped the sensor
gives up quietly before the next watch (skipped, not failed).

One DAG per department with a `watch` entry in `config/departments.yaml`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from credit_exchange.config import feed, watched_inboxes
from credit_exchange.runtime.schedule import (
    ALERTING,
    SHORT_TASK_LIMIT,
    START,
    cron,
    department_owner,
    department_zh,
    display_name,
    inbox_asset,
    named,
)
from credit_exchange.runtime.watch import WatchInbox

# A watch ends before the next one starts (every 15 minutes).
WATCH_FOR = timedelta(minutes=14)


def _watcher(department: str, path: str, pattern: str, schedule: str, connection: str) -> None:
    @dag(
        dag_id=f"watch_{department}_inbox",
        dag_display_name=display_name("dag_watch_inbox", department=department,
                                      department_zh=department_zh(feed(department).label)),
        schedule=cron(schedule),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        # A watch ends before the next one starts; a run (or its watcher) never outlives that.
        dagrun_timeout=WATCH_FOR + timedelta(minutes=1),
        default_args={**ALERTING, "execution_timeout": WATCH_FOR + timedelta(minutes=1),
                      "owner": department_owner(department)},
        doc_md=__doc__,
        tags=["qianwei", "watch", department],
    )
    def watch() -> None:
        waiting = WatchInbox(**named("wait_for_files"), conn_id=connection, path=path, pattern=pattern,
                             watch_for=WATCH_FOR, poke_interval=60)

        @task(**named("announce_inbox"), outlets=[inbox_asset(department)], execution_timeout=SHORT_TASK_LIMIT)
        def announce(files_waiting: int, **context) -> None:
            """Emits the inbox asset: the ingest DAG takes the files (it checks completeness itself)."""
            from credit_exchange.runtime.assets import announce_inbox

            announce_inbox(context, inbox_asset(department), department, files_waiting)

        announce(waiting.output)

    watch()


for _dept, _watch in watched_inboxes().items():
    _watcher(_dept, **_watch)
