# The two commands of the README: `make run` and `make test`. Nothing else to install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test test-all lint bench bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# Locust too, for the load benchmark (bench/load.py).
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/portal setup
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT) --no-debugger --no-reload --with-threads

# Production serving: gunicorn with deploy/gunicorn.conf.py (docs/deploy.md). Migrations are
# a step of their own (`portal db upgrade`); /readyz says whether they are applied.
serve: $(VENV)/.installed
	PORTAL_BIND="$${PORTAL_BIND:-$(HOST):$(PORT)}" $(BIN)/gunicorn -c deploy/gunicorn.conf.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test
	$(BIN)/python bench/search.py

# The portal under gunicorn and Locust, SQLite + Whoosh, 2 and 4 workers (docs/performance.md).
bench-load: $(VENV)/.installed-bench
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
