#!/usr/bin/env bash
# `make test-clocks`: the test suite under other clocks and host time zones, to show that no test
# depends on the day it runs or on the host's zone. Each run fakes the system clock of pytest and
# everything it starts (libfaketime; sshd, the sandboxes, Airflow's dag.test()) to start at one
# instant and tick from there (one offset for all), with TZ set to one zone. Monotonic clocks and
# file times stay real (time-outs; mtimes the tests set), see scripts/clock-matrix/sitecustomize.py.
#
#   bash scripts/clock-matrix.sh                 every instant x every zone
#   bash scripts/clock-matrix.sh -- tests/unit   the same, for some tests only (pytest arguments)
#   CLOCK_ZONES=UTC bash scripts/clock-matrix.sh one zone only
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# CLOCK_INSTANTS / CLOCK_ZONES (space-separated) narrow the matrix, e.g. to re-run one cell.
read -r -a INSTANTS <<< "${CLOCK_INSTANTS:-2026-12-31T23:59:00+08:00 2027-01-01T00:01:00+08:00 2028-02-29T12:00:00+08:00}"
read -r -a ZONES <<< "${CLOCK_ZONES:-UTC Asia/Shanghai}"
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-q -p no:cacheprovider)

if ! command -v faketime >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing Debian package: faketime"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq faketime >/dev/null
fi
LIBFAKETIME=$(dpkg -L libfaketime | grep -m1 '/libfaketimeMT.so.1$')
export HUB_TEST_PG_URL="${HUB_TEST_PG_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/postgres}"
# Real monotonic clock: faked, every timed lock wait lasts the whole offset. libfaketime then
# breaks time.sleep(); the sitecustomize shim on PYTHONPATH mends it in every Python we start.
export FAKETIME_DONT_FAKE_MONOTONIC=1 QW_CLOCK_MATRIX=1
export PYTHONPATH="$PWD/scripts/clock-matrix${PYTHONPATH:+:$PYTHONPATH}"
# File times as the file system holds them: a test that sets an mtime reads back that mtime.
export NO_FAKE_STAT=1
failed=0
for at in "${INSTANTS[@]}"; do
  for zone in "${ZONES[@]}"; do
    start=$(TZ="$zone" date -d "$at" "+%Y-%m-%d %H:%M:%S")
    echo "== clock at $at (host time $start $zone) =="
    # An offset, not a start time: libfaketime starts "@time" anew in every process it is loaded
    # into, so a stand-in started ten minutes into the run would lag ten minutes behind pytest.
    offset=$(( $(date -d "$at" +%s) - $(date +%s) ))
    if ! TZ="$zone" FAKETIME="+$offset" LD_PRELOAD="$LIBFAKETIME${LD_PRELOAD:+:$LD_PRELOAD}" \
        "$BIN/pytest" "${args[@]}"; then
      echo "!! failed with the clock at $at, TZ=$zone"
      failed=1
    fi
  done
done
exit $failed
