"""The sample files of tests/fixtures/: what tests/fixtures/make.py writes, and what the hub makes of each.

They are the stand-ins' night of 2026-11-28, checked in so a reader can open one. Each is read here
with its department's parser and validated for that night, as an ingest would.
"""

from __future__ import annotations

import io
import json

import pytest

from credit_exchange import config
from credit_exchange.feeds.registry import FileRejected, get_parser
from credit_exchange.feeds.transport.source import source_record
from credit_exchange.intake.prepare import prepare
from credit_exchange.standard.validation import get_validator
from tests.fixtures.make import HERE, NIGHT, samples

# file -> (records, records with problems, their problem codes), or the code the whole file is refused with.
EXPECTED: dict[str, tuple[int, int, list[str]] | str] = {
    "market/MARKET_ABNORMAL_20261128_001.xml": (10, 1, ["required"]),
    "market/MARKET_LICENSE_20261128_001.xml": (18, 2, ["date_order", "id_number_15"]),
    "market/MARKET_PENALTY_20261128_001.xml": (24, 4, ["date_future", "required", "uscc_checksum"]),
    "market/MARKET_PENALTY_20261128_002.xml": "record_count_mismatch",
    "market/MARKET_PENALTY_20261128_003.xml": "xml_doctype",
    "market/MARKET_SHOP_20261128_001.xml": (12, 1, ["required"]),
    "police/POLICE_FRAUD_20261128_01.csv": (16, 3, ["format_date", "id_number_15", "id_number_checksum"]),
    "pboc/PBOC_PAYRISK_20261128_01.dat": (12, 1, ["enum"]),
}


def test_the_checked_in_files_are_what_the_generator_writes() -> None:
    on_disk = {str(p.relative_to(HERE)) for p in HERE.rglob("*") if p.is_file() and p.suffix != ".py"
               and "__pycache__" not in p.parts and p.name != "README.md"}
    written = samples()
    assert on_disk == set(written)
    assert all((HERE / name).read_bytes() == body for name, body in written.items()), \
        "regenerate with: .venv/bin/python -m tests.fixtures.make"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_file_reads_as_documented(name: str) -> None:
    department, file_name = name.split("/")
    feed = config.feed(department)
    assert feed.match_name(file_name)
    parse = get_parser(feed.parser)
    expected = EXPECTED[name]
    body = (HERE / name).read_bytes()
    if isinstance(expected, str):
        with pytest.raises(FileRejected) as refused:
            list(parse(io.BytesIO(body), feed, file_name))
        assert refused.value.code == expected
        return
    records = list(parse(io.BytesIO(body), feed, file_name))
    prepared = prepare(records, get_validator(NIGHT))
    bad = [p for p in prepared if p[6]]
    assert (len(records), len(bad), sorted({problem.code for p in bad for problem in p[6]})) == expected


# endpoint -> (items, items with problems, their problem codes)
EXPECTED_PAGES: dict[str, tuple[int, int, list[str]]] = {
    "courier-enterprises": (10, 0, []),
    "courier-violations": (6, 1, ["unknown_field"]),  # a misspelt key, fine_amout
}


def test_the_transport_pages_read_as_documented() -> None:
    validator = get_validator(NIGHT)
    found = {}
    for endpoint, record_type in config.feed("transport").options["endpoints"].items():
        page = json.loads((HERE / "transport" / f"{endpoint}.page-1.json").read_text(encoding="utf-8"))
        assert page["next_page_token"] is None
        records = [source_record(record_type, item, n, f"page 1 item {n}") for n, item in enumerate(page["items"], 1)]
        bad = [p for p in prepare(records, validator) if p[6]]
        found[endpoint] = (len(records), len(bad), sorted({problem.code for p in bad for problem in p[6]}))
    assert found == EXPECTED_PAGES
