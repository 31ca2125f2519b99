"""The fault matrix, city platform rows (docs/fault-matrix.md): the XML upload (``.tmp``, rename), its
``.ok``, and the listing and reading of receipts, each cut before, during and after the server acted;
then a normal run, and the platform holds every record version once.

The cut is real (tests/sftp_faults.py shuts the TCP connection to the real sshd).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from city_helpers import TODAY, Hub, abnormal, licence
from sqlalchemy import select

from connectors.sftp import SftpError
from credit_exchange.publish.city.push import CityPusher, CityReceiptCollector
from credit_exchange.store import CityFile, CityState, Store
from sandbox import city_platform
from tests.sftp_faults import SftpCut

UPLOAD = Path("upload/511123")
LICENCES, ABNORMAL = 4, 3


@pytest.fixture
def sqlite_hub(sqlite_store: Store, vault: Any, clock: Any) -> Iterator[Hub]:
    hub = Hub(sqlite_store, vault)
    hub.put_many([("administrative_license", f"XK-{i}", licence(i)) for i in range(LICENCES)]
                 + [("abnormal_operation", f"YC-{i}", abnormal(i)) for i in range(ABNORMAL)])
    yield hub


def push(hub: Hub, sftp: Any) -> Any:
    return CityPusher(hub.store, hub.vault, sftp, TODAY).run()


def assert_held_once(hub: Hub, sftp: Any, root: Path) -> None:
    """The platform loads what has its .ok, answers; each record version arrived once, nothing is owed."""
    city_platform.process_uploads(root)
    CityReceiptCollector(hub.store, sftp).run()
    delivered = Counter((h["record_id"], h["version"]) for h in city_platform.history(root))
    assert set(delivered.values()) == {1} and len(delivered) == LICENCES + ABNORMAL
    assert len(city_platform.holdings(root)) == LICENCES + ABNORMAL
    assert not list((root / UPLOAD).glob("*.tmp"))
    with hub.store.session() as s:
        assert {st.status for st in s.execute(select(CityState)).scalars()} == {"ok"}
        assert {f.status for f in s.execute(select(CityFile)).scalars()} == {"receipted"}
    assert push(hub, sftp).files_sent == 0


UPLOAD_CELLS = [("write", w, "_0001.xml") for w in ("before", "during", "after")] \
    + [("write", w, "_0001.xml.ok") for w in ("before", "during", "after")]


@pytest.mark.parametrize(("step", "when", "target"), UPLOAD_CELLS,
                         ids=[f"{'ok' if t.endswith('.ok') else 'xml'}-{w}" for _, w, t in UPLOAD_CELLS])
def test_an_upload_cut_then_a_normal_run_sends_each_version_once(
        step: str, when: str, target: str, sqlite_hub: Hub, city_sftp: Any, city_root: Path) -> None:
    with SftpCut(step, when, target) as cut:
        with pytest.raises(SftpError):
            push(sqlite_hub, city_sftp)
    assert cut.tripped
    with sqlite_hub.store.session() as s:
        (stored,) = s.execute(select(CityFile)).scalars().all()  # stored before the upload; the other not yet
        assert stored.status == "prepared"
    loaded = city_platform.process_uploads(city_root)
    if target.endswith(".ok") and when == "after":
        assert loaded == [stored.name]  # the .ok did arrive: the platform loads it, the hub must not resend
    else:
        assert loaded == []  # nothing the platform would load without its .ok

    summary = push(sqlite_hub, city_sftp)
    assert summary.files_resumed == 1 and summary.files_sent == 1
    assert (city_root / UPLOAD / stored.name).read_bytes() == stored.body
    assert len(list((city_root / UPLOAD).glob("*.xml"))) == 2
    assert_held_once(sqlite_hub, city_sftp, city_root)


RECEIPT_CELLS = [("list", w, "/receipt/511123") for w in ("before", "during", "after")] \
    + [("read", w, ".receipt.xml") for w in ("before", "during", "after")]


@pytest.mark.parametrize(("step", "when", "target"), RECEIPT_CELLS, ids=[f"{s}-{w}" for s, w, _ in RECEIPT_CELLS])
def test_a_receipt_collection_cut_then_a_normal_run_applies_each_receipt_once(
        step: str, when: str, target: str, sqlite_hub: Hub, city_sftp: Any, city_root: Path) -> None:
    push(sqlite_hub, city_sftp)
    city_platform.process_uploads(city_root)
    with SftpCut(step, when, target) as cut:
        with pytest.raises(SftpError):
            CityReceiptCollector(sqlite_hub.store, city_sftp).run()
    assert cut.tripped
    with sqlite_hub.store.session() as s:
        # A receipt is applied whole or not at all: no file is half receipted.
        for f in s.execute(select(CityFile)).scalars():
            states = {st.status for st in s.execute(select(CityState).where(CityState.file_name == f.name)).scalars()}
            assert (f.status, states) in (("uploaded", {"sent"}), ("receipted", {"ok"}))
    summary = CityReceiptCollector(sqlite_hub.store, city_sftp).run()
    assert summary.receipts >= 1 and summary.invalid == 0
    assert_held_once(sqlite_hub, city_sftp, city_root)
