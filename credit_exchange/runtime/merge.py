"""Task bodies of merge_credit."""

from __future__ import annotations

from typing import Any


def merge(context: dict[str, Any]) -> dict[str, Any]:
    from credit_exchange.merge.deliveries import merge_pending
    from credit_exchange.runtime import hub_store
    from credit_exchange.standard.crypto import PiiVault

    with hub_store() as store:
        store.analyze("deliveries", "received_files")  # the ingests' bulk writes, just before
        summary = merge_pending(store, PiiVault.from_conn_id()).as_xcom()
        # Derive and the pushes plan their queries next: on what merge just wrote.
        store.analyze("deliveries", "records", "record_versions", "outbox", "subjects_pending")
        return summary


def derive(context: dict[str, Any]) -> dict[str, Any]:
    """Credit profiles and red / black list entries, for the run date, of the subjects that changed or are due."""
    from credit_exchange.derive.lists import derive
    from credit_exchange.runtime import hub_store
    from credit_exchange.standard.crypto import PiiVault
    from credit_exchange.timeutil import run_date

    with hub_store() as store:
        return derive(store, PiiVault.from_conn_id(), run_date(context)).as_xcom()
