"""
### ingest_{department} — 部门数据接收 (one ingest DAG per department)

Generated from `config/departments.yaml`: one DAG `ingest_{department}` for every department,
shaped by its `source` (`credit_exchange/runtime/ingest.py`):

- `sftp_inbox` (market, police): `take_{department}_files`, nightly and whenever the
  office-hours watcher sees files waiting;
- `sftp_outbox_pairs` (pboc): `take_{department}_pairs`, nightly;
- `rest_api` (transport): `pull_{department}_api`, nightly.

Each runs take → `any_new_records` → `announce_deliveries`; the last emits the deliveries asset
that starts `merge_credit`. Each DAG's own page in the UI says what it does for its department.
"""

from __future__ import annotations

from airflow.sdk import dag

from credit_exchange import config
from credit_exchange.runtime.ingest import SOURCES, display_name, doc_md, task_body
from credit_exchange.runtime.schedule import (
    NETWORK_DAG_ARGS,
    department_owner,
    department_zh,
    ingest_tasks,
    nightly,
    nightly_or_inbox,
)
from credit_exchange.runtime.schedule import display_name as dag_display_name


def _ingest_dag(feed: config.Feed) -> None:
    department = feed.department

    @dag(dag_id=f"ingest_{department}",
         schedule=nightly_or_inbox(department) if SOURCES[feed.source].watched else nightly(),
         doc_md=doc_md(department, feed.source, feed.label, feed.connection, feed.root, feed.file_pattern.pattern),
         dag_display_name=dag_display_name("dag_ingest", department=department,
                                           department_zh=department_zh(feed.label)),
         tags=["qianwei", "ingest", department],
         **{**NETWORK_DAG_ARGS, "default_args": {**NETWORK_DAG_ARGS["default_args"],
                                                 "owner": department_owner(department)}})
    def ingest() -> None:
        ingest_tasks(task_body(department, feed.source), feed.connection, display_name(department, feed.source))

    ingest()


for _feed in config.feeds():
    _ingest_dag(_feed)
