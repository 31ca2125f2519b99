#!/usr/bin/env bash
# `make ui`: the Airflow UI on the demo's setup (same stand-ins, connections, store),
# with the project's dags/ and plugins/. Local only: it listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
state="${1:-.state/demo}"
if [ ! -f "$state/env.sh" ]; then
  echo "no demo setup in $state yet: run 'make demo' first" >&2
  exit 1
fi
.venv/bin/python -m sandbox.standins start --state "$state" >/dev/null
# shellcheck disable=SC1091
source "$state/env.sh"
export PATH="$PWD/.venv/bin:$PATH"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_UI_PORT:-8080}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
echo "Airflow UI: http://127.0.0.1:${AIRFLOW__API__PORT}  (user admin; the password is printed below"
echo "and kept in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated). Ctrl-C stops it."
exec airflow standalone
