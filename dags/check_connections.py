"""
### check_connections — 连接预检 (pre-flight check of every connection)

Started by hand (no schedule): run it on the first day, after changing a connection, and when a
night failed for a reason that looks like the network. It tests every connection the hub uses,
each on its own with short time-outs, and logs one row per connection: what was checked,
正常 OK / 失败 FAILED / 未配置 not configured, and for a failure what is wrong and what to fix.

- SFTP (`inbox_sftp`, `pboc_sftp`, `city_platform_sftp`): the host key matches the pinned one
  (never accepted otherwise), the login, every folder the hub uses is listed;
- `transport_api`, `county_platform`: one signed GET each, which changes nothing;
- `alert_smtp` (TLS, login, NOOP) and `alert_webhook` (the robot judges token and signature; no
  message is posted): optional, "not configured" when absent;
- `pii_key` decodes and opens the store's records; `exchange_db` is reachable and at the code's
  schema revision.

The task fails when any connection fails; the table is in its log. The same check from a shell:
`qianwei-hub check` (`--json` for scripts). docs/operations.md, "Pre-flight check".
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from credit_exchange.runtime.schedule import FAIL_FAST, HUB_OWNER, START, display_name, named


@dag(
    dag_id="check_connections",
    dag_display_name=display_name("dag_check_connections"),
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    # A failed check is read in the table by the person who started it, and retrying cannot mend
    # a wrong key; no alert either, since the alert channels are among what is being checked.
    default_args={"owner": HUB_OWNER, "retries": 0, "retry_policy": FAIL_FAST, "execution_timeout": timedelta(minutes=5)},
    doc_md=__doc__,
    tags=["qianwei", "monitoring"],
)
def check_connections() -> None:
    @task(**named("check_every_connection"))
    def check(**context) -> dict:
        from credit_exchange.runtime.preflight import check_connections as run

        return run(context)

    check()


check_connections()
