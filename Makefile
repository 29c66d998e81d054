# PilotShare: `make demo` runs the whole thing, `make test` checks it. Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup system-deps browser-deps services services-stop lint typecheck unit lock clean \
	translations i18n-extract

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

ASSETS := backend/web/static/vendor/.installed
LOCALES := backend/web/locales

system-deps:
	@bash scripts/system-deps.sh

browser-deps:
	@bash scripts/system-deps.sh --browser

# Browser assets (htmx, ECharts, Swagger UI, ReDoc) from the npm registry, pinned by package-lock.json.
$(ASSETS): backend/web/assets/package.json backend/web/assets/package-lock.json backend/web/assets/vendor.txt
	@bash scripts/web-assets.sh

# The pages' text: gettext catalogs (.po, committed) compiled to .mo for the app.
translations: $(STAMP)
	@$(BIN)/pybabel -q compile -d $(LOCALES) -D messages

# After changing text in templates or web code: refresh the catalogs, then translate the new entries.
i18n-extract: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k N_ -o $(LOCALES)/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel -q update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages --no-fuzzy-matching --ignore-obsolete

setup: system-deps $(STAMP) $(ASSETS) translations

services: setup
	@bash scripts/services.sh start

services-stop:
	@bash scripts/services.sh stop

demo: services
	$(BIN)/pilotshare demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: setup browser-deps lint typecheck
	$(BIN)/pytest -q

lock: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip compile -q pyproject.toml --extra dev -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .var .pytest_cache .mypy_cache .ruff_cache backend/web/static/vendor backend/web/assets/node_modules
