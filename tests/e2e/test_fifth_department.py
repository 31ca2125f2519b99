"""A fifth department is data: a config entry, a schema and a field-table block, and no Python.

In a copy of the project the county's tax bureau (县税务局) is added as an inbox department that
sends tax-arrears notices (欠税公告, a new record type) in the police CSV format. Without a
line of Python changed, the copy's DAG folder then holds ``ingest_tax``; a real ``dag.test()``
of it against the real sshd takes the file (receipt, archive, records with their lineage,
a bad row rejected), and ``merge_credit`` merges the notices and derives the subjects' profiles.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from credit_exchange.timeutil import LOCAL
from sandbox.samples import REGION, make_uscc
from sandbox.sshd import DEPARTMENT_SUBFOLDERS
from tests.helpers import REPO, connection_env

RUN = datetime(2026, 11, 29, 1, 30, tzinfo=LOCAL)
NAME = "TAX_ARREARS_20261128_01.csv"
CODE = ("credit_exchange", "connectors", "sandbox", "dags", "plugins", "config", "schemas")

DEPARTMENT = """
  tax:
    label: 县税务局 (Tax Bureau)
    connection: inbox_sftp
    source: sftp_inbox
    root: /tax
    file_pattern: 'TAX_ARREARS_(?P<date>[0-9]{8})_(?P<seq>[0-9]{2})\\.csv'
    parser: police_csv
    record_type: tax_arrears
    max_file_bytes: 104857600
    quiet_period_seconds: 60
    reject_threshold: {share: 0.5, min_records: 20}
"""

FIELDS_BLOCK: dict[str, Any] = {
    "label": "欠税公告", "feed": "csv",
    "subject": {"name": "subject_name", "uscc": "uscc", "category": "subject_category"},
    "id_field": "notice_no",
    "op_column": {"code": "记录状态", "label": "记录状态", "values": {"有效": "upsert", "撤销": "delete"}},
    "fields": [
        {"name": "notice_no", "code": "公告编号", "label": "公告编号", "wire": "text"},
        {"name": "subject_name", "code": "纳税人名称", "label": "纳税人名称", "wire": "text"},
        {"name": "subject_category", "code": "主体类别", "label": "主体类别", "wire": "text"},
        {"name": "uscc", "code": "统一社会信用代码", "label": "统一社会信用代码", "wire": "text"},
        {"name": "tax_type", "code": "欠缴税种", "label": "欠缴税种", "wire": "text"},
        {"name": "arrears_amount", "code": "欠税金额", "label": "欠税金额（万元）", "wire": "number"},
        {"name": "announced_date", "code": "公告日期", "label": "公告日期", "wire": "date"},
        {"name": "tax_office", "code": "主管税务机关", "label": "主管税务机关", "wire": "text"},
    ],
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://schemas.qianwei.gov.cn/credit/1.2.0/tax_arrears.schema.json",
    "title": "欠税公告 (tax arrears notice)",
    "type": "object",
    "additionalProperties": False,
    "required": ["notice_no", "subject_name", "subject_category", "uscc", "tax_type", "arrears_amount",
                 "announced_date", "tax_office"],
    "properties": {
        "notice_no": {"$ref": "common.schema.json#/$defs/text", "maxLength": 64},
        "subject_name": {"$ref": "common.schema.json#/$defs/text"},
        "subject_category": {"$ref": "common.schema.json#/$defs/subject_category"},
        "uscc": {"$ref": "common.schema.json#/$defs/uscc"},
        "tax_type": {"enum": ["增值税", "企业所得税", "个人所得税", "其他"]},
        "arrears_amount": {"type": "number", "exclusiveMinimum": 0},
        "announced_date": {"$ref": "common.schema.json#/$defs/date"},
        "tax_office": {"$ref": "common.schema.json#/$defs/text"},
    },
}

COLUMNS = [f["code"] for f in FIELDS_BLOCK["fields"]] + ["记录状态"]

# The copy's DAG folder, run in a fresh interpreter that imports the copy's code: every table the
# hub loads once per process (config, field table, schemas) is the copy's.
RUN_DAGS = textwrap.dedent("""
    import json, sys
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from airflow.dag_processing.dagbag import DagBag

    import credit_exchange
    bag = DagBag(dag_folder=sys.argv[1])
    at = datetime.fromisoformat(sys.argv[2])
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "package": credit_exchange.__file__,
           "ingests": sorted(d for d in bag.dags if d.startswith("ingest_")), "runs": {}}
    for dag_id in ("ingest_tax", "merge_credit"):
        for t in bag.dags[dag_id].tasks:
            t.retries = 0  # a failure shows at once, not after the back-off
        dr = bag.dags[dag_id].test(logical_date=at)
        out["runs"][dag_id] = {"state": str(dr.state), "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()},
                               "doc": bag.dags[dag_id].doc_md or ""}
    print(json.dumps(out, ensure_ascii=False))
""")


def _copy_project(to: Path) -> None:
    for name in CODE:
        shutil.copytree(REPO / name, to / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", to / "pyproject.toml")


def _add_the_tax_bureau(project: Path) -> None:
    """The three edits of docs/architecture.md, "Adding a department"; none of them Python."""
    departments = project / "config" / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8") + DEPARTMENT, encoding="utf-8")
    (project / "schemas" / "tax_arrears.schema.json").write_text(
        json.dumps(SCHEMA, ensure_ascii=False, indent=2), encoding="utf-8")
    table_path = project / "schemas" / "fields.json"
    table = json.loads(table_path.read_text(encoding="utf-8"))
    table["record_types"]["tax_arrears"] = FIELDS_BLOCK
    table_path.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")


def _python_files(root: Path) -> set[Path]:
    return {p.relative_to(root) for name in CODE for p in (root / name).rglob("*.py") if "__pycache__" not in p.parts}


def _csv(rows: list[list[str]]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(r) for r in rows]
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
def tax_inbox(inbox_root: Path) -> Path:
    root = inbox_root / "tax"
    if root.exists():
        shutil.rmtree(root)
    for sub in DEPARTMENT_SUBFOLDERS:
        (root / sub).mkdir(parents=True)
    return root


def test_a_fifth_inbox_department_is_a_config_entry_a_schema_and_a_field_block(
        tmp_path: Path, airflow_db: str, inbox_server: Any, tax_inbox: Path, pii_key: str) -> None:
    project = tmp_path / "hub"
    _copy_project(project)
    _add_the_tax_bureau(project)
    # No Python changed: every .py file of the copy is byte for byte the shipped one.
    assert _python_files(project) == _python_files(REPO)
    assert all(filecmp.cmp(project / p, REPO / p, shallow=False) for p in _python_files(project))

    good = [make_uscc("91", REGION, 700 + n) for n in range(3)]
    rows = [[f"QWSW-QS-2026-{n:04d}", f"犍为县测试商贸有限公司{n}", "法人及非法人组织", uscc, "增值税",
             f"{1.5 + n}", "2026-11-20", "国家税务总局犍为县税务局", "有效"] for n, uscc in enumerate(good)]
    rows.append(["QWSW-QS-2026-0099", "犍为县错误数据公司", "法人及非法人组织", "91511123MA0000000X", "增值税",
                 "-3", "2026-11-20", "国家税务总局犍为县税务局", "有效"])  # a bad USCC and a negative amount
    drop = tax_inbox / "inbox" / NAME
    drop.write_bytes(_csv(rows))
    past = RUN.timestamp() - 3600  # past the quiet period on any clock the suite runs under
    os.utime(drop, (past, past))

    db = tmp_path / "exchange.db"
    env = {**os.environ, **connection_env(
        inbox_sftp=inbox_server.airflow_connection(),
        exchange_db={"conn_type": "sqlite", "host": str(db)},
        pii_key={"conn_type": "generic", "password": pii_key},
    ), "PYTHONPATH": f"{project}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep)}
    env.pop("HUB_CONFIG_DIR", None)
    out = subprocess.run([sys.executable, "-c", RUN_DAGS, str(project / "dags"), RUN.isoformat()], cwd=project,
                         env=env, capture_output=True, text=True, check=False, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(project)), result["package"]  # the copy's code ran
    assert result["errors"] == {}
    assert result["ingests"] == ["ingest_market", "ingest_pboc", "ingest_police", "ingest_tax", "ingest_transport"]
    ingest = result["runs"]["ingest_tax"]
    assert ingest["state"] == "success", (out.stdout + out.stderr)[-8000:]
    assert ingest["tasks"] == {"take_tax_files": "success", "any_new_records": "success",
                               "announce_deliveries": "success"}
    assert "县税务局" in ingest["doc"] and "/tax/inbox/" in ingest["doc"]
    assert result["runs"]["merge_credit"]["state"] == "success", (out.stdout + out.stderr)[-8000:]

    receipt = json.loads((tax_inbox / "receipts" / f"{NAME}.receipt.json").read_text(encoding="utf-8"))
    assert receipt["status"] == "partially_accepted"
    assert receipt["records"]["accepted"] == 3 and receipt["records"]["rejected"] == 1
    assert {e["position"] for e in receipt["errors"]} == {"line 5"}
    assert not any((tax_inbox / "processing").iterdir()) and not any((tax_inbox / "inbox").iterdir())

    from sqlalchemy import select

    from credit_exchange.store import ReceivedFile, Record, Store
    from credit_exchange.timeutil import local

    store = Store(f"sqlite:///{db}")
    try:
        with store.session() as s:
            records = s.execute(select(Record.record_id, Record.record_type, Record.subject_key)).all()
            (received_at,) = s.execute(select(ReceivedFile.received_at).where(ReceivedFile.department == "tax")).one()
    finally:
        store.dispose()
    # Archived under the month it was received in, Asia/Shanghai (the real clock here: no month assumed).
    assert [p.relative_to(tax_inbox / "archive") for p in (tax_inbox / "archive").rglob("*") if p.is_file()] == [
        Path(f"{local(received_at):%Y/%m}/{NAME}")]
    taxes = {r.record_id: r.subject_key for r in records if r.record_type == "tax_arrears"}
    assert taxes == {f"tax:tax_arrears:QWSW-QS-2026-{n:04d}": uscc for n, uscc in enumerate(good)}
    profiles = {r.subject_key for r in records if r.record_type == "credit_profile"}
    assert set(good) <= profiles
