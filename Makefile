# Checkpoint: `make demo` runs the product, `make test` runs the whole test suite.
# Both set up everything they need on a fresh Debian machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test install system-deps bench lint clean help

help:
	@echo "make demo   - install into $(VENV) and run the demo on http://127.0.0.1:5000"
	@echo "make test   - install into $(VENV) (+ Debian chromium for browser tests) and run all tests"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make clean  - remove the virtual environment and generated data"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/checkpoint demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info tests/artifacts
