"""Receipts (回执) back to departments, contracts.md 1.5."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from credit_exchange.standard.pii import mask_text

RECEIPT_SUFFIX = ".receipt.json"
# A file name on the inbox server is at most 255 bytes, and the hub's uploads add ".tmp" first.
NAME_MAX_BYTES = 255
_UPLOAD_SUFFIX = ".tmp"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")

# Past this many error entries a receipt says how many more there were instead
# of listing them; every reject stays in the store for admins.
MAX_ERRORS = 20_000


@dataclass
class Counts:
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    stale: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "accepted": self.accepted, "rejected": self.rejected,
                "unchanged": self.unchanged, "stale": self.stale}


@dataclass
class ReceiptErrors:
    entries: list[dict[str, str]] = field(default_factory=list)
    omitted: int = 0

    def add(self, position: str, record_id: str | None, label: str, field_code: str, code: str, message: str) -> None:
        if len(self.entries) >= MAX_ERRORS:
            self.omitted += 1
            return
        # A clerk may type an ID number where a case number belongs: mask it there too.
        entry = {"position": position, "record_id": mask_text(record_id or ""), "field": label, "code": code,
                 "message": mask_text(message)}
        if field_code:
            entry["field_code"] = field_code
        self.entries.append(entry)


def fit_file_name(name: str, suffix: str) -> str:
    """``name + suffix`` as a name the hub may write next to ``name`` on the inbox server.

    Personal data in the name is masked and control characters become ``_``; a name that
    would be too long once the suffix and the upload's ``.tmp`` are added is shortened. When
    either changed the name, a digest of the full name keeps two such names apart.
    """
    clean = _CONTROLS.sub("_", mask_text(name))
    room = NAME_MAX_BYTES - len((suffix + _UPLOAD_SUFFIX).encode("utf-8"))
    if clean == name and len(clean.encode("utf-8")) <= room:
        return clean + suffix
    tag = "~" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    head = clean.encode("utf-8")[: room - len(tag)].decode("utf-8", "ignore")
    return head + tag + suffix


def receipt_file_name(name: str) -> str:
    """The receipt's name for a received file: ``{name}.receipt.json``, masked and shortened if need be."""
    return fit_file_name(name, RECEIPT_SUFFIX)


def status_of(counts: Counts, refused_whole: bool) -> str:
    if refused_whole or (counts.rejected and not (counts.accepted or counts.unchanged)):
        return "rejected"
    if counts.rejected:
        return "partially_accepted"
    return "accepted"


def build(file_name: str, sha256: str | None, received_at: datetime, processed_at: datetime,
          counts: Counts, errors: ReceiptErrors, refused_whole: bool) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "file": mask_text(file_name),
        "sha256": sha256 or "",
        "received_at": received_at.isoformat(timespec="seconds"),
        "processed_at": processed_at.isoformat(timespec="seconds"),
        "status": status_of(counts, refused_whole),
        "records": counts.as_dict(),
        "errors": errors.entries,
    }
    if errors.omitted:
        receipt["errors_omitted"] = errors.omitted
    return receipt


def dumps(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt, ensure_ascii=False, indent=2).encode("utf-8")
