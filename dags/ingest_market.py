"""
### ingest_market — 市场监管局 XML 文件接收 (market-supervision XML feed)

Takes every complete `MARKET_{KIND}_{YYYYMMDD}_{NNN}.xml` file from `/market/inbox/`
on the inbox server (connection `inbox_sftp`): claims it into `processing/`,
streams and validates every record against the county's schemas, stores the
good ones with their lineage, writes a receipt (回执) to `/market/receipts/`,
and moves the file to `archive/YYYY/MM/` or `quarantine/`.

A run with nothing in the inbox succeeds and does nothing. Uploads still under
way (`.tmp`) are left alone.
"""

from __future__ import annotations

from airflow.sdk import dag

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, ingest_tasks, nightly_or_inbox


def take_market_files(**context) -> dict:
    from credit_exchange.runtime.inbox import ingest_inbox

    return ingest_inbox("market", context)


@dag(dag_id="ingest_market", schedule=nightly_or_inbox("market"), doc_md=__doc__,
     tags=["qianwei", "ingest", "market"], **NETWORK_DAG_ARGS)
def ingest_market() -> None:
    ingest_tasks(take_market_files)


ingest_market()
