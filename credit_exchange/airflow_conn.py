"""Reading Airflow connections from core code, imported lazily so the core runs without Airflow too."""

from __future__ import annotations

from typing import Any


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id`` (from AIRFLOW_CONN_* variables, a secrets backend or the metastore)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)
