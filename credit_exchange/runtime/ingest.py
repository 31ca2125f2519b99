"""Ingest DAGs are data: one per department of ``config/departments.yaml``, shaped by its ``source``.

``dags/ingest.py`` builds ``ingest_{department}`` for every department from the table below, so a
department that delivers over a source the hub already knows, in a format it already reads, is
added without Python (docs/architecture.md, "Adding a department"). The DAG ids are those of
docs/contracts.md 3; the task ids are the ones admins already know (``take_market_files``,
``take_pboc_pairs``, ``pull_transport_api``).

Imported by a DAG file at parse time: no I/O, no heavy imports. The task bodies named here are
imported only when a task runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class SourceKind:
    """What every department with this ``source`` shares in its ingest DAG."""

    task_id: str  # with {department}
    display: str  # its display name: the LABELS code, "中文 task id" with {department}
    body: str  # "module:function", called as function(department, context) -> XCom counts
    watched: bool  # also started by the office-hours watcher's inbox asset
    doc: str  # doc_md, with {department}, {label}, {connection}, {root}, {pattern}


_INBOX_DOC = """\
Takes every complete file named like `{pattern}` from `{root}/inbox/` on the inbox server
(connection `{connection}`): claims it into `processing/`, streams and validates every record
against the county's schemas, stores the good ones with their lineage, writes a receipt (回执)
to `{root}/receipts/`, and moves the file to `archive/YYYY/MM/` (Asia/Shanghai) or, refused
whole, to `quarantine/`. A file that cannot be read at all (a poison file) is refused alone with
a receipt that gives the reason; the other files of the run are still taken.

Uploads still under way (`.tmp`) are left alone; a department without an upload protocol
(`quiet_period_seconds` in `config/departments.yaml`) has a file taken only once its size and
time have stood still that long. A file left unfinished for `stuck_after_days` raises an
`inbox_stuck` alert. Two runs at once never share a file: each claim has an owner and a lease.

A run with nothing in the inbox succeeds and does nothing.
"""

_PAIRS_DOC = """\
Reads the department's **read-only** SFTP outbox (connection `{connection}`, `{root}/`): every
pair of a data file named like `{pattern}` and its control file. The data file is streamed
once, its SM3 and record count checked against the control file, and its records taken in one
transaction (rolled back if a check fails). The hub never writes, renames or deletes on their
server; the ledger of pairs taken (name + announced SM3) makes each pair count exactly once, and
a pair whose digest changed is taken again. Receipts (回执) stay in the hub's store.

- A data file without its control file is still in transit: left alone.
- A pair failing its check is re-checked on the next runs and, after `recheck_runs`
  (`config/departments.yaml`), called corrupt with an alert. **The task still succeeds**: the
  alert is the signal (Exchange page, chat robot, e-mail); the XCom counts `corrupt`.
- A pair with too many rejected records is refused whole (receipt + alert).

A run with an empty outbox succeeds and does nothing.
"""

_API_DOC = """\
Pulls every endpoint of the department's API (connection `{connection}`, the `endpoints` of
`config/departments.yaml`). Each endpoint has a watermark: the `server_time` of its last
completed pull; a pull asks for everything updated since the watermark minus `overlap_minutes`,
validates every item against the county's schemas and stores the good ones with their lineage
(`{{endpoint}}@{{server_time}}`, page and item). Repeats are recognised by id and version. The
receipt of each pull is kept in the store.

The watermark moves only together with the records of a completed pull. An endpoint the API
keeps failing on (429 / 5xx after the client's retries) is left untouched and the task fails,
naming the endpoint: Airflow retries it. An expired page token restarts that endpoint from its
watermark within the run. A pull with too many bad records is refused whole and raises an alert.

A run with nothing new succeeds and does nothing.
"""

SOURCES: dict[str, SourceKind] = {
    "sftp_inbox": SourceKind("take_{department}_files", "task_take_files", "credit_exchange.runtime.inbox:ingest_inbox",
                             watched=True, doc=_INBOX_DOC),
    "sftp_outbox_pairs": SourceKind("take_{department}_pairs", "task_take_pairs", "credit_exchange.runtime.pboc:ingest_pboc",
                                    watched=False, doc=_PAIRS_DOC),
    "rest_api": SourceKind("pull_{department}_api", "task_pull_api", "credit_exchange.runtime.transport:pull_transport",
                           watched=False, doc=_API_DOC),
}


def task_id(department: str, source: str) -> str:
    return SOURCES[source].task_id.format(department=department)


def display_name(department: str, source: str) -> str:
    """The take task's display name in the UI ("中文 task id", from the catalogue)."""
    from hub_messages import text

    return text(SOURCES[source].display, department=department)


def doc_md(department: str, source: str, label: str, connection: str, root: str, pattern: str) -> str:
    """The DAG's documentation in the Airflow UI, written for this department."""
    head = f"### ingest_{department} — {label}\n\n"
    return head + SOURCES[source].doc.format(department=department, label=label, connection=connection,
                                             root=root.rstrip("/"), pattern=pattern)


def task_body(department: str, source: str) -> Callable[..., dict[str, Any]]:
    """The task callable: imports the body only when the task runs (DAG parsing stays cheap)."""
    module_name, function_name = SOURCES[source].body.split(":")

    def take(**context: Any) -> dict[str, Any]:
        body = getattr(import_module(module_name), function_name)
        return body(department, context)  # type: ignore[no-any-return]

    take.__name__ = take.__qualname__ = task_id(department, source)
    take.__doc__ = f"Takes the {department} feed's new units into the store; returns counts only."
    return take
