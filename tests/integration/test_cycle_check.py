"""At 06:00 the hub alerts for every DAG of the nightly cycle that had not succeeded (issue 10, point 6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from credit_exchange import alerts
from credit_exchange.runtime.cycle import fire_time, outcomes
from credit_exchange.runtime.schedule import nightly_cycle
from credit_exchange.store import Alert
from credit_exchange.timeutil import LOCAL

NIGHT = date(2026, 12, 31)


class Runs:
    """Airflow's run table as the check asks it: (dag id, logical date) -> state."""

    def __init__(self, states: dict[tuple[str, datetime], str]) -> None:
        self.states = states

    def __call__(self, dag_id: str, logical_dates: list[datetime], states: list[str]) -> int:
        return sum(self.states.get((dag_id, at)) in states for at in logical_dates)


def test_the_check_looks_for_each_dags_run_of_that_night() -> None:
    assert fire_time(NIGHT, nightly_cycle()["ingest_market"]) == datetime(2026, 12, 31, 1, 30, tzinfo=LOCAL)
    assert fire_time(NIGHT, nightly_cycle()["push_city"]) == datetime(2026, 12, 31, 3, 30, tzinfo=LOCAL)
    runs = {(d, fire_time(NIGHT, c)): "success" for d, c in nightly_cycle().items()}
    runs[("merge_credit", fire_time(NIGHT, nightly_cycle()["merge_credit"]))] = "failed"
    runs[("push_city", fire_time(NIGHT, nightly_cycle()["push_city"]))] = "running"
    del runs[("ingest_pboc", fire_time(NIGHT, nightly_cycle()["ingest_pboc"]))]
    # A success at another time (an asset-triggered run at 02:10) is not that night's run.
    runs[("ingest_pboc", datetime(2026, 12, 31, 2, 10, tzinfo=LOCAL))] = "success"
    found = outcomes(NIGHT, nightly_cycle(), Runs(runs))
    assert {d: o for d, o in found.items() if o != "done"} == {
        "merge_credit": "failed", "push_city": "running", "ingest_pboc": "not_run"}


def test_late_dags_alert_once_and_close_when_a_later_night_is_done(store: Any) -> None:
    with store.session() as s:
        raised = alerts.cycle_checked(s, "2026-12-31", {"merge_credit": "failed", "push_city": "done"})
        again = alerts.cycle_checked(s, "2026-12-31", {"merge_credit": "failed"})
    assert [(a.source, a.subject) for a in raised] == [("merge_credit", "2026-12-31")] and again == []
    assert "merge_credit" in raised[0].message and "06:00" in raised[0].message
    with store.session() as s:
        alerts.cycle_checked(s, "2027-01-01", {"merge_credit": "done"})
        assert s.execute(select(Alert).where(Alert.resolved_at.is_(None))).scalars().all() == []


def test_through_airflow_a_night_that_never_ran_is_seven_alerts(airflow_db: str, monkeypatch: Any,
                                                               tmp_path: Any) -> None:
    from credit_exchange.store import Store
    from tests import helpers

    db = tmp_path / "exchange.db"
    for k, v in helpers.connection_env(exchange_db={"conn_type": "sqlite", "host": str(db)}).items():
        monkeypatch.setenv(k, v)
    dr, states = helpers.run_dag("check_nightly_cycle", datetime(2027, 1, 1, 6, 0, tzinfo=LOCAL))
    assert dr.state == "success" and states == {"check_cycle_done": "success"}
    store = Store(f"sqlite:///{db}")
    with store.session() as s:
        late = s.execute(select(Alert.source, Alert.subject).where(Alert.kind == "cycle_late")).all()
    store.dispose()
    assert sorted(late) == sorted((d, "2027-01-01") for d in nightly_cycle())
