# Everything runs from a virtual environment in .venv built with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
# so dbt (and Dagster's call of it) resolve to the venv's, activated or not
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# the Dagster instance `make dev` opens and `spotify-brain run` records into
DAGSTER_HOME ?= $(CURDIR)/data/dagster_home
PORT ?= 3000

.PHONY: setup demo test test-slow test-all dev bench validate manifest lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# dbt's manifest, which the Dagster definitions are built from
manifest: setup
	$(BIN)/dbt parse --quiet

# the first README command: build the demo warehouse and run the main job
demo: setup
	SPOTIFY_BRAIN_INGEST_SOURCE=demo $(BIN)/spotify-brain run --job full_retrain

# on two workers (the two cores CI has), a test file per worker at a time so a module's shared
# fixtures are built once; each worker has its own dbt target folder (tests/conftest.py)
PYTEST := $(BIN)/pytest -n 2 --dist loadfile

# the second README command: the default (fast) test suite
test: manifest
	$(PYTEST)

# the tests marked slow, which CI runs after the fast suite
test-slow: manifest
	$(PYTEST) -m slow

test-all: manifest
	$(PYTEST) -m ''

validate: manifest
	$(BIN)/dagster definitions validate -m orchestration.definitions

# a new Dagster home gets the project's instance configuration (one run at a time, its storages)
dev: manifest
	mkdir -p $(DAGSTER_HOME) && { [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp orchestration/dagster.yaml $(DAGSTER_HOME)/; }
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p $(PORT)

bench: setup
	$(BIN)/spotify-brain bench

# after changing dependencies in pyproject.toml: re-resolve and pin every version
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Exact versions every install uses: pip install -c constraints.txt -e '.[dev]'"; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf target target-tests logs data bench_results.json real_check.json
