# finradar — the two commands a newcomer runs are `make demo` and `make test`.
# Both install what is missing first (a project virtualenv from requirements.lock).
# Its packages are compiled to bytecode at install: with PYTHONDONTWRITEBYTECODE set (as on
# the CI machine) every new interpreter would otherwise compile GX, Beam and Prefect again
# (about 10 s per process).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.finradar-installed

.PHONY: install browser postgres demo demo-shared test lint format lock bench fuzz clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml infra/web_assets.yaml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "finradar needs Python 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m infra.web_assets
	@touch $(STAMP)

demo: install
	$(BIN)/finradar demo

# The same job on a shared warehouse: DuckLake's catalog in Postgres, its data in an
# S3-compatible store (local stand-ins under var/, unless the settings name real ones).
demo-shared: install postgres
	$(BIN)/finradar demo --shared

# Headless Chromium for the report's rendering test, and a CJK font for the report's Chinese
# labels: Debian packages, installed once.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  echo "installing chromium and a CJK font (Debian packages)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium fonts-wqy-microhei >/dev/null; }

# Debian's Postgres server binaries (initdb, pg_ctl) for `finradar infra up --postgres`, the
# local stand-in of a shared DuckLake catalog: installed once, only if none is found.
postgres:
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { \
	  echo "installing postgresql (Debian package)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends \
	    postgresql >/dev/null; }

# Three test workers on two cores: with two, a fifth of the cores' time went unused while
# tests waited on brokers, servers, schedules and subprocesses.
test: install browser postgres
	$(BIN)/python -m pytest -n 3

# ruff, and the layers of imports (pyproject.toml [tool.importlinter]; README.md, "Layout")
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks against a baseline in the same run (million-event runs; not part of `make test`).
# Figures go to var/bench/<date>.json as well. BENCH_N=100000 for a short run.
BENCH_N ?= 1000000
# synthetic data only: a key of their own for the personal-data hash (ingest refuses the
# public default one); yours, if FINRADAR_INGEST__PII_HASH_KEY is set
bench fuzz: export FINRADAR_INGEST__PII_HASH_KEY ?= finradar-bench-and-fuzz-key
bench: install
	$(BIN)/finradar infra up
	$(BIN)/python -m tests.bench.bench_produce $(BENCH_N)
	$(BIN)/python -m tests.bench.bench_ingest --sizes $(BENCH_N) $$(($(BENCH_N) * 5))
	$(BIN)/python -m tests.bench.bench_follow --rate 1000 --seconds 60
	$(BIN)/python -m tests.bench.bench_shared --events $$(($(BENCH_N) / 5))
	$(BIN)/python -m tests.bench.bench_large_messages --events $$(($(BENCH_N) / 1000))

# Generated messages through the pipeline's stages (make test runs a short, fixed profile):
# counts per class, seconds per stage, the checker's time per message against FUZZ_BASE's.
FUZZ_N ?= 100000
FUZZ_BASE ?= bb49be5
fuzz: install
	$(BIN)/python -m tests.bench.fuzz --messages $(FUZZ_N) --batch 5000 --compare-with $(FUZZ_BASE)

# Re-resolve requirements.lock from requirements/*.in (needs the package registry).
lock: install
	cd requirements && ../$(BIN)/uv pip compile dev.in --quiet --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --custom-compile-command "make lock" -o ../requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
