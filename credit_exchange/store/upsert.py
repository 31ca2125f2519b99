"""Insert-or-update in bulk on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def upsert(session: Session, model: Any, rows: list[dict[str, Any]], key: list[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:  # pragma: no cover - the store runs on these two only
        raise NotImplementedError(dialect)
    stmt = insert(model)
    cols = {c: getattr(stmt.excluded, c) for c in rows[0] if c not in key}
    session.execute(stmt.on_conflict_do_update(index_elements=key, set_=cols), rows)
