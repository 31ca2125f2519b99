"""Publication rules for the city platform (data-standard.md 4): publicity periods and windows."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

from credit_exchange import config

_ONLY_NOTICE = {"警告", "通报批评"}


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def publicity_until(data: dict[str, Any], rules: dict[str, Any] | None = None) -> date | None:
    """End of a penalty's publicity period; None when it is not published at all."""
    if data.get("publicity_until"):
        return date.fromisoformat(data["publicity_until"])
    rules = rules or config.load("publication")["penalty"]
    cats = set(data.get("penalty_categories") or [])
    decided = date.fromisoformat(data["decision_date"])
    if cats and cats <= {"警告"}:
        return None
    short = add_months(decided, int(rules["short_period_months"]))
    if cats and cats <= _ONLY_NOTICE:
        return short
    thresholds = rules["small_fine_below_wan"]
    limit = Decimal(str(thresholds["自然人" if data.get("subject_category") == "自然人" else "default"]))
    fine = data.get("fine_amount")
    if cats <= _ONLY_NOTICE | {"罚款"} and "罚款" in cats and fine is not None and Decimal(str(fine)) < limit:
        return short
    long_end = add_months(decided, 12 * int(rules["long_period_years"]))
    if cats & set(rules["restriction_categories"]):
        valid_until = date.fromisoformat(data["valid_until"])
        if valid_until > long_end:
            return valid_until
    return long_end


def enrich(record_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The hub's additions to a record before it is versioned (the computed publicity end of penalties)."""
    if record_type == "administrative_penalty" and "publicity_until" not in data:
        until = publicity_until(data)
        if until is not None:
            return {**data, "publicity_until": until.isoformat()}
    return data
