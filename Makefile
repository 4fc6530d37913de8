# Two commands matter: `make demo` (a real export, end to end) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test up down status seed publish lint typecheck unit e2e bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m devstack demo

up: $(STAMP)
	$(PY) -m devstack up

down: $(STAMP)
	$(PY) -m devstack down

status: $(STAMP)
	$(PY) -m devstack status

seed: $(STAMP)
	$(PY) -m devstack seed

publish: $(STAMP)
	$(PY) -m devstack publish

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# Not part of `make test`: seeds 1,000,000 rows and takes about 15 minutes (see bench/README.md).
bench: $(STAMP)
	$(PY) -m bench

clean: down
	rm -rf .stack
