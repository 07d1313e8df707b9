# microfunnel: `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PROJECT ?= demo-project
HOST ?= 127.0.0.1
PORT ?= 8600

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	# gbstats (GrowthBook's engine, the reference in bench/stats.py) pins pandas<2 for parts we
	# do not use; its statistics modules run on the pandas we have, so it goes in without deps.
	$(BIN)/pip install -q --no-deps 'gbstats==0.8.0'
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "warning: could not install Debian's chromium; browser tests need /usr/bin/chromium")
	touch $@

run: $(VENV)/.installed
	$(BIN)/microfunnel demo --project $(PROJECT) --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(VENV)/.installed-test
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) demo-project .pytest_cache .mypy_cache .ruff_cache
