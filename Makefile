# The Makefile is the interface: CI runs these same targets.
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
T ?=

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.setup-stamp: pyproject.toml scripts/setup.sh
	@scripts/setup.sh

.PHONY: setup
setup: $(VENV)/.setup-stamp ## create .venv and install everything

.PHONY: test
test: setup ## run the whole test suite on SQLite and PostgreSQL (starts a throwaway PostgreSQL when installed)
	scripts/test.sh $(PYTEST_ARGS) $(if $(T),$(T),tests)

.PHONY: test-packages
test-packages: setup ## download the pinned sdists that the validation tests serve on 127.0.0.1 (.cache/test-packages)
	PYTHON=$(BIN)/python scripts/fetch-test-packages.sh

.PHONY: lint
lint: setup ## ruff check, ruff format --check, mypy, import contracts (lint-imports)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

.PHONY: reformat
reformat: setup ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench scripts
	$(BIN)/ruff format src tests bench scripts

.PHONY: demo
demo: setup ## run the end-to-end demo on embedded defaults (SERVE=1: keep the UI running after)
	SERVE=$(SERVE) $(BIN)/python scripts/demo.py

.PHONY: serve
serve: setup ## serve the API on 127.0.0.1:8000 (migrating first)
	$(BIN)/clearinghouse db upgrade
	$(BIN)/clearinghouse serve --host 127.0.0.1 --port 8000

.PHONY: bench
bench: setup ## run the benchmarks under bench/
	@set -e; found=0; for b in bench/bench_*.py; do [ -e "$$b" ] || continue; found=1; echo "== $$b"; $(BIN)/python $$b; done; \
	  [ $$found = 1 ] || echo "no benchmarks yet (bench/bench_*.py)"

.PHONY: clean
clean: ## remove local state (var/) and caches, keep .venv
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
