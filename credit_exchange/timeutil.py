"""Local time of the county (Asia/Shanghai), the hub's clock, and the run date of a DAG run.

Every "now" of the hub comes from ``now_local()``, which asks one clock: the system's
unless a test put its own in place (``use_clock``). The run date of a DAG run comes
from its logical date (``run_date``), never from the clock, so a replayed day is that day.

Naive datetimes have one meaning in the hub: Asia/Shanghai wall time (SQLite keeps
times without their offset; ``store.models.LocalTime`` writes and reads them so).
They are never read as the host's time zone, which may be anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


_clocks: list[Clock] = [system_clock]


def now_local() -> datetime:
    """Now, in Asia/Shanghai, from the clock in use."""
    now = _clocks[-1]()
    if now.tzinfo is None:
        raise ValueError("the clock in use returned a naive datetime; clocks must give aware ones")
    return now.astimezone(LOCAL)


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Run the block with ``clock`` as the hub's clock (tests; a replay tool)."""
    _clocks.append(clock)
    try:
        yield clock
    finally:
        _clocks.remove(clock)


def local(dt: datetime) -> datetime:
    """``dt`` in Asia/Shanghai; a naive ``dt`` is taken as Asia/Shanghai wall time, never as host time."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=LOCAL)
    return dt.astimezone(LOCAL)


def run_date(context: dict[str, Any]) -> date:
    """The run date: the run's ``replay_date`` param if set, else its logical date in Asia/Shanghai
    (its run_after when it has none)."""
    replay = (context.get("params") or {}).get("replay_date")
    if replay:
        return date.fromisoformat(str(replay))
    dt = context.get("logical_date")
    if dt is None:
        dag_run = context.get("dag_run")
        dt = getattr(dag_run, "run_after", None) or now_local()
    return local(dt).date()
