"""Records at rest (credit_exchange/standard/crypto.py): sealed whole, opened only with the same key."""

from __future__ import annotations

import pytest

from credit_exchange.standard.canonical import canonical_json
from credit_exchange.standard.crypto import PiiKeyMissing, PiiVault

RECORD = {"subject_name": "犍为县甲公司", "legal_rep_id_number": "51112919761123007X", "fine_amount": 0.5}


def test_a_sealed_record_opens_to_itself_and_hides_its_content() -> None:
    vault = PiiVault(PiiVault.generate_key())
    sealed = vault.seal("administrative_penalty", RECORD)
    assert "51112919761123007X" not in sealed and "犍为县" not in sealed
    assert vault.open("administrative_penalty", sealed) == RECORD


def test_the_batch_sealer_gives_what_seal_gives_with_a_fresh_nonce_each() -> None:
    vault = PiiVault(PiiVault.generate_key())
    body = canonical_json(RECORD)
    seal = vault.sealer(3)
    sealed = [seal(body) for _ in range(3)]
    assert len(set(sealed)) == 3  # same body, three nonces
    assert {s[:7] for s in sealed} == {vault.seal("administrative_penalty", RECORD)[:7]}
    assert all(vault.open("administrative_penalty", s) == RECORD for s in sealed)
    with pytest.raises(StopIteration):
        seal(body)  # never more records than nonces drawn


def test_another_key_cannot_open_a_sealed_record() -> None:
    sealed = PiiVault(PiiVault.generate_key()).sealer(1)(canonical_json(RECORD))
    with pytest.raises(PiiKeyMissing):
        PiiVault(PiiVault.generate_key()).open("administrative_penalty", sealed)


# -- key ids and the key ring (rotation) --------------------------------------------------------

def _legacy_record(key: str, body: bytes) -> str:
    """A record as releases before key ids sealed it ("rec:v1:", no key id), built here by hand."""
    import base64
    import hashlib
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(hashlib.sha256(b"qianwei-field-key\x00" + base64.urlsafe_b64decode(key)).digest())
    nonce = os.urandom(12)
    return "rec:v1:" + base64.b64encode(nonce + aead.encrypt(nonce, body, None)).decode()


def _ring(current: str, previous: list[str], subject: str) -> str:
    import json

    return json.dumps({"current": current, "previous": previous, "subject": subject})


def test_sealed_values_name_their_key_and_the_ring_seals_with_the_current_one() -> None:
    from credit_exchange.standard.crypto import key_id

    old, new = PiiVault.generate_key(), PiiVault.generate_key()
    ring = PiiVault(_ring(new, [old], old))
    assert ring.current_key_id == key_id(new) and ring.key_ids == (key_id(new), key_id(old))
    assert ring.seal("administrative_penalty", RECORD).startswith(f"rec:v2:{key_id(new)}:")
    assert ring.encrypt("x").startswith(f"enc:v3:{key_id(new)}:")
    assert ring.encrypt_bytes(b"x").startswith(f"fernet:{key_id(new)}:".encode())
    # What the old key sealed opens with the ring, which picks the old key by its id.
    alone = PiiVault(old)
    assert ring.open("administrative_penalty", alone.seal("administrative_penalty", RECORD)) == RECORD
    assert ring.decrypt(alone.encrypt("511123199001011230")) == "511123199001011230"
    assert ring.decrypt_bytes(alone.encrypt_bytes(b"body")) == b"body"
    # The subject hash stays with the subject key: the same as the old key alone gave.
    assert ring.subject_hash("身份证", "511123199001011230") == alone.subject_hash("身份证", "511123199001011230")
    assert ring.masked_id("X-511123199001011230") == alone.masked_id("X-511123199001011230")


def test_values_sealed_before_key_ids_still_open_and_reseal_under_the_current_key() -> None:
    from credit_exchange.standard.canonical import canonical_json
    from credit_exchange.standard.crypto import key_id

    old, new = PiiVault.generate_key(), PiiVault.generate_key()
    legacy = _legacy_record(old, canonical_json(RECORD))
    assert PiiVault(old).open("administrative_penalty", legacy) == RECORD  # the single-key form as before
    ring = PiiVault(_ring(new, [old], old))
    assert not ring.sealed_with_current(legacy)
    resealed = ring.reseal(legacy)
    assert isinstance(resealed, str) and resealed.startswith(f"rec:v2:{key_id(new)}:")
    assert ring.open("administrative_penalty", resealed) == RECORD and ring.sealed_with_current(resealed)
    assert ring.reseal(resealed) is resealed  # already current: left alone
    # In plain JSON only the sealed field values change.
    sealed_id = PiiVault(old).encrypt("511123199001011230")
    subject = f'{{"id_number": "{sealed_id}", "name": "张三"}}'
    again = ring.reseal(subject)
    assert isinstance(again, str) and again.startswith('{"id_number": "enc:v3:') and again.endswith('"name": "张三"}')
    assert ring.decrypt(again.split('"')[3]) == "511123199001011230"


def test_a_retired_key_no_longer_opens_and_the_error_names_it() -> None:
    import json

    from credit_exchange.standard.crypto import key_id

    old, new = PiiVault.generate_key(), PiiVault.generate_key()
    sealed = PiiVault(old).seal("administrative_penalty", RECORD)
    retired = PiiVault(json.dumps({"current": new, "subject": old}))
    with pytest.raises(PiiKeyMissing, match=key_id(old)):
        retired.open("administrative_penalty", sealed)


@pytest.mark.parametrize("secret", ['{"current": 1}', '{"current": "%s", "previous": "x"}', '{"current": "%s", "spare": 1}',
                                    '{"current": "%s", "previous": ["%s"]}', "{not json", "short"])
def test_a_malformed_key_ring_is_refused_with_what_to_write(secret: str) -> None:
    key = PiiVault.generate_key()
    with pytest.raises(PiiKeyMissing, match="pii_key"):
        PiiVault(secret.replace("%s", key))
