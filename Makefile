# Two entry points a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[emulator,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fundscan demo

lint: $(STAMP)
	$(BIN)/ruff check scanner strategies storage emulator tests benchmarks
	$(BIN)/ruff format --check scanner strategies storage emulator tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy scanner strategies storage emulator

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_spread.py
	$(BIN)/python benchmarks/bench_storage.py --rows 200000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
