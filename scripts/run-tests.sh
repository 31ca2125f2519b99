#!/usr/bin/env bash
# The whole test suite: lint, type check of the core, then pytest (unit, DAG integrity,
# integration against a real sshd / PostgreSQL / the sandboxes, end to end through dag.test()).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff =="
$BIN/ruff check .
echo "== mypy (credit_exchange, connectors, hub_messages) =="
$BIN/mypy
echo "== pytest =="
# Tests needing PostgreSQL fail (never skip) when it does not answer.
export HUB_TEST_PG_URL="${HUB_TEST_PG_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/postgres}"
exec $BIN/pytest -q "$@"
