# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make demo   runs the demo (on the embedded local server unless GRADIENT_MODEL_ACCESS_KEY is set)
#   make test   installs the test dependencies too and runs ruff, mypy --strict and pytest
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
DEPS_HASH := $(shell cat pyproject.toml .ci/constraints.txt | cksum | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-$(DEPS_HASH)
DEV_STAMP := $(VENV)/.dev-$(DEPS_HASH)
PIP_INSTALL = $(UV) pip install --quiet --python $(BIN)/python -c .ci/constraints.txt

.PHONY: install test test-fast lint typecheck pytest demo bench bench-smoke record clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

# What the demo needs: the package with all its extras.
$(RUNTIME_STAMP): $(UV) pyproject.toml .ci/constraints.txt
	$(PIP_INSTALL) -e ".[all]"
	rm -f $(VENV)/.runtime-* && touch $@

# What tests and benchmarks need on top: the dev and bench dependency groups.
$(DEV_STAMP): $(RUNTIME_STAMP)
	$(PIP_INSTALL) -e ".[all]" --group dev --group bench
	rm -f $(VENV)/.dev-* && touch $@

install: $(DEV_STAMP)

lint: install
	$(BIN)/ruff check gradient_integrations devtools tests benchmarks
	$(BIN)/ruff format --check gradient_integrations devtools tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest

# The inner loop: pytest without the tests marked `slow` (benchmark smokes, long property runs, Ray,
# notebooks, subprocess demos). `make test` still runs everything.
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

test: lint typecheck pytest

demo: $(RUNTIME_STAMP)
	$(BIN)/python -m gradient_integrations.demo $(ARGS)

bench: install
	$(BIN)/python -m benchmarks.run

bench-smoke: install
	$(BIN)/python -m benchmarks.run --smoke

record: install
	GRADIENT_RECORD=1 $(BIN)/python -m pytest tests/integration --record-mode=all
	rm -f cassettes/langchain_standard/*.yaml
	$(BIN)/python -m pytest tests/langchain/test_langchain_standard.py -k test_stream_time --record-mode=once

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
