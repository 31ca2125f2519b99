"""
### watch_{department}_inbox — 办公时间收件箱监视 (office-hours inbox watcher)

During office hours a deferrable SFTP sensor watches the department's inbox on
the inbox server (connection `inbox_sftp`) without holding a worker slot; when
a file matching the contract's name pattern is there, it emits the asset
`qianwei://inbox/{department}`, which starts the department's ingest DAG. A
dropped file is so taken within 15 minutes. With nothing dropped the sensor
gives up quietly before the next watch (skipped, not failed).

One DAG per department with a `watch` entry in `config/departments.yaml`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.sftp.sensors.sftp import SFTPSensor
from airflow.sdk import dag, task

from credit_exchange.config import watched_inboxes
from credit_exchange.schedule import ALERTING, START, inbox_asset

# A watch ends before the next one starts (every 15 minutes).
WATCH_FOR = timedelta(minutes=14)


class InboxUnreachable(RuntimeError):
    """The watcher could not look at the inbox (host key changed, login refused, server down)."""


class InboxSensor(SFTPSensor):
    """SFTPSensor whose errors fail the task even with soft_fail.

    soft_fail is meant for "nothing arrived within the watch" only; in deferrable mode
    Airflow also turns trigger errors into skips (apache/airflow#71255), which would hide a
    changed host key. An error that is not an AirflowException escapes that handling.
    """

    def execute_complete(self, context, event=None):  # type: ignore[no-untyped-def]
        if isinstance(event, dict) and event.get("status") == "error":
            raise InboxUnreachable(f"收件箱无法访问 (inbox unreachable): {event.get('message')}")
        return super().execute_complete(context, event)


def _watcher(department: str, path: str, pattern: str, schedule: str, connection: str) -> None:
    @dag(
        dag_id=f"watch_{department}_inbox",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=ALERTING,
        doc_md=__doc__,
        tags=["qianwei", "watch", department],
    )
    def watch() -> None:
        waiting = InboxSensor(
            task_id="wait_for_files",
            sftp_conn_id=connection,
            path=path,
            file_pattern=pattern,
            deferrable=True,
            poke_interval=60,
            timeout=WATCH_FOR.total_seconds(),
            soft_fail=True,
        )

        @task(task_id="announce_inbox", outlets=[inbox_asset(department)])
        def announce() -> None:
            """Emits the inbox asset: the ingest DAG takes the files (it checks completeness itself)."""

        waiting >> announce()

    watch()


for _dept, _watch in watched_inboxes().items():
    _watcher(_dept, **_watch)
