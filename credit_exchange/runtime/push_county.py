"""Task bodies of push_county: send owed versions, then reconcile with the platform."""

from __future__ import annotations

from typing import Any

COUNTY_CONN = "county_platform"
# Records compared with the platform per run (round robin over the store).
RECONCILE_PER_RUN = 2000


def _client() -> Any:
    from connectors.county_platform import CountyPlatform
    from connectors.http_api import SignedApiClient

    return CountyPlatform(SignedApiClient.from_conn_id(COUNTY_CONN))


def push_county(context: dict[str, Any]) -> dict[str, Any]:
    from credit_exchange.publish.county.push import CountyPusher
    from credit_exchange.runtime import hub_store
    from credit_exchange.standard.crypto import PiiVault

    with hub_store() as store:
        return CountyPusher(store, PiiVault.from_conn_id(), _client()).run().as_xcom()


def reconcile_county(context: dict[str, Any]) -> dict[str, Any]:
    from credit_exchange.publish.county.push import reconcile
    from credit_exchange.runtime import hub_store

    with hub_store() as store:
        return reconcile(store, _client(), limit=RECONCILE_PER_RUN).as_xcom()
