# Régua — the two commands: `make demo` and `make test` (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_CONTACTS ?= 5000
DEMO_MONTHS ?= 12

.PHONY: demo run test test-sqlite test-postgres lint typecheck bench messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## make demo: install, migrate the SQLite default, load the demo data, start the app and the worker.
demo: $(VENV)/.installed
	$(BIN)/regua demo --contacts $(DEMO_CONTACTS) --months $(DEMO_MONTHS)
	$(BIN)/regua collectstatic --noinput --verbosity 0
	PORT=$(PORT) $(BIN)/regua run

## make run: start the web app and the worker on the current database.
run: $(VENV)/.installed
	PORT=$(PORT) $(BIN)/regua run

## make test: install what the tests need (PostgreSQL, Chromium) and run the suite on SQLite and PostgreSQL.
test: $(VENV)/.installed-dev
	scripts/install-test-deps.sh
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-dev
	$(BIN)/pytest -q

test-postgres: $(VENV)/.installed-dev
	scripts/with-postgres.sh $(BIN)/pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check regua tests

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy regua

## make bench: generate 1M contacts in a scratch database (var/bench) and measure the figures in
## docs/benchmarks.md (not part of CI). BENCH_ARGS="--contacts 20000" for a quick run.
bench: $(VENV)/.installed-dev
	REGUA_VAR_DIR=var/bench $(BIN)/regua bench --reset $(BENCH_ARGS)

## make messages: refresh the translation catalogues after changing user-facing strings.
messages: $(VENV)/.installed-dev
	cd regua && ../$(BIN)/regua makemessages -l pt_BR --no-obsolete --add-location file
	$(BIN)/regua compilemessages --ignore .venv

clean:
	rm -rf $(VENV) var
