"""Airflow plugin: the Exchange page (信用交换 Exchange) for admins, and the mask on task logs.

Mounts the FastAPI app of ``credit_exchange.web`` on the API server under
``/qianwei-exchange`` and adds it to the UI's navigation (Browse menu) as an
external view shown inside the UI. Importing this module is cheap and does no
I/O: the app is built on its first request, and the store is opened per
request from the ``exchange_db`` connection. Every route checks the user's
Airflow token itself (plugin endpoints are not behind Airflow's login).
Restart the API server after changing this plugin.

A second external view is a tab of every dag run's page (``destination: "dag_run"``): the UI
replaces ``{DAG_ID}`` and ``{RUN_ID}`` in its ``href`` (URL-encoded) and shows the page per run,
``/qianwei-exchange/run``, in a frame: the files that run took, its counts, rejects, batches,
city files and receipts. The UI resolves the relative ``href`` against its ``<base href>`` (the
API server's base URL), so it works behind a proxy that adds a path too.

The first request to the page installs the same log mask in the API server process.
Its listeners mask personal data in every log line of every task process
(``credit_exchange.runtime.logmask``), from the moment the task starts running, and log each
task's peak memory at its end (``credit_exchange.runtime.resources``).
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from hub_messages import text

URL_PREFIX = "/qianwei-exchange"
# Query parameters, not path segments: a run id may hold "/", which the UI encodes and routing would split.
RUN_VIEW_HREF = URL_PREFIX.lstrip("/") + "/run?dag_id={DAG_ID}&run_id={RUN_ID}"


class _LazyApp:
    """An ASGI app that builds the real one on first use (keeps plugin loading cheap in every process)."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                from credit_exchange.runtime.logmask import install
                from credit_exchange.web.app import create_app

                # The API server process logs the page's lines (and its own access log) from now on
                # through the hub's mask: a record id or file name may hold an ID number.
                install()
                self._app = create_app()
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app or self._build()
        await app(scope, receive, send)


exchange_app = _LazyApp()


class _MaskTaskLogs:
    """Installs the hub's log mask in each task process before the task's code runs (and before its
    failure, with the traceback, is logged)."""

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        from credit_exchange.runtime.logmask import install

        install()


class _TaskPeakMemory:
    """Logs each task's peak memory at its end, in its own log (credit_exchange.runtime.resources)."""

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        _log_usage(task_instance, "success")

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        _log_usage(task_instance, "failed")


def _log_usage(ti: Any, state: str) -> None:
    import logging

    from credit_exchange.runtime.resources import record, task_usage

    usage = task_usage(ti.dag_id, ti.run_id, ti.task_id, int(getattr(ti, "try_number", 0) or 0), state)
    logging.getLogger("credit_exchange.resources").info(text(
        "task_peak_memory", peak=usage["peak_rss_mb"], children=usage["children_peak_rss_mb"], cpu=usage["cpu_s"]))
    record(usage)


class QianweiExchangePlugin(AirflowPlugin):
    name = "qianwei_exchange"
    listeners = [_MaskTaskLogs(), _TaskPeakMemory()]
    fastapi_apps = [
        {"app": exchange_app, "url_prefix": URL_PREFIX, "name": "Qianwei credit exchange page"},
    ]
    external_views = [
        {
            "name": "信用交换 Exchange",
            # Relative to the UI's base URL (works behind a proxy that adds a path).
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "qianwei-exchange",
        },
        {
            # The tab on each dag run's page (Airflow UI route dags/{dag}/runs/{run}/plugin/qianwei-exchange-run).
            "name": text("ui_run_tab"),
            "href": RUN_VIEW_HREF,
            "destination": "dag_run",
            "url_route": "qianwei-exchange-run",
        },
    ]
