# Ayni — the two commands: `make run` (serve on the embedded default) and `make test` (lint, types, tests).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test install install-dev system-deps lint typecheck fuzz fmt clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[train,dev]'
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP) node_modules/.installed

# Real tools the tests use: Prometheus/promtool and the Pushgateway (monitoring tests), Chromium (browser
# tests), pg_dump (backups), docker-compose (compose file check). Installed from Debian when missing.
APT_NEEDS := promtool:prometheus prometheus-pushgateway:prometheus-pushgateway docker-compose:docker-compose \
	pg_dump:postgresql-client chromium:chromium wrk:wrk
system-deps:
	@missing=""; for pair in $(APT_NEEDS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system tools:$$missing (tests that need them will skip)"; fi; fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

run: install
	$(BIN)/ayni db upgrade
	$(BIN)/ayni data load
	$(BIN)/ayni demo
	$(BIN)/ayni serve

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

test: system-deps lint typecheck
	$(BIN)/pytest

fuzz: install-dev
	AYNI_FUZZ_EXAMPLES=200 AYNI_FUZZ_STATEFUL_EXAMPLES=300 $(BIN)/pytest tests/fuzz -q -o log_cli=true --log-cli-level=INFO

fmt: install-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
