"""``make cluster-test`` inside the suite: the nightly chain on Airflow's CeleryExecutor (issue 12, point 1).

PostgreSQL (Airflow's metadata and the hub's store, two databases), Redis (the broker), the
scheduler, dag-processor, triggerer, api-server and two Celery workers, all real processes on
this machine; the ingests triggered through the scheduler, merge and the pushes following by
their assets. sandbox/cluster.py checks the platforms against the demo's way on the same input,
both workers' share, and that nothing is left queued; it exits 1 when any check fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.cluster import county_holding
from tests.helpers import REPO


@pytest.mark.slow
@pytest.mark.postgres
def test_the_nightly_chain_on_the_celery_executor_gives_the_demos_platforms(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run([sys.executable, "-m", "sandbox.cluster", "run", "--state", str(tmp_path / "cluster")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1500, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "cluster test passed" in out
    # The chain ran through the scheduler: the ingests as triggered, merge and pushes by their assets.
    for dag_id in ("ingest_market", "ingest_police", "ingest_transport", "ingest_pboc"):
        assert f"cluster__{dag_id}" in out
    for dag_id in ("merge_credit", "push_county", "push_city"):
        assert any(line.split()[:1] == [dag_id] and "asset_triggered" in line for line in out.splitlines()), dag_id
    assert "left queued: 0 task instances, 0 Celery messages" in out


def test_derived_records_compare_by_content_without_when_they_were_decided() -> None:
    profile = {"record_id": "hub:credit_profile:X", "record_type": "credit_profile", "version": 3, "op": "upsert",
               "content_hash": "a", "data": {"list_status": "none", "updated_at": "2026-12-07T22:42:40+08:00"}}
    later = {**profile, "version": 1, "content_hash": "b",
             "data": {"list_status": "none", "updated_at": "2026-12-07T22:44:46+08:00"}}
    assert county_holding(profile) == county_holding(later)
    assert county_holding(profile) != county_holding({**later, "data": {"list_status": "red"}})
    record = {"record_id": "market:administrative_penalty:P1", "record_type": "administrative_penalty",
              "version": 1, "op": "upsert", "content_hash": "c", "data": {}}
    assert county_holding(record) != county_holding({**record, "version": 2})
    assert county_holding(record) != county_holding({**record, "content_hash": "d"})
