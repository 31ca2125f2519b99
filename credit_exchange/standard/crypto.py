"""Personal data at rest: field encryption and keyed subject hashes, from the ``pii_key`` connection."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credit_exchange.standard.canonical import canonical_json
from credit_exchange.standard.fields import FIELDS, schema_type
from credit_exchange.standard.pii import mask_text
from hub_messages import text

# Field values: AES-256-GCM (fast enough for every record of a night's files).
_PREFIX = "enc:v2:"
# Whole records at rest.
_RECORD_PREFIX = "rec:v1:"


class PiiKeyMissing(RuntimeError):
    """The pii_key secret is not configured: the hub refuses to take personal data."""


class PiiVault:
    """Encrypts PII fields of records and derives keyed hashes of ID numbers."""

    def __init__(self, key: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise PiiKeyMissing(text("pii_key_format")) from exc
        if len(raw) != 32:
            raise PiiKeyMissing(text("pii_key_format"))
        self._fernet = Fernet(key.encode("ascii"))
        self._aead = AESGCM(hashlib.sha256(b"qianwei-field-key\x00" + raw).digest())
        # A separate key for hashing, so the encryption key never doubles as a MAC key.
        self._hmac_key = hashlib.sha256(b"qianwei-subject-key\x00" + raw).digest()
        self._pii: dict[str, tuple[str, ...]] = {
            rt: tuple(f.name for f in FIELDS.fields(rt) if f.pii) for rt in FIELDS.record_types()
        }

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

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return _PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def decrypt(self, value: str) -> str:
        if not value.startswith(_PREFIX):
            return value
        try:
            raw = base64.urlsafe_b64decode(value[len(_PREFIX):].encode("ascii"))
            return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise PiiKeyMissing(text("pii_decrypt_field")) from exc

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, data: bytes) -> bytes:
        try:
            return self._fernet.decrypt(data)
        except InvalidToken as exc:
            raise PiiKeyMissing(text("pii_decrypt_bytes")) from exc

    def seal(self, record_type: str, data: dict[str, Any], canonical: bytes | None = None) -> str:
        """The whole record, encrypted (AES-256-GCM over its canonical JSON), for the store.

        ``canonical`` is the record's canonical JSON when the caller already has it (for its
        content hash), so a record is serialised once on the hot path.
        """
        body = canonical if canonical is not None else canonical_json(data)
        nonce = os.urandom(12)
        return _RECORD_PREFIX + base64.b64encode(nonce + self._aead.encrypt(nonce, body, None)).decode("ascii")

    def sealer(self, count: int) -> Callable[[bytes], str]:
        """``seal`` for up to ``count`` canonical bodies, drawing their random nonces in one call.

        For the ingest hot path, where a system call per record is measurable.
        """
        nonces = os.urandom(12 * count)
        offsets = iter(range(0, 12 * count, 12))
        encrypt = self._aead.encrypt

        def seal_body(body: bytes) -> str:
            at = next(offsets)
            nonce = nonces[at:at + 12]
            return _RECORD_PREFIX + binascii.b2a_base64(nonce + encrypt(nonce, body, None), newline=False).decode("ascii")

        return seal_body

    def open(self, record_type: str, sealed: str) -> dict[str, Any]:
        if sealed.startswith(_RECORD_PREFIX):
            raw = base64.b64decode(sealed[len(_RECORD_PREFIX):])
            try:
                body = self._aead.decrypt(raw[:12], raw[12:], None)
            except InvalidTag as exc:
                raise PiiKeyMissing(text("pii_decrypt_record")) from exc
            data: dict[str, Any] = json.loads(body)
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
