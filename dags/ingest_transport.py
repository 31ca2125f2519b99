"""
### ingest_transport — 交通运输局接口拉取 (transport-bureau REST feed)

Pulls both endpoints of the transport bureau's API (connection `transport_api`):
`courier-enterprises` (寄递物流企业信用评价, `courier_rating`) and
`courier-violations` (行政处罚, `administrative_penalty`). Each endpoint has a
watermark: the `server_time` of its last completed pull; a pull asks for
everything updated since the watermark minus 5 minutes, validates every item
against the county's schemas and stores the good ones with their lineage
(`{endpoint}@{server_time}`, page and item). Repeats are recognised by id and
version. The receipt of each pull is kept in the store.

The watermark moves only together with the records of a completed pull. An
endpoint the API keeps failing on (429 / 5xx after the client's retries) is
left untouched and the task fails, naming the endpoint: Airflow retries it.
An expired page token restarts that endpoint from its watermark within the run.
A pull with too many bad records is refused whole and raises an alert.

A run with nothing new succeeds and does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, ingest_tasks, nightly


def pull_transport_api(**context) -> dict:
    from credit_exchange.runtime.transport import pull_transport

    return pull_transport(context)


@dag(dag_id="ingest_transport", schedule=nightly(), doc_md=__doc__,
     tags=["qianwei", "ingest", "transport"], **NETWORK_DAG_ARGS)
def ingest_transport() -> None:
    ingest_tasks(pull_transport_api)


ingest_transport()
