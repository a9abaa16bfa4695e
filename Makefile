# The two commands of the README: `make demo` and `make test`. Both create .venv/ when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAKE ?= data/lake
RATINGS ?= 1000000
MOVIES ?= 10000
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test ui install install-test clean

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

# CI only (CI=true, as root): Debian's Chromium for the browser test when it is missing.
# Elsewhere nothing is installed, and without Chromium that test skips.
CHROMIUM := /usr/bin/chromium
.PHONY: ci-chromium
ci-chromium:
	@if [ "$(CI)" = true ] && [ ! -x $(CHROMIUM) ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

test: install-test ci-chromium
	$(BIN)/python -m pytest

# The Dagster UI and daemon on http://127.0.0.1:3000, sharing the demo's run history.
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

clean:
	rm -rf data .dagster_home

# Performance benchmark (bench/README.md): one generated 25M-rating lake; the floor, cold and warm
# materialisations and the original's per-genre approach. Quick run: make bench BENCH_ARGS="--ratings 1000000 --repeats 1"
.PHONY: bench
bench: install
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)
