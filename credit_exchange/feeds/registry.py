"""Parsers by format behind one small interface: ``parse(stream, feed, file_name) -> Iterator[SourceRecord]``.

A parser never opens a connection; it reads a binary stream and yields
records in canonical form (mapped through the field table), each with the
structural problems it found. A problem with the file as a whole raises
``FileRejected``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from credit_exchange.config import Feed
from credit_exchange.standard.records import FileRejected, SourceRecord

Parser = Callable[[BinaryIO, Feed, str], Iterator[SourceRecord]]


def get_parser(name: str) -> Parser:
    if name == "market_xml":
        from credit_exchange.feeds.market.parser import parse

        return parse
    if name == "pboc_dat":
        from credit_exchange.feeds.pboc.parser import parse as parse_pboc

        return parse_pboc
    if name == "police_csv":
        from credit_exchange.feeds.police.parser import parse as parse_police

        return parse_police
    raise KeyError(f"no parser named {name!r}")


__all__ = ["FileRejected", "Parser", "SourceRecord", "get_parser"]
