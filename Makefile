# The two commands a newcomer needs are `make local` and `make test`; the rest are their parts.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# sam build looks up the runtime's interpreter (python3.13) on PATH; pyenv exposes it this way.
export PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.(11|12|13)\.' | sort -V | tr '\n' ':' | sed 's/:$$//')
export PYTHONPATH := shared:.

.PHONY: local sync test lint typecheck validate unit integration e2e packaging build bench clean

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

## Serve the whole product on http://127.0.0.1:$${PORT:-3000} with embedded AWS and Google.
local: $(PY)
	$(PY) -m infra.local_stack

## One scheduled-sync round against a running `make local` (scheduler -> SQS -> worker).
sync: $(PY)
	$(PY) -m infra.local_stack.sync

## Every check CI runs.
test: lint typecheck validate unit integration packaging e2e

lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(PY)
	$(VENV)/bin/mypy

validate: $(SAM)
	$(SAM) validate --lint --template template.yaml

unit: $(PY)
	$(PY) -m pytest tests/unit -q

# tests/local_stack asks SAM CLI's own code which variables `sam local` passes a function.
integration: $(PY) $(SAM)
	$(PY) -m pytest tests/integration tests/emulator tests/local_stack -q

packaging: $(PY) $(SAM)
	$(PY) -m pytest tests/packaging -q

e2e: $(PY)
	$(PY) -m pytest tests/e2e -q

## Build the deployable artifacts (arm64) into .aws-sam/build.
build: $(SAM)
	$(SAM) build --template template.yaml

bench: $(PY) $(SAM)
	$(PY) -m infra.bench

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
