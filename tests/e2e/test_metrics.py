"""The hub's metrics reach an OpenTelemetry receiver from real Airflow runs (``airflow dags test``).

Each step runs in its own process, as a task does in production: Airflow's OTel exporter
(``[metrics] otel_on``, endpoint from the standard OTEL_* variables) sends what the process
counted, and flushes when the process ends. A local OTLP/HTTP receiver (sandbox/otlp_receiver.py)
decodes what arrives; each process names its step in its resource attributes, so a counter's
newest point per step is that step's total. Nothing is timed: the test waits, with a generous
deadline, for the points to be there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from sandbox.market_files import break_record, good_records, market_xml
from tests.helpers import REPO, county_conn, use_hub_connections

AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
D = "20261128"
NAME = "airflow.qianwei."
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture
def otlp() -> Iterator[Any]:
    from sandbox.otlp_receiver import start

    receiver = start()
    yield receiver
    receiver.stop()


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Any]:
    from sandbox.sshd import CITY_FOLDERS, start_sshd

    server = start_sshd(tmp_path / "city-state", tmp_path / "city-data", folders=CITY_FOLDERS)
    yield server
    server.stop()


@pytest.fixture
def store_path(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path, county: Any,
               city: Any, pii_key: str, tmp_path: Path) -> Path:
    use_hub_connections(monkeypatch, tmp_path / "exchange.db", pii_key,
                        inbox_sftp=inbox_server.airflow_connection(), county_platform=county_conn(county),
                        city_platform_sftp=city.airflow_connection())
    return tmp_path / "exchange.db"


def run_step(otlp: Any, step: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One Airflow command in its own process with metrics on, sent to the receiver."""
    metrics_env = {
        "AIRFLOW__METRICS__OTEL_ON": "True",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": otlp.endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_RESOURCE_ATTRIBUTES": f"qianwei.test.step={step}",
        # this checkout's code, whichever the virtualenv has installed
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    return subprocess.run([AIRFLOW, *args], env={**os.environ, **metrics_env, **env}, capture_output=True,
                          text=True, timeout=600, check=False)


def step_values(otlp: Any, step: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The newest value per (metric, attributes) that the process of ``step`` sent."""
    return {(p.name, p.attributes): p.value for p in otlp.latest(NAME).values()
            if p.res().get("qianwei.test.step") == step}


def wait_for(otlp: Any, step: str, *names: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    def arrived(receiver: Any) -> bool:
        have = {name for name, _ in step_values(receiver, step)}
        return all(NAME + n in have for n in names)

    assert otlp.wait_for(arrived, deadline_s=120), (step, sorted(step_values(otlp, step)))
    return step_values(otlp, step)


def seed_gauges(path: Path) -> None:
    """An open alert and a city file uploaded long ago without a receipt (overdue whatever the date)."""
    from credit_exchange import alerts
    from credit_exchange.store import CityFile, Store

    store = Store(f"sqlite:///{path}")
    try:
        with store.session() as s:
            alerts.raise_alert(s, "task_failed", "push_city", "push_city_files@scheduled__2026-11-27", "seeded")
            s.add(CityFile(name="XZXK_511123_20000101_0001.xml", file_type="XZXK", record_count=1, sm3="0" * 64,
                           body=b"<x/>", status="uploaded", created_at=datetime(2000, 1, 1, tzinfo=LOCAL),
                           uploaded_at=datetime(2000, 1, 1, tzinfo=LOCAL)))
    finally:
        store.dispose()


def open_alerts(path: Path) -> int:
    from credit_exchange.alerts import open_count
    from credit_exchange.store import Store

    store = Store(f"sqlite:///{path}")
    try:
        with store.session() as s:
            return open_count(s)
    finally:
        store.dispose()


def city_files_uploaded(path: Path) -> list[str]:
    """The types of the files the run put on the city platform (the seeded one is not the run's)."""
    from sqlalchemy import select

    from credit_exchange.store import CityFile, Store

    store = Store(f"sqlite:///{path}")
    try:
        with store.session() as s:
            return list(s.execute(select(CityFile.file_type).where(
                CityFile.status == "uploaded", CityFile.created_at > datetime(2000, 1, 1, tzinfo=LOCAL))).scalars())
    finally:
        store.dispose()


def test_records_batches_and_gauges_reach_the_otlp_receiver(otlp: Any, store_path: Path, inbox: Any,
                                                            county: Any) -> None:
    today, run = AT.date(), RUN.isoformat()
    seed_gauges(store_path)
    penalties = good_records("PENALTY", today, 5)
    good = [r for i, r in enumerate(penalties) if i != 2]
    penalties[2] = break_record("PENALTY", penalties[2], "uscc_checksum", today)
    inbox.upload_atomic(market_xml("PENALTY", penalties, AT), f"/market/inbox/MARKET_PENALTY_{D}_001.xml")
    # the same four records again, in a second file: unchanged
    inbox.upload_atomic(market_xml("PENALTY", good, AT), f"/market/inbox/MARKET_PENALTY_{D}_002.xml")

    out = run_step(otlp, "ingest", "dags", "test", "ingest_market", run)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    got = wait_for(otlp, "ingest", "records.accepted", "records.rejected", "records.unchanged", "alerts.open")
    market = (("department", "market"),)
    assert got[(NAME + "records.accepted", market)] == 4
    assert got[(NAME + "records.rejected", market)] == 1
    assert got[(NAME + "records.unchanged", market)] == 4
    # attributes name a department or a platform, nothing a department sent
    for name, attrs in got:
        if name.startswith(NAME + "records."):
            assert attrs == market
    assert got[(NAME + "receipts.overdue", (("platform", "city"),))] == 1
    assert got[(NAME + "alerts.open", ())] >= 1

    out = run_step(otlp, "merge", "dags", "test", "merge_credit", run)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    # A refused secret stops the push on its first batch: one batch failed, none sent.
    wrong = county_conn(county)
    wrong["extra"]["app_secret"] = "not-the-secret-0123456789abcdef"
    run_step(otlp, "push-refused", "tasks", "test", "push_county", "push_county_batches", run,
             AIRFLOW_CONN_COUNTY_PLATFORM=json.dumps(wrong))
    got = wait_for(otlp, "push-refused", "batches.failed", "batches.sent")
    county_attrs = (("platform", "county"),)
    assert got[(NAME + "batches.failed", county_attrs)] == 1
    assert got[(NAME + "batches.sent", county_attrs)] == 0

    # With the right secret the batch goes out (the same bytes, resent).
    out = run_step(otlp, "push", "dags", "test", "push_county", run)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    got = wait_for(otlp, "push", "batches.sent", "batches.failed", "alerts.open", "receipts.overdue")
    assert got[(NAME + "batches.sent", county_attrs)] == 1
    assert got[(NAME + "batches.failed", county_attrs)] == 0
    assert got[(NAME + "alerts.open", ())] == open_alerts(store_path)
    assert got[(NAME + "receipts.overdue", (("platform", "city"),))] == 1

    # The penalties (and what derive made of them) are published on the city platform: a file per type.
    out = run_step(otlp, "push-city", "dags", "test", "push_city", run)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    got = wait_for(otlp, "push-city", "batches.sent", "batches.failed")
    uploaded = city_files_uploaded(store_path)
    assert "XZCF" in uploaded
    assert got[(NAME + "batches.sent", (("platform", "city"),))] == len(uploaded)
    assert got[(NAME + "batches.failed", (("platform", "city"),))] == 0
    # Every metric the hub sent is one docs/operations.md describes.
    from credit_exchange.runtime.metrics import METRICS

    sent = {p.name.removeprefix("airflow.") for p in otlp.points(NAME)}
    assert sent <= set(METRICS) and len(sent) == len(METRICS)
