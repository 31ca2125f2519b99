"""A clerk at the police inbox: drops files (aged past the quiet period unless told), reads receipts, runs the ingest."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credit_exchange import config
from credit_exchange.config import Feed
from credit_exchange.feeds.inbox import InboxIngest, IngestSummary

TODAY = date(2026, 11, 28)


@dataclass
class PoliceInbox:
    inbox: Any
    root: Path
    store: Any = None
    vault: Any = None

    @property
    def dir(self) -> Path:
        return self.root / "police"

    def drop(self, name: str, body: bytes, age_seconds: float | None = 600) -> Path:
        """Upload ``body`` as ``/police/inbox/{name}``; ``age_seconds`` back-dates it on the server."""
        self.inbox.upload_atomic(body, f"/police/inbox/{name}")
        local = self.dir / "inbox" / name
        if age_seconds is not None:
            self.age(local, age_seconds)
        return local

    @staticmethod
    def age(path: Path, seconds: float) -> None:
        """Set the file's modification time ``seconds`` before it was written, on the server's clock (its disk
        is local here): the kernel stamped the upload, whatever time this process believes it is."""
        then = path.stat().st_mtime - seconds
        os.utime(path, (then, then))

    def receipt(self, name: str) -> dict[str, Any]:
        return json.loads(self.receipt_text(name))

    def receipt_text(self, name: str) -> str:
        return (self.dir / "receipts" / f"{name}.receipt.json").read_text(encoding="utf-8")

    def run(self, feed: Feed | None = None, today: date = TODAY) -> IngestSummary:
        return InboxIngest(feed or config.feed("police"), self.inbox, self.store, self.vault, today,
                           run_id="test").run()


@pytest.fixture
def police(inbox: Any, inbox_root: Path, store: Any, vault: Any) -> PoliceInbox:
    """The police inbox with the hub's store (SQLite and PostgreSQL)."""
    return PoliceInbox(inbox, inbox_root, store, vault)


@pytest.fixture
def police_inbox(inbox: Any, inbox_root: Path) -> PoliceInbox:
    """The police inbox alone (for dag.test() runs, which open their own store)."""
    return PoliceInbox(inbox, inbox_root)
