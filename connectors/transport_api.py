"""Transport bureau REST API (县交通运输局), contracts.md 1.3: paging only, no parsing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.http_api import PermanentHttpError, SignedApiClient
from hub_messages import text

CONN_ID = "transport_api"
ENDPOINTS = ("courier-enterprises", "courier-violations")
MAX_PAGE_SIZE = 500


class PageTokenExpired(Exception):
    """The API refused a page token older than 10 minutes: restart from the watermark."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(text("transport_token_expired", endpoint=endpoint))
        self.endpoint = endpoint


class TransportApi:
    """Iterates the pages of one endpoint from ``updated_since`` (inclusive)."""

    def __init__(self, client: SignedApiClient) -> None:
        self.client = client

    @classmethod
    def from_conn_id(cls, conn_id: str = CONN_ID, **overrides: Any) -> TransportApi:
        return cls(SignedApiClient.from_conn_id(conn_id, **overrides))

    def pages(self, endpoint: str, updated_since: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield each page ``{"items", "next_page_token", "server_time"}`` until the last one.

        Raises PageTokenExpired; the caller must not advance its watermark in that case.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(text("transport_unknown_endpoint") + f": {endpoint}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        path = f"/api/v1/{endpoint}"
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            params: dict[str, Any] = {"updated_since": updated_since, "page_size": page_size}
            if token is not None:
                params["page_token"] = token
            try:
                page = self.client.get_json(path, params=params)
            except PermanentHttpError as exc:
                if exc.status == 400 and exc.error_code == "PAGE_TOKEN_EXPIRED":
                    raise PageTokenExpired(endpoint) from exc
                raise
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ValueError(text("transport_no_items"))
            yield page
            token = page.get("next_page_token")
            if not token:
                return
            # A server handing back a token it already gave would loop forever.
            if token in seen_tokens:
                raise ValueError(text("transport_token_repeated"))
            seen_tokens.add(token)
