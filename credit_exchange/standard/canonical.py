"""Canonical JSON and content hashes, as the county platform computes them (contracts.md 2.1)."""

from __future__ import annotations

import hashlib
import json
import json.encoder
import math
from collections.abc import Callable
from typing import Any

import msgspec

_SEPARATORS = (",", ":")

# json.dumps builds a JSONEncoder and a C encoder on every call; for the hot path (every record of
# every file) the C encoder is built once. It is exactly what json.dumps(obj, sort_keys=True,
# separators=(",", ":"), ensure_ascii=False) runs, so the bytes are the same.
_c_make_encoder: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Callable[[Any, int], Any] | None = None
if _c_make_encoder is not None:
    _c_encode = _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None,
                                _SEPARATORS[1], _SEPARATORS[0], True, False, True)


# msgspec (a dependency of Airflow) writes the same bytes as the encoder above several times faster
# for what records are made of: text, integers, booleans, null, floats and lists of these. Floats
# agree only where Python's repr writes no exponent (msgspec writes 1e-05 as 0.00001 and 1e+16 as
# 1e16, and NaN as null), so a record holding any other float, or anything else, takes the json
# path. tests/unit/standard/test_canonical.py holds the two paths to each other.
_msgspec_encode = msgspec.json.Encoder(order="sorted").encode
_PLAIN = frozenset({str, int, bool, type(None)})
_PLAIN_OR_FLOAT = _PLAIN | {float}
_PLAIN_FLOAT_OR_LIST = _PLAIN | {float, list}
_STR = frozenset({str})
# C-level predicates for filter(): isinstance(x, float) and isinstance(x, list).
_is_float = float.__instancecheck__
_is_list = list.__instancecheck__


def _plain_floats(floats: list[float]) -> bool:
    """Finite and written without an exponent by repr (zero included: it takes the json path)."""
    return all(map(math.isfinite, floats)) and min(map(abs, floats)) >= 1e-4 and max(map(abs, floats)) < 1e16


def _plain(obj: dict[Any, Any]) -> bool:
    """A flat record with str keys whose values msgspec writes exactly as json does."""
    values = obj.values()
    types = set(map(type, values))
    if not types <= _PLAIN:
        if not types <= _PLAIN_FLOAT_OR_LIST:
            return False
        if float in types and not _plain_floats(list(filter(_is_float, values))):
            return False
        if list in types:
            for items in filter(_is_list, values):
                inner = set(map(type, items))
                if not inner <= _PLAIN and (not inner <= _PLAIN_OR_FLOAT
                                            or not _plain_floats(list(filter(_is_float, items)))):
                    return False
    return set(map(type, obj)) <= _STR


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=_SEPARATORS, ensure_ascii=False)


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, no insignificant white space, UTF-8, non-ASCII kept as is."""
    if type(obj) is dict and _plain(obj):
        try:
            return _msgspec_encode(obj)
        except (msgspec.EncodeError, UnicodeEncodeError, OverflowError, TypeError):
            pass  # e.g. a lone surrogate: the json path raises its usual error
    if _c_encode is not None and type(obj) is dict:
        try:
            return "".join(_c_encode(obj, 0)).encode("utf-8")
        except (TypeError, ValueError, RecursionError):
            pass  # not JSON as such (a datetime, a cycle): json.dumps raises its usual error, below
    return _dumps(obj).encode("utf-8")


def canonical_json_valid(data: dict[str, Any], unchecked: tuple[str, ...]) -> bytes:
    """``canonical_json`` of a record its schema accepted, on the ingest hot path.

    The schema already holds every value to text, booleans, integers or lists of text except
    the fields in ``unchecked`` (numbers, in practice): only those are looked at here.
    """
    for name in unchecked:
        v = data.get(name)
        if v is not None and type(v) is not int and (type(v) is not float or not _plain_floats([v])):
            return canonical_json(data)
    try:
        return _msgspec_encode(data)
    except (msgspec.EncodeError, UnicodeEncodeError, OverflowError, TypeError):
        return canonical_json(data)


def content_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


EMPTY_HASH = content_hash({})
