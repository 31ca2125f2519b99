"""The Exchange page: a FastAPI app the Airflow plugin mounts on the API server.

Routes (relative to the mount, ``/qianwei-exchange`` in ``plugins/exchange_plugin.py``):

- ``GET /``                          the overview (HTML), per department and platform
- ``GET /api/overview``              the same numbers as JSON
- ``GET /details/{kind}``            the rows behind one number (HTML; ``?department=`` / ``?platform=``)
- ``GET /api/details/{kind}``        the same rows as JSON
- ``GET /api/live/{department}``     files in the department's inbox right now (SFTP, short time-outs)
- ``GET /lineage``                   the lineage search box (HTML)
- ``POST /lineage``                  form ``q``: lineage of a record id, USCC / ID number or file name (HTML);
                                     or ``file_id`` + ``ordinal``: of the record a file delivered there
- ``POST /api/lineage``              JSON body ``{"q": ...}``: the same as JSON
- ``GET /run?dag_id=&run_id=``       the page per run: what one Airflow dag run took and sent (HTML; the
                                     dag run's tab in the Airflow UI, ``plugins/exchange_plugin.py``)
- ``GET /api/run?dag_id=&run_id=``   the same as JSON
- ``POST /actions/requeue``          form ``department``, ``file_id``: quarantine -> inbox
- ``POST /actions/resend``           form ``platform``, optional ``id`` (repeatable): failed records go out again
- ``POST /actions/resolve-alerts``   form ``id`` (repeatable), ``note``: close alerts (``alerts.resolve_alerts``)

Every route needs a valid Airflow token (``credit_exchange.web.auth``); the
POSTs also need the request to come from this server. The lineage search is a POST on purpose:
Airflow's API server logs every request's path and query string (``http.access``), and a query may
be a person's ID number; in a body it never reaches that log, and no link of its answer carries one
(a record of a file is asked for by the file's id and the record's ordinal). Each action is written to
Airflow's audit log as the user, through Airflow's REST API with the user's own token
(``credit_exchange.audit``: the ``airflow_api`` connection's server, else this one). The store is opened
from the ``exchange_db`` connection on each request (one engine kept per
database URL); this module does nothing when imported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from credit_exchange import alerts as core_alerts
from credit_exchange import audit as hub_audit
from credit_exchange.standard.pii import mask_text
from credit_exchange.store import Delivery, Store
from credit_exchange.timeutil import now_local
from credit_exchange.web import actions as admin_actions
from credit_exchange.web import dashboard, lineage, templates
from credit_exchange.web.auth import (
    NotAuthenticated,
    Viewer,
    login_url,
    require_action,
    require_page_action,
    require_same_origin,
)
from hub_messages import text

log = logging.getLogger(__name__)

STORE_CONN_ID = "exchange_db"
API_CONN_ID = "airflow_api"
LIVE_TIMEOUTS = {"connect_timeout": 3.0, "banner_timeout": 3.0, "auth_timeout": 3.0, "channel_timeout": 5.0,
                 "transfer_timeout": 5.0}

_stores: dict[str, Store] = {}


class LineageQuery(BaseModel):
    """The JSON body of ``POST /api/lineage``."""

    q: str = ""

_stores_lock = threading.Lock()


def store_from_connection() -> Store:
    """The store named by the ``exchange_db`` connection, read now; engines are kept per URL.

    The page never migrates the store (that is the pipeline's job): a store that
    is missing or older than the code shows as an error on the page.
    """
    from credit_exchange.airflow_conn import get_connection
    from credit_exchange.store.db import sqlalchemy_url

    url = sqlalchemy_url(get_connection(STORE_CONN_ID))
    with _stores_lock:
        if url not in _stores:
            _stores[url] = Store(url, migrate_now=False)
        return _stores[url]


def lineage_vault() -> Any:
    """The pii_key vault, for a lineage search by ID number; None (the answer says so) when it is missing."""
    from credit_exchange.standard.crypto import PiiKeyMissing, PiiVault

    try:
        return PiiVault.from_conn_id()
    except PiiKeyMissing:
        log.warning("Exchange page: no pii_key connection, lineage cannot search by ID number")
        return None


def _user_name(user: Any) -> str:
    return str(user.get_name())


def _request_token(request: Request) -> str | None:
    """The Airflow token the request came with (bearer header or the UI's cookie): the audit entry is the user's."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get("_token") or None


def page_api(request: Request) -> Any:
    """Airflow's REST API as the page's user: the ``airflow_api`` connection's server, else this server."""
    from connectors.airflow_api import AirflowApi
    from credit_exchange.airflow_conn import get_connection

    token = _request_token(request)
    try:
        conn = get_connection(API_CONN_ID)
    except Exception:  # noqa: BLE001 - not configured: the page runs on the API server itself
        return AirflowApi(str(request.base_url).rstrip("/"), token=token)
    return AirflowApi.from_connection(conn, token=token)


def audit(request: Request, event: str, user: Any, dag_id: str | None, message: str,
          details: dict[str, Any], **more: Any) -> str:
    """Record an admin action in Airflow's audit log (Browse → Audit Log) through its public REST API.

    The shared route of the page and ``qianwei-hub`` (``credit_exchange.audit``). The action is done
    either way: when the entry cannot be written this is logged and the answer says so (returned
    as a sentence to add to the reply; empty when written).
    """
    try:
        # page_api is called inside record(): a broken airflow_api connection is "not audited", not a 500.
        hub_audit.record(lambda: page_api(request), event, _user_name(user), via="page", dag_id=dag_id,
                         message=message, details=details, **more)
    except hub_audit.AuditNotWritten as exc:
        return str(exc)
    return ""


def _with_audit(message: str, problem: str) -> str:
    return f"{message} {problem}" if problem else message


def create_app(
    store_factory: Callable[[], Store] | None = None,
    clock: Callable[[], datetime] | None = None,
    sftp_opener: admin_actions.SftpOpener | None = None,
    vault_factory: Callable[[], Any] | None = None,
) -> FastAPI:
    """Build the app; the arguments replace the store, the clock, SFTP and the pii_key vault in tests."""
    get_store = store_factory or store_from_connection
    get_vault = vault_factory or lineage_vault
    now = clock or now_local

    def open_sftp(conn_id: str, **timeouts: float) -> Any:
        if sftp_opener is not None:
            return sftp_opener(conn_id)
        from connectors.sftp import SftpConnector

        return SftpConnector.from_conn_id(conn_id, **(timeouts or admin_actions.SFTP_TIMEOUTS))

    app = FastAPI(title="Qianwei credit exchange", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page:
            return RedirectResponse(login_url(request), status_code=303)
        return JSONResponse({"detail": text("web_login_required") + f": {exc.detail}"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def _read(fn: Callable[[Any], Any]) -> Any:
        try:
            store = get_store()
            with store.session() as s:
                return fn(s)
        except (KeyError, ValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the admin, who must fix the store or its connection
            log.exception("Exchange page: reading the store failed")
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise HTTPException(503, mask_text(
                text("web_store_unreadable", error=type(exc).__name__, detail=detail))) from exc

    # -- pages ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def overview_page(user: Viewer) -> HTMLResponse:
        at = now()

        def read(s: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            o = dashboard.overview(s, at)
            latest = {d["department"]: dashboard.latest_rejects(s, d["department"], at - dashboard.REJECT_WINDOW)
                      for d in o["departments"] if d["rejected_records"]}
            return o, latest

        o, latest = _read(read)
        return HTMLResponse(templates.render("overview", o=o, latest=latest, user=_user_name(user)))

    @app.get("/api/overview")
    def overview_json(user: Viewer) -> dict[str, Any]:
        at = now()
        return dict(_read(lambda s: dashboard.overview(s, at)))

    def _details(kind: str, department: str | None, platform: str | None) -> list[dict[str, Any]]:
        at = now()
        try:
            return list(_read(lambda s: dashboard.details(s, kind, at, department=department, platform=platform)))
        except KeyError:
            raise HTTPException(404, text("web_unknown_list") + f" {kind!r}") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/details/{kind}", response_class=HTMLResponse)
    def details_page(kind: str, request: Request, user: Viewer, department: str | None = None,
                     platform: str | None = None) -> HTMLResponse:
        rows = _details(kind, department, platform)
        title = dashboard.DETAIL_KINDS[kind][0]
        whose = dashboard.department_label(department) if department else (
            dashboard.PLATFORM_LABELS.get(platform or "", "") if platform else "")
        action = {"quarantined": "requeue", "failed-records": "resend", "alerts": "resolve"}.get(kind)
        columns = [c for c in (rows[0] if rows else {}) if c != "requeue_possible"]
        query = f"?{request.url.query}" if request.url.query else ""
        return HTMLResponse(templates.render(
            "details", title=title, whose=whose, kind=kind, rows=rows, columns=columns, action=action,
            department=department, platform=platform, query=query))

    @app.get("/api/details/{kind}")
    def details_json(kind: str, user: Viewer, department: str | None = None,
                     platform: str | None = None) -> dict[str, Any]:
        return {"kind": kind, "department": department, "platform": platform,
                "rows": _details(kind, department, platform)}

    @app.get("/api/live/{department}")
    def live_json(department: str, user: Viewer) -> dict[str, Any]:
        """Files waiting on the department's server right now; an unreachable server is an answer, not a hang."""
        from credit_exchange import config

        if department not in dashboard.departments():
            raise HTTPException(404, text("web_unknown_department") + f" {department!r}")
        feed = config.feed(department)
        if not dashboard.live_possible(department):
            raise HTTPException(404, text("web_not_sftp"))
        try:
            with open_sftp(feed.connection, **LIVE_TIMEOUTS) as sftp:
                if feed.source == "sftp_outbox_pairs":
                    suffix = str(feed.options.get("control_suffix", ".ok"))
                    data_files = {f.name for f in sftp.listdir(feed.root) if not f.name.endswith(suffix)
                                  and feed.match_name(f.name)}
                    taken = set(_read(lambda s: dashboard.taken_pairs(s, department)))
                    return {"department": department, "waiting": len(data_files - taken),
                            "note": text("web_live_pairs")}
                names = [f.name for f in sftp.listdir(feed.folder("inbox"))]
                return {"department": department, "waiting": len(names),
                        "uploading": sum(n.endswith(".tmp") for n in names),
                        "note": text("web_live_inbox")}
        except Exception as exc:  # noqa: BLE001 - the page shows "?" with the reason
            return {"department": department, "error": mask_text(str(exc)) or type(exc).__name__}

    # -- lineage and the page per run ------------------------------------------------------

    def _lineage(q: str) -> dict[str, Any]:
        # The key is read only for a query shaped like an ID number (its keyed hash is the subject key).
        vault = get_vault() if q.strip() and "id_number" in lineage.classify(q) else None
        return dict(_read(lambda s: lineage.lineage(s, q, vault)))

    def _delivered_record(file_id: int, ordinal: int) -> str:
        """The record id a file delivered at ``ordinal`` (the answer's links name it so, never by its id)."""
        found = _read(lambda s: s.execute(select(Delivery.record_id).where(
            Delivery.file_id == file_id, Delivery.ordinal == ordinal)).scalar_one_or_none())
        return str(found or "")

    # Searches are POSTs (form or JSON body): a query in the URL would be in the API server's access log.
    @app.get("/lineage", response_class=HTMLResponse)
    def lineage_form(user: Viewer) -> HTMLResponse:
        return HTMLResponse(templates.render("lineage", a=_lineage("")))

    @app.post("/lineage", response_class=HTMLResponse, dependencies=[Depends(require_same_origin)])
    def lineage_page(user: Viewer, q: Annotated[str, Form()] = "", file_id: Annotated[int | None, Form()] = None,
                     ordinal: Annotated[int | None, Form()] = None) -> HTMLResponse:
        if file_id is not None and ordinal is not None:
            q = _delivered_record(file_id, ordinal)
        return HTMLResponse(templates.render("lineage", a=_lineage(q)))

    @app.post("/api/lineage", dependencies=[Depends(require_same_origin)])
    def lineage_json(user: Viewer, body: LineageQuery) -> dict[str, Any]:
        return _lineage(body.q)

    def _run(dag_id: str, run_id: str) -> dict[str, Any]:
        if not dag_id or not run_id:
            raise HTTPException(400, text("run_missing_ids"))
        return dict(_read(lambda s: lineage.run_view(s, dag_id, run_id)))

    @app.get("/run", response_class=HTMLResponse)
    def run_page(user: Viewer, dag_id: str = "", run_id: str = "") -> HTMLResponse:
        return HTMLResponse(templates.render("run", r=_run(dag_id, run_id), overview="../plugin/qianwei-exchange"))

    @app.get("/api/run")
    def run_json(user: Viewer, dag_id: str = "", run_id: str = "") -> dict[str, Any]:
        return _run(dag_id, run_id)

    # -- actions -------------------------------------------------------------------------

    def _answer(request: Request, ok: bool, message: str, result: dict[str, Any] | None, back: str,
                status_code: int = 200) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"ok": ok, "message": message, "result": result}, status_code=status_code)
        return HTMLResponse(templates.render("result", ok=ok, message=message, back=back), status_code=status_code)

    @app.post("/actions/requeue", dependencies=[Depends(require_same_origin)])
    def requeue(request: Request, department: Annotated[str, Form()], file_id: Annotated[int, Form()],
                user: Viewer) -> Response:
        if department not in dashboard.departments():
            raise HTTPException(400, text("web_unknown_department") + f" {department!r}")
        dag_id = f"ingest_{department}"
        require_action(user, dag_id)
        back = f"../details/quarantined?department={department}"
        try:
            result = admin_actions.requeue_file(get_store(), file_id, _user_name(user), department=department,
                                                open_sftp=lambda conn_id: open_sftp(conn_id))
        except admin_actions.ActionRefused as exc:
            log.warning("re-queue of file %s refused for %s: %s", file_id, _user_name(user), exc)
            return _answer(request, False, str(exc), None, back, 409)
        problem = audit(request, "requeue_file", user, dag_id, result.message, result.details)
        return _answer(request, True, _with_audit(result.message, problem), result.as_dict(), back)

    @app.post("/actions/resend", dependencies=[Depends(require_same_origin)])
    def resend(request: Request, platform: Annotated[str, Form()], user: Viewer,
               id: Annotated[list[str] | None, Form()] = None) -> Response:
        if platform not in dashboard.PLATFORMS:
            raise HTTPException(400, text("web_unknown_platform") + f" {platform!r}")
        dag_id = f"push_{platform}"
        require_action(user, dag_id)
        back = f"../details/failed-records?platform={platform}"
        try:
            ids: list[int | str] | None = [i for i in id if i] if id else None
            if platform == "county" and ids:
                ids = [int(i) for i in ids]
            result = admin_actions.resend_failed(get_store(), platform, _user_name(user), ids or None)
        except (admin_actions.ActionRefused, ValueError) as exc:
            return _answer(request, False, str(exc), None, back, 409)
        problem = audit(request, "resend_failed", user, dag_id, result.message, result.details)
        return _answer(request, True, _with_audit(result.message, problem), result.as_dict(), back)

    @app.post("/actions/resolve-alerts", dependencies=[Depends(require_same_origin)])
    def resolve_alerts(request: Request, user: Viewer, note: Annotated[str, Form()] = "",
                       id: Annotated[list[int] | None, Form()] = None) -> Response:
        require_page_action(user)
        back = "../details/alerts"
        try:
            done = core_alerts.resolve_alerts(get_store(), id or [], _user_name(user), note)
        except core_alerts.AlertsRefused as exc:
            return _answer(request, False, str(exc), None, back, 409)
        message = text("alerts_resolved", resolved=len(done.resolved), already=len(done.already))
        problem = audit(request, "resolve_alerts", user, None, message,
                        {"resolved": done.resolved, "already": done.already}, note=done.note) if done.resolved else ""
        return _answer(request, True, _with_audit(message, problem), done.as_dict(), back)

    return app
