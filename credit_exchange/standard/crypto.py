"""Personal data at rest: field encryption and keyed subject hashes, from the ``pii_key`` connection."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credit_exchange.standard.canonical import canonical_json
from credit_exchange.standard.fields import FIELDS, schema_type
from credit_exchange.standard.pii import mask_text
from hub_messages import text

# Sealed values name the key they were sealed with, so pii_key can be rotated (docs/operations.md,
# "Rotating pii_key"): "enc:v3:<key id>:<base64>" field values, "rec:v2:<key id>:<base64>" whole
# records (both AES-256-GCM), b"fernet:<key id>:<token>" blobs. Values of the formats before key
# ids (enc:v2:, rec:v1:, a bare Fernet token) were all sealed with the first key: they open with
# whichever key of the connection fits, and `qianwei-hub rotate-key` re-seals them.
_PREFIX = "enc:v3:"
_RECORD_PREFIX = "rec:v2:"
_BYTES_PREFIX = b"fernet:"
_LEGACY_PREFIX = "enc:v2:"
_LEGACY_RECORD_PREFIX = "rec:v1:"
KEY_ID_LENGTH = 8
# A sealed field value inside stored JSON (the URL-safe base64 alphabet and the key id's ":").
_SEALED_FIELD = re.compile(r"enc:v[23]:[A-Za-z0-9_:=-]+")


class PiiKeyMissing(RuntimeError):
    """The pii_key secret is not configured: the hub refuses to take personal data."""


def _raw_key(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError, AttributeError) as exc:
        raise PiiKeyMissing(text("pii_key_format")) from exc
    if len(raw) != 32:
        raise PiiKeyMissing(text("pii_key_format"))
    return raw


def key_id(key: str) -> str:
    """The id a key's sealed values carry: derived from the key, so no one has to name it (8 hex digits)."""
    return hashlib.sha256(b"qianwei-key-id\x00" + _raw_key(key)).hexdigest()[:KEY_ID_LENGTH]


class _Key:
    """One pii key: its id, its AES-GCM cipher for fields and records, its Fernet for blobs."""

    def __init__(self, key: str) -> None:
        raw = _raw_key(key)
        self.id = key_id(key)
        self.aead = AESGCM(hashlib.sha256(b"qianwei-field-key\x00" + raw).digest())
        self.fernet = Fernet(key.encode("ascii"))


def parse_keyring(secret: str) -> tuple[str, tuple[str, ...], str]:
    """(current key, older keys, subject key) from the pii_key connection's password.

    Two forms: a bare key (the form before rotation: it is the current key and the subject key),
    or JSON ``{"current": KEY, "previous": [KEY, ...], "subject": KEY}``: values are sealed with
    ``current``, opened with whichever of ``current`` and ``previous`` they name, and subjects
    are hashed with ``subject`` (which never changes: docs/operations.md, "Rotating pii_key").
    ``subject`` may be left out only while there are no previous keys (it is then ``current``).
    """
    secret = secret.strip()
    if not secret.startswith("{"):
        return secret, (), secret
    try:
        data = json.loads(secret)
    except ValueError as exc:
        raise PiiKeyMissing(text("pii_keyring_format")) from exc
    if not isinstance(data, dict) or not isinstance(data.get("current"), str) or set(data) - {
            "current", "previous", "subject"}:
        raise PiiKeyMissing(text("pii_keyring_format"))
    previous = data.get("previous") or []
    if not isinstance(previous, list) or not all(isinstance(k, str) for k in previous):
        raise PiiKeyMissing(text("pii_keyring_format"))
    subject = data.get("subject")
    if subject is None and previous:
        raise PiiKeyMissing(text("pii_keyring_no_subject"))
    if subject is not None and not isinstance(subject, str):
        raise PiiKeyMissing(text("pii_keyring_format"))
    return data["current"], tuple(previous), subject or data["current"]


class PiiVault:
    """Encrypts PII fields of records and derives keyed hashes of ID numbers.

    ``secret`` is the pii_key connection's password: one key, or a key ring (``parse_keyring``).
    """

    def __init__(self, secret: str) -> None:
        current, previous, subject = parse_keyring(secret)
        self._current = _Key(current)
        self._keys = {self._current.id: self._current}
        for older in previous:
            key = _Key(older)
            self._keys.setdefault(key.id, key)
        self._fernet = self._current.fernet
        self._aead = self._current.aead
        self._field_prefix = f"{_PREFIX}{self._current.id}:"
        self._record_prefix = f"{_RECORD_PREFIX}{self._current.id}:"
        self._bytes_prefix = _BYTES_PREFIX + self._current.id.encode("ascii") + b":"
        # A separate key for hashing, so the encryption key never doubles as a MAC key. It comes
        # from the subject key, which a rotation keeps: subject keys and the city platform's ids
        # (masked_id) stay the same for the life of the store.
        self._hmac_key = hashlib.sha256(b"qianwei-subject-key\x00" + _raw_key(subject)).digest()
        self._pii: dict[str, tuple[str, ...]] = {
            rt: tuple(f.name for f in FIELDS.fields(rt) if f.pii) for rt in FIELDS.record_types()
        }

    @property
    def current_key_id(self) -> str:
        return self._current.id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every key this vault opens values with, the current one first."""
        return tuple(self._keys)

    def _key(self, kid: str, problem: str) -> _Key:
        key = self._keys.get(kid)
        if key is None:
            raise PiiKeyMissing(text(problem) + " " + text("pii_key_unknown_id", key_id=kid))
        return key

    def _legacy_open(self, raw: bytes, problem: str) -> bytes:
        """A value sealed before key ids: it opens with one of the keys (the first key, in practice)."""
        for key in self._keys.values():
            try:
                return key.aead.decrypt(raw[:12], raw[12:], None)
            except InvalidTag:
                continue
        raise PiiKeyMissing(text(problem))

    def sealed_with_current(self, value: str | bytes | None) -> bool:
        """Whether a stored value is already sealed with the current key (or holds nothing sealed)."""
        if value is None:
            return True
        if isinstance(value, bytes):  # empty: a body the retention rules dropped
            return not value or value.startswith(self._bytes_prefix)
        if value.startswith(("rec:", "enc:")):
            return value.startswith((self._record_prefix, self._field_prefix))
        if value.startswith("{"):  # plain JSON with sealed field values (a subject, a delete's "{}")
            return value.count('"enc:') == value.count(f'"{self._field_prefix}')
        return True

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    @classmethod
    def from_conn_id(cls, conn_id: str = "pii_key") -> PiiVault:
        from credit_exchange.airflow_conn import get_connection

        try:
            conn = get_connection(conn_id)
        except Exception as exc:  # the SDK raises its own not-found error types
            raise PiiKeyMissing(text("pii_key_missing", conn_id=conn_id)) from exc
        if not conn.password:
            raise PiiKeyMissing(text("pii_key_empty", conn_id=conn_id))
        return cls(conn.password)

    def reseal(self, value: str | bytes | None) -> str | bytes | None:
        """A stored value sealed again with the current key (what it holds unchanged), or itself if it already is.

        Whole records keep their exact bytes; in plain JSON (a subject, a delete's "{}") only the
        sealed field values are replaced, so nothing else of the stored text changes.
        """
        if value is None or self.sealed_with_current(value):
            return value
        if isinstance(value, bytes):
            return self.encrypt_bytes(self.decrypt_bytes(value))
        if value.startswith((_RECORD_PREFIX, _LEGACY_RECORD_PREFIX)):
            return self.sealer(1)(self._open_body(value))
        if value.startswith(("enc:", "{")):
            return _SEALED_FIELD.sub(lambda m: self.encrypt(self.decrypt(m.group(0))), value)
        return value

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return self._field_prefix + base64.urlsafe_b64encode(sealed).decode("ascii")

    def decrypt(self, value: str) -> str:
        try:
            if value.startswith(_PREFIX):
                kid, _, body = value[len(_PREFIX):].partition(":")
                raw = base64.urlsafe_b64decode(body.encode("ascii"))
                aead = self._key(kid, "pii_decrypt_field").aead
                return aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")
            if value.startswith(_LEGACY_PREFIX):
                raw = base64.urlsafe_b64decode(value[len(_LEGACY_PREFIX):].encode("ascii"))
                return self._legacy_open(raw, "pii_decrypt_field").decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise PiiKeyMissing(text("pii_decrypt_field")) from exc
        return value

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._bytes_prefix + self._fernet.encrypt(data)

    def decrypt_bytes(self, data: bytes) -> bytes:
        try:
            if data.startswith(_BYTES_PREFIX):
                kid, _, token = data[len(_BYTES_PREFIX):].partition(b":")
                return self._key(kid.decode("ascii", "replace"), "pii_decrypt_bytes").fernet.decrypt(token)
            for key in self._keys.values():  # a token from before key ids
                try:
                    return key.fernet.decrypt(data)
                except InvalidToken:
                    continue
        except InvalidToken as exc:
            raise PiiKeyMissing(text("pii_decrypt_bytes")) from exc
        raise PiiKeyMissing(text("pii_decrypt_bytes"))

    def seal(self, record_type: str, data: dict[str, Any], canonical: bytes | None = None) -> str:
        """The whole record, encrypted (AES-256-GCM over its canonical JSON), for the store.

        ``canonical`` is the record's canonical JSON when the caller already has it (for its
        content hash), so a record is serialised once on the hot path.
        """
        body = canonical if canonical is not None else canonical_json(data)
        nonce = os.urandom(12)
        return self._record_prefix + base64.b64encode(nonce + self._aead.encrypt(nonce, body, None)).decode("ascii")

    def sealer(self, count: int) -> Callable[[bytes], str]:
        """``seal`` for up to ``count`` canonical bodies, drawing their random nonces in one call.

        For the ingest hot path, where a system call per record is measurable.
        """
        nonces = os.urandom(12 * count)
        offsets = iter(range(0, 12 * count, 12))
        encrypt = self._aead.encrypt
        prefix = self._record_prefix

        def seal_body(body: bytes) -> str:
            at = next(offsets)
            nonce = nonces[at:at + 12]
            return prefix + binascii.b2a_base64(nonce + encrypt(nonce, body, None), newline=False).decode("ascii")

        return seal_body

    def _open_body(self, sealed: str) -> bytes:
        """The canonical JSON a sealed record holds."""
        if sealed.startswith(_LEGACY_RECORD_PREFIX):
            return self._legacy_open(base64.b64decode(sealed[len(_LEGACY_RECORD_PREFIX):]), "pii_decrypt_record")
        kid, _, body64 = sealed[len(_RECORD_PREFIX):].partition(":")
        raw = base64.b64decode(body64)
        try:
            return self._key(kid, "pii_decrypt_record").aead.decrypt(raw[:12], raw[12:], None)
        except InvalidTag as exc:
            raise PiiKeyMissing(text("pii_decrypt_record")) from exc

    def open(self, record_type: str, sealed: str) -> dict[str, Any]:
        if sealed.startswith((_RECORD_PREFIX, _LEGACY_RECORD_PREFIX)):
            data: dict[str, Any] = json.loads(self._open_body(sealed))
            return data
        # Plain JSON (e.g. "{}" of a delete) with field-level encrypted values.
        data = json.loads(sealed)
        for f in self._pii.get(schema_type(record_type), ()):
            value = data.get(f)
            if isinstance(value, str):
                data[f] = self.decrypt(value)
        return data

    def masked_id(self, text: str) -> str:
        """``text`` with personal data masked, and, if that changed it, a keyed tag of the original:
        stable and unique where the masking alone is neither (``…~3fa9c2d1e0b4``), and not
        reversible without the key (an unkeyed digest of an ID number is: its digits are few)."""
        masked = mask_text(text)
        if masked == text:
            return text
        tag = hmac.new(self._hmac_key, b"qianwei-masked-id\x00" + text.encode("utf-8"), hashlib.sha256)
        return f"{masked}~{tag.hexdigest()[:12]}"

    def subject_hash(self, id_type: str, id_number: str) -> str:
        """Keyed hash of a natural person's ID: the subject key (data-standard.md section 2)."""
        msg = f"{id_type}\x00{id_number.strip().upper()}".encode()
        return hmac.new(self._hmac_key, msg, hashlib.sha256).hexdigest()
