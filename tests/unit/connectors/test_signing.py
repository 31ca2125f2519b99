"""The request-signing scheme of contracts.md 1.3, checked against hand-computed vectors.

Expected HMACs were computed outside Python with
``printf '%s' "$TEXT" | openssl dgst -sha256 -hmac "$SECRET"``.
"""

from __future__ import annotations

import pytest

from connectors.signing import (
    NonceCache,
    SignatureError,
    canonical_query,
    parse_query,
    sign_headers,
    string_to_sign,
    verify,
)

SECRET = "test-secret-不要用于生产"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TS = 1764256200000  # 2025-11-27T23:10:00+08:00 in Unix milliseconds
GET_TEXT = (
    "GET\n/api/v1/courier-enterprises\n"
    "page_size=2&updated_since=2026-11-27T23%3A10%3A00%2B08%3A00\n"
    "1764256200000\n0123456789abcdef0123\n" + EMPTY_SHA256
)
GET_SIGNATURE = "cb0f389b5330e8084ddcd13119c8420783b0b4bfe0c3677aca070fe81197d251"
POST_BODY = b'{"batch_id":"b-1","records":[]}'
POST_BODY_SHA256 = "bff0b84046c9e366c49110138f1b81d5610c38dce1ed9e89c4010baa72781916"
POST_SIGNATURE = "ecb71bc0aa2a57bba34208b7ec3ab09fe83728959c11c24d901b08ab8a10eb44"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "a+b"}, "q=a%2Bb"),  # "+" is a literal plus, never a space
        ({"q": "a b"}, "q=a%20b"),  # space is %20, never "+"
        ({"name": "犍为"}, "name=%E7%8A%8D%E4%B8%BA"),  # UTF-8 bytes, upper-case hex
        ({"k": "AZaz09-._~"}, "k=AZaz09-._~"),  # unreserved characters kept
        ({"k": "/?:&=%#"}, "k=%2F%3F%3A%26%3D%25%23"),  # reserved ones encoded
        ({"名 称": "值"}, "%E5%90%8D%20%E7%A7%B0=%E5%80%BC"),  # names are encoded too
        ({"updated_since": "2026-11-27T23:10:00+08:00"}, "updated_since=2026-11-27T23%3A10%3A00%2B08%3A00"),
        ({"b": "1", "a": "2"}, "a=2&b=1"),  # sorted by name
        ([("a", "2"), ("b", "1"), ("a", "10")], "a=10&a=2&b=1"),  # then by value (as strings)
        ({"a": ["2", "10"]}, "a=10&a=2"),  # a list is a repeated parameter
        ({"x": ["~", "中"]}, "x=%E4%B8%AD&x=~"),  # order of the encoded forms
        ({"page_size": 500, "deleted": False}, "deleted=false&page_size=500"),
        ({"a": "1", "skip": None}, "a=1"),  # None means "not sent"
        ({"empty": ""}, "empty="),
        (None, ""),
        ({}, ""),
        ([], ""),
    ],
)
def test_canonical_query(params: object, expected: str) -> None:
    assert canonical_query(params) == expected  # type: ignore[arg-type]


def test_parse_query_keeps_plus_literal_and_round_trips() -> None:
    assert parse_query("q=a+b&r=a%2Bb&s=a%20b&&t") == [("q", "a+b"), ("r", "a+b"), ("s", "a b"), ("t", "")]
    raw = canonical_query({"updated_since": "2026-11-27T23:10:00+08:00", "名": "犍为 a+b"})
    assert canonical_query(parse_query(raw)) == raw


def test_string_to_sign_get_vector() -> None:
    query = canonical_query({"updated_since": "2026-11-27T23:10:00+08:00", "page_size": 2})
    text = string_to_sign("get", "/api/v1/courier-enterprises", query, TS, "0123456789abcdef0123", b"")
    assert text == GET_TEXT


def test_sign_headers_get_vector() -> None:
    headers = sign_headers("app-1", SECRET, "GET", "/api/v1/courier-enterprises",
                           {"updated_since": "2026-11-27T23:10:00+08:00", "page_size": 2}, b"",
                           now_ms=TS, nonce="0123456789abcdef0123")
    assert headers == {"X-App-Key": "app-1", "X-Timestamp": "1764256200000",
                       "X-Nonce": "0123456789abcdef0123", "X-Signature": GET_SIGNATURE}


def test_sign_headers_post_vector() -> None:
    text = string_to_sign("POST", "/api/v1/batches", "", TS, "abcdefghijklmnop", POST_BODY)
    assert text == f"POST\n/api/v1/batches\n\n1764256200000\nabcdefghijklmnop\n{POST_BODY_SHA256}"
    headers = sign_headers("app-1", SECRET, "POST", "/api/v1/batches", None, POST_BODY,
                           now_ms=TS, nonce="abcdefghijklmnop")
    assert headers["X-Signature"] == POST_SIGNATURE


def test_random_nonce_is_long_and_fresh() -> None:
    nonces = {sign_headers("k", SECRET, "GET", "/", None, b"")["X-Nonce"] for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) >= 16 for n in nonces)


def _verify(headers: dict[str, str], *, path: str = "/api/v1/courier-enterprises",
            query: str = "page_size=2&updated_since=2026-11-27T23%3A10%3A00%2B08%3A00", body: bytes = b"",
            nonces: NonceCache | None = None, now_ms: int = TS) -> str:
    return verify(headers, "GET", path, query, body, {"app-1": SECRET}, nonces or NonceCache(), now_ms=now_ms)


def _good_headers(**overrides: str) -> dict[str, str]:
    headers = {"X-App-Key": "app-1", "X-Timestamp": str(TS), "X-Nonce": "0123456789abcdef0123",
               "X-Signature": GET_SIGNATURE}
    headers.update(overrides)
    return headers


def test_verify_accepts_the_vector_and_header_case_does_not_matter() -> None:
    assert _verify(_good_headers()) == "app-1"
    assert _verify({k.lower(): v for k, v in _good_headers().items()}) == "app-1"


def test_verify_recanonicalises_the_received_query() -> None:
    # Other order, lower-case hex: same parameters, so the same signature holds.
    assert _verify(_good_headers(), query="updated_since=2026-11-27T23%3a10%3a00%2b08%3a00&page_size=2") == "app-1"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"headers": {"X-Signature": "0" * 64}}, "BAD_SIGNATURE"),
        ({"headers": {"X-App-Key": "someone-else"}}, "UNKNOWN_APP_KEY"),
        ({"headers": {"X-Nonce": "short"}}, "BAD_NONCE"),
        ({"headers": {"X-Timestamp": "yesterday"}}, "BAD_TIMESTAMP"),
        ({"headers": {"X-Signature": ""}}, "MISSING_HEADERS"),
        ({"query": "page_size=3&updated_since=2026-11-27T23%3A10%3A00%2B08%3A00"}, "BAD_SIGNATURE"),
        # "+" unencoded is a literal plus, so this query is the signed one...
        ({"query": "page_size=2&updated_since=2026-11-27T23%3A10%3A00+08%3A00"}, None),
        # ...but a space is not.
        ({"query": "page_size=2&updated_since=2026-11-27T23%3A10%3A00%2008%3A00"}, "BAD_SIGNATURE"),
        ({"path": "/api/v1/courier-violations"}, "BAD_SIGNATURE"),
        ({"body": b"x"}, "BAD_SIGNATURE"),
        ({"now_ms": TS + 301_000}, "CLOCK_SKEW"),
        ({"now_ms": TS - 301_000}, "CLOCK_SKEW"),
        ({"now_ms": TS + 299_000}, None),
    ],
)
def test_verify_refuses_tampering_and_skew(change: dict[str, object], code: str | None) -> None:
    headers = _good_headers(**change.pop("headers", {}))  # type: ignore[arg-type]
    if code is None:
        assert _verify(headers, **change) == "app-1"  # type: ignore[arg-type]
        return
    with pytest.raises(SignatureError) as caught:
        _verify(headers, **change)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_verify_refuses_a_reused_nonce_within_ten_minutes() -> None:
    nonces = NonceCache()
    assert _verify(_good_headers(), nonces=nonces) == "app-1"
    with pytest.raises(SignatureError) as caught:
        _verify(_good_headers(), nonces=nonces, now_ms=TS + 1000)
    assert caught.value.code == "NONCE_REUSED"


def test_a_forged_request_does_not_burn_the_nonce() -> None:
    nonces = NonceCache()
    with pytest.raises(SignatureError):
        _verify(_good_headers(**{"X-Signature": "f" * 64}), nonces=nonces)
    assert _verify(_good_headers(), nonces=nonces) == "app-1"


def test_nonce_cache_forgets_after_its_window() -> None:
    cache = NonceCache(ttl_s=600)
    assert cache.add_if_new("k", "n" * 16, 1000.0)
    assert not cache.add_if_new("k", "n" * 16, 1599.0)
    assert cache.add_if_new("k", "n" * 16, 1600.0)
    assert cache.add_if_new("other-key", "n" * 16, 1600.0)
