"""The hub's fast paths in C, in one place, chosen once per process behind one interface.

The product is defined by its Python paths: the format checks in ``standard/checks.py`` and lxml's
reader in ``feeds/market/parser.py``. Each C module here does the same work faster and is held
to its Python reference by the tests (tests/unit/standard/test_checks.py,
tests/unit/feeds/market/test_sax.py). In the style of dlt's ``dlt/common/json``:

- the choice is made here, once, at import; callers ask for ``CHECKS`` and ``MARKET_SAX`` and
  fall back to their Python path when one is ``None``;
- ``QW_PURE_PYTHON=1`` chooses the Python paths everywhere (the suite passes so too);
- a C module that was not built (no compiler at install) is the same as ``QW_PURE_PYTHON=1``
  for that module, said once in the log by its caller.

This package imports nothing of the hub: every layer may use it (docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import import_module
from types import ModuleType
from typing import Any, Protocol, cast

PURE_PYTHON = os.environ.get("QW_PURE_PYTHON", "") == "1"


class FormatChecks(Protocol):
    """The four check-digit formats (docs/data-standard.md 1.8), as JSON Schema format callables."""

    def is_uscc(self, value: object) -> bool: ...
    def is_org_code(self, value: object) -> bool: ...
    def is_id_number(self, value: object) -> bool: ...
    def is_date(self, value: object) -> bool: ...


class SaxParser(Protocol):
    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]: ...
    def close(self) -> list[Any]: ...


class MarketSax(Protocol):
    """A push reader of market XML Records, the same Records as lxml's (feeds/market/parser.py)."""

    NotWellFormed: type[Exception]
    Unexpected: type[Exception]
    Doctype: type[Exception]
    LIBXML_VERSION: str

    def Parser(self, namespace: str,  # noqa: N802 - the C type's name
               plan: Mapping[str, tuple[str, Callable[[str], Any] | None]] | None = None) -> SaxParser: ...


def _load(name: str) -> ModuleType | None:
    if PURE_PYTHON:
        return None
    try:
        return import_module(f"{__name__}.{name}")
    except ImportError:  # not built: no compiler at install
        return None


CHECKS: FormatChecks | None = cast("FormatChecks | None", _load("_checks"))
MARKET_SAX: MarketSax | None = cast("MarketSax | None", _load("_market_sax"))


def chosen() -> dict[str, str]:
    """Which path each fast path takes in this process ("c" or "python"): for logs and benchmarks."""
    return {"format_checks": "c" if CHECKS else "python", "market_xml_reader": "c" if MARKET_SAX else "python"}
