# The Qianwei credit exchange hub. `make demo` and `make test` are all a new
# user needs; every other target is a step they build on.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CONSTRAINTS := constraints/constraints-3.3.2-py3.11.txt
STAMP := $(VENV)/.installed
STATE := $(CURDIR)/.state

.PHONY: install system-deps standins stop demo test test-clocks fault-matrix cluster-test cluster-faults cluster-stop lint bench ui constraints clean

install: $(STAMP)

# setup.py builds the C fast paths in place (credit_exchange/fast/*.c).
$(STAMP): pyproject.toml setup.py $(wildcard credit_exchange/fast/*.c) $(CONSTRAINTS)
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the hub is pinned for CPython 3.11 (constraints file); set PY=python3.11")'
	@bash scripts/build-deps.sh $(PY)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --constraint $(CONSTRAINTS) --editable '.[dev]'
	@touch $(STAMP)

# Debian packages of the real components the stand-ins and tests run.
system-deps:
	@bash scripts/system-deps.sh

standins: install system-deps
	@$(BIN)/python -m sandbox.standins start --state $(STATE)

# Stops the stand-ins of every setup: `make standins` (.state), the demo (.state/demo).
stop:
	@test ! -x $(BIN)/python || for d in $(STATE) $(STATE)/demo; do \
		$(BIN)/python -m sandbox.standins stop --state $$d; done

demo: install system-deps
	@$(BIN)/python -m sandbox.demo --state $(STATE)/demo

test: install system-deps
	@bash scripts/run-tests.sh

# The suite with the clock at 2026-12-31 23:59, 2027-01-01 00:01 (Asia/Shanghai) and 2028-02-29,
# on a host in UTC and in Asia/Shanghai (libfaketime): no test depends on the day or the zone.
test-clocks: install system-deps
	@bash scripts/clock-matrix.sh

# The cheap half of the fault matrix (docs/fault-matrix.md): every network step cut before, during, after.
fault-matrix: install system-deps
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_fault_matrix_inbox.py \
		tests/integration/test_fault_matrix_county.py tests/integration/pboc/test_pboc_faults.py \
		tests/integration/city/test_city_faults.py tests/integration/transport/test_transport_faults.py

# The nightly chain on Airflow's CeleryExecutor: PostgreSQL, Redis, scheduler, dag-processor,
# triggerer, api-server and two Celery workers, natively (sandbox/cluster.py). KEEP=1 leaves it running.
cluster-test: install system-deps
	@$(BIN)/python -m sandbox.cluster run --state $(STATE)/cluster $(if $(KEEP),--keep)

# The fault matrix's expensive half (docs/fault-matrix.md): a Celery worker killed mid-task, three times.
cluster-faults: install system-deps
	@$(BIN)/python -m sandbox.cluster_faults run --state $(STATE)/cluster-faults

cluster-stop:
	@test ! -x $(BIN)/python || $(BIN)/python -m sandbox.cluster stop --state $(STATE)/cluster

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install system-deps
	@$(BIN)/python -m bench --state $(STATE)/bench

ui: install system-deps
	@bash scripts/ui.sh $(STATE)/demo

# Re-resolve the pinned set (needs the package index); review the diff.
constraints:
	rm -rf /tmp/qw-constraints && $(PY) -m venv /tmp/qw-constraints
	/tmp/qw-constraints/bin/pip install --quiet '.[dev]'
	/tmp/qw-constraints/bin/pip freeze --exclude qianwei-credit-exchange | sort -f > /tmp/qw-freeze.txt
	{ sed -n '/^#/p' $(CONSTRAINTS); cat /tmp/qw-freeze.txt; } > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean: stop cluster-stop
	rm -rf $(STATE)
