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
    from credit_exchange.publish.county.push import CountyPusher, PushIncomplete
    from credit_exchange.runtime import dag_id_of, hub_store, metrics
    from credit_exchange.standard.crypto import PiiVault

    with hub_store() as store:
        pusher = CountyPusher(store, PiiVault.from_conn_id(), _client(), dag_id=dag_id_of(context),
                              run_id=context.get("run_id"))
        stopped = False  # by an error other than undelivered batches (refused credentials, the store)
        try:
            return pusher.run().as_xcom()
        except Exception as exc:
            stopped = not isinstance(exc, PushIncomplete)
            raise
        finally:
            done = pusher.summary
            metrics.batches("county", sent=done.batches_answered, failed=len(done.failed_batches) + int(stopped))


def reconcile_county(context: dict[str, Any]) -> dict[str, Any]:
    """A slice of the store compared with the platform; only in runs started by time or by hand.

    The platform answers 5 requests a second: a slice costs minutes, and a night starts a push
    after every merge. Runs that merge's asset started leave reconciling to the nightly 03:30
    run, so the night's records reach the platform without waiting behind it.
    """
    import logging

    from credit_exchange.publish.county.push import ReconcileSummary, reconcile
    from credit_exchange.runtime import hub_store

    run = context.get("dag_run")
    if str(getattr(run, "run_type", "")).lower().endswith("asset_triggered"):
        from hub_messages import text

        logging.getLogger(__name__).info(text("county_reconcile_left_to_nightly"))
        return {**ReconcileSummary().as_xcom(), "left_to_nightly": 1}
    with hub_store() as store:
        return reconcile(store, _client(), limit=RECONCILE_PER_RUN).as_xcom()
