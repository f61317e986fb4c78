# `make run` runs the main job on the embedded default; `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup run test test-crash clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(VENV)/bin/dream run

test: setup
	$(VENV)/bin/python -m pytest

test-crash: setup
	$(VENV)/bin/python -m pytest -m crash tests/test_refresh_crash.py

clean:
	rm -rf data/warehouse data/synth data/test-warehouse data/test-synth
