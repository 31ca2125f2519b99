"""``qianwei-hub lineage QUERY|- [--json]``: where a record, a subject or a file came from and went to.

The same search as the Exchange page's (``credit_exchange.web.lineage``): a record id, a USCC, a
person's ID number (found by its keyed hash; shown masked) or a file name. Prints the files and
positions it came from, the hub versions, rejects, county batches, city state and receipts; with
``--json`` the page's JSON answer. QUERY ``-`` reads the query from the first line of standard
input, so that an ID number stays out of the shell's history and the process list (``ps``). Exit status 0 when something matched, 1 when nothing did or
the store cannot be read. Reads only: nothing is written, so nothing goes to the audit log.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from credit_exchange.standard.pii import mask_text
from hub_messages import label, text

STORE_CONN_ID = "exchange_db"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("lineage", help=text("lineage_cli_help"), description=text("lineage_cli_help"))
    parser.add_argument("query", metavar="QUERY", help=text("lineage_cli_query"))
    parser.add_argument("--json", action="store_true", help=text("lineage_cli_json"))
    parser.set_defaults(func=run)


def open_store() -> Any:
    """The store of ``exchange_db``, read as it is: never migrated from here, refused if not at the code's revision."""
    import logging

    from credit_exchange.store import Store

    # Reading the schema revision makes alembic log its context; the answer owns stdout (--json).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return Store.from_conn_id(STORE_CONN_ID, migrate_sqlite=False)


def _vault(query: str) -> Any:
    from credit_exchange.standard.crypto import PiiKeyMissing, PiiVault
    from credit_exchange.web.lineage import classify

    if "id_number" not in classify(query):
        return None
    try:
        return PiiVault.from_conn_id()
    except PiiKeyMissing:
        return None  # the answer says the key is missing


def search(store: Any, query: str, vault: Any) -> dict[str, Any]:
    from credit_exchange.web.lineage import lineage

    with store.session() as s:
        return lineage(s, query, vault)


def query_of(args: argparse.Namespace) -> str:
    """QUERY, or with ``-`` the first line of standard input (an ID number stays out of shell history and ps)."""
    if args.query != "-":
        return str(args.query)
    return sys.stdin.readline().strip()


def run(args: argparse.Namespace) -> int:
    query = query_of(args)
    try:
        store = open_store()
    except Exception as exc:  # noqa: BLE001 - a missing connection, a refused login, an old schema: all said plainly
        print(text("lineage_store_unopened") + f": {type(exc).__name__}: {mask_text(str(exc).splitlines()[0] if str(exc) else '')}",
              file=sys.stderr)
        return 1
    try:
        answer = search(store, query, _vault(query))
    finally:
        store.dispose()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        print(render(answer))
    return 0 if answer["matched"] else 1


# --------------------------------------------------------------------------- plain text

def _h(code: str, **params: Any) -> str:
    chinese, english = label(code, **params)
    return f"{chinese} {english}"


def _pairs(**values: Any) -> str:
    """``label: value`` pairs, the labels from the catalogue, empty values left out."""
    return " · ".join(f"{_h(code)}: {value}" for code, value in values.items() if value not in (None, ""))


def _file_line(f: dict[str, Any]) -> str:
    run_of = f"{f['dag_id']} / {f['run_id']}" if f.get("dag_id") else f.get("run_id")
    return _pairs(ui_file=f["name"], ui_department=f["department"], ui_received_at=f["received_at"],
                  ui_status=f["status"], ui_stored_path=f["stored_path"], ui_run=run_of)


def render(answer: dict[str, Any]) -> str:
    """The answer as an admin reads it in a terminal: headings and labels Chinese with English."""
    out = [answer["message"], *answer["notes"]]
    for r in answer["records"]:
        out += ["", f"{_h('ui_record')}: {r['record_id']}"]
        if r["current"]:
            c = r["current"]
            out.append("  " + _pairs(ui_current=f"v{c['hub_version']} {c['op']} {c['updated_at']}"))
        out.append(f"  {_h('ui_deliveries')}:")
        for d in r["deliveries"]:
            out.append("    - " + _file_line(d["file"]))
            out.append("      " + _pairs(ui_ordinal=d["ordinal"], ui_position=d["position"],
                                         ui_dept_version=d["dept_version"], ui_op=d["op"], ui_outcome=d["outcome"],
                                         ui_hub_version=d["hub_version"],
                                         ui_receipt=d["receipt"]["status"] if d["receipt"] else None))
        if r["versions"]:
            out.append(f"  {_h('ui_versions')}:")
            out += ["    - " + _pairs(ui_hub_version=v["hub_version"], ui_op=v["op"], ui_time=v["created_at"],
                                      ui_file=v["file"]) for v in r["versions"]]
        if r["rejects"]:
            out.append(f"  {_h('ui_run_rejects')}:")
            out += ["    - " + _pairs(ui_file=j["file"], ui_position=j["position"], ui_field=j["field"],
                                      ui_code=j["code"], ui_message=j["message"]) for j in r["rejects"]]
        if r["county"]:
            out.append(f"  {_h('ui_county_pushes')}:")
            out += ["    - " + _pairs(ui_hub_version=c["hub_version"], ui_op=c["op"], ui_status=c["status"],
                                      ui_batch=c["batch_id"], ui_batch_status=c["batch_status"],
                                      ui_answer=" ".join(str(x) for x in (c["result"], c["code"], c["message"]) if x))
                    for c in r["county"]]
        if r["city"]:
            c = r["city"]
            out.append(f"  {_h('ui_city_state')}:")
            out.append("    - " + _pairs(ui_hub_version=c["hub_version"], ui_op=c["op"], ui_status=c["state"],
                                         ui_file=c["file"], ui_receipt=c["receipt_status"],
                                         ui_answer=" ".join(str(x) for x in (c["code"], c["message"]) if x)))
    for f in answer["files"]:
        facts = f["file"]
        out += ["", f"{_h('ui_file')}: {facts['name']}", "  " + _file_line(facts),
                "  " + _pairs(ui_total=facts["total"], ui_accepted=facts["accepted"], ui_rejected=facts["rejected"],
                              ui_unchanged=facts["unchanged"], ui_stale=facts["stale"],
                              ui_receipt=f["receipt"]["status"] if f["receipt"] else None)]
        if f["rejects"]:
            out.append(f"  {_h('ui_run_rejects')}:")
            out += ["    - " + _pairs(ui_position=j["position"], ui_dept_record_id=j["dept_record_id"],
                                      ui_field=j["field"], ui_code=j["code"], ui_message=j["message"])
                    for j in f["rejects"]]
        if f["records"]:
            out.append(f"  {_h('ui_records_in_file')}:")
            out += ["    - " + _pairs(ui_ordinal=d["ordinal"], ui_position=d["position"],
                                      ui_record=d["record_id"] or d["dept_record_id"], ui_outcome=d["outcome"],
                                      ui_hub_version=d["hub_version"]) for d in f["records"]]
    return "\n".join(out)
