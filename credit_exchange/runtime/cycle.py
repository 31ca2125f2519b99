"""Task body of check_nightly_cycle: at 06:00, was every DAG of the nightly cycle done?"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

log = logging.getLogger(__name__)

# (dag id, logical dates, states) -> number of runs: Airflow's answer (RuntimeTaskInstance.get_dr_count).
CountRuns = Callable[[str, list[datetime], list[str]], int]


def fire_time(night: date, cron_expression: str) -> datetime:
    """When a fixed-time cron (minute and hour given) fired on ``night``, in Asia/Shanghai."""
    from credit_exchange.timeutil import LOCAL

    minute, hour = (int(part) for part in cron_expression.split()[:2])
    return datetime.combine(night, time(hour, minute), tzinfo=LOCAL)


def outcomes(night: date, cycle: dict[str, str], count: CountRuns) -> dict[str, str]:
    """Per DAG of the cycle: ``done`` (its run of that night succeeded), ``failed``, ``running`` or ``not_run``."""
    out: dict[str, str] = {}
    for dag_id, cron_expression in cycle.items():
        at = [fire_time(night, cron_expression)]
        if count(dag_id, at, ["success"]):
            out[dag_id] = "done"
        elif count(dag_id, at, ["failed"]):
            out[dag_id] = "failed"
        elif count(dag_id, at, ["running", "queued"]):
            out[dag_id] = "running"
        else:
            out[dag_id] = "not_run"
    return out


def check_nightly_cycle(context: dict[str, Any]) -> dict[str, Any]:
    """Alert for every DAG of the run date's nightly cycle that has not succeeded (counts for the XCom)."""
    from credit_exchange import alerts
    from credit_exchange.runtime import hub_store
    from credit_exchange.runtime.schedule import nightly_cycle
    from credit_exchange.timeutil import run_date

    ti = context["ti"]
    night = run_date(context)

    def count(dag_id: str, logical_dates: list[datetime], states: list[str]) -> int:
        return int(ti.get_dr_count(dag_id=dag_id, logical_dates=logical_dates, states=states))

    found = outcomes(night, nightly_cycle(), count)
    with hub_store() as store, store.session() as s:
        raised = alerts.cycle_checked(s, night.isoformat(), found)
    late = sorted(d for d, o in found.items() if o != "done")
    if late:
        log.error("the nightly cycle of %s was not done by 06:00: %s", night, ", ".join(f"{d} ({found[d]})" for d in late))
    else:
        log.info("the nightly cycle of %s was done by 06:00", night)
    return {"night": night.isoformat(), "late": late, "alerts": len(raised)}
