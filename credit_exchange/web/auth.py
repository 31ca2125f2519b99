"""Who may see the Exchange page and act on it, decided by Airflow's own auth machinery.

Plugin apps are not behind Airflow's login (airflow-notes.md), so every route
depends on ``require_user``:

1. ``airflow.api_fastapi.core_api.security.get_user`` resolves the user from the
   ``Authorization: Bearer`` header or the UI's ``_token`` cookie; it validates
   the JWT with the auth manager (``get_user_from_token``: signature, expiry,
   audience, revoked tokens). No or a bad token: ``NotAuthenticated`` (HTML page
   requests are sent to the auth manager's login page, everything else gets 401).
2. The configured auth manager must allow the custom view ``Qianwei Exchange``
   (``is_authorized_custom_view``: GET to see, POST to act); an action also needs
   the right to run the DAG that will take its result (``is_authorized_dag`` with
   PUT on the DAG's runs: ``ingest_{dept}`` for a re-queued file, ``push_{platform}``
   for re-sent records) and, like closing alerts (which no DAG takes), the right to create
   asset events (``is_authorized_asset`` with POST): the action's audit entry is one, written
   with the user's own token, so without it nothing is done.
3. POSTs must come from the page itself (``require_same_origin``): the cookie is
   ``SameSite=Lax`` already; on top of that the ``Origin`` (or ``Referer``) must be
   this server. Requests carrying a Bearer header are not ambient, so not forgeable.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub_messages import text

RESOURCE_NAME = "Qianwei Exchange"

bearer_scheme = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


class NotAuthenticated(Exception):
    """No valid Airflow token came with the request."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


async def current_user(
    request: Request,
    bearer: BearerDep,
) -> Any:
    """The Airflow user of the request's token (bearer header or the UI's cookie), or NotAuthenticated."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        # get_user answers 401 for a missing or expired token and 403 for an invalid one.
        raise NotAuthenticated(str(exc.detail)) from exc


def _forbidden() -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, text("web_forbidden"))


async def require_viewer(user: Annotated[Any, Depends(current_user)]) -> Any:
    """Any route: a valid token and the right to see the custom view."""
    if not auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
        raise _forbidden()
    return user


Viewer = Annotated[Any, Depends(require_viewer)]


def require_action(user: Any, dag_id: str) -> None:
    """An action: the right to act on the custom view, to run ``dag_id`` and to create asset events.

    The last because the action's audit entry is an asset event made with the user's own token
    (``credit_exchange.audit``): without that right the action would be done but never audited, so
    it is refused before anything moves.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    am = auth_manager()
    allowed = am.is_authorized_custom_view(method="POST", resource_name=RESOURCE_NAME, user=user) and \
        am.is_authorized_dag(method="PUT", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id),
                             user=user)
    if not allowed:
        raise _forbidden()
    if not am.is_authorized_asset(method="POST", user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, text("web_forbidden_audit"))


def require_page_action(user: Any) -> None:
    """An action that no DAG takes (closing alerts): the right to act on the custom view and to create
    asset events, as the audit entry of the action is one (``credit_exchange.audit``)."""
    am = auth_manager()
    allowed = am.is_authorized_custom_view(method="POST", resource_name=RESOURCE_NAME, user=user) and \
        am.is_authorized_asset(method="POST", user=user)
    if not allowed:
        raise _forbidden()


def _own_hosts(request: Request) -> set[str]:
    from airflow.configuration import conf

    hosts = {request.url.netloc.lower()}
    if host := request.headers.get("host"):
        hosts.add(host.lower())
    base_url = conf.get("api", "base_url", fallback="") or ""
    if base_url.startswith(("http://", "https://")):
        hosts.add(urlsplit(base_url).netloc.lower())
    return hosts


async def require_same_origin(
    request: Request,
    bearer: BearerDep,
) -> None:
    """Refuse a state-changing request that a page on another site could have made with the user's cookie."""
    if bearer is not None and bearer.scheme.lower() == "bearer":
        return
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, text("web_cross_site"))
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(source)
    if parts.scheme not in {"http", "https"} or parts.netloc.lower() not in _own_hosts(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, text("web_foreign_origin"))


def login_url(request: Request) -> str:
    """The auth manager's login page, coming back to this page afterwards."""
    return str(auth_manager().get_url_login(next_url=str(request.url)))
