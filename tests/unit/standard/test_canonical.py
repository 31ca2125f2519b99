"""Canonical JSON (contracts.md 2.1): the fast paths write exactly the bytes of the json reference."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_exchange.standard.canonical import canonical_json, canonical_json_valid, content_hash
from credit_exchange.standard.validation import get_validator
from sandbox.samples import valid_record

TODAY = date(2026, 11, 28)


def reference(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# Floats from every decade where repr switches to or from exponents, and the values json writes its own way.
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-4, 9.9e-5, 1e-5, 1.5e-7, 1e15, 9.999999e15, 1e16, 1e22, 0.1, 2.5, 100.0]),
    st.integers(-30, 30).map(lambda e: 1.25 * 10.0**e),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(2**80), 2**80), floats, st.text())
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=3), scalars, max_size=3))


@given(st.dictionaries(st.text(), values, max_size=12))
@settings(max_examples=500, deadline=None)
def test_canonical_json_equals_the_reference(obj: dict[str, Any]) -> None:
    try:
        expected = reference(obj)
    except UnicodeEncodeError:  # a lone surrogate is not UTF-8: both refuse it
        with pytest.raises(UnicodeEncodeError):
            canonical_json(obj)
        return
    assert canonical_json(obj) == expected


@given(st.dictionaries(st.one_of(st.integers(), st.booleans()), st.text(max_size=2), max_size=4))
def test_non_text_keys_are_written_as_json_writes_them(obj: dict[Any, str]) -> None:
    try:
        expected = reference(obj)
    except TypeError:  # mixed key types cannot be sorted
        with pytest.raises(TypeError):
            canonical_json(obj)
        return
    assert canonical_json(obj) == expected


@pytest.mark.parametrize("record_type", ["administrative_penalty", "payment_risk_event", "courier_rating",
                                         "administrative_license", "fraud_case"])
@given(i=st.integers(0, 10_000), amount=floats)
@settings(max_examples=150, deadline=None)
def test_valid_records_take_the_fast_path_with_the_same_bytes(record_type: str, i: int, amount: float) -> None:
    validator = get_validator(TODAY)
    data = valid_record(record_type, i, TODAY)
    # Put the generated float into every field the schema leaves open (the amounts).
    for name in validator.unchecked_fields(record_type):
        if name in data:
            data[name] = amount
    assert canonical_json_valid(data, validator.unchecked_fields(record_type)) == reference(data)


def test_the_empty_record_hash_is_the_contracts() -> None:
    assert content_hash({}) == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
