"""Canonical JSON and content hashes, as the county platform computes them (contracts.md 2.1)."""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from typing import Any

_SEPARATORS = (",", ":")

# json.dumps builds a JSONEncoder and a C encoder on every call; for the hot path (every record of
# every file) the C encoder is built once. It is exactly what json.dumps(obj, sort_keys=True,
# separators=(",", ":"), ensure_ascii=False) runs, so the bytes are the same.
_c_make_encoder: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Callable[[Any, int], Any] | None = None
if _c_make_encoder is not None:
    _c_encode = _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None,
                                _SEPARATORS[1], _SEPARATORS[0], True, False, True)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=_SEPARATORS, ensure_ascii=False)


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, no insignificant white space, UTF-8, non-ASCII kept as is."""
    if _c_encode is not None and type(obj) is dict:
        try:
            return "".join(_c_encode(obj, 0)).encode("utf-8")
        except (TypeError, ValueError, RecursionError):
            pass  # not JSON as such (a datetime, a cycle): json.dumps raises its usual error, below
    return _dumps(obj).encode("utf-8")


def content_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


EMPTY_HASH = content_hash({})
