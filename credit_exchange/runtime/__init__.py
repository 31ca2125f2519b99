"""Task bodies of the DAGs: each opens its connections by id and makes one call into the core.

One module per DAG (or family of DAGs). Kept apart from ``dags/`` so that DAG
files stay cheap to parse (nothing here is imported until a task runs) and so
every body can be run and tested without a scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


def dag_id_of(context: dict[str, Any]) -> str | None:
    """The DAG id of a task's context (the store keeps it with the run id: run ids repeat across DAGs)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag_run"), "dag_id", None) \
        or getattr(context.get("dag"), "dag_id", None)
    return str(dag_id) if dag_id else None


@contextmanager
def hub_store() -> Iterator[Any]:
    """The store from ``exchange_db``; on the way out, alerts raised by the task go to the channels,
    and the hub's gauges (receipts overdue, alerts open) to Airflow's metrics when they are on."""
    from credit_exchange.alerts import deliver_pending
    from credit_exchange.runtime.metrics import report_store_gauges
    from credit_exchange.store import Store

    store = Store.from_conn_id()
    try:
        yield store
    finally:
        try:
            deliver_pending(store)
        except Exception:  # noqa: BLE001 - notification trouble must not hide the task's own outcome
            log.exception("could not hand alerts to the notification channels")
        report_store_gauges(store)
        store.dispose()
