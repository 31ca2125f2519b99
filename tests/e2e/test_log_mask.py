"""No ID or phone number reaches a task log, the traceback of a failed task included (issue 10, point 5).

The mask is the plugin's: its listener installs ``credit_exchange.runtime.logmask`` in the task process
when the task starts. The task's log is captured as Airflow writes it in production (JSON events,
exceptions rendered as structured frames).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ID, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture
def task_log() -> Iterator[io.BytesIO]:
    """Task logging configured as in a worker's task process (JSON to a stream), read back afterwards."""
    import airflow.logging_config
    from airflow.sdk.log import configure_logging, reset_logging

    buf = io.BytesIO()
    reset_logging()
    configure_logging(json_output=True, output=buf, log_level="INFO")
    try:
        yield buf
    finally:
        reset_logging()
        airflow.logging_config.configure_logging()


@pytest.fixture
def leaky_dags(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The dags-folder bundle (which dag.test() syncs) pointed at tests/e2e/dags_pii for one test."""
    from airflow import settings

    monkeypatch.setattr(settings, "DAGS_FOLDER", str(HERE / "dags_pii"))
    return HERE / "dags_pii"


def test_a_failing_task_logs_no_personal_data(airflow_db: str, leaky_dags: Path, task_log: io.BytesIO) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(leaky_dags))
    assert bag.import_errors == {}
    dr = bag.dags["leaky"].test()
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == {"leak": "failed"}
    text = task_log.getvalue().decode("utf-8")
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "Task failed with exception" for e in events), "the failure was logged"
    assert "a record id GA110105********002X and a phone 138****5678" in text
    assert "110105********002X.xml" in text and "wrapped 138****5678" in text
    assert "the task fails naming 110105********002X" in text
    assert ID not in text and PHONE not in text and ID[6:14] not in text
    assert "\x1b" not in text and "\\\\x1b[2J" in text
