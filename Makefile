# The two commands a newcomer needs are `make local` and `make test`; the rest are their parts.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# checkov brings ~100 packages of its own: they stay out of the project's virtualenv.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# pip-tools (make lock) and pip-audit (make audit) run on the Lambda runtime's Python, so the
# lock's version markers are evaluated as Lambda will evaluate them.
DEPS_VENV := .venv-deps
DEPS := $(DEPS_VENV)/bin/pip-compile
LOCK_PYTHON ?= python3.13
# Extra arguments for sam deploy, e.g. DEPLOY_ARGS="--region eu-west-1 --profile admin".
DEPLOY_ARGS ?=
# sam build looks up the runtime's interpreter (python3.13) on PATH; pyenv exposes it this way.
export PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.(11|12|13)\.' | sort -V | tr '\n' ':' | sed 's/:$$//')
export PYTHONPATH := shared:.

.PHONY: local sync test lint typecheck validate checkov unit integration contract e2e packaging build \
	deploy deploy-prod lock audit bench cost clean openapi

# axe-core for the console's accessibility scans (tests/e2e), from npm at the locked version.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(AXE)

$(PY): requirements-dev.txt shared/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(PY)

$(SAM):
	test -x $(SAM) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $(SAM)

$(CHECKOV):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30
	touch $(CHECKOV)

$(DEPS):
	test -x $(DEPS_VENV)/bin/python || $(LOCK_PYTHON) -m venv $(DEPS_VENV)
	$(DEPS_VENV)/bin/pip install --quiet --upgrade pip
	$(DEPS_VENV)/bin/pip install --quiet pip-tools==7.6.2 pip-audit==2.10.1
	touch $(DEPS)

## Serve the whole product on http://127.0.0.1:$${PORT:-3000} with embedded AWS and Google.
local: $(PY)
	$(PY) -m infra.local_stack

## One scheduled-sync round against a running `make local` (scheduler -> SQS -> worker).
sync: $(PY)
	$(PY) -m infra.local_stack.sync

## Every check CI runs.
test: lint typecheck validate checkov unit integration contract packaging e2e

lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(PY)
	$(VENV)/bin/mypy

validate: $(SAM)
	$(SAM) validate --lint --template template.yaml

## IaC security checks of template.yaml; each suppression sits in its resource's Metadata with its reason.
checkov: $(CHECKOV)
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet

unit: $(PY)
	$(PY) -m pytest tests/unit -q

# tests/local_stack asks SAM CLI's own code which variables `sam local` passes a function.
integration: $(PY) $(SAM)
	$(PY) -m pytest tests/integration tests/emulator tests/local_stack -q

## Schemathesis against the local stack (a process): every response conforms to GET /openapi.json.
contract: $(PY)
	$(PY) -m pytest tests/contract -q

packaging: $(PY) $(SAM)
	$(PY) -m pytest tests/packaging -q

## Regenerate shared/gmail_connect/api/openapi.json from infra/openapi (commit the result).
openapi: $(PY)
	$(PY) -m infra.openapi

e2e: $(PY) $(AXE)
	$(PY) -m pytest tests/e2e -q

## Build the deployable artifacts (arm64) into .aws-sam/build.
build: $(SAM)
	$(SAM) build --template template.yaml

## Build and deploy the dev stack (samconfig.toml; no prompts, also for the first deploy).
deploy: build
	$(SAM) deploy --config-env dev $(DEPLOY_ARGS)

## Build and deploy the prod stack; shows the change set and asks before executing it.
deploy-prod: build
	$(SAM) deploy --config-env prod $(DEPLOY_ARGS)

## Re-resolve shared/requirements.txt into shared/requirements.lock, with the hash of every wheel
## on PyPI (aarch64 for Lambda, x86_64 for the host-architecture build). LOCK_ARGS=--upgrade
## moves every pin to the newest release allowed.
lock: $(DEPS)
	cd shared && CUSTOM_COMPILE_COMMAND="make lock" ../$(DEPS_VENV)/bin/pip-compile --quiet \
		--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		--output-file requirements.lock requirements.txt

## Known vulnerabilities in the locked layer dependencies. Needs an advisory database (PyPI's
## JSON API, or OSV with AUDIT_SERVICE=osv): fails, never passes, when it cannot audit a package.
AUDIT_SERVICE ?= pypi
audit: $(DEPS)
	$(DEPS_VENV)/bin/pip-audit --requirement shared/requirements.lock --require-hashes --disable-pip \
		--strict --progress-spinner off --vulnerability-service $(AUDIT_SERVICE) \
		|| { echo "make audit: a vulnerability was found, or a package could not be audited" \
			"(is the $(AUDIT_SERVICE) advisory database reachable?)" >&2; exit 1; }

## The sync measured (the product's CPU against a floor script, AWS calls, the fan-out, cold starts);
## writes .aws-sam/bench.json. Slow: minutes.
bench: $(PY) $(SAM)
	$(PY) -m infra.bench
	$(PY) -m infra.bench_push

.PHONY: bench-push
## Gmail push on the local stack: delivery-to-bus latency, a 60 s burst, dropped notifications
## (BENCH_PUSH_ARGS, e.g. "--burst-seconds 10"; `python -m infra.bench_push --help` lists them).
bench-push: $(PY)
	$(PY) -m infra.bench_push $(BENCH_PUSH_ARGS)

## Monthly AWS cost per 1,000 connected users at 1k, 100k and 1M users, polling and push, from the
## figures make bench wrote (or the ones measured once, in infra/cost.py). Fast, no AWS.
cost: $(PY)
	$(PY) -m infra.cost

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache node_modules
