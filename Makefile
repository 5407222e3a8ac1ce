# Two commands for a new user: `make run` and `make test`. Everything else is installed by them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VENDOR := webapp/static/vendor
DIST := webapp/static/dist
STATIC_SOURCES := $(shell find webapp/static -type f -not -path '$(DIST)/*' -not -path '$(VENDOR)/*')
export FLASK_APP := wsgi

.PHONY: run test lint format worker scheduler migrate assets clean

run: $(VENV)/.runtime assets
	$(BIN)/python -m webapp.devserver

test: $(VENV)/.dev assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Production processes: one command each (see README).
worker: $(VENV)/.runtime
	$(BIN)/flask worker

scheduler: $(VENV)/.runtime
	$(BIN)/flask scheduler

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Static files fingerprinted, minified and compressed into $(DIST) (webapp/assets/build.py),
# rebuilt when one of them changed.
assets: $(DIST)/manifest.json

$(DIST)/manifest.json: $(STATIC_SOURCES) $(VENDOR)/htmx.min.js node_modules/.package-lock.json | $(VENV)/.runtime
	$(BIN)/flask assets build

$(VENDOR)/htmx.min.js: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $@

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(DIST)
