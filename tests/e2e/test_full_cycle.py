"""The whole nightly cycle, all four feeds to both platforms, through Airflow's real dag.test() runs.

What it shows (issue 5's "done when"): every DAG succeeds; lists are decided; both platforms
hold what they should; no full ID number appears in any log, XCom, receipt or city file of
the run (while the county platform, entitled to them, has them); and a second night with no
new input sends nothing to either platform.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from tests import helpers
from tests.helpers import connection_env, county_conn

NIGHT = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
AT = datetime(2026, 11, 28, 21, 0, tzinfo=LOCAL)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
CYCLE = ["ingest_market", "ingest_police", "ingest_transport", "ingest_pboc", "merge_credit", "push_county",
         "push_city"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from sandbox.sshd import CITY_FOLDERS, PBOC_FOLDERS, start_sshd
    from sandbox.transport_api import start as start_transport

    base = tmp_path_factory.mktemp("full-cycle")
    pboc = start_sshd(base / "pboc-state", base / "pboc-data", read_only=True, folders=PBOC_FOLDERS)
    city = start_sshd(base / "city-state", base / "city-data", folders=CITY_FOLDERS)
    transport = start_transport("qw-transport", "qw-transport-secret-0123456789", rate_limit=50)
    try:
        yield {"pboc": pboc, "city": city, "transport": transport}
    finally:
        transport.shutdown()
        city.stop()
        pboc.stop()


@pytest.fixture
def night(monkeypatch: pytest.MonkeyPatch, airflow_db: str, inbox_server: Any, inbox: Any, inbox_root: Path,
          county: Any, servers: dict[str, Any], pii_key: str, tmp_path: Path) -> dict[str, Any]:
    from sandbox import pboc_files, police_files, transport_data
    from sandbox.market_files import XmlRecord, demo_night, market_xml
    from sandbox.police_files import csv_row
    from sandbox.samples import make_id_number, valid_record

    transport = servers["transport"]
    env = connection_env(
        inbox_sftp=inbox_server.airflow_connection(),
        pboc_sftp=servers["pboc"].airflow_connection(),
        city_platform_sftp=servers["city"].airflow_connection(),
        county_platform=county_conn(county),
        transport_api={"conn_type": "http", "host": transport.url,
                       "extra": {"app_key": "qw-transport", "app_secret": "qw-transport-secret-0123456789",
                                 "timeout": 10}},
        exchange_db={"conn_type": "sqlite", "host": str(tmp_path / "exchange.db")},
        pii_key={"conn_type": "generic", "password": pii_key},
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    inputs: list[bytes] = []
    for name, body in demo_night(AT.date(), AT).items():
        inbox.upload_atomic(body, f"/market/inbox/{name}")
        inputs.append(body)
    # Clerks put ID numbers where nobody expects them: in record ids (with a separator, and glued to
    # letters) and in a file name. They must be masked everywhere but on the county platform.
    planted = [make_id_number(900 + n, AT.date()) for n in range(4)]
    shop_ids = [f"SCJG-CF-{planted[0]}", f"SCJG{planted[1]}"]
    penalties = [XmlRecord(id=rid, data=valid_record("administrative_penalty", 700 + n, AT.date()))
                 for n, rid in enumerate(shop_ids)]
    inbox.upload_atomic(market_xml("PENALTY", penalties, AT), "/market/inbox/MARKET_PENALTY_20261128_009.xml")
    inbox.upload_atomic(market_xml("PENALTY", penalties, AT), f"/market/inbox/{planted[2]}_处罚.xml")
    case = csv_row({**police_files.good_cases(AT.date(), 1, start=800)[0], "case_no": f"GA{planted[3]}"})
    police_night = police_files.demo_night(AT.date(), AT)
    police_night[police_files.file_name(AT.date(), 2)] = police_files.police_csv([case])
    for name, body in police_night.items():
        inbox.write_bytes(f"/police/inbox/{name}", body)
        # The police client finished an hour ago, on the server's clock: past the quiet period.
        earlier = inbox.stat(f"/police/inbox/{name}").mtime - 3600
        inbox.sftp.utime(f"/police/inbox/{name}", (earlier, earlier))
        inputs.append(body.decode("gb18030", errors="replace").encode())
    pairs = pboc_files.demo_night(AT.date(), AT)
    pboc_files.write_pair(Path(servers["pboc"].data_root) / "outbox", pairs)
    inputs += list(pairs.values())
    for endpoint, items in transport_data.demo_items(NIGHT.date()).items():
        transport.add_items(endpoint, items)
        inputs.append(json.dumps(items, ensure_ascii=False).encode())
    from credit_exchange.standard.checks import uscc_problems
    from credit_exchange.standard.subjects import PLACEHOLDER_USCC

    # Every 18-character ID-number-shaped value of the inputs, valid or not; a valid USCC made of
    # digits only, or the USCC placeholder, is not an ID number (and is public).
    ids = {m for body in inputs for m in ID_NUMBER.findall(body.decode("utf-8", errors="replace"))
           if m != PLACEHOLDER_USCC and uscc_problems(m)} | set(planted)
    return {"ids": ids, "planted": planted, "city_root": Path(servers["city"].data_root)}


def run(dag_id: str) -> Any:
    """A run of the night at the DAG's own time: the pushes' nightly runs are at 03:30, the rest at 01:30."""
    from credit_exchange.runtime.cycle import fire_time
    from credit_exchange.runtime.schedule import nightly_cycle

    at = fire_time(NIGHT.date(), nightly_cycle()[dag_id]) if dag_id in nightly_cycle() else NIGHT
    dr, states = helpers.run_dag(dag_id, at)
    assert dr.state == "success", (dag_id, states)
    return dr


def exchange_page_text(store_url: str) -> str:
    """Everything the Exchange page shows: the overview and every list behind its numbers."""
    from credit_exchange.store import Store
    from credit_exchange.timeutil import now_local
    from credit_exchange.web import dashboard

    store = Store(store_url, migrate_now=False)
    try:
        with store.session() as s:
            pages: list[Any] = [dashboard.overview(s, now_local())]
            for kind, (_, whose) in dashboard.DETAIL_KINDS.items():
                for who in (dashboard.departments() if whose == "department" else dashboard.PLATFORMS
                            if whose == "platform" else [None]):
                    pages.append(dashboard.details(s, kind, now_local(), department=who, platform=who))
    finally:
        store.dispose()
    text = json.dumps(pages, ensure_ascii=False, default=str)
    assert "MARKET_PENALTY_20261128_001.xml" in text  # the page was really read
    return text


def county_get(server: Any, what: str) -> Any:
    with urllib.request.urlopen(f"{server.url}/_sandbox/{what}", timeout=10) as resp:
        return json.load(resp)


def test_a_whole_night_reaches_both_platforms_and_leaks_no_id_number(
        night: dict[str, Any], county: Any, inbox_root: Path, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import select

    from credit_exchange.store import Record, Store
    from sandbox.city_platform import holdings, process_uploads

    assert len(night["ids"]) >= 10, "the night's inputs carry ID numbers of natural persons"
    # Where log records go depends on what ran before in the session (pytest's capture handler or
    # Airflow's stream handler): both are read below.
    caplog.set_level("INFO")
    runs = [run(d) for d in CYCLE]
    assert process_uploads(night["city_root"])
    runs += [run("collect_city_receipts"), run("publicity_expiry")]
    # 06:00: the check finds the whole cycle done, and says nothing.
    check, _ = helpers.run_dag("check_nightly_cycle", NIGHT.replace(hour=6, minute=0))
    assert check.get_task_instance("check_cycle_done").xcom_pull(task_ids="check_cycle_done")["late"] == []

    store_url = f"sqlite:///{json.loads(os.environ['AIRFLOW_CONN_EXCHANGE_DB'])['host']}"
    store = Store(store_url, migrate_now=False)
    with store.session() as s:
        kinds = {t for (t,) in s.execute(select(Record.record_type).distinct())}
    store.dispose()
    assert {"administrative_penalty", "fraud_case", "courier_rating", "payment_risk_event", "credit_profile",
            "blacklist", "redlist"} <= kinds
    held_county = county_get(county, "records")
    city = holdings(night["city_root"])
    assert {r["type"] for r in city} >= {"XZXK", "XZCF", "JYYC", "HEIMD", "HONGMD"}
    # Only public types on the city platform.
    assert all(not r["record_id"].startswith(("police:", "pboc:")) for r in city)

    # No full ID number anywhere the hub writes, but the county platform has them.
    seen = capfd.readouterr()
    texts = [seen.out, seen.err, caplog.text]
    folders = [Path(os.environ["AIRFLOW_HOME"]) / "logs", inbox_root / "market" / "receipts",
               inbox_root / "police" / "receipts", night["city_root"] / "upload", night["city_root"] / "receipt"]
    for folder in folders:
        texts += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
        texts += [p.name for p in folder.rglob("*")]  # the receipts' own names too
    texts.append(exchange_page_text(store_url))
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        texts += [str(x.value) for x in session.query(XComModel).filter(
            XComModel.run_id.in_([dr.run_id for dr in runs])).all()]
    blob = "\n".join(texts)
    assert "announce_deliveries" in blob  # the logs were really read
    assert sorted(i for i in night["ids"] if i in blob) == []
    county_blob = json.dumps(held_county, ensure_ascii=False)
    assert any(i in county_blob for i in night["ids"])
    # The planted ones: the county platform has the record ids as sent; the city knows them masked.
    assert f"market:administrative_penalty:SCJG-CF-{night['planted'][0]}" in county_blob
    assert f"police:fraud_case:GA{night['planted'][3]}" in county_blob
    city_ids = {r["record_id"] for r in city}
    masked = [i for i in city_ids if "SCJG-CF-" + night["planted"][0][:6] + "********" in i]
    assert len(masked) == 1 and masked[0].split("~")[0].endswith(night["planted"][0][-4:])
    assert all(p not in i for i in city_ids for p in night["planted"])

    # A second night with no new input sends nothing to either platform.
    history = len(county_get(county, "history"))
    uploads = sorted(p.name for p in (night["city_root"] / "upload").rglob("*.xml"))
    for dag_id in CYCLE:
        run(dag_id)
    assert len(county_get(county, "history")) == history
    assert sorted(p.name for p in (night["city_root"] / "upload").rglob("*.xml")) == uploads
