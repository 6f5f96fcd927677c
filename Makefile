# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make demo   runs the demo (on the embedded local server unless GRADIENT_MODEL_ACCESS_KEY is set)
#   make test   installs everything and runs ruff, mypy --strict and pytest
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck pytest demo bench bench-smoke record clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): $(UV) pyproject.toml
	$(UV) pip install --quiet --python $(BIN)/python -e ".[all]" --group dev --group bench
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check gradient_integrations tests benchmarks
	$(BIN)/ruff format --check gradient_integrations tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck pytest

demo: install
	$(BIN)/python -m gradient_integrations.demo $(ARGS)

bench: install
	$(BIN)/python -m benchmarks.run

bench-smoke: install
	$(BIN)/python -m benchmarks.run --smoke

record: install
	GRADIENT_RECORD=1 $(BIN)/python -m pytest tests/integration --record-mode=all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
