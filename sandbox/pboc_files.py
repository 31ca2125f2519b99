"""PBoC payment-risk pairs as the sub-branch's system writes them (contracts.md 1.4).

Used by the demo and the tests to play the PBoC: a ``.dat`` data file and its
``.ok`` control file (``{name}|{count}|{SM3}``). Their server is read-only for
the hub, so the files are written straight into the stand-in's data root on
disk (``write_pair``), data file first, control file last, as the real sender does.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from credit_exchange.feeds.pboc.parser import COLUMNS
from credit_exchange.standard.mapping import format_decimal
from sandbox.samples import valid_record

RECORD_TYPE = "payment_risk_event"


def sm3(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def pair_name(day: date | datetime, seq: int = 1) -> str:
    """``PBOC_PAYRISK_{YYYYMMDD}_{NN}.dat``."""
    return f"PBOC_PAYRISK_{day:%Y%m%d}_{seq:02d}.dat"


def control_name(name: str) -> str:
    return name.removesuffix(".dat") + ".ok"


def _wire(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return format_decimal(value)
    return str(value)


def dat_line(row: dict[str, Any]) -> str:
    """One data line: canonical fields plus ``version`` (default 1) and ``op`` (``U`` default, ``D``).

    ``{"raw": "..."}`` is written as it stands (to play a broken line). A ``D`` row
    carries only ``event_id|version|op`` unless ``full`` is true.
    """
    if "raw" in row:
        return str(row["raw"])
    values = {**row, "version": row.get("version", 1), "op": row.get("op", "U")}
    if values["op"] == "D" and not row.get("full"):
        return "|".join(_wire(values.get(c)) for c in COLUMNS[:3])
    return "|".join(_wire(values.get(c)) for c in COLUMNS)


def dat_file(rows: list[dict[str, Any]]) -> bytes:
    return "".join(dat_line(r) + "\n" for r in rows).encode("utf-8")


def control_line(name: str, data: bytes, count: int) -> bytes:
    return f"{name}|{count}|{sm3(data)}\n".encode()


def pboc_pair(rows: list[dict[str, Any]], name: str, *, wrong_count: bool = False,
              wrong_digest: bool = False) -> dict[str, bytes]:
    """``{data file name: bytes, control file name: bytes}``; the ``wrong_*`` flags play a broken pair."""
    data = dat_file(rows)
    count = len(rows) + (1 if wrong_count else 0)
    digest = sm3(data + b"#" if wrong_digest else data)
    return {name: data, control_name(name): f"{name}|{count}|{digest}\n".encode()}


def write_pair(outbox: Path, files: dict[str, bytes]) -> list[Path]:
    """Write a pair into the stand-in's ``outbox`` folder on disk: data files first, control files last."""
    outbox.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files, key=lambda n: n.endswith(".ok")):
        path = outbox / name
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(files[name])
        tmp.replace(path)
        written.append(path)
    return written


def events(today: date, count: int, start: int = 1, version: int = 1) -> list[dict[str, Any]]:
    """``count`` valid payment-risk events (canonical fields + version)."""
    return [{**valid_record(RECORD_TYPE, i, today), "version": version} for i in range(start, start + count)]


def demo_night(today: date, at: datetime) -> dict[str, bytes]:
    """A realistic night's pair: 12 lines with one delete, one broken line and one high-risk 终止服务 event."""
    rows = events(today, 10)
    # The night's serious case: the acquirer ended service for a cash-out merchant.
    rows[3].update({"event_type": "套现", "risk_level": "高", "action_taken": "终止服务",
                    "remark": "商户涉嫌信用卡套现，收单机构已终止服务并报送"})
    # An earlier event withdrawn after review.
    withdrawn = valid_record(RECORD_TYPE, 90, today)
    rows.append({"event_id": withdrawn["event_id"], "version": 2, "op": "D"})
    # A clerk's typo: an unknown risk level.
    broken = {**valid_record(RECORD_TYPE, 11, today), "risk_level": "极高"}
    rows.append(broken)
    return pboc_pair(rows, pair_name(at, 1))
