"""When a subject's derived records could change with time alone: its review date.

Derive re-decides a subject when its records change and, failing that, on its review date: the
first run date after the one it was decided on at which any part of the decision or of the
profile could come out otherwise with the same records. The candidates come from the rules as
loaded (`RuleSet.conditions`, so a county that changes "36 months" in config/rules.yaml changes
the dates with it), never from constants here:

- every date condition of `current` and of the black, red and blocking rules, on every record of
  the subject the condition could apply to (current or not): the day it flips
  (`Condition.changes_after`): penalties' valid_until, the "within N months" and "older than N
  months" windows, licences' valid_from / valid_to;
- a black trigger in force stops being so the day after its valid_to (listed date + valid years:
  B6's listed + 36 months, B4's 1 January after the rating year, ...);
- a trigger dated by the run date itself (its records lack the listed-date field), and every red
  entry (valid to = run date + valid years), change every run: the next day.

Earlier than needed is only extra work; later would be a wrong list, so when in doubt a
candidate is taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from credit_exchange.derive.rules import Condition, Decision, Record, RuleSet

DAY = dt.timedelta(days=1)


def review_on(records: Iterable[Record], decision: Decision, run_date: dt.date, rules: RuleSet) -> dt.date | None:
    """The earliest run date after ``run_date`` at which time alone could change what derive writes."""
    candidates: list[dt.date] = []
    conditions: dict[str, tuple[Condition, ...]] = {}
    for r in records:
        if r.get("op", "upsert") != "upsert":
            continue
        rt = r["record_type"]
        if rt not in conditions:
            conditions[rt] = rules.conditions(rt)
        for cond in conditions[rt]:
            day = cond.changes_after(r["data"], run_date)
            if day is not None:
                candidates.append(day)
    if decision.status == "red":
        candidates.append(run_date + DAY)
    for f in decision.black + decision.black_expired:
        if f.listed_date is None or f.listed_date == run_date:
            candidates.append(run_date + DAY)
        if f.valid_to is not None and f.valid_to >= run_date:
            candidates.append(f.valid_to + DAY)
    later = [d for d in candidates if d > run_date]
    return min(later) if later else None
