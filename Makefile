# Keyplan: `make run` serves the demo, `make test` runs the whole suite (SQLite, PostgreSQL, browser).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/keyplan
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgres load install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the dependencies change, not on every run.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/keyplan demo

test: $(VENV)/.installed-dev
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(VENV)/.installed-dev
	@echo "== Keyplan tests on SQLite =="
	env -u KEYPLAN_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-dev
	@if $(BIN)/python tests/pgcheck.py "$(PG_TEST_URL)"; then \
		echo "== Keyplan tests on PostgreSQL =="; \
		KEYPLAN_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_TEST_URL); in CI that is a failure."; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL run: nothing answers at $(PG_TEST_URL) (start PostgreSQL or set PG_TEST_URL)."; \
	fi

# The long load run: 50 users for 60 s against keyplan serve on PostgreSQL (benchmarks/load/run.py).
load: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/load/run.py --users 50 --seconds 60 --p95-ms 300 --postgres-url $(PG_TEST_URL)_load

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
