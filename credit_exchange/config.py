"""The county's editable configuration (``config/*.yaml``), loaded once per process."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(os.environ.get("HUB_CONFIG_DIR", Path(__file__).resolve().parent.parent / "config"))


@cache
def load(name: str) -> dict[str, Any]:
    path = CONFIG_DIR / f"{name}.yaml"
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


@dataclass(frozen=True)
class RejectThreshold:
    """Above this many (or this share of) rejected records a file is refused whole."""

    count: int | None = None
    share: float | None = None
    min_records: int = 0

    def exceeded(self, rejected: int, total: int) -> bool:
        if total < self.min_records:
            return False
        if self.count is not None and rejected > self.count:
            return True
        return self.share is not None and total > 0 and rejected / total > self.share

    def describe(self) -> str:
        parts = []
        if self.count is not None:
            parts.append(f"{self.count} 条 (records)")
        if self.share is not None:
            parts.append(f"{self.share:.0%}")
        return " / ".join(parts)


@dataclass(frozen=True)
class Feed:
    """How one department delivers: where its files are and what they are named."""

    department: str
    label: str
    connection: str
    root: str
    file_pattern: re.Pattern[str]
    parser: str
    max_file_bytes: int
    kinds: dict[str, str] = field(default_factory=dict)
    record_type: str | None = None
    reject_threshold: RejectThreshold = RejectThreshold()
    options: dict[str, Any] = field(default_factory=dict)

    def folder(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"


def watched_inboxes() -> dict[str, dict[str, str]]:
    """Departments whose inbox is watched in office hours: {department: {path, pattern, schedule, connection}}."""
    out = {}
    for dept, raw in load("departments")["departments"].items():
        watch = raw.get("watch")
        if watch:
            root = raw.get("root", f"/{dept}").rstrip("/")
            out[dept] = {"path": f"{root}/inbox", "pattern": watch["pattern"], "schedule": watch["schedule"],
                         "connection": raw["connection"]}
    return out


def feed(department: str) -> Feed:
    raw = load("departments")["departments"][department]
    thr = raw.get("reject_threshold") or {}
    return Feed(
        department=department,
        label=raw["label"],
        connection=raw["connection"],
        root=raw.get("root", f"/{department}"),
        file_pattern=re.compile(raw["file_pattern"]),
        parser=raw["parser"],
        max_file_bytes=int(raw.get("max_file_bytes", 2 * 1024**3)),
        kinds=dict(raw.get("kinds") or {}),
        record_type=raw.get("record_type"),
        reject_threshold=RejectThreshold(
            count=thr.get("count"), share=thr.get("share"), min_records=int(thr.get("min_records", 0))
        ),
        options={k: v for k, v in raw.items() if k not in {
            "label", "connection", "root", "file_pattern", "parser", "max_file_bytes", "kinds",
            "record_type", "reject_threshold"}},
    )
