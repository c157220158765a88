# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
WORKSPACE ?= demo/geoint-data
PORT ?= 8000

.PHONY: setup browser postgres demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# Headless Chromium for the web map's browser tests and screenshot, poppler's pdftoppm for the
# patrol brief's page renders (Debian packages, as root).
browser:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium chromium-driver; }
	@test -x /usr/bin/pdftoppm || { apt-get update && apt-get install -y poppler-utils; }

# PostgreSQL's server binaries: the test run starts its own server with them (tests/support/
# postgres.py), so that the store, ingest, alert, key and API tests also run on PostgreSQL.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update && apt-get install -y postgresql; }

# Analyses the sample scenario, then serves the API and the map on 127.0.0.1:$(PORT) (Ctrl-C stops).
demo: setup
	$(BIN)/geoint demo --workspace $(WORKSPACE) --serve --port $(PORT)

test: setup browser postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/geoint bench ingest

clean:
	rm -rf $(VENV) demo *.egg-info
