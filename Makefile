# Two commands matter: `make demo` (a real export, end to end) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Deployment (docs/operations/deploy.md): STAGE is dev or prod; per-account values are in infra/stages/$(STAGE).json.
STAGE ?= prod
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
PACKAGE_DIR := out/$(STAGE)/package

.PHONY: ensure-node demo test test-fast up down status seed publish lint typecheck unit e2e bench clean check-reports config package infra-check deploy deploy-plan destroy rehearse

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q "pip<26.3"  # chalice 1.34 drives pip and requires an older one
	@$(PY) -m pip install -q -r requirements-dev.txt
	@$(PY) -m pip install -q --no-deps --no-build-isolation -e .
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

# The canary's node suite runs inside pytest; Debian's nodejs is enough for `node --test`.
ensure-node:
	@command -v node >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; \
	  else echo "Node.js is missing: run sudo apt-get install -y nodejs" >&2; exit 1; fi; }

# The checks run as their own targets (lint, typecheck, check-reports, schedules-check), then the rest.
test: $(STAMP) ensure-node lint typecheck check-reports schedules-check
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory infra-check STAGE=prod
	$(PY) -m pytest

# Every test that needs no stack (no MariaDB, moto_server, Slack receiver or chalice local) and no
# packaged template: the unit tier, the CLI tier and the in-process lifecycle tests. Seconds, not minutes.
test-fast: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "not stack and not package" -q

unit: $(STAMP)
	$(PY) -m pytest tests/unit

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# Not part of `make test`: seeds 1,000,000 rows and takes about 15 minutes (see bench/README.md).
bench: $(STAMP)
	$(PY) -m bench

# Not part of `make test`: the API handler's cold start under Lambda's CPU share per memory size
# (bench/README.md "Cold start"); about 10 minutes. Root makes the CPU quota a cgroup.
.PHONY: bench-coldstart
bench-coldstart: $(STAMP)
	$(PY) -m bench coldstart

clean: down
	rm -rf .stack

check-reports: $(STAMP)
	$(VENV)/bin/excel-export reports check

$(INFRA_STAMP): requirements-infra.txt
	@test -x $(INFRA_VENV)/bin/python || python3 -m venv $(INFRA_VENV)
	@$(INFRA_VENV)/bin/python -m pip install -q "pip<26.3"
	@$(INFRA_VENV)/bin/python -m pip install -q -r requirements-infra.txt
	@touch $(INFRA_STAMP)

# Copy infra/stages/*.json into .chalice/config.json and render .chalice/policy-<stage>.json.
config: $(STAMP)
	$(PY) -m infra config

# Offline: merged template + deployment zip (with byte code: bench/README.md "Cold start") in $(PACKAGE_DIR), and the unzipped size.
package: $(STAMP)
	$(PY) -m infra build --stage $(STAGE)
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$$($(PY) -m infra region --stage $(STAGE)) \
	  $(VENV)/bin/chalice package --stage $(STAGE) --merge-template out/$(STAGE)/infra.json $(PACKAGE_DIR)
	$(PY) -m infra.bytecode $(PACKAGE_DIR)/deployment.zip
	$(PY) -m infra size $(PACKAGE_DIR)/deployment.zip

# Offline checks of what would be deployed: cfn-lint (no errors) and checkov (no failed checks).
infra-check: package $(INFRA_STAMP)
	$(INFRA_VENV)/bin/cfn-lint --format parseable -- $(PACKAGE_DIR)/sam.json infra/edge/waf.yaml
	$(INFRA_VENV)/bin/checkov --quiet --compact --framework cloudformation --skip-download \
	  -f $(PACKAGE_DIR)/sam.json -f infra/edge/waf.yaml

# Needs the AWS CLI (v2, or v1 as in .venv-infra) and credentials for the target account (docs/operations/deploy.md).
deploy: package
	$(PY) -m infra deploy --stage $(STAGE)

deploy-plan: package
	$(PY) -m infra deploy --stage $(STAGE) --dry-run

destroy: $(STAMP)
	$(PY) -m infra destroy --stage $(STAGE)

# The deploy plan with the real AWS CLI against moto_server on a free loopback port (docs/operations/deploy.md).
rehearse: package $(INFRA_STAMP)
	$(PY) -m infra.rehearsal --stage $(STAGE)

# Schedules: generated canaries (merged into the deployment from infra/templates/). ---------------
SCHEDULES := $(VENV)/bin/excel-export schedules

.PHONY: canaries schedules-check canary-test

canaries: $(STAMP)
	$(SCHEDULES) render --out infra/templates

schedules-check: $(STAMP)
	$(SCHEDULES) check

canary-test:
	node --test canary/test/canary.test.js
