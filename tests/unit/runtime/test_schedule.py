"""Retry rules and time limits shared by every DAG (credit_exchange.runtime.schedule; issue 10, point 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import RetryAction
from airflow.sdk.exceptions import AirflowNotFoundException

from connectors.http_api import PermanentHttpError, TransientHttpError
from connectors.sftp import (
    HostKeyMismatch,
    HostKeyNotPinned,
    SftpAuthError,
    SftpConnectError,
    SftpConnectionLost,
)
from credit_exchange.config import ConfigError
from credit_exchange.derive.rules import RulesConfigError
from credit_exchange.feeds.transport.source import EndpointOutcome, PullSummary, TransportPullFailed
from credit_exchange.runtime.schedule import FAIL_FAST
from credit_exchange.standard.crypto import PiiKeyMissing


def _pull_failed(*codes: str) -> TransportPullFailed:
    summary = PullSummary("transport")
    summary.endpoints = [EndpointOutcome(f"e{i}", "courier_rating", "failed", "", error_code=c, error="x")
                         for i, c in enumerate(codes)]
    return TransportPullFailed(summary)


@pytest.mark.parametrize("exc", [
    HostKeyMismatch("changed"), HostKeyNotPinned("no pin"), SftpAuthError("refused"),
    PermanentHttpError(401, {"error": "SIGNATURE"}, "GET", "/x"), PermanentHttpError(400, None, "POST", "/x"),
    PiiKeyMissing("none"), ConfigError(Path("config/departments.yaml"), 3, ("departments",), "bad"),
    RulesConfigError("black", "bad"), AirflowNotFoundException("no connection inbox_sftp"),
    _pull_failed("PermanentHttpError", "PermanentHttpError"),
], ids=lambda e: type(e).__name__)
def test_what_a_retry_cannot_mend_fails_at_once(exc: BaseException) -> None:
    decision = FAIL_FAST.evaluate(exc, try_number=1, max_tries=4)
    assert decision.action is RetryAction.FAIL and decision.reason


@pytest.mark.parametrize("exc", [
    TransientHttpError("503 five times", status=503), SftpConnectionLost("dropped"), SftpConnectError("down"),
    TimeoutError("slow"), RuntimeError("anything else"), _pull_failed("PermanentHttpError", "TransientHttpError"),
], ids=lambda e: type(e).__name__)
def test_everything_else_is_retried_as_usual(exc: BaseException) -> None:
    assert FAIL_FAST.evaluate(exc, try_number=1, max_tries=4).action is RetryAction.DEFAULT


def test_a_server_with_a_pool_gets_it_and_one_without_gets_the_default_pool() -> None:
    """A task in a pool Airflow does not have is never scheduled: a new department's own server,
    before config/pools.json names it, runs in ``default_pool`` instead."""
    from credit_exchange import config
    from credit_exchange.runtime.schedule import pool

    assert set(config.pools()) >= {"inbox_sftp", "pboc_sftp", "transport_api", "county_platform",
                                   "city_platform_sftp"}
    for name in config.pools():
        assert pool(name) == name
    assert pool("forestry_sftp") == "default_pool"
