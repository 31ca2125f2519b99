"""
### ingest_police — 公安局 CSV 文件接收 (police fraud-case CSV feed)

Takes every complete `POLICE_FRAUD_{YYYYMMDD}_{NN}.csv` file from `/police/inbox/`
on the inbox server (connection `inbox_sftp`): claims it into `processing/`,
streams it (GB18030, or UTF-8 with a BOM), validates every fraud case against
the county's schemas, stores the good ones with their lineage, writes a
receipt (回执) with `line N` positions to `/police/receipts/`, and moves the
file to `archive/YYYY/MM/` or `quarantine/`.

The police client has no upload protocol: a file is taken only once its size
and modification time have not changed for `quiet_period_seconds`
(`config/departments.yaml`, default 120 s, measured on the server's clock).
Files still being written are left where they are for a later run; one left
unfinished for `stuck_after_days` raises an `inbox_stuck` alert.

A run with nothing in the inbox succeeds and does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, ingest_tasks, nightly_or_inbox


def take_police_files(**context) -> dict:
    from credit_exchange.runtime.inbox import ingest_inbox

    return ingest_inbox("police", context)


@dag(dag_id="ingest_police", schedule=nightly_or_inbox("police"), doc_md=__doc__,
     tags=["qianwei", "ingest", "police"], **NETWORK_DAG_ARGS)
def ingest_police() -> None:
    ingest_tasks(take_police_files)


ingest_police()
