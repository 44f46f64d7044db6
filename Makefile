# Invoicer: `make run` serves a seeded API on the embedded default; `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
# A uv on PATH, else the one `make uv` installs as a Python package.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT
# Bytecode caches on: with PYTHONDONTWRITEBYTECODE set, every process (each CLI call, server
# and test worker) compiles every module it imports again, which doubles its start-up time.
unexport PYTHONDONTWRITEBYTECODE
# pytest-xdist worker processes for the suite.
TEST_WORKERS ?= 2

.PHONY: help uv sync node run dev serve migrate seed worker scheduler lint fmt typecheck test test-fast test-sqlite test-postgres bench-login bench-reads bench-tenant bench-invoices bench-exports bench-webhooks bench-server bench-profile bench-memory bench-soak bench-uploads mutation clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

uv: ## Install uv (user-local) if it is missing
	@if ! $(UV) --version >/dev/null 2>&1; then \
		echo "Installing uv with pip..."; \
		$(PYTHON) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m ensurepip --user; \
		$(PYTHON) -m pip install --user --quiet "uv>=0.9" || $(PYTHON) -m pip install --quiet "uv>=0.9"; \
	fi

sync: uv ## Create .venv from uv.lock (exact versions)
	@$(UV) sync --frozen --quiet

node: ## Node tools the suite runs (Redocly CLI), as package-lock.json pins them
	@if ! command -v npm >/dev/null; then echo "npm is missing: the OpenAPI lint test will be skipped"; \
	elif [ ! package-lock.json -nt node_modules/.package-lock.json ]; then :; \
	else npm ci --no-audit --no-fund --loglevel=error; fi

run: sync ## Migrate, seed demo data and serve on http://$(HOST):$(PORT) (SQLite unless DATABASE_URL says otherwise)
	@mkdir -p var
	@$(UV) run --frozen invoicer migrate
	@$(UV) run --frozen invoicer seed-demo
	@echo ""
	@echo "  API docs:  http://$(HOST):$(PORT)/docs"
	@echo "  Readiness: http://$(HOST):$(PORT)/readyz"
	@echo ""
	@$(UV) run --frozen invoicer serve

dev: sync ## As `make run`, restarting the server whenever code under app/ changes
	@mkdir -p var
	@$(UV) run --frozen invoicer migrate
	@$(UV) run --frozen invoicer seed-demo
	@$(UV) run --frozen invoicer serve --reload

migrate: sync ## Apply pending migrations to DATABASE_URL (or MIGRATION_DATABASE_URL)
	@$(UV) run --frozen invoicer migrate

worker: sync ## Full mode: run jobs from BROKER_URL, the outbox relay and the sweeper (docs/jobs.md)
	@$(UV) run --frozen invoicer worker

scheduler: sync ## Full mode: send the periodic jobs to BROKER_URL on their schedules (safe to run twice)
	@$(UV) run --frozen invoicer scheduler

seed: sync ## Seed demo data (idempotent)
	@$(UV) run --frozen invoicer seed-demo

lint: sync ## ruff check + format check
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

fmt: sync ## Format and autofix
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

typecheck: sync ## mypy (strict, pydantic plugin)
	@$(UV) run --frozen mypy

test: lint typecheck node ## Lint, types, and the whole suite on SQLite and PostgreSQL
	@$(UV) run --frozen pytest -n $(TEST_WORKERS)

test-fast: sync node ## The suite without the `slow` tests (fuzzing, server starts), for the edit loop
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) -m "not slow"

test-sqlite: sync node ## The suite on SQLite only
	@TEST_DATABASES=sqlite $(UV) run --frozen pytest

test-postgres: sync node ## The suite on PostgreSQL only
	@TEST_DATABASES=postgres $(UV) run --frozen pytest

bench-login: sync ## Login under load vs. raw argon2id rate (needs wrk, PostgreSQL, Redis)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	@$(UV) run --frozen python bench/login.py

bench-reads: sync ## Authenticated reads under load vs. /livez in the same run (needs wrk, PostgreSQL, Redis)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	@$(UV) run --frozen python bench/reads.py

bench-tenant: sync ## A tenant list of 50 (RLS, rate limits) vs a bare asyncpg route, same run (needs wrk, PostgreSQL, Redis)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	@$(UV) run --frozen python bench/tenant_reads.py

bench-invoices: sync ## Invoice list and draft creation vs bare asyncpg routes, same run (needs wrk, PostgreSQL, Redis)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	@$(UV) run --frozen python bench/invoices.py

bench-exports: sync ## Exports of 10,000 and 100,000 invoices: rows/s, server RSS growth; report cache and stampede (PostgreSQL, Redis)
	@$(UV) run --frozen python bench/exports.py

bench-webhooks: sync ## Event → webhook latency at 50 events/s and deliveries/s per worker vs a bare consumer, worker RSS (PostgreSQL, Redis, RabbitMQ)
	@$(UV) run --frozen python bench/webhooks.py

bench-server: sync ## The bounded HTTP protocol vs uvicorn's stock one, same run (needs wrk; SQLite)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	@$(UV) run --frozen python bench/server_limits.py

bench-uploads: sync ## Server memory while a 10 MB attachment is uploaded and downloaded (PostgreSQL, Redis)
	@$(UV) run --frozen python bench/uploads.py

bench-profile: sync ## Where a request's CPU goes: py-spy samples the server under wrk (needs wrk)
	@$(UV) run --frozen python bench/profile.py

bench-memory: sync ## Leak hunt: tracemalloc over three equal intervals of authenticated traffic (PostgreSQL, Redis)
	@$(UV) run --frozen python bench/memory.py

bench-soak: sync ## Steady mixed traffic for 2 min: p95 per endpoint, drift, memory growth (PostgreSQL, Redis)
	@$(UV) run --frozen python bench/soak.py

mutation: sync ## Mutation testing of security, services and API dependencies against the fast suite (periodic, not CI; docs/testing.md)
	@rm -rf mutants
	@TEST_DATABASES=sqlite $(UV) run --frozen mutmut run --max-children 2
	@$(UV) run --frozen mutmut results

clean: ## Remove the local database, mail and caches
	rm -rf var mutants .pytest_cache .mypy_cache .ruff_cache
