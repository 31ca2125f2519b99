"""Parsers by format, a name -> parser table (in the style of the Airbyte file-based CDK), behind one small interface: ``parse(stream, feed, file_name) -> Iterator[SourceRecord]``.

A parser never opens a connection; it reads a binary stream and yields
records in canonical form (mapped through the field table), each with the
structural problems it found. A problem with the file as a whole raises
``FileRejected``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import BinaryIO

from credit_exchange.config import Feed
from credit_exchange.standard.records import FileRejected, SourceRecord

Parser = Callable[[BinaryIO, Feed, str], Iterator[SourceRecord]]


# name (``parser`` in config/departments.yaml) -> "module:function" of the parser.
PARSERS: dict[str, str] = {
    "market_xml": "credit_exchange.feeds.market.parser:parse",
    "police_csv": "credit_exchange.feeds.police.parser:parse",
    "pboc_dat": "credit_exchange.feeds.pboc.parser:parse",
}


def parser_path(name: str) -> str:
    """Where the parser ``name`` lives, as "module:function" (the parse worker imports it from there)."""
    try:
        return PARSERS[name]
    except KeyError:
        raise KeyError(f"no parser named {name!r}") from None


def load_parser(path: str) -> Parser:
    """The parser at "module:function"."""
    module_name, function_name = path.split(":")
    parser: Parser = getattr(import_module(module_name), function_name)
    return parser


def get_parser(name: str) -> Parser:
    return load_parser(parser_path(name))


__all__ = ["PARSERS", "FileRejected", "Parser", "SourceRecord", "get_parser", "load_parser", "parser_path"]
