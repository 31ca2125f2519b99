"""The envelope of a delivered record and of a file: ids, versions, counts. One set of rules for every feed.

Every byte from a department is hostile. Numbers in an envelope are ASCII digits only
(``str.isdigit`` also takes "²" and "３", which ``int`` then reads or refuses), and no
longer than the largest value they may hold, so a value thousands of digits long is a
problem of its record, never an exception that stops the file.
"""

from __future__ import annotations

import re

# The store keeps versions as 32-bit integers.
MAX_VERSION = 2**31 - 1
# Department record ids longer than this are refused (the store's column is 128 characters).
MAX_ID_LENGTH = 128
# A count of records in one file or pair (recordCount, a control file's count).
MAX_COUNT = 10**10 - 1

_DIGITS = re.compile(r"[0-9]{1,10}")


def whole_number(text: str | None, maximum: int) -> int | None:
    """``text`` (trimmed) as a whole number 0..``maximum``, or None: ASCII digits only, at most ten."""
    if text is None:
        return None
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


def version(text: str | None) -> int | None:
    """A department's record version: a whole number 1..2³¹−1, or None."""
    value = whole_number(text, MAX_VERSION)
    return value if value else None


def count(text: str | None) -> int | None:
    """A declared number of records (``recordCount``, a control file's count), or None."""
    return whole_number(text, MAX_COUNT)


def quoted(text: str, limit: int = 20) -> str:
    """A short quote of a bad value for a message: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "…"
