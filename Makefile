# The two commands a newcomer needs: `make local` (the stack without Docker)
# and `make test` (set everything up, then run every test).
SHELL := bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test test-fast test-compose local drill bench up down os-deps venv slo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# the `loadgen` command (.venv/bin/loadgen); dependencies come from the pins above
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

os-deps:
	scripts/os-deps.sh

# Every test: unit, rules, integration on the native stack, and the compose
# stack for real when a container engine is present or installable.
test: os-deps venv
	$(PY) -m pytest $(PYTEST_ARGS) tests
	@status=0; scripts/container-engine.sh --check || status=$$?; \
	 if [ $$status -eq 0 ]; then $(MAKE) test-compose; \
	 elif [ $$status -eq 1 ]; then echo "test-compose: skipped, no container engine (see the message above)"; \
	 else exit $$status; fi

# Everything but the compose run.
test-fast: os-deps venv
	$(PY) -m pytest $(PYTEST_ARGS) tests

# docker-compose.yml for real: Docker with the pinned images, else Podman with
# locally built stand-ins (installed by container-engine.sh when root).
test-compose: venv
	scripts/container-engine.sh --check
	$(PY) -m pytest $(PYTEST_ARGS) compose_tests

local: os-deps venv
	$(PY) -m native

drill: os-deps venv
	$(PY) -m native --drill

bench: os-deps venv
	$(PY) -m bench

slo: venv
	$(PY) -m prometheus.slo.generate

up:
	docker compose up --build

down:
	docker compose down

clean:
	rm -rf $(VENV) .pytest_cache
