"""Task body of the API DAGs (ingest_transport): pull every endpoint of a department's REST API."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _last_try(context: dict[str, Any]) -> bool:
    """Whether Airflow will not retry this task again after a failure."""
    ti = context.get("ti")
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if not isinstance(try_number, int) or not isinstance(max_tries, int):
        return True
    return try_number > max_tries


def pull_transport(department: str, context: dict[str, Any]) -> dict[str, Any]:
    """Pull every endpoint of a department's API (transport) into the store (contracts.md 1.3); counts for the XCom."""
    from connectors.transport_api import TransportApi
    from credit_exchange import config
    from credit_exchange.feeds.transport.source import TransportPull
    from credit_exchange.runtime import dag_id_of, hub_store, metrics
    from credit_exchange.runtime.assets import masked_names
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.standard.validation import get_validator
    from credit_exchange.store.claims import Owner
    from credit_exchange.timeutil import run_date

    feed = config.feed(department)
    today = run_date(context)
    vault = PiiVault.from_conn_id()
    # hub_store hands the alerts raised here to the channels, on success and on failure alike.
    with hub_store() as store:
        api = TransportApi.from_conn_id(feed.connection)
        try:
            summary = metrics.counted_run(department, TransportPull(
                feed, api, store, vault, today, run_id=context.get("run_id"), dag_id=dag_id_of(context),
                validator=get_validator(today), alert_failures=_last_try(context), owner=Owner.of_context(context)))
        finally:
            api.client.close()
    result = {**summary.as_xcom(), "file_names": masked_names([e.name for e in summary.endpoints if e.name])}
    log.info("%s: %s", department, result)
    return result
