"""credit_exchange.audit: the entry it writes is masked, and its asset is the one the DAGs register."""

from __future__ import annotations

import json

from credit_exchange.audit import ACTION_PREFIX, ADMIN_ACTIONS_URI, AuditNotWritten, entry
from hub_messages import text


def test_the_asset_is_the_one_check_nightly_cycle_registers() -> None:
    from credit_exchange.runtime.schedule import ADMIN_ACTIONS

    assert ADMIN_ACTIONS.uri == ADMIN_ACTIONS_URI


def test_the_entry_is_masked_and_names_the_action() -> None:
    e = entry("requeue_file", "alice", via="cli", dag_id="ingest_market", message="moved 11010519491231002X_a.xml",
              details={"name": "11010519491231002X_a.xml"}, os_user="root")
    assert e["action"] == ACTION_PREFIX + "requeue_file" and e["os_user"] == "root"
    assert "11010519491231002X" not in json.dumps(e, ensure_ascii=False)


def test_a_missing_entry_says_what_to_fix() -> None:
    exc = AuditNotWritten("unreachable", "down", {"action": "x"})
    assert text("audit_not_written") in str(exc) and text("audit_fix_unreachable") in str(exc)



def test_a_client_that_cannot_be_made_is_an_entry_not_written() -> None:
    import pytest

    from connectors.airflow_api import AirflowApi
    from credit_exchange.audit import record

    class Conn:  # an airflow_api connection with a timeout extra that is no number
        host, port, login, password, extra_dejson = "http://api:8080", None, "hub", "pw", {"timeout": "soon"}

    with pytest.raises(AuditNotWritten) as caught:
        record(lambda: AirflowApi.from_connection(Conn()), "requeue_file", "alice", via="page", dag_id=None,
               message="moved 11010519491231002X_a.xml", details={})
    assert caught.value.kind == "not_configured" and text("audit_fix_not_configured") in str(caught.value)
    assert caught.value.entry["actor"] == "alice" and "11010519491231002X" not in str(caught.value.entry)
