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
