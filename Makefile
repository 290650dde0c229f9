# The two commands a newcomer needs: `make local` (the stack without Docker)
# and `make test` (set everything up, then run every test). While coding:
# `make test-fast` (lint, unit and config tests; about a minute).
SHELL := bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test test-fast test-slow test-compose lint mutation local drill screenshots bench up down os-deps venv generate clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# our packages, editable (the `loadgen` command too); dependencies come from the pins above
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# the pins agree with every package's own requirements (a mismatch fails here, not at import time)
	$(PY) -m pip check --disable-pip-version-check
	touch $@

venv: $(VENV)/.installed

# Prometheus, Alertmanager and the exporters at the versions .env pins, built from their Go modules
# (launcher/upstream.py: minutes the first time, cached outside the repository), then the other OS programs.
os-deps:
	launcher/os-deps.sh

# Every test, level by level (tests/unit, config, process, stack), then the
# compose stack for real when a container engine is present or installable.
test: os-deps venv lint
	$(PY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/compose
	@status=0; deploy/container-engine.sh --check || status=$$?; \
	 if [ $$status -eq 0 ]; then $(MAKE) test-compose; \
	 elif [ $$status -eq 1 ]; then echo "test-compose: skipped, no container engine (see the message above)"; \
	 else exit $$status; fi

# The loop while coding: lint, then the unit and config tests.
test-fast: os-deps venv lint
	@start=$$(date +%s); \
	 $(PY) -m pytest $(PYTEST_ARGS) tests/unit tests/config; status=$$?; \
	 echo "test-fast: $$(( $$(date +%s) - start )) s of tests"; exit $$status

# Real processes and the whole native stack (what test-fast leaves out, but compose).
test-slow: os-deps venv
	$(PY) -m pytest $(PYTEST_ARGS) tests/process tests/stack

lint: venv
	$(VENV)/bin/ruff check .

# docker-compose.yml for real: Docker with the pinned images, else Podman with
# locally built stand-ins (installed by deploy/container-engine.sh when root).
test-compose: venv
	deploy/container-engine.sh --check
	$(PY) -m pytest $(PYTEST_ARGS) tests/compose

# LAUNCHER_ARGS: more options for the launcher (`.venv/bin/python -m launcher --help`), e.g. the tests'
# `LAUNCHER_ARGS="--workdir DIR --fast"`.
LAUNCHER_ARGS ?=
local: os-deps venv
	$(PY) -m launcher $(LAUNCHER_ARGS)

drill: os-deps venv
	$(PY) -m launcher --drill $(LAUNCHER_ARGS)

# The README's pictures (docs/images/*.png), taken from a real one-scenario drill in headless Chromium.
screenshots: os-deps venv
	$(PY) -m launcher.screenshots

bench: os-deps venv
	$(PY) -m bench

# Mutation testing of the modules that matter most (not part of `make test`: several minutes).
mutation: os-deps venv
	$(PY) -m bench.mutation

# Every generated file from its source, after editing one: the rule files (SLOs from
# prometheus/slo/slos.yml, cause alerts from prometheus/alerts/ with their runbook links,
# the promtool tests' expected links) and the dashboards (grafana/boards/). Links point
# at the published ports of .env. The tests fail, naming this command, when one is stale.
generate: venv
	$(PY) -m prometheus.generate
	$(PY) -m grafana.generate

up:
	docker compose up --build

down:
	docker compose down

clean:
	rm -rf $(VENV) .pytest_cache mutants
