# scimd — make help lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
PG_URL ?= postgres://postgres@127.0.0.1
PORT ?= 8080
# The binaries as cargo builds them (CI keeps its build directory elsewhere).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

build: ## Build the scimd binary (debug)
	$(CARGO) build --bin scimd

run: build ## Serve on http://127.0.0.1:$(PORT) with the embedded SQLite database ./scimd.db
	@echo "scimd: serving on http://127.0.0.1:$(PORT)/scim/v2 (database sqlite://scimd.db)"
	@echo "  console:          http://127.0.0.1:$(PORT)/admin (first: echo 'a long password' | cargo run -q -- operator create --email you@example.com --password-stdin)"
	@echo "  create a tenant:  cargo run -q -- tenant create acme --name 'Acme Inc'"
	@echo "  issue a token:    cargo run -q -- token issue --tenant acme --label okta"
	SCIMD_BIND=127.0.0.1:$(PORT) $(CARGO) run --quiet --bin scimd -- serve

test: ## Run the whole suite (unit + HTTP integration tests) on SQLite
	$(CARGO) test --all-targets

test-unit: ## Only the library's unit tests (cargo test --lib): the fast loop, no server (a few use a temporary SQLite file)
	$(CARGO) test --lib

# Loopback needs no TLS. A rare crash at the test binary's exit (after every test passed) is
# suspected to be libpq's OpenSSL state torn down while a pool thread still connects: the tests
# connect without TLS, which also keeps OpenSSL out of their connections.
test-postgres: pg-up ## Run the same suite against PostgreSQL on 127.0.0.1:5432 (a fresh database per test)
	PGSSLMODE=disable SCIMD_TEST_POSTGRES=$(PG_URL) $(CARGO) test --all-targets

conformance: build ## Run the public SCIM conformance suite scim2-tester against the server (SQLite)
	@dir=$$(mktemp -d) && bash .ci/scim2-tester.sh $(TARGET_DIR)/debug/scimd sqlite://$$dir/conformance.db && rm -rf $$dir

conformance-postgres: build pg-up ## The same against PostgreSQL (a fresh database, dropped afterwards)
	@db=scimd_conformance_$$$$; \
	psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $$db" && \
	bash .ci/scim2-tester.sh $(TARGET_DIR)/debug/scimd $(PG_URL)/$$db; status=$$?; \
	psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $$db"; exit $$status

api-fuzz: build ## Property-based run of schemathesis against /api/v1 from its OpenAPI document (SQLite)
	@dir=$$(mktemp -d) && bash .ci/schemathesis.sh $(TARGET_DIR)/debug/scimd sqlite://$$dir/api-fuzz.db && rm -rf $$dir

api-fuzz-postgres: build pg-up ## The same against PostgreSQL (a fresh database, dropped afterwards)
	@db=scimd_api_fuzz_$$$$; \
	psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $$db" && \
	bash .ci/schemathesis.sh $(TARGET_DIR)/debug/scimd $(PG_URL)/$$db; status=$$?; \
	psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $$db"; exit $$status

deploy-check: build ## Check deploy/: systemd-analyze verify (and sandbox exposure) of the unit, nginx -t, caddy validate
	bash .ci/deploy-check.sh $(TARGET_DIR)/debug/scimd

bench: ## Release build, 100k users and a 50k-member group, then wrk per scenario (BENCH_* knobs: bench/run.py)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(CARGO) build --release --bin scimd
	python3 bench/run.py

bench-audit: ## Release build, 1M audit events, time each audit page shape (BENCH_POSTGRES=1 adds PostgreSQL; knobs: bench/audit.py)
	$(CARGO) build --release --bin scimd
	python3 bench/audit.py

pg-up: ## Start the local PostgreSQL cluster if it is down
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -1) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  pg_isready -h 127.0.0.1 -p 5432; }

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: help build run test test-unit test-postgres conformance conformance-postgres api-fuzz api-fuzz-postgres deploy-check bench bench-audit pg-up lint fmt
