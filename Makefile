# One entry point per job. `make test` is what CI runs (.ci/run) and what the README shows.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when the dependencies change: the stamp is newer than pyproject.toml otherwise.
INSTALLED := $(VENV)/.installed

.PHONY: install test lint typecheck demo bench services browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,demo,ops]'
	touch $@

install: $(INSTALLED)

services:
	@bash scripts/ensure-services.sh

# Debian's chromium for tests/browser (never a downloaded browser build); root + apt-get only.
browser:
	@bash scripts/ensure-chromium.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Coverage is measured on every run; the floor (pyproject: --cov-fail-under) only goes up.
test: lint services browser
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered

demo: install services
	$(BIN)/python -m demo $(ARGS)

bench: install services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .coverage
