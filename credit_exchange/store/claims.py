"""Claims: which run is taking a received unit right now, so two runs never share one.

A manual ``dags test``, the watcher's run and the nightly run can overlap, and
``max_active_runs`` covers none of that. Every run that takes a unit (a file in an inbox's
``processing/``, a PBoC pair, a transport endpoint's pull) first claims it here, by its
department and name, as its ``Owner``: the task it serves and the process it runs in. The
claim carries a lease that the owner renews while it works (``Claims.kept_alive``).

Another run leaves a claimed unit alone and takes it over only once its owner is gone:

- the lease ran out (the owner stopped renewing: its process died or lost the store), or
- the owner is an earlier try of the same task (Airflow runs one try of a task at a time), or
- the owner ran on this host and its process no longer exists.

A takeover is conditional on the claim's ``generation``, which every renewal raises, so it
fails when the owner turns out to be alive after all. The claim is released when the unit is
done (moved out of ``processing/``, stored, refused).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from credit_exchange.store.models import Claim
from credit_exchange.timeutil import now_local

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# Renewed this often while the owner works: four renewals fit in one lease.
RENEW_EVERY_S = LEASE.total_seconds() / 4


@dataclass(frozen=True)
class Owner:
    """A run that takes units: the task it serves (``dag/run/task``) and the process it runs in."""

    task: str
    host: str
    pid: int

    @classmethod
    def here(cls, task: str | None) -> Owner:
        return cls(task or "", socket.gethostname(), os.getpid())

    @classmethod
    def of_context(cls, context: dict[str, Any]) -> Owner:
        """The owner for a task's context: the task instance, whichever try this is."""
        ti = context.get("ti") or context.get("task_instance")
        parts = [getattr(ti, "dag_id", None), context.get("run_id") or getattr(ti, "run_id", None),
                 getattr(ti, "task_id", None)]
        map_index = getattr(ti, "map_index", -1)
        if isinstance(map_index, int) and map_index >= 0:
            parts.append(str(map_index))
        return cls.here("/".join(str(p) for p in parts if p))

    def __str__(self) -> str:
        return f"{self.task}@{self.host}:{self.pid}"

    @classmethod
    def parse(cls, text: str) -> Owner:
        task, _, where = text.rpartition("@")
        host, _, pid = where.rpartition(":")
        return cls(task, host, int(pid) if pid.isascii() and pid.isdigit() else -1)

    def sees_gone(self, other: Owner) -> bool:
        """Whether ``other`` (a claim's owner) is certainly no longer working, as far as this run can tell."""
        if other.task and other.task == self.task and other != self:
            return True  # an earlier try of this very task
        if other.host == self.host and other.pid != self.pid:
            return not _alive(other.pid)
        return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


class Claims:
    """The claims one run holds for one department."""

    def __init__(self, store: Any, department: str, owner: Owner, lease: timedelta = LEASE) -> None:
        self.store = store
        self.department = department
        self.owner = owner
        self.lease = lease
        self._me = str(owner)

    def take(self, name: str) -> bool:
        """Claim ``name``; False when another run holds it and is not known to be gone."""
        now = now_local()
        try:
            with self.store.session() as s:
                row = s.get(Claim, (self.department, name))
                if row is None:
                    s.add(Claim(department=self.department, name=name, owner=self._me, lease_until=now + self.lease,
                                generation=0, claimed_at=now))
                    s.flush()
                    return True
                if row.owner == self._me:
                    row.lease_until, row.generation = now + self.lease, row.generation + 1
                    return True
                holder = Owner.parse(row.owner)
                if row.lease_until > now and not self.owner.sees_gone(holder):
                    log.info("%s: being taken by %s (lease until %s); left alone", name, holder,
                             row.lease_until.isoformat(timespec="seconds"))
                    return False
                result = s.execute(update(Claim).where(
                    Claim.department == self.department, Claim.name == name, Claim.owner == row.owner,
                    Claim.generation == row.generation,
                ).values(owner=self._me, lease_until=now + self.lease, generation=row.generation + 1, claimed_at=now))
                if cast("CursorResult[Any]", result).rowcount != 1:
                    return False
                log.warning("%s: taking over from %s, whose run is gone", name, holder)
                return True
        except IntegrityError:
            return False  # another run claimed it a moment ago

    def holder(self, name: str) -> str | None:
        with self.store.session() as s:
            row = s.get(Claim, (self.department, name))
            return row.owner if row is not None else None

    def release(self, name: str, session: Any = None) -> None:
        """Give ``name`` up (in ``session``'s transaction when given, so it goes with the unit's outcome)."""
        stmt = delete(Claim).where(Claim.department == self.department, Claim.name == name, Claim.owner == self._me)
        if session is not None:
            session.execute(stmt)
            return
        with self.store.session() as s:
            s.execute(stmt)

    def renew(self, session: Any = None, name: str | None = None) -> None:
        """Push the lease of this run's claims (or of ``name`` only) forward, and raise their generation.

        Given the unit's own ``session``, the renewal commits with the unit's outcome: a run that
        meanwhile saw this owner as gone then fails to take the unit over.
        """
        stmt = update(Claim).where(Claim.department == self.department, Claim.owner == self._me)
        if name is not None:
            stmt = stmt.where(Claim.name == name)
        stmt = stmt.values(lease_until=now_local() + self.lease, generation=Claim.generation + 1)
        if session is not None:
            session.execute(stmt)
            return
        with self.store.session() as s:
            s.execute(stmt)

    def held(self) -> list[str]:
        with self.store.session() as s:
            return list(s.execute(select(Claim.name).where(
                Claim.department == self.department, Claim.owner == self._me)).scalars())

    @contextmanager
    def kept_alive(self, every_s: float = RENEW_EVERY_S) -> Iterator[Claims]:
        """Renew this run's leases in the background while the block runs.

        On SQLite a renewal waits while this run's own file transaction holds the write lock;
        the unit's transaction then renews its claim itself before it commits (``renew(session)``).
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                try:
                    self.renew()
                except OperationalError as exc:
                    log.debug("claim renewal postponed: %s", type(exc).__name__)
                except Exception:  # noqa: BLE001 - a missed renewal only shortens the lease
                    log.warning("could not renew the claims of %s", self._me, exc_info=True)

        thread = threading.Thread(target=beat, name=f"claims-{self.department}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=5)
