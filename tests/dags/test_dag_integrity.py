"""Every DAG imports, carries its contract id and docs, and touches nothing while parsing.

The parse runs in a fresh interpreter in which connections, variables and the
network all raise: a DAG that reads any of them at parse time fails here
(the Astronomer template's habit of patching look-ups away would hide that).
"""

from __future__ import annotations

import json
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
                             "retries": [t.retries for t in d.tasks], "tz": str(d.timezone)}
                 for d in bag.dags.values()},
        "core_modules_imported": [m for m in heavy if m.startswith(("credit_exchange", "connectors"))
                                  and m not in {"credit_exchange", "credit_exchange.schedule",
                                                "credit_exchange.config"}],
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


def test_network_tasks_retry(airflow_db: str) -> None:
    dags = parse_dags(airflow_db)["dags"]
    assert min(dags["ingest_market"]["retries"]) >= 1
    assert min(dags["push_county"]["retries"]) >= 1
