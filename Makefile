# Checkpoint: `make demo` runs the product, `make test` runs the whole test suite.
# Both set up everything they need on a fresh Debian machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
LINT_STAMP = $(VENV)/.installed-lint
PYTEST_ARGS ?=
# the fast tier: no browser, nothing marked slow (over about half a second), no PostgreSQL, broker or ../shared
CHECK_MARKERS = not browser and not slow and not shared and not postgres and not mqtt

.PHONY: demo test check lint install system-deps bench clean help

help:
	@echo "make demo   - install into $(VENV) and run the demo on http://127.0.0.1:5000"
	@echo "make test   - install into $(VENV) (+ Debian chromium for browser tests) and run all tests"
	@echo "make check  - the fast tier of the tests (under a minute; no browser, servers or slow tests)"
	@echo "make lint   - ruff (lint) and mypy (types) on the packages"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make clean  - remove the virtual environment and generated data"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

$(LINT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,lint]'
	touch $(LINT_STAMP)

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/checkpoint demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/python -m pytest -q -m "$(CHECK_MARKERS)" --timeout 30 $(PYTEST_ARGS)

lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info tests/artifacts
