"""Airflow's public REST API (``/api/v2`` on the API server), for the few calls the hub makes to it.

Transport only: log in, look an asset up, announce an asset event, read the audit log back. The
hub uses it to write its admin actions into Airflow's audit log (``credit_exchange.audit`` says
why this route and no other). Every request has a connect and a read time-out; every failure is
an ``AirflowApiError`` whose ``kind`` says which fix applies.

The connection ``airflow_api`` (conn_type ``http``) names the API server: ``host`` with or without
its scheme (``http://api-server:8080``, or ``api-server`` plus ``port`` and ``schema`` http/https),
``login`` / ``password`` of the account the admin command uses, and optionally the extra
``timeout`` (seconds, default 10). A caller that already holds a user's token (the Exchange page)
passes it and never logs in.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from hub_messages import text

DEFAULT_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0


class AirflowApiError(Exception):
    """A call to the API server failed; ``kind`` is one of KINDS, ``str(exc)`` says what happened."""

    KINDS = ("not_configured", "unreachable", "login_refused", "forbidden", "not_found", "bad_answer")

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def base_url_of(conn: Any) -> str:
    """``scheme://host:port`` of the API server named by an Airflow connection."""
    host = str(getattr(conn, "host", "") or "").strip().rstrip("/")
    if not host:
        raise AirflowApiError("not_configured", text("airflow_api_no_host"))
    port = getattr(conn, "port", None)
    if "://" in host:
        scheme, _, rest = host.partition("://")
        if port and ":" not in rest.split("/", 1)[0]:
            head, slash, tail = rest.partition("/")
            rest = f"{head}:{port}{slash}{tail}"
        return f"{scheme}://{rest}"
    scheme = str(getattr(conn, "schema", "") or "http")
    if scheme not in {"http", "https"}:
        scheme = "http"
    return f"{scheme}://{host}:{port or 8080}"


class AirflowApi:
    """One API server, with a bearer token given or obtained by logging in (``POST /auth/token``)."""

    def __init__(self, base_url: str, *, token: str | None = None, login: str | None = None,
                 password: str | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._login, self._password = login, password
        self.timeout = (min(CONNECT_TIMEOUT_S, timeout), timeout)
        self._http = session or requests.Session()

    @classmethod
    def from_connection(cls, conn: Any, *, token: str | None = None) -> AirflowApi:
        """The API server of an Airflow connection; ``AirflowApiError("not_configured")`` when it names
        no host or its ``timeout`` extra is not a positive number of seconds."""
        extra = getattr(conn, "extra_dejson", None) or {}
        raw = extra.get("timeout", DEFAULT_TIMEOUT_S)
        try:
            timeout = float(raw)
        except (TypeError, ValueError):
            timeout = 0.0
        if not timeout > 0:  # also NaN
            raise AirflowApiError("not_configured", text("airflow_api_bad_timeout", value=str(raw)[:40]))
        return cls(base_url_of(conn), token=token, login=getattr(conn, "login", None) or None,
                   password=getattr(conn, "password", None) or None, timeout=timeout)

    @property
    def login_name(self) -> str | None:
        return self._login

    # -- transport -------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        try:
            return self._http.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                      allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise AirflowApiError("unreachable", text("airflow_api_unreachable", url=self.base_url)
                                  + f": {type(exc).__name__}") from exc

    def _json(self, response: requests.Response, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise AirflowApiError("forbidden", text("airflow_api_forbidden", what=what) + f": HTTP {status}")
        if status == 404:
            raise AirflowApiError("not_found", text("airflow_api_not_found", what=what) + ": HTTP 404")
        if status >= 300:
            raise AirflowApiError("bad_answer", text("airflow_api_bad_answer", what=what)
                                  + f": HTTP {status} {_short(response.text)}")
        try:
            return response.json()
        except ValueError as exc:
            raise AirflowApiError("bad_answer", text("airflow_api_bad_answer", what=what)
                                  + f": {_short(response.text)}") from exc

    def token(self) -> str:
        """The bearer token: the one given, or one from ``POST /auth/token`` with the connection's account."""
        if self._token:
            return self._token
        if not self._login or not self._password:
            raise AirflowApiError("not_configured", text("airflow_api_no_account"))
        response = self._send("POST", "/auth/token", auth=False,
                              json={"username": self._login, "password": self._password})
        if response.status_code in (400, 401, 403, 422):
            raise AirflowApiError("login_refused", text("airflow_api_login_refused", login=self._login)
                                  + f": HTTP {response.status_code}")
        body = self._json(response, "/auth/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise AirflowApiError("bad_answer", text("airflow_api_bad_answer", what="/auth/token"))
        self._token = str(token)
        return self._token

    # -- the calls the hub makes ----------------------------------------------------------

    def asset_id(self, uri: str) -> int:
        """The id Airflow gave the asset ``uri`` (an asset exists once a parsed DAG refers to it)."""
        body = self._json(self._send("GET", "/api/v2/assets", params={"uri_pattern": uri, "limit": 100}),
                          "/api/v2/assets")
        for asset in body.get("assets", []) if isinstance(body, dict) else []:
            if asset.get("uri") == uri:
                return int(asset["id"])
        raise AirflowApiError("not_found", text("airflow_api_no_asset", uri=uri))

    def create_asset_event(self, asset_id: int, extra: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/assets/events``: the API server also writes it to its audit log, as the token's user."""
        body = json.loads(json.dumps(extra, ensure_ascii=False, default=str))
        answer = self._json(self._send("POST", "/api/v2/assets/events", json={"asset_id": asset_id, "extra": body}),
                            "/api/v2/assets/events")
        return dict(answer)

    def event_logs(self, **params: Any) -> list[dict[str, Any]]:
        """``GET /api/v2/eventLogs`` (Browse → Audit Log), newest first."""
        query = {"order_by": "-id", "limit": 100, **params}
        body = self._json(self._send("GET", "/api/v2/eventLogs", params=query), "/api/v2/eventLogs")
        return list(body.get("event_logs", []))

    def asset_events(self, asset_id: int, **params: Any) -> list[dict[str, Any]]:
        """``GET /api/v2/assets/events`` of one asset, newest first."""
        query = {"asset_id": asset_id, "order_by": "-timestamp", "limit": 100, **params}
        body = self._json(self._send("GET", "/api/v2/assets/events", params=query), "/api/v2/assets/events")
        return list(body.get("asset_events", []))


def _short(body: str, limit: int = 200) -> str:
    return " ".join(body.split())[:limit]
