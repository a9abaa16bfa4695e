# The two commands of the README: `make demo` and `make test`. Both create .venv/ when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAKE ?= data/lake
RATINGS ?= 1000000
MOVIES ?= 10000
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test test-fast lint ui install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the package metadata changes.
$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

# Generate a sample lake and materialise every asset for all genres on the embedded default.
demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/genre-assets sample-data --lake $(LAKE) --ratings $(RATINGS) --movies $(MOVIES)
	$(BIN)/genre-assets materialize --lake $(LAKE) --all-genres
	@echo "Exports: $(LAKE)/movielens/<genre>/<genre>_films.tsv   UI: make ui"

# CI only (CI=true, as root): Debian's Chromium for the browser test, a Java runtime for the
# Spark-Hive tests and a PostgreSQL server for the Postgres instance test, each when it is missing.
# Elsewhere nothing is installed, and those tests skip. Debian keeps initdb off PATH: hence the ls.
CHROMIUM := /usr/bin/chromium
.PHONY: ci-system-packages
ci-system-packages:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ "$(CI)" = true ] && [ -n "$$missing" ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

# ruff (lint and format) and mypy over the package and the emulator, configured in pyproject.toml.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install-test ci-system-packages lint
	$(BIN)/python -m pytest

# The unit tier: no webserver/daemon, no emulator processes, no JVM (about a minute).
test-fast: install-test
	$(BIN)/python -m pytest -m "not e2e and not hive" --ignore=genre_assets_tests/e2e --ignore=genre_assets_tests/emulator

# The Dagster UI and daemon on http://127.0.0.1:3000, sharing the demo's run history.
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# The aws deployment on the bundled emulator, no AWS account (deploy/emulator-demo.sh): emulate-aws
# in the background, a sample lake uploaded to it, Comedy and Drama materialised into the instance
# $(EMULATOR_DEMO_DIR)/dagster_home, then the UI on that run; Ctrl-C stops the UI and the emulator.
# EMULATOR_DEMO_UI=0 stops before the UI. Everything it writes is under $(EMULATOR_DEMO_DIR).
EMULATOR_PORT ?= 4566
EMULATOR_LAKE ?= s3://genre-assets-demo/lake
EMULATOR_DEMO_DIR ?= data/emulator-demo
EMULATOR_DEMO_UI ?= 1
EMULATOR_UI_PORT ?= 3000

$(VENV)/.installed-emulator: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[emulator]"
	touch $@ $(VENV)/.installed

# The test extras include the emulator's: a test venv needs no second install.
.PHONY: emulator-demo
emulator-demo: $(if $(wildcard $(VENV)/.installed-test),$(VENV)/.installed-test,$(VENV)/.installed-emulator)
	VENV_BIN=$(abspath $(BIN)) EMULATOR_PORT=$(EMULATOR_PORT) EMULATOR_LAKE=$(EMULATOR_LAKE) \
	EMULATOR_DEMO_DIR=$(abspath $(EMULATOR_DEMO_DIR)) EMULATOR_DEMO_UI=$(EMULATOR_DEMO_UI) \
	EMULATOR_UI_PORT=$(EMULATOR_UI_PORT) bash deploy/emulator-demo.sh

clean:
	rm -rf data .dagster_home

# Performance benchmark (bench/README.md): a generated 25M-rating lake (the floor, cold, warm and
# incremental materialisations, the original's per-genre approach) and a 100M-rating one (floor and
# cold). Lakes are kept between runs with --keep-lake. Quick run:
# make bench BENCH_ARGS="--ratings 1000000 --repeats 1 --large-ratings 0"
.PHONY: bench
bench: install
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)
