"""The market -> county path through Airflow's real dag.test() runs."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from sandbox.market_files import break_record, good_records, market_xml
from tests import helpers
from tests.helpers import connection_env, county_conn

AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
D = "20261128"


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path, county: Any,
            pii_key: str, tmp_path: Path) -> Path:
    env = connection_env(
        inbox_sftp=inbox_server.airflow_connection(),
        county_platform=county_conn(county),
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return tmp_path / "exchange.db"


def run_dag(dag_id: str) -> Any:
    return helpers.run_dag(dag_id, RUN)


def held(county: Any) -> list[dict[str, Any]]:
    with urllib.request.urlopen(county.url + "/_sandbox/records", timeout=10) as resp:
        return json.load(resp)


def test_nightly_market_cycle_reaches_the_county_platform(hub_env: Path, inbox: Any, inbox_root: Path,
                                                          county: Any) -> None:
    today = AT.date()
    recs = good_records("PENALTY", today, 6)
    recs[2] = break_record("PENALTY", recs[2], "uscc_checksum", today)
    inbox.upload_atomic(market_xml("PENALTY", recs, AT), f"/market/inbox/MARKET_PENALTY_{D}_001.xml")
    inbox.upload_atomic(market_xml("SHOP", good_records("SHOP", today, 4), AT), f"/market/inbox/MARKET_SHOP_{D}_001.xml")

    dr, states = run_dag("ingest_market")
    assert dr.state == "success", states
    assert states == {"take_market_files": "success", "any_new_records": "success", "announce_deliveries": "success"}
    dr, states = run_dag("merge_credit")
    assert dr.state == "success", states
    dr, states = run_dag("push_county")
    assert dr.state == "success", states

    on_platform = {r["record_id"] for r in held(county) if not r["record_id"].startswith("hub:")}
    assert len(on_platform) == 9
    assert f"market:administrative_penalty:{recs[2].id}" not in on_platform  # the bad record never passes
    receipt = json.loads((inbox_root / "market/receipts" / f"MARKET_PENALTY_{D}_001.xml.receipt.json").read_text())
    assert receipt["status"] == "partially_accepted" and receipt["errors"][0]["position"] == "record 3"

    before = {(r["record_id"], r["version"]) for r in held(county)}
    # The same night replayed: nothing new anywhere, every DAG still succeeds.
    for dag_id in ("ingest_market", "merge_credit", "push_county"):
        dr, states = run_dag(dag_id)
        assert dr.state == "success", (dag_id, states)
    assert states == {"push_county_batches": "success", "reconcile_county": "success"}
    assert {(r["record_id"], r["version"]) for r in held(county)} == before


def test_no_full_id_number_in_logs_xcoms_or_receipts(hub_env: Path, inbox: Any, inbox_root: Path, county: Any,
                                                     capfd: pytest.CaptureFixture[str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import os

    today = AT.date()
    caplog.set_level("INFO")
    shops = good_records("SHOP", today, 12)
    licences = good_records("LICENSE", today, 6)
    ids = {r.data[f] for r in shops + licences for f in ("id_number", "legal_rep_id_number") if r.data.get(f)}
    assert len(ids) >= 3
    # one bad record too, so an error message is written about a person
    bad = break_record("SHOP", shops[0], "missing_required", today)
    inbox.upload_atomic(market_xml("SHOP", [bad, *shops[1:]], AT), f"/market/inbox/MARKET_SHOP_{D}_001.xml")
    inbox.upload_atomic(market_xml("LICENSE", licences, AT), f"/market/inbox/MARKET_LICENSE_{D}_001.xml")
    runs = [run_dag(d)[0] for d in ("ingest_market", "merge_credit", "push_county")]
    assert all(dr.state == "success" for dr in runs)
    seen = capfd.readouterr()
    # Log records reach pytest's capture handler or Airflow's stream handler depending on what ran first.
    texts = [seen.out, seen.err, caplog.text]
    for folder in (Path(os.environ["AIRFLOW_HOME"]) / "logs", inbox_root / "market" / "receipts"):
        texts += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        texts += [str(x.value) for x in session.query(XComModel).filter(
            XComModel.run_id.in_([dr.run_id for dr in runs])).all()]
    blob = "\n".join(texts)
    assert "take_market_files" in blob or len(texts) > 3  # something was actually read
    leaked = [i for i in ids if i in blob]
    assert leaked == []
    # ... while the county platform, entitled to it, got the full numbers.
    assert any(i in json.dumps(held(county), ensure_ascii=False) for i in ids)


def test_an_empty_inbox_run_succeeds_and_does_nothing(hub_env: Path, inbox_root: Path) -> None:
    dr, states = run_dag("ingest_market")
    assert dr.state == "success"
    assert states["take_market_files"] == "success"
    assert states["any_new_records"] == "success" and states["announce_deliveries"] == "skipped"


@pytest.mark.parametrize("broken", ["host_key", "pii_key", "county_secret"])
def test_what_a_retry_cannot_mend_fails_the_task_on_its_first_try(hub_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  inbox_server: Any, inbox: Any, county: Any,
                                                                  broken: str) -> None:
    """A changed host key, a missing pii_key, a refused signature: red at once, not after 20 minutes of retries."""
    from airflow.dag_processing.dagbag import DagBag

    inbox.upload_atomic(market_xml("SHOP", good_records("SHOP", AT.date(), 2), AT), f"/market/inbox/MARKET_SHOP_{D}_001.xml")
    dag_id, task_id = "ingest_market", "take_market_files"
    if broken == "host_key":
        conn = inbox_server.airflow_connection()
        conn["extra"]["host_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbV0Ts8Yw2eYvQwXWqJ8K9xkx1nGkzq6mJm1y0eVbKk"
        monkeypatch.setenv("AIRFLOW_CONN_INBOX_SFTP", json.dumps(conn))
    elif broken == "pii_key":
        monkeypatch.delenv("AIRFLOW_CONN_PII_KEY")
    else:
        assert run_dag("ingest_market")[0].state == "success" and run_dag("merge_credit")[0].state == "success"
        conn = county_conn(county)
        conn["extra"]["app_secret"] = "not-the-secret-0123456789abcdef"
        monkeypatch.setenv("AIRFLOW_CONN_COUNTY_PLATFORM", json.dumps(conn))
        dag_id, task_id = "push_county", "push_county_batches"
    bag = DagBag(dag_folder=str(helpers.REPO / "dags"))
    assert bag.dags[dag_id].get_task(task_id).retries == 3
    dr, states = run_dag(dag_id)
    assert states[task_id] == "failed"
    (ti,) = [t for t in dr.get_task_instances() if t.task_id == task_id]
    assert ti.try_number == 1
