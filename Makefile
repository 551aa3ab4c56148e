# One entry point per job. `make test` is what CI runs (.ci/run) and what the README shows.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo bench services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,demo]'

services:
	@bash scripts/ensure-services.sh

test: install services
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

demo: install services
	$(BIN)/python -m demo $(ARGS)

bench: install services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
