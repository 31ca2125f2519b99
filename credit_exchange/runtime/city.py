"""Task bodies of push_city, publicity_expiry and collect_city_receipts (contracts.md 2.2)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CITY_CONN = "city_platform_sftp"


def _push(context: dict[str, Any], *, only_expired: bool) -> dict[str, Any]:
    from connectors.sftp import SftpConnector
    from credit_exchange.publish.city.push import CityPusher
    from credit_exchange.runtime import dag_id_of, hub_store, metrics
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.timeutil import run_date

    vault = PiiVault.from_conn_id()
    with hub_store() as store, SftpConnector.from_conn_id(CITY_CONN) as sftp:
        pusher = CityPusher(store, vault, sftp, run_date(context), only_expired=only_expired,
                            dag_id=dag_id_of(context), run_id=context.get("run_id"))
        stopped = True  # a city push stops at its first error: the file under way did not get through
        try:
            summary = pusher.run()
            stopped = False
        finally:
            metrics.batches("city", sent=pusher.summary.files_uploaded, failed=int(stopped))
    result = summary.as_xcom()
    log.info("%s: %s", "publicity_expiry" if only_expired else "push_city", result)
    return result


def push_city(context: dict[str, Any]) -> dict[str, Any]:
    """Bring the city platform to the desired state of the run date: adds, updates, withdrawals."""
    return _push(context, only_expired=False)


def publicity_expiry(context: dict[str, Any]) -> dict[str, Any]:
    """Withdraw (op delete) the penalties whose publicity period ended before the run date."""
    return _push(context, only_expired=True)


def collect_city_receipts(context: dict[str, Any]) -> dict[str, Any]:
    """Apply the city platform's receipts; alert once for a file without a receipt after 24 hours."""
    from connectors.sftp import SftpConnector
    from credit_exchange.publish.city.push import CityReceiptCollector
    from credit_exchange.runtime import hub_store

    with hub_store() as store, SftpConnector.from_conn_id(CITY_CONN) as sftp:
        summary = CityReceiptCollector(store, sftp).run()
    return summary.as_xcom()
