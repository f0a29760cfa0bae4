# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_VERSION := 0.13.8
# Browser tests drive Debian's chromium through Playwright; Playwright never downloads a browser of its own.
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test lint check-migrations bench install install-dev browser wrk clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Installs are reproducible: the lock files pin every package; the project itself is editable.
# Packages are installed with their bytecode compiled (uv does not compile by default): where
# PYTHONDONTWRITEBYTECODE is set, as on CI machines, every process start would otherwise compile
# FastAPI, pydantic and SQLAlchemy from source, about half of a service's start-up time.
$(VENV)/.run-installed: requirements/run.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements/run.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 services shared gateway
	touch $@

$(VENV)/.dev-installed: requirements/dev.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements/dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 services shared gateway
	touch $@ $(VENV)/.run-installed

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed browser

# A fresh machine (CI) has no browser: as root, Debian's chromium is installed; otherwise say how.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need $(CHROMIUM): sudo apt-get install chromium" >&2; \
	  fi; }

## make run: install, start PostgreSQL (embedded unless OCOP_DATABASE_URL is set), migrate, seed, run all four
run: install
	$(BIN)/ocop up --demo

## make test: linters, type checks, architecture contracts, then the whole test suite on a real PostgreSQL
test: install-dev lint
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## make bench: the benchmarks of bench/ (not part of make test)
bench: install-dev wrk
	$(BIN)/python -m bench

# wrk, the C load generator some benches offer (--load wrk): installed as root, otherwise say how.
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else \
	    echo "--load wrk needs wrk: sudo apt-get install wrk" >&2; \
	  fi; }

## Regenerate the lock files after changing pyproject.toml
lock: | $(UV)
	$(UV) pip compile --quiet pyproject.toml --python-version 3.11 -o requirements/run.lock
	$(UV) pip compile --quiet pyproject.toml --extra test --python-version 3.11 -o requirements/dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
