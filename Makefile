# Annotary: `make run` opens the demo, `make test` runs the whole suite headless.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUNSTAMP := $(VENV)/.installed

.PHONY: run test lint bench schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNSTAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(RUNSTAMP)

run: $(RUNSTAMP)
	$(BIN)/annotary demo

lint: $(STAMP)
	$(BIN)/ruff check desktop tests benchmarks

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/bench.py

schemas: $(RUNSTAMP)
	$(BIN)/python -c "from pathlib import Path; from annotary.core.schema import schema_texts; \
	[Path('resources/schema', n).write_text(t) for n, t in schema_texts().items()]"

clean:
	rm -rf $(VENV) build dist *.egg-info desktop/*.egg-info .pytest_cache .ruff_cache
