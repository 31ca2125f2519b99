"""Builds the hub's two C extensions (everything else is in pyproject.toml).

- ``credit_exchange.fast._market_sax`` reads market XML Records straight from libxml2
  (see credit_exchange/feeds/market/parser.py);
- ``credit_exchange.fast._checks`` runs the USCC, organisation code, ID number and date checks
  that jsonschema-rs calls for every record (see credit_exchange/standard/checks.py).

Each is held to its Python reference by the tests. They need a C compiler and libxml2's
headers (Debian: gcc, libxml2-dev; ``make install`` sees to them).
"""

from __future__ import annotations

import shlex
import subprocess

from setuptools import Extension, setup


def _libxml2_flags() -> tuple[list[str], list[str]]:
    for cmd in (["pkg-config", "--cflags", "--libs", "libxml-2.0"], ["xml2-config", "--cflags", "--libs"]):
        try:
            flags = shlex.split(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        except (OSError, subprocess.CalledProcessError):
            continue
        return [f[2:] for f in flags if f.startswith("-I")], [f[2:] for f in flags if f.startswith("-l")]
    return ["/usr/include/libxml2"], ["xml2"]


_includes, _libs = _libxml2_flags()
_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
setup(ext_modules=[
    Extension("credit_exchange.fast._market_sax", ["credit_exchange/fast/_market_sax.c"],
              include_dirs=_includes, libraries=_libs, extra_compile_args=_FLAGS),
    Extension("credit_exchange.fast._checks", ["credit_exchange/fast/_checks.c"], extra_compile_args=_FLAGS),
])
