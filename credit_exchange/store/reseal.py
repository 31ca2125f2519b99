"""Re-sealing the store under pii_key's current key: what ``qianwei-hub rotate-key`` runs.

Every column that holds sealed values (``SEALED``) is walked in primary-key order, a batch of
rows per transaction. A value already sealed with the current key is left alone, so a rerun, or a
run after an interruption, only does what is left. A row is updated only if its value is still
the one read (compare and set), so a task that rewrote the row meanwhile (with the current key:
the connection is changed before the rotation) is never overwritten with stale content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, and_, select, update

from credit_exchange.standard.crypto import PiiVault
from credit_exchange.store.db import Store
from credit_exchange.store.models import Batch, Delivery, Record, RecordVersion

# (model, primary key, sealed columns): every place the store keeps a sealed value.
SEALED: tuple[tuple[Any, str, tuple[str, ...]], ...] = (
    (Delivery, "id", ("data_enc",)),
    (Record, "record_id", ("data_enc",)),
    (RecordVersion, "id", ("data_enc", "subject_enc")),
    (Batch, "batch_id", ("body_enc",)),
)


@dataclass
class ColumnCount:
    """What a pass found in one column: values re-sealed (or, checking, still to re-seal), and already current."""

    column: str
    resealed: int = 0
    current: int = 0
    left: int = 0


def reseal_store(store: Store, vault: PiiVault, *, batch_size: int = 500, check_only: bool = False,
                 progress: Callable[[ColumnCount], None] | None = None) -> list[ColumnCount]:
    """Seal every sealed value of the store with ``vault``'s current key; or, ``check_only``, count what is left.

    Returns one count per column (``table.column``); ``left`` counts values a compare-and-set
    lost to a concurrent writer (or, checking, the values not yet current). A value no key of
    the vault opens raises ``PiiKeyMissing`` after the batches before it were committed.
    """
    counts = []
    for model, key_name, columns in SEALED:
        key: Column[Any] = getattr(model, key_name)
        for column_name in columns:
            column: Column[Any] = getattr(model, column_name)
            count = ColumnCount(f"{model.__tablename__}.{column_name}")
            last: Any = None
            while True:
                with store.session() as session:
                    query = select(key, column).order_by(key).limit(batch_size)
                    if last is not None:
                        query = query.where(key > last)
                    rows = session.execute(query).all()
                    for row_key, value in rows:
                        if vault.sealed_with_current(value):
                            count.current += 1
                        elif check_only:
                            count.left += 1
                        else:
                            done = session.execute(update(model).where(and_(key == row_key, column == value))
                                                   .values({column_name: vault.reseal(value)}))
                            if done.rowcount == 1:  # type: ignore[attr-defined]
                                count.resealed += 1
                            else:
                                count.left += 1
                if not rows:
                    break
                last = rows[-1][0]
            counts.append(count)
            if progress is not None:
                progress(count)
    return counts
