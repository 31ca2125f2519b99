"""Asset extras, the parts that need no Airflow run (tests/e2e/test_asset_extras.py reads them back from runs)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from credit_exchange.runtime import assets
from hub_messages import text
from sandbox.samples import make_id_number


def test_names_in_asset_events_are_masked_and_bounded() -> None:
    person = make_id_number(7, date(2026, 11, 28))
    names = [f"{person}_处罚.xml"] + [f"MARKET_SHOP_20261128_{n:03d}.xml" for n in range(1, 40)]
    shown = assets.masked_names(names)
    assert len(shown) == assets.MAX_NAMES
    assert person not in "".join(shown) and shown[0] == f"{person[:6]}********{person[-4:]}_处罚.xml"
    assert shown[1] == "MARKET_SHOP_20261128_001.xml"


def test_a_name_not_of_the_departments_pattern_is_withheld() -> None:
    """A contract name holds kind, date and sequence only; any other name may hold a person's name."""
    names = ["MARKET_SHOP_20261128_001.xml", "张三_处罚决定.xml", "MARKET_SHOP_20261128_1.xml"]
    withheld = text("asset_name_withheld")
    assert assets.masked_names(names, "market") == ["MARKET_SHOP_20261128_001.xml", withheld, withheld]
    assert assets.masked_names(names, inbox="/market/inbox") == ["MARKET_SHOP_20261128_001.xml", withheld, withheld]
    assert assets.masked_names(["POLICE_FRAUD_20261128_01.csv", "李四.csv"], "police") == [
        "POLICE_FRAUD_20261128_01.csv", withheld]
    # An inbox the config does not know: masked, not filtered (nothing to judge the names by).
    assert assets.masked_names(["张三.xml"], inbox="/nowhere/inbox") == ["张三.xml"]


class Events(dict):  # what context["outlet_events"] is to a task: an accessor per asset
    def __missing__(self, key: Any) -> Any:
        self[key] = SimpleNamespace(extra={})
        return self[key]


def test_a_merge_started_by_deliveries_names_their_departments() -> None:
    deliveries, versions = object(), object()
    triggering = {deliveries: [SimpleNamespace(extra={"department": "police"}), SimpleNamespace(extra={}),
                               SimpleNamespace(extra={"department": "market"}),
                               SimpleNamespace(extra={"department": "police"})]}
    context: dict[str, Any] = {"outlet_events": Events(), "triggering_asset_events": triggering}
    extra = assets.announce_versions(context, versions, deliveries, {"deliveries": 7, "new_versions": 5},
                                     {"new_versions": 2, "listed": 1})
    assert extra["departments"] == ["market", "police"] and extra["new_versions"] == 7
    assert context["outlet_events"][versions].extra == extra


def test_a_merge_started_by_time_names_no_department() -> None:
    context: dict[str, Any] = {"outlet_events": Events(), "triggering_asset_events": {}}
    extra = assets.announce_versions(context, object(), object(), {}, {})
    assert extra["departments"] == [] and extra["new_versions"] == 0
