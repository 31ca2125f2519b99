#!/usr/bin/env bash
# What `pip install` needs to build the hub's one C extension (the market XML reader,
# credit_exchange/fast/_market_sax.c): a C compiler, libxml2's headers and the
# headers of the Python it builds for. Debian packages, installed only when missing.
set -euo pipefail

PY=${1:-python3}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[ -f /usr/include/libxml2/libxml/parser.h ] || need+=(libxml2-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
"$PY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)

if ((${#need[@]})); then
  echo "installing Debian packages to build the C extension: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
