"""Task bodies of the DAGs: each opens its connections by id and makes one call into the core.

Kept apart from ``dags/`` so that DAG files stay cheap to parse (nothing here is
imported until a task runs) and so each body can be run and tested without a
scheduler.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

COUNTY_CONN = "county_platform"


def ingest_inbox(department: str, context: dict[str, Any]) -> dict[str, Any]:
    """Take every complete file from a department's SFTP inbox (market, police)."""
    from connectors.sftp import SftpConnector
    from credit_exchange import config
    from credit_exchange.crypto import PiiVault
    from credit_exchange.ingest import InboxIngest
    from credit_exchange.store import Store
    from credit_exchange.timeutil import run_date

    feed = config.feed(department)
    vault = PiiVault.from_conn_id()
    store = Store.from_conn_id()
    try:
        with SftpConnector.from_conn_id(feed.connection) as inbox:
            summary = InboxIngest(feed, inbox, store, vault, run_date(context),
                                  run_id=context.get("run_id")).run()
    finally:
        store.dispose()
    result = summary.as_xcom()
    log.info("%s: %s", department, result)
    return result


def merge(context: dict[str, Any]) -> dict[str, Any]:
    from credit_exchange.crypto import PiiVault
    from credit_exchange.merge import merge_pending
    from credit_exchange.store import Store

    store = Store.from_conn_id()
    try:
        return merge_pending(store, PiiVault.from_conn_id()).as_xcom()
    finally:
        store.dispose()


def push_county(context: dict[str, Any]) -> dict[str, Any]:
    from connectors.county_platform import CountyPlatform
    from connectors.http_api import SignedApiClient
    from credit_exchange.crypto import PiiVault
    from credit_exchange.push_county import CountyPusher
    from credit_exchange.store import Store

    store = Store.from_conn_id()
    try:
        client = CountyPlatform(SignedApiClient.from_conn_id(COUNTY_CONN))
        return CountyPusher(store, PiiVault.from_conn_id(), client).run().as_xcom()
    finally:
        store.dispose()
