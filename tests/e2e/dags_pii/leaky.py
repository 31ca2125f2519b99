"""A task that puts personal data everywhere a log can carry it (tests/e2e/test_log_mask.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import PurePosixPath

from airflow.sdk import dag, task

ID = "11010519491231002X"
PHONE = "13812345678"
log = logging.getLogger("credit_exchange.leaky")


@dag(dag_id="leaky", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def leaky() -> None:
    @task(task_id="leak", retries=0)
    def leak() -> None:
        import structlog

        log.info("a record id %s and a phone %s", f"GA{ID}", PHONE)
        log.info("a file %s and a dict %s", PurePosixPath(f"/market/inbox/{ID}.xml"), {"phone": PHONE})
        log.warning("a name with an escape \x1b[2J and a carriage return\r%s", ID)
        structlog.get_logger("credit_exchange.leaky").info("structlog", id_number=ID)
        try:
            try:
                raise KeyError(f"inner {ID}")
            except KeyError as exc:
                raise RuntimeError(f"wrapped {PHONE}") from exc
        except RuntimeError:
            log.exception("caught one")
        raise ValueError(f"the task fails naming {ID} and {PHONE}")

    leak()


leaky()
