"""``qianwei-hub replay`` (credit_exchange/admin/replay.py) and the ``replay_date`` param of the DAGs."""

from __future__ import annotations

import json
from datetime import date

import pytest

from credit_exchange.admin import cli
from credit_exchange.admin.replay import backfill_command, replayable
from tests.helpers import REPO


def test_the_backfill_covers_the_whole_day_in_asia_shanghai_and_carries_the_day() -> None:
    command = backfill_command("merge_credit", date(2026, 11, 29))
    assert command[1:] == ["backfill", "create", "--dag-id", "merge_credit",
                           "--from-date", "2026-11-29T00:00:00+08:00", "--to-date", "2026-11-29T23:59:59+08:00",
                           "--dag-run-conf", json.dumps({"replay_date": "2026-11-29"}),
                           "--reprocess-behavior", "completed", "--max-active-runs", "1"]
    assert backfill_command("merge_credit", date(2026, 11, 29), dry_run=True)[-1] == "--dry-run"


def test_the_default_replay_is_the_nightly_order() -> None:
    dags = replayable()
    assert dags.index("merge_credit") > max(dags.index(d) for d in dags if d.startswith("ingest_"))
    assert dags.index("push_city") > dags.index("merge_credit") and dags[-1] == "publicity_expiry"


@pytest.mark.parametrize("argv", [["replay", "2026-02-30"], ["replay", "29/11/2026"],
                                  ["replay", "2026-11-29", "--dag", "no_such_dag"]])
def test_a_wrong_day_or_dag_is_refused_before_anything_starts(argv: list[str], capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert ("YYYY-MM-DD" in err or "merge_credit" in err) and "Traceback" not in err


def test_every_dag_a_replay_runs_validates_its_replay_date(airflow_db: str) -> None:
    """What Airflow checks before it creates a backfill or a triggered run: the conf merged into the params, validated."""
    import copy

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import ParamValidationError

    bag = DagBag(dag_folder=str(REPO / "dags"))

    def validated(dag_id: str, conf: dict[str, object]) -> dict[str, object]:
        params = copy.deepcopy(bag.dags[dag_id].params)
        params.update(conf)
        return params.validate()

    for dag_id in [*replayable(), "check_nightly_cycle"]:
        assert validated(dag_id, {"replay_date": "2026-11-29"}) == {"replay_date": "2026-11-29"}
        assert validated(dag_id, {}) == {"replay_date": None}
        for wrong in ("2026-02-30", "29/11/2026", "2026-11-29T01:30", 20261129):
            with pytest.raises(ParamValidationError):
                validated(dag_id, {"replay_date": wrong})
