"""Task body of the outbox-pair DAGs (ingest_pboc): take the complete, verified pairs from a read-only outbox."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def ingest_pboc(department: str, context: dict[str, Any]) -> dict[str, Any]:
    """Take every new pair from a department's read-only outbox (PBoC: ``pboc_sftp``); returns counts only.

    A pair that turned corrupt on this run does not fail the task: the other pairs
    of the night must still reach merge, and a failure would repeat every night for
    as long as the file stays on their server. Admins see it as an alert (the
    Exchange page, and the chat robot / e-mail when configured) and in this log.
    """
    from connectors.sftp import SftpConnector
    from credit_exchange import config
    from credit_exchange.feeds.pboc.source import PbocIngest
    from credit_exchange.runtime import dag_id_of, hub_store, metrics
    from credit_exchange.runtime.assets import masked_names
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.store.claims import Owner
    from credit_exchange.timeutil import run_date

    feed = config.feed(department)
    vault = PiiVault.from_conn_id()
    with hub_store() as store, SftpConnector.from_conn_id(feed.connection) as outbox:
        summary = metrics.counted_run(department, PbocIngest(
            feed, outbox, store, vault, run_date(context), run_id=context.get("run_id"), dag_id=dag_id_of(context),
            owner=Owner.of_context(context)))
    result = {**summary.as_xcom(), "file_names": masked_names([p.name for p in summary.taken], department)}
    if summary.corrupt:
        log.error("%s: %d pair(s) corrupt, see the alerts: %s", department, len(summary.corrupt), ", ".join(summary.corrupt))
    log.info("%s: %s", department, result)
    return result
