"""Task body of push_county."""

from __future__ import annotations

from typing import Any

COUNTY_CONN = "county_platform"


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
