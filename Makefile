# seedgen — `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ENV_FILE := env/.env
# The process environment wins over env/.env, as usual.
env_get = $${$(1):-$$(sed -n 's/^$(1)=//p' $(ENV_FILE) | tail -n 1)}

.PHONY: help install demo test test-deep lint bench bench-spec bench-load bench-append seed-from-gen-demo seed-from-gen-test clean

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install seedgen with its dev tools

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(ENV_FILE):
	cp env/.env.example $(ENV_FILE)
	@echo "created $(ENV_FILE) from env/.env.example (edit it to use your own admin UUID)"

demo: install $(ENV_FILE) ## generate the default genonaut set and load it into a fresh demo database
	$(BIN)/seedgen demo

test: install ## run the test suite against a real PostgreSQL (local, SEEDGEN_TEST_DSN or embedded)
	$(BIN)/pytest

test-deep: install ## the suite with SEEDGEN_DEEP=1: 200 fault scenarios (random seed, printed), 20x property examples, more spec examples
	SEEDGEN_DEEP=1 SEEDGEN_SPEC_EXAMPLES=100 $(BIN)/pytest -q

lint: install ## ruff and mypy --strict (product code)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install $(ENV_FILE) ## generation + load timings vs serial and 2-way parallel psql hand-runs
	$(BIN)/python bench/bench.py

bench-spec: install $(ENV_FILE) ## zero-spec generation rows/s per core: narrow and wide inferred tables vs genonaut
	$(BIN)/python bench/bench_spec.py --runs 3

bench-load: install $(ENV_FILE) ## seedgen load vs psql \copy + hand-run DDL: genonaut set, then narrow content_tags (6M rows)
	$(BIN)/python bench/bench.py --load-only --runs 3
	$(BIN)/python bench/bench.py --load-only --runs 3 --tables tags,content_tags

bench-append: install $(ENV_FILE) ## seedgen load --append of 1/20/100 % sets: keep vs rebuild indexes
	$(BIN)/python bench/bench.py --append --runs 3

seed-from-gen-demo: install $(ENV_FILE) ## generate and load into DATABASE_URL_DEMO
	$(BIN)/seedgen generate genonaut --force --out seed-data/sets/genonaut-make
	$(BIN)/seedgen load seed-data/sets/genonaut-make --database-url "$(call env_get,DATABASE_URL_DEMO)"

seed-from-gen-test: install $(ENV_FILE) ## generate and load into DATABASE_URL_TEST (created if missing)
	$(BIN)/seedgen generate genonaut --force --out seed-data/sets/genonaut-make
	$(BIN)/seedgen load seed-data/sets/genonaut-make --database-url "$(call env_get,DATABASE_URL_TEST)" --create-database --create-schema --force

clean: ## remove generated sets, caches and the embedded server's data, stopping it first (not .venv)
	@if [ -f .seedgen/pg/postmaster.pid ]; then \
	  if [ -x $(BIN)/python ]; then $(BIN)/python -m seedgen.devdb stop; \
	  else echo "the embedded server may run from .seedgen/pg and .venv is gone: stop it (pg_ctl -D .seedgen/pg stop) or remove .seedgen yourself"; exit 1; fi; \
	fi
	rm -rf seed-data/sets .pytest_cache .ruff_cache .seedgen
