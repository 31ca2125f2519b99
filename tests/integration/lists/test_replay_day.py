"""Replaying a day: the ``replay_date`` param reaches the task, and ``qianwei-hub replay`` creates a real backfill.

merge_credit derives the black list for its run date: a payment-risk event of 2024-06-10 keeps
its subject listed on 2026-06-10 and removed on 2026-06-11. A dag.test() run at 01:30 on 11 June
with the conf {"replay_date": "2026-06-10"} (what the backfills of ``qianwei-hub replay`` carry)
does the 10th's work; without it, the 11th's. Then ``qianwei-hub replay 2026-06-10 --dag
merge_credit`` runs Airflow's own ``airflow backfill create`` on the test's metadata database: the
dry run lists exactly that day's 01:30 run, and the real one leaves a backfill run of that logical
date in Airflow (``airflow dags list-runs``). Executing a backfill takes a scheduler; that the
runs of a backfill do the day's work is the dag.test() part, with the same conf.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from lists_helpers import hub_for_dag_runs, org

from credit_exchange.runtime.housekeeping import airflow_cli
from credit_exchange.timeutil import LOCAL
from hub_messages import text
from tests.helpers import REPO

ELEVENTH = datetime(2026, 6, 11, 1, 30, tzinfo=LOCAL)


def _merge_credit(conf: dict[str, Any] | None) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    run = bag.dags["merge_credit"].test(logical_date=ELEVENTH, run_conf=conf)
    assert run.state == "success"
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "credit_exchange.admin", "replay", *args], cwd=REPO,
                          env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_a_replayed_day_does_that_days_work_and_the_command_creates_its_backfill(
        airflow_db: str, monkeypatch: pytest.MonkeyPatch, pii_key: str, tmp_path: Path,
        airflow_api_server: Any) -> None:
    store, hub = hub_for_dag_runs(tmp_path, monkeypatch, pii_key)
    who = org(1)
    hub.put("payment_risk_event", "E-1", who, event_date="2024-06-10", risk_level="高", action_taken="终止服务")
    entry = f"hub:blacklist:{who.key_hint}"

    _merge_credit({"replay_date": "2026-06-10"})  # 01:30 on the 11th, replaying the 10th
    assert hub.record(entry)[1]["status"] == "有效"  # type: ignore[index]
    _merge_credit(None)  # the same logical date without the param: the 11th
    assert hub.record(entry)[1]["status"] == "已移出"  # type: ignore[index]
    store.dispose()

    # The runs above put merge_credit into the metadata database: Airflow's backfill can plan it.
    dry = _replay("2026-06-10", "--dag", "merge_credit", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "2026-06-09 17:30:00+00:00" in dry.stdout  # 01:30 on the 10th in Asia/Shanghai, and only that
    assert "2026-06-10 17:30:00" not in dry.stdout and "2026-06-08 17:30:00" not in dry.stdout

    # Two DAGs: the second waits for the first's run to finish. With no scheduler here the run
    # never ends, so after the wait the replay stops and says which DAGs it did not start.
    started = _replay("2026-06-10", "--dag", "merge_credit", "--dag", "push_county", "--wait", "0.05")
    assert started.returncode == 1, started.stdout + started.stderr
    assert "已启动回填：merge_credit，2026-06-10" in started.stdout
    assert "push_county" not in started.stdout.replace(text("replay_not_started", dags="push_county"), "")
    assert text("replay_timeout", dag_id="merge_credit", day="2026-06-10", minutes="0.05") in started.stderr
    assert text("replay_not_started", dags="push_county") in started.stderr and "Traceback" not in started.stderr
    out = subprocess.run([airflow_cli(), "dags", "list-runs", "merge_credit", "-o", "json"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    runs = json.loads([line for line in out.splitlines() if line.startswith("[")][-1])
    backfills = [r for r in runs if r["run_id"].startswith("backfill__")]
    assert [r["logical_date"][:16] for r in backfills] == ["2026-06-09T17:30"], runs

    # Once the run is done (here: marked so through Airflow's public REST API, as the scheduler
    # would), the wait sees it and the replay would go on to the next DAG.
    from credit_exchange.admin.replay import backfill_runs, wait_for

    day = datetime(2026, 6, 10).date()
    [run] = backfill_runs("merge_credit", day)
    assert run["state"] in ("queued", "running")
    assert wait_for("merge_credit", day, 0.01, poll_s=0.1) == "timeout"
    api = airflow_api_server.api()
    answer = requests.patch(f"{airflow_api_server.base_url}/api/v2/dags/merge_credit/dagRuns/{run['run_id']}",
                            json={"state": "success"}, headers={"Authorization": f"Bearer {api.token()}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert wait_for("merge_credit", day, 1, poll_s=0.5) == "success"
