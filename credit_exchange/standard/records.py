"""What every parser yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from credit_exchange.standard.messages import message
from credit_exchange.standard.validation import Problem


@dataclass(slots=True)
class SourceRecord:
    """One record as delivered, already mapped to canonical field names."""

    ordinal: int
    position: str
    record_type: str
    dept_record_id: str | None
    dept_version: int | None
    op: str | None  # "upsert" | "delete"; None when the source said something else
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class FileRejected(Exception):
    """The file as a whole is refused (contracts.md 1.5: one error with position ``file``)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        self.message = message(code, **params)
        super().__init__(f"{code}: {self.message}")


def record_problem(code: str, field_name: str = "", label: str = "", field_code: str = "", **params: Any) -> Problem:
    """A structural problem of a record found by a parser (not by the schema)."""
    return Problem(field=field_name, field_code=field_code, label=label, code=code,
                   message=message(code, label=label, **params))
