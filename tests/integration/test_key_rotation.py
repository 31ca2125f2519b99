"""Rotating pii_key: ``qianwei-hub rotate-key`` re-seals a store filled by a real night, on SQLite and PostgreSQL.

The store is filled the way a night fills it: a market file taken from the real sshd inbox,
merged, lists and profiles derived, batches pushed to the county platform sandbox. Then the
connection gets a key ring (the new key current, the old one previous, the first key as subject
key), the command re-seals everything (in small batches, interrupted once and run again), and
every sealed value reads back the same; with the old key retired it still does, and subjects
keep their keys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from night_store import AT, fill_like_a_night, read_everything
from sqlalchemy import select
from sqlalchemy.engine import make_url

from credit_exchange.standard.crypto import PiiKeyMissing, PiiVault, key_id
from credit_exchange.store import Batch, Delivery, Record, RecordVersion, Store
from credit_exchange.store.reseal import reseal_store
from hub_messages import text
from tests.helpers import REPO, connection_env
from tests.integration.ui.conftest import audit_mark, audit_rows


def _store_conn(url: str) -> dict[str, Any]:
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        return {"conn_type": "sqlite", "host": u.database}
    return {"conn_type": "postgres", "host": u.host, "port": u.port, "login": u.username,
            "password": u.password, "schema": u.database}


def rotate_key(store: Store, secret: str, *args: str, api: Any = None) -> subprocess.CompletedProcess[str]:
    """``qianwei-hub rotate-key`` in its own process, with the connections as Airflow reads them
    (``api``: the Airflow API server its audit entry goes to)."""
    conns: dict[str, Any] = {"exchange_db": _store_conn(store.url), "pii_key": {"conn_type": "generic", "password": secret}}
    if api is not None:
        conns["airflow_api"] = api.connection()
    env = {**os.environ, **connection_env(**conns)}
    return subprocess.run([sys.executable, "-m", "credit_exchange.admin", "rotate-key", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def sealed_values(store: Store) -> list[str | bytes]:
    with store.session() as s:
        values: list[str | bytes] = [v for v in s.execute(select(Delivery.data_enc)).scalars() if v is not None]
        values += list(s.execute(select(Record.data_enc)).scalars())
        for data_enc, subject_enc in s.execute(select(RecordVersion.data_enc, RecordVersion.subject_enc)):
            values += [data_enc, subject_enc]
        values += list(s.execute(select(Batch.body_enc)).scalars())
    return values


def test_rotate_key_reseals_the_whole_store_and_everything_reads_back(
        store: Store, inbox: Any, county_client: Any, pii_key: str, airflow_api_server: Any) -> None:
    old_key, new_key = pii_key, PiiVault.generate_key()
    old = PiiVault(old_key)
    fill_like_a_night(store, old, inbox, county_client)
    before = read_everything(store, old)
    assert before["batches"] and before["versions"] and len(before["records"]) > 24  # derived records too
    people = [subject for _, subject in before["versions"].values() if subject.kind == "person"]
    assert people, "the night should hold natural persons, whose subject key is a keyed hash"
    kept_from_before = sealed_values(store)[0]  # a value under the old key, to try after the retirement

    ring = json.dumps({"current": new_key, "previous": [old_key], "subject": old_key})
    # An interruption: the first columns are re-sealed, then the run stops.
    class Stop(Exception):
        pass

    def stop_after_first_column(_count: Any) -> None:
        raise Stop

    with pytest.raises(Stop):
        reseal_store(store, PiiVault(ring), batch_size=5, progress=stop_after_first_column)

    mark = audit_mark(airflow_api_server)
    done = rotate_key(store, ring, "--batch-size", "7", "--actor", "wang.it", api=airflow_api_server)
    assert done.returncode == 0, done.stdout + done.stderr
    # Audited like every change an admin makes: who, the new key's id, how many values.
    [entry] = audit_rows(airflow_api_server, "rotate_key", mark)
    assert entry["extra"]["actor"] == "wang.it" and entry["extra"]["details"]["key_id"] == key_id(new_key)
    assert entry["extra"]["details"]["resealed"] > 0
    assert f"当前密钥 {key_id(new_key)}" in done.stdout and "deliveries.data_enc" in done.stdout
    # Resumed: the interrupted run had done the deliveries, this one did the rest.
    assert "deliveries.data_enc：重新加密 0 个" in done.stdout
    assert "records.data_enc：重新加密 0 个" not in done.stdout
    new_id = key_id(new_key)
    for value in sealed_values(store):
        if isinstance(value, bytes):
            assert value.startswith(f"fernet:{new_id}:".encode())
        elif value.startswith("rec:"):
            assert value.startswith(f"rec:v2:{new_id}:")
        else:  # plain JSON: a subject, or a delete's "{}"
            assert value.count('"enc:') == value.count(f'"enc:v3:{new_id}:')

    assert read_everything(store, PiiVault(ring)) == before
    # Safe to rerun: nothing left to do.
    again = rotate_key(store, ring)  # no API server: re-sealed (nothing), but not in the audit log
    assert again.returncode == 3 and text("audit_entry_below") in again.stderr and "重新加密 0 个" in again.stdout and "重新加密 1" not in again.stdout

    # The old key retired: everything still reads, and subjects keep their keys (the subject key stays).
    retired = PiiVault(json.dumps({"current": new_key, "subject": old_key}))
    assert retired.key_ids == (new_id,)
    assert read_everything(store, retired) == before
    for person in people:
        assert retired.subject_hash(person.id_type or "", person.id_number or "") == person.key
    # ...while a value still sealed with the old key no longer opens, and says which key it needs.
    with pytest.raises(PiiKeyMissing, match=key_id(old_key)):
        if isinstance(kept_from_before, bytes):
            retired.decrypt_bytes(kept_from_before)
        else:
            retired.open("administrative_penalty", kept_from_before)
    check = rotate_key(store, json.dumps({"current": new_key, "subject": old_key}), "--check")
    assert check.returncode == 0 and "待重新加密 0 个" in check.stdout


def test_rotate_key_says_what_is_wrong_with_a_key_ring_and_exits_non_zero(sqlite_store: Store,
                                                                        airflow_api_server: Any) -> None:
    old_key, new_key = PiiVault.generate_key(), PiiVault.generate_key()
    no_subject = rotate_key(sqlite_store, json.dumps({"current": new_key, "previous": [old_key]}))
    assert no_subject.returncode == 1
    assert "subject" in no_subject.stderr and "Traceback" not in no_subject.stderr
    # A store sealed with a key the ring lacks: the rotation stops with the key's id, and can be run again.
    with sqlite_store.session() as s:
        s.add(Batch(batch_id="b-1", platform="county", status="done", record_count=1, body_sha256="0" * 64,
                    body_enc=PiiVault(old_key).encrypt_bytes(b"{}"), created_at=AT))
    mark = audit_mark(airflow_api_server)
    lacking = rotate_key(sqlite_store, json.dumps({"current": new_key, "previous": [PiiVault.generate_key()],
                                                   "subject": old_key}), api=airflow_api_server)
    assert lacking.returncode == 1 and key_id(old_key) in lacking.stderr, lacking.stderr
    # A run that stopped is audited too (it may have re-sealed columns before it stopped).
    [entry] = audit_rows(airflow_api_server, "rotate_key", mark)
    assert entry["extra"]["details"]["finished"] is False and key_id(old_key) in entry["extra"]["message"]
