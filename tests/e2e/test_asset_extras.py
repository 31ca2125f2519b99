"""Asset events say why the next DAG ran: department, files (masked), counts; through real dag.test() runs.

The extras are read back from Airflow's metadata database, where the UI reads them (the asset's
events, and a run's "triggering asset events").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from hub_messages import text
from sandbox.market_files import break_record, good_records, market_xml
from sandbox.samples import make_id_number
from tests import helpers
from tests.helpers import use_hub_connections

AT = datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL)
RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
D = "20261128"


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox_root: Path,
            pii_key: str, tmp_path: Path) -> None:
    use_hub_connections(monkeypatch, tmp_path / "exchange.db", pii_key, inbox_sftp=inbox_server.airflow_connection())


def asset_events(uri: str, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The extras of the events a run emitted for the asset ``uri``, from Airflow's metadata database."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri, AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
            .order_by(AssetEvent.id)).scalars().all()
    return [dict(r) for r in rows]


def test_the_deliveries_and_versions_events_say_what_was_delivered_and_merged(hub_env: None, inbox: Any) -> None:
    today = AT.date()
    shops = good_records("SHOP", today, 5)
    shops[1] = break_record("SHOP", shops[1], "uscc_checksum", today)
    inbox.upload_atomic(market_xml("SHOP", shops, AT), f"/market/inbox/MARKET_SHOP_{D}_001.xml")
    # A clerk's file named after a person: refused whole (not a contract name), and withheld from the event.
    person = make_id_number(4242, today)
    inbox.upload_atomic(market_xml("PENALTY", good_records("PENALTY", today, 1), AT),
                        f"/market/inbox/{person}_处罚.xml")

    dr, states = helpers.run_dag("ingest_market", RUN)
    assert dr.state == "success", states
    (deliveries,) = asset_events("qianwei://hub/deliveries", "ingest_market", dr.run_id)
    assert deliveries["department"] == "market"
    assert (deliveries["accepted"], deliveries["rejected"], deliveries["unchanged"]) == (4, 1, 0)
    assert f"MARKET_SHOP_{D}_001.xml" in deliveries["files"]
    assert len(deliveries["files"]) == 2
    assert person not in json.dumps(deliveries, ensure_ascii=False)
    assert text("asset_name_withheld") in deliveries["files"] and "处罚" not in json.dumps(deliveries, ensure_ascii=False)

    dr, states = helpers.run_dag("merge_credit", RUN)
    assert dr.state == "success", states
    (versions,) = asset_events("qianwei://hub/record-versions", "merge_credit", dr.run_id)
    assert versions["merged"]["deliveries"] == 4 and versions["merged"]["new_versions"] == 4
    assert versions["new_versions"] == 4 + versions["derived"]["new_versions"]
    assert versions["departments"] == []  # started by hand, not by a delivery event


def test_an_empty_night_emits_no_deliveries_event(hub_env: None, inbox_root: Path) -> None:
    dr, states = helpers.run_dag("ingest_market", RUN + timedelta(days=1))
    assert states["announce_deliveries"] == "skipped"
    assert asset_events("qianwei://hub/deliveries", "ingest_market", dr.run_id) == []


def test_the_inbox_event_names_the_waiting_files_masked(hub_env: None, inbox_root: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    person = make_id_number(4343, AT.date())
    for name in (f"MARKET_PENALTY_{D}_001.xml", f"MARKET_{person}.xml", f"MARKET_SHOP_{D}_001.xml.tmp"):
        (inbox_root / "market/inbox" / name).write_bytes(b"<x/>")
    bag = DagBag(dag_folder=str(helpers.REPO / "dags"))
    dag = bag.dags["watch_market_inbox"]
    dag.get_task("wait_for_files").watch_for = timedelta(seconds=20)
    dr = dag.test(logical_date=datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL))
    assert dr.state == "success"
    (event,) = asset_events("qianwei://inbox/market", "watch_market_inbox", dr.run_id)
    assert event["department"] == "market" and event["files_waiting"] == 2
    assert f"MARKET_PENALTY_{D}_001.xml" in event["files"] and len(event["files"]) == 2  # never the .tmp
    assert person not in json.dumps(event)
    assert text("asset_name_withheld") in event["files"]  # not the contract's pattern: not listed
