# Two commands run everything on a fresh machine with python3, pip and make:
#   make demo   - harvest a sample run from the embedded fake GitHub
#   make test   - lint, type-check and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,app,redis,fast]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gh-jobs demo

lint: $(STAMP)
	$(BIN)/ruff check gh_jobs_async tests benchmarks examples
	$(BIN)/ruff format --check gh_jobs_async tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
