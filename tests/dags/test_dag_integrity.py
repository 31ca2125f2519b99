"""Every DAG imports, carries its contract id and docs, and touches nothing while parsing.

The parse runs in a fresh interpreter in which connections, variables and the
network all raise: a DAG that reads any of them at parse time fails here
(the Astronomer template's habit of patching look-ups away would hide that).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

from tests.helpers import REPO

CONTRACT_DAG_IDS = {"ingest_transport", "ingest_market", "ingest_pboc", "ingest_police", "merge_credit", "push_county", "push_city", "collect_city_receipts", "publicity_expiry"}

PARSE = textwrap.dedent("""
    import json, socket, sys, time

    def forbidden(*a, **k):
        raise RuntimeError("I/O at DAG parse time")

    socket.socket.connect = forbidden
    socket.create_connection = forbidden
    socket.getaddrinfo = forbidden
    from airflow.sdk import BaseHook, Variable
    BaseHook.get_connection = classmethod(forbidden)
    Variable.get = staticmethod(forbidden)

    from airflow.dag_processing.dagbag import DagBag
    started = time.monotonic()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.monotonic() - started
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"credit_exchange", "connectors", "lxml",
                                                                 "paramiko", "jsonschema", "sqlalchemy_utils"}
                   and not m.startswith("credit_exchange.__"))
    print(json.dumps({
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": {d.dag_id: {"doc": bool(d.doc_md), "tags": sorted(d.tags), "tasks": sorted(d.task_ids),
                             "retries": {t.task_id: t.retries for t in d.tasks}, "tz": str(d.timezone),
                             "pools": {t.task_id: t.pool for t in d.tasks},
                             "timetable": [type(d.timetable).__name__,
                                           type(getattr(d.timetable, "timetable", d.timetable)).__name__,
                                           str(getattr(getattr(d.timetable, "timetable", d.timetable), "timezone", "")),
                                           getattr(getattr(d.timetable, "timetable", d.timetable), "expression", "")],
                             "dagrun_timeout": d.dagrun_timeout.total_seconds() if d.dagrun_timeout else None,
                             "execution_timeout": {t.task_id: t.execution_timeout.total_seconds()
                                                   if t.execution_timeout else None for t in d.tasks},
                             "retry_policy": sorted({type(t.retry_policy).__name__ for t in d.tasks}),
                             "display_name": d.dag_display_name, "owner": d.owner,
                             "task_display_names": {t.task_id: t.task_display_name for t in d.tasks},
                             "task_owners": {t.task_id: t.owner for t in d.tasks}}
                 for d in bag.dags.values()},
        "core_modules_imported": [m for m in heavy if m.startswith(("credit_exchange", "connectors"))
                                  and m not in {"credit_exchange", "credit_exchange.runtime.schedule",
                                                "credit_exchange.config", "credit_exchange.runtime",
                                                "credit_exchange.runtime.watch", "credit_exchange.runtime.ingest"}],
        "elapsed": elapsed,
    }))
""")


def parse_dags(airflow_db: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PARSE, str(REPO / "dags")], capture_output=True, text=True,
                         cwd=REPO, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_dag_imports_without_io_and_has_its_contract_id(airflow_db: str) -> None:
    result = parse_dags(airflow_db)
    assert result["errors"] == {}
    assert CONTRACT_DAG_IDS <= set(result["dags"])
    for dag_id, dag in result["dags"].items():
        assert dag["doc"], f"{dag_id} has no doc_md"
        assert "qianwei" in dag["tags"], dag_id
        assert dag["tz"] in {"Asia/Shanghai", "Timezone('Asia/Shanghai')"}, dag["tz"]
    # Task bodies import the core lazily: parsing the DAG folder imports none of it.
    assert result["core_modules_imported"] == []


def test_network_tasks_retry_but_never_on_what_a_retry_cannot_mend(airflow_db: str) -> None:
    dags = parse_dags(airflow_db)["dags"]
    for dag_id, task_id in (("ingest_market", "take_market_files"), ("ingest_pboc", "take_pboc_pairs"),
                            ("ingest_transport", "pull_transport_api"), ("push_county", "push_county_batches"),
                            ("push_city", "push_city_files"), ("collect_city_receipts", "collect_receipts")):
        assert dags[dag_id]["retries"][task_id] >= 1, (dag_id, task_id)
    for dag_id, dag in dags.items():
        assert dag["retry_policy"] == ["FailFast"], dag_id


def test_every_run_and_every_task_is_bounded_in_time(airflow_db: str) -> None:
    for dag_id, dag in parse_dags(airflow_db)["dags"].items():
        assert dag["dagrun_timeout"], f"{dag_id} has no dagrun_timeout"
        assert all(dag["execution_timeout"].values()), (dag_id, dag["execution_timeout"])
        assert max(dag["execution_timeout"].values()) <= dag["dagrun_timeout"], dag_id


# DAGs started by hand only (no schedule at all).
MANUAL_DAG_IDS = {"check_connections"}


def test_every_schedule_is_an_explicit_cron_trigger_timetable_in_asia_shanghai(airflow_db: str) -> None:
    for dag_id, dag in parse_dags(airflow_db)["dags"].items():
        outer, inner, tz, expression = dag["timetable"]
        if dag_id in MANUAL_DAG_IDS:
            assert outer == "NullTimetable", (dag_id, outer)
            continue
        assert outer in {"CronTriggerTimetable", "AssetOrTimeSchedule"}, (dag_id, outer)
        assert (inner, tz) == ("CronTriggerTimetable", "Asia/Shanghai"), (dag_id, inner, tz)
        assert expression, dag_id


def test_the_check_at_six_covers_the_whole_nightly_cycle(airflow_db: str) -> None:
    from credit_exchange.runtime.schedule import nightly_cycle

    dags = parse_dags(airflow_db)["dags"]
    assert dags["check_nightly_cycle"]["timetable"][3] == "0 6 * * *"
    ingests = {d for d in dags if d.startswith("ingest_")}
    assert ingests | {"merge_credit", "push_county", "push_city"} == set(nightly_cycle())
    for dag_id, expression in nightly_cycle().items():
        assert dags[dag_id]["timetable"][3] == expression, dag_id  # the check looks for the run at that time


def test_every_task_that_reaches_a_server_runs_in_that_servers_pool(airflow_db: str) -> None:
    """Pools keep each SFTP server and API within its limits; a department's slot is its own."""
    from credit_exchange import config

    pools = json.loads((REPO / "config" / "pools.json").read_text(encoding="utf-8"))
    dags = parse_dags(airflow_db)["dags"]
    for feed in config.feeds():
        take = [t for t in dags[f"ingest_{feed.department}"]["tasks"] if t.endswith(("_files", "_pairs", "_api"))]
        assert [dags[f"ingest_{feed.department}"]["pools"][t] for t in take] == [feed.connection]
    for dag_id, task_id, server in (("push_county", "push_county_batches", "county_platform"),
                                    ("push_county", "reconcile_county", "county_platform"),
                                    ("push_city", "push_city_files", "city_platform_sftp"),
                                    ("collect_city_receipts", "collect_receipts", "city_platform_sftp"),
                                    ("publicity_expiry", "withdraw_expired_penalties", "city_platform_sftp")):
        assert dags[dag_id]["pools"][task_id] == server, (dag_id, task_id)
    used = {p for dag in dags.values() for p in dag["pools"].values()} - {"default_pool"}
    assert used <= set(pools), f"pools used but not in config/pools.json: {used - set(pools)}"
    # Every department on a server has a slot of its own there (max_active_runs is 1 per DAG).
    on_server = {}
    for feed in config.feeds():
        on_server[feed.connection] = on_server.get(feed.connection, 0) + 1
    for server, departments in on_server.items():
        assert pools[server]["slots"] >= departments, server
    assert all(p["include_deferred"] is False for p in pools.values())


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_dag_and_task_has_a_chinese_display_name_and_an_owner(airflow_db: str) -> None:
    """The UI ships zh-CN: every DAG and task shows "中文 id" (LABELS dag_* / task_*), and has an owner.

    The id follows the Chinese, so the UI's search (it matches display names) still finds a DAG by
    the id that the docs and the alerts use. County IT owns every DAG; a department's own DAGs name
    the department too (docs/operations.md, "Owners and names in the UI").
    """
    dags = parse_dags(airflow_db)["dags"]
    for dag_id, dag in dags.items():
        chinese, _, shown_id = dag["display_name"].partition(" ")
        assert CJK.search(chinese) and shown_id == dag_id, (dag_id, dag["display_name"])
        owners = {o.strip() for o in dag["owner"].split(",")}
        assert "county-it" in owners and "airflow" not in owners, (dag_id, dag["owner"])
        for task_id, name in dag["task_display_names"].items():
            chinese, _, shown_id = name.partition(" ")
            assert CJK.search(chinese) and shown_id == task_id, (dag_id, task_id, name)
            assert dag["task_owners"][task_id] == dag["owner"], (dag_id, task_id)
    # A department's own DAGs carry its Chinese name (from config/departments.yaml) and its id as owner.
    assert dags["ingest_market"]["display_name"] == "县市场监督管理局数据接收 ingest_market"
    assert dags["ingest_pboc"]["owner"] == "county-it, pboc"
    assert dags["watch_police_inbox"]["display_name"] == "县公安局收件箱监视 watch_police_inbox"
    assert dags["merge_credit"]["owner"] == "county-it"
