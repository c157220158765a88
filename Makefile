# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
WORKSPACE ?= demo/geoint-data
PORT ?= 8000

.PHONY: setup browser demo test lint bench clean

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

# Analyses the sample scenario, then serves the API and the map on 127.0.0.1:$(PORT) (Ctrl-C stops).
demo: setup
	$(BIN)/geoint demo --workspace $(WORKSPACE) --serve --port $(PORT)

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/geoint bench ingest

clean:
	rm -rf $(VENV) demo *.egg-info
