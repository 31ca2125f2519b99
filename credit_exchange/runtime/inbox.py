"""Task body of the inbox DAGs (ingest_market, ingest_police, and any other ``sftp_inbox`` department)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def ingest_inbox(department: str, context: dict[str, Any]) -> dict[str, Any]:
    """Take every complete file from a department's SFTP inbox (market, police)."""
    from connectors.sftp import SftpConnector
    from credit_exchange import config
    from credit_exchange.feeds.inbox import InboxIngest
    from credit_exchange.runtime import dag_id_of, hub_store, metrics
    from credit_exchange.runtime.assets import masked_names
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.store.claims import Owner
    from credit_exchange.timeutil import run_date

    feed = config.feed(department)
    vault = PiiVault.from_conn_id()
    with hub_store() as store, SftpConnector.from_conn_id(feed.connection) as inbox:
        summary = metrics.counted_run(department, InboxIngest(
            feed, inbox, store, vault, run_date(context), run_id=context.get("run_id"), dag_id=dag_id_of(context),
            owner=Owner.of_context(context)))
    result = {**summary.as_xcom(), "file_names": masked_names([f.name for f in summary.files], department)}
    log.info("%s: %s", department, result)
    return result
