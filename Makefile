# telco-dw — every command does its own set-up: a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.synced
UV_VERSION := 0.13.8
PYTEST_ARGS ?=
# make test: pytest-xdist workers, each with its own embedded warehouse under .local/test/<worker>
# (the suite keeps one core busy; two workers use both). A server given by
# TELCO_DW_TEST_WAREHOUSE_URL is shared, so its tests run in one process (0).
TEST_WORKERS ?= $(if $(TELCO_DW_TEST_WAREHOUSE_URL),0,2)
# make bench: customer counts of the scale benchmarks (1M is opt-in: BENCH_SCALES=10k,100k,1m) and
# days simulated per scale; see docs/performance.md
BENCH_SCALES ?= 10k,100k
BENCH_DAYS ?= 30

.DEFAULT_GOAL := help
.PHONY: help install demo test bench up down lint format clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "telco-dw needs Python 3.11 or newer: run make with PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen
	@touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies

demo: $(STAMP) ## Embedded warehouse + simulated telco + real Airflow runs + summary
	$(BIN)/telco-dw demo

test: $(STAMP) ## The whole test suite on TEST_WORKERS pytest-xdist workers (real PostgreSQL, Airflow, dbt, GX)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP) ## Benchmarks: ingestion, simulator, pipeline cost at BENCH_SCALES (default 10k,100k; add 1m)
	BENCH_SCALES=$(BENCH_SCALES) BENCH_DAYS=$(BENCH_DAYS) $(BIN)/pytest -m bench -p no:cacheprovider tests/bench $(PYTEST_ARGS)
	@echo "results: bench/results/$$(date -u +%F).md"

up: $(STAMP) ## Airflow UI and scheduler on the embedded stack (http://127.0.0.1:8080)
	$(BIN)/telco-dw up

down: $(STAMP) ## Stop what `make up` started, and the embedded warehouse
	$(BIN)/telco-dw down

lint: $(STAMP) ## ruff, mypy, sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy include
	$(BIN)/telco-dw warehouse start >/dev/null
	$(BIN)/telco-dw sqlfluff lint models

format: $(STAMP) ## Apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Stop everything and delete .local/ (data, logs, keys) and .venv/
	-@test -x $(BIN)/telco-dw && $(BIN)/telco-dw down
	rm -rf .local $(VENV) .pytest_cache .mypy_cache .ruff_cache
