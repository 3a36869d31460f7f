# New machine: `make run` (serve the demo) and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist workers for `make test` (each PostgreSQL worker uses a database of its own, see tests/conftest.py).
TEST_WORKERS ?= auto
# Debian packages the product and its tests use: CJK fonts for pages and PDFs (Noto; HanaMin for the rare
# characters of CJK extensions B and later that Noto lacks), the font subsetter WeasyPrint
# wants, poppler to inspect PDFs, Chromium for browser tests and screenshots, the PostgreSQL client programs
# (pg_dump, pg_restore, psql) that `flask backup` runs.
DEB_PACKAGES := fonts-noto-cjk fonts-hanazono libharfbuzz-subset0 poppler-utils chromium postgresql-client
# `make prod-check` runs gunicorn on PostgreSQL in a database of its own, created beside this one and dropped after.
PROD_CHECK_DATABASE_URL ?= $(or $(TEST_DATABASE_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test_ops)
# `make load` creates this database, runs the load test against gunicorn on it and drops it (it must not hold data).
LOAD_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test_load

.PHONY: run test lint bench bench-10x bench-more load system-deps install install-dev db demo clean translations prod-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian packages: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "Missing Debian packages: $$missing -- please run: sudo apt-get install $$missing" >&2; \
		echo "(continuing; PDF and browser features need them)" >&2; \
	fi

db: install
	$(FLASK) db upgrade

# On an empty database: the bundled plan, the demo accounts, the plan published from 2026Q1, and the
# departments and the office played through the year until DEMO_UNTIL (default: today), so a newcomer sees a
# living year: reports on time and late, returns, escalations, scores. On a database with data it changes
# nothing. `make run DEMO_UNTIL=2026-12-31` plays the whole year.
DEMO_UNTIL ?= $(shell date +%F)
demo: db
	@if $(FLASK) demo load; then \
		$(FLASK) plan publish 1 --first-period 2026Q1 && \
		$(FLASK) demo simulate --plan 1 --until $(DEMO_UNTIL); \
	fi

# The web server and, beside it, the scheduler process (reminders, email); Ctrl-C stops both.
run: system-deps demo
	@echo
	@echo "督办系统: http://$(HOST):$(PORT)/   (Ctrl-C stops the web server and the scheduler)"
	@echo "Demo logins (password demo1234): office, leader, admin, liaison01..NN, head01..NN -- see 'flask --app wsgi demo load' output above"
	$(FLASK) scheduler run & trap 'kill -TERM $$! 2>/dev/null; wait' EXIT; $(FLASK) run --host $(HOST) --port $(PORT)

test: system-deps install-dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The production setup (gunicorn with deploy/gunicorn.conf.py on PostgreSQL) started on this machine and smoke-tested
# through: login, pages, the API with a token, static files, security headers; non-zero on any failure.
prod-check: system-deps install
	PROD_CHECK_DATABASE_URL=$(PROD_CHECK_DATABASE_URL) $(BIN)/python deploy/prod_check.py

# The load test of issue 17 (bench/load.py): gunicorn with 4 workers on PostgreSQL, 200 liaisons saving and submitting
# while the office reviews; prints latencies, requests/s and the department home's throughput against a trivial page;
# non-zero on any error or lost/duplicated report. Not part of `make test` or `make bench`.
load: install-dev
	$(BIN)/python bench/load.py --database-url $(LOAD_DATABASE_URL)

lint: install-dev
	$(BIN)/ruff check .

# The one table at city and (scaled) province size on PostgreSQL (bench/bench_scale.py); BENCH_ARGS=--reuse times
# again on the databases the last run generated. bench-more: every other bench/bench_*.py (the parser, the evaluation
# PDF, the overview's pages on SQLite, the storage backends); bench/load.py needs a server (`make load`).

bench: install-dev
	$(BIN)/python bench/bench_scale.py $(BENCH_ARGS)

# The cost curve's third point: ten times the full province (150,000 tasks), in databases of their own (hours).
bench-10x: install-dev
	$(BIN)/python bench/bench_scale.py --fraction 10 --prefix bench10x $(BENCH_ARGS)

bench-more: install-dev
	for f in $(filter-out bench/bench_scale.py,$(wildcard bench/bench_*.py)); do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance/workflow.sqlite

# After changing user-visible strings: extract and merge, translate the new entries in
# translations/en/LC_MESSAGES/messages.po, then compile (tests/test_i18n.py lists what is missing).
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-by-file -w 120 -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching -w 120
	$(BIN)/pybabel compile -d translations
