"""County credit information platform (县社会信用信息平台), contracts.md 2.1: transport only."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connectors.http_api import PermanentHttpError, SignedApiClient
from hub_messages import text

CONN_ID = "county_platform"
BATCHES_PATH = "/api/v1/batches"
RECORDS_PATH = "/api/v1/records/"


class CountyPlatform:
    """Sends batches and reads records back; the caller builds and keeps the batch bytes."""

    def __init__(self, client: SignedApiClient) -> None:
        self.client = client

    @classmethod
    def from_conn_id(cls, conn_id: str = CONN_ID, **overrides: Any) -> CountyPlatform:
        return cls(SignedApiClient.from_conn_id(conn_id, **overrides))

    def post_batch(self, body: bytes) -> dict[str, Any]:
        """POST exactly these bytes; return ``{"batch_id", "results"}``.

        The bytes are never re-serialised here: a resend after a time-out must be
        byte-identical, or the platform answers 409 for the same batch_id.
        """
        answer = self.client.post_json(BATCHES_PATH, body)
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise ValueError(text("county_no_results"))
        return answer

    def get_record(self, record_id: str) -> dict[str, Any] | None:
        """``{"record_id", "version", "content_hash", "op"}`` as the platform holds it, or None."""
        try:
            answer = self.client.get_json(RECORDS_PATH + quote(record_id, safe=""))
        except PermanentHttpError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(answer, dict):
            raise ValueError(text("county_record_not_object"))
        return answer
