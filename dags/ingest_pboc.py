"""
### ingest_pboc — 人行支付风险事件接收 (PBoC payment-risk pairs)

Reads the PBoC sub-branch's **read-only** SFTP outbox (connection `pboc_sftp`,
`/outbox/`): every pair `PBOC_PAYRISK_{YYYYMMDD}_{NN}.dat` + `.ok` whose control
file is there. The data file is streamed once, its SM3 and record count checked
against the control file, and its records taken in one transaction (rolled back
if a check fails). The hub never writes, renames or deletes on their server; the
ledger of pairs taken (name + announced SM3) makes each pair count exactly once,
and a pair whose digest changed is taken again. Receipts (回执) stay in the
hub's store.

- A `.dat` without its `.ok` is still in transit: left alone.
- A pair failing its check is re-checked on the next runs; on the third failing
  run (`recheck_runs` in `config/departments.yaml`) it is called corrupt and an
  alert `pboc_pair_corrupt` is raised. **The task still succeeds**: the alert is
  the signal (Exchange page, chat robot, e-mail); the XCom counts `corrupt`.
- A pair with too many rejected records is refused whole (receipt + alert
  `pboc_pair_refused`).

A run with an empty outbox succeeds and does nothing.
"""

from __future__ import annotations

from airflow.sdk import dag

from credit_exchange.runtime.schedule import NETWORK_DAG_ARGS, ingest_tasks, nightly


def take_pboc_pairs(**context) -> dict:
    from credit_exchange.runtime.pboc import ingest_pboc

    return ingest_pboc(context)


@dag(dag_id="ingest_pboc", schedule=nightly(), doc_md=__doc__,
     tags=["qianwei", "ingest", "pboc"], **NETWORK_DAG_ARGS)
def ingest_pboc() -> None:
    ingest_tasks(take_pboc_pairs)


ingest_pboc()
