# Two commands matter: `make demo` (a real export, end to end) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test up down status seed publish lint typecheck unit e2e clean

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

clean: down
	rm -rf .stack

# Schedules (issue 6): generated canaries and the offline CloudFormation check. ------------------
CFN_VENV := .venv-cfn
CFN_STAMP := $(CFN_VENV)/.installed
SCHEDULES := $(PY) -m chalicelib.schedules_cli

.PHONY: canaries schedules-check cfn-lint canary-test

$(CFN_STAMP): requirements-cfn.txt
	@test -x $(CFN_VENV)/bin/python || python3 -m venv $(CFN_VENV)
	@$(CFN_VENV)/bin/python -m pip install -q -r requirements-cfn.txt
	@touch $(CFN_STAMP)

canaries: $(STAMP)
	$(SCHEDULES) render --out infra

schedules-check: $(STAMP)
	$(SCHEDULES) check

cfn-lint: $(CFN_STAMP)
	$(CFN_VENV)/bin/cfn-lint infra/canaries.yaml

canary-test:
	node --test canary/test/canary.test.js

# `make test` also checks the schedules and lints the committed canaries (the node suite runs inside pytest).
test: $(CFN_STAMP)
test: schedules-check-and-lint
.PHONY: schedules-check-and-lint
schedules-check-and-lint: $(STAMP) $(CFN_STAMP)
	$(SCHEDULES) check
	$(CFN_VENV)/bin/cfn-lint infra/canaries.yaml
