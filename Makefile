# make quickstart   set up .venv, then baseline vs intra-distillation on a small offline corpus
# make test         set up .venv, then lint (ruff) and the whole test suite on 2 workers (14 min on a slow 2-core machine, venv included)
# make test-fast    lint, then the unit tests of the math, schedule, criterion, recipes and results:
#                   every test not marked slow (pytest -m "not slow"; no end-to-end training), under 2 min
# make lint         ruff check and ruff format --check, as `make test` runs them
# make format       ruff check --fix and ruff format: what `make lint` asks for
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV ?= .venv
# The CPU wheel on machines that have it locally; elsewhere pip fetches this release.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv quickstart lint format test test-fast clean

venv: $(VENV)/.installed

# torch first, with pip (which reads the machine's pip configuration, where a local CPU wheel
# may be), so that fairseq's unpinned torch requirement does not pull a CUDA build.  The rest with
# uv, which downloads and byte-compiles in parallel where pip compiles on one core: on 2 cores
# about 45 s instead of 90 s.  Byte-compiled, as pip does: where Python may not write .pyc files
# itself (PYTHONDONTWRITEBYTECODE), importing fairseq would otherwise take three times as long.
$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install "$(TORCH_SPEC)" "uv>=0.5"
	$(VENV)/bin/uv pip install --python $(VENV)/bin/python --compile-bytecode -e ".[test,analysis,hf]"
	touch $@

quickstart: venv
	bash scripts/quickstart/run.sh

# Style first, so that CI fails on it before the long suite runs.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two workers (pytest-xdist), one per core: most tests run one single-threaded process at a time.
# --dist loadfile keeps a file's tests, and so its module fixtures, on one worker.
TEST_WORKERS ?= 2

test: lint
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests $(PYTEST_ARGS)

test-fast: lint
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) -m "not slow" tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) work *.egg-info
