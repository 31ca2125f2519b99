"""Without a C compiler at install the hub still runs: the Python reader and checks serve.

Run in a fresh interpreter in which both C extensions cannot be imported, as on a machine where
`pip install` could not build them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import importlib.abc, io, json, logging, sys

class NoExtensions(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("credit_exchange.fast._checks", "credit_exchange.fast._market_sax"):
            raise ImportError(f"{name} was not built")
        return None

sys.meta_path.insert(0, NoExtensions())
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

from datetime import date, datetime
from credit_exchange.standard import checks
from credit_exchange import config
from credit_exchange.feeds.registry import get_parser
from credit_exchange.feeds.market import parser as market_xml
from credit_exchange.intake.prepare import prepare
from credit_exchange.timeutil import LOCAL
from credit_exchange.standard.validation import get_validator
from sandbox.market_files import break_record, good_records, market_xml as document

today = date(2026, 11, 28)
recs = good_records("PENALTY", today, 3)
recs[1] = break_record("PENALTY", recs[1], "uscc_checksum", today)
body = document("PENALTY", recs, datetime(2026, 11, 28, 23, 10, tzinfo=LOCAL))
out = list(get_parser("market_xml")(io.BytesIO(body), config.feed("market"), "MARKET_PENALTY_20261128_001.xml"))
prepared = prepare(out, get_validator(today))
print(json.dumps({
    "c_reader": market_xml._market_sax is not None,
    "c_checks": checks._fast is not None,
    "formats_are_python": checks.FORMATS["uscc"] is checks.is_uscc,
    "ids": [r.dept_record_id for r in out],
    "problems": [[p.code for p in t[6]] for t in prepared],
}))
"""


def test_the_python_reader_and_checks_serve_when_the_extensions_are_missing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "QW_PURE_PYTHON"}  # missing, not asked for
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["c_reader"] is False and result["c_checks"] is False and result["formats_are_python"] is True
    assert len(result["ids"]) == 3
    assert result["problems"][0] == [] and result["problems"][2] == []
    assert "uscc_checksum" in result["problems"][1]
    # The operator is told, once, why ingest is slower.
    assert done.stderr.count("_market_sax") == 1


def test_qw_pure_python_chooses_the_reference_paths_everywhere() -> None:
    """QW_PURE_PYTHON=1 with the extensions built: the Python paths serve, without a warning."""
    script = _SCRIPT.replace("sys.meta_path.insert(0, NoExtensions())", "")
    env = {**os.environ, "QW_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["c_reader"] is False and result["c_checks"] is False and result["formats_are_python"] is True
    assert result["problems"][0] == [] and "uscc_checksum" in result["problems"][1]
    assert "_market_sax" not in done.stderr
