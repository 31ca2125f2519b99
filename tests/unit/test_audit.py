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

