# Two things matter on a fresh machine: `make demo` and `make test` (see README).
SHELL := /bin/bash
# On 2 cores, numpy's and onnxruntime's thread pools fight; one BLAS thread is plenty here.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
# sam build needs a python3.12 on PATH (pyenv's shim is not enough when 3.12 is not active).
PY312_DIR := $(dir $(shell bash scripts/setup.sh --print-python 3.12))

.PHONY: setup setup-test setup-bench demo dev test sam-build sam-validate scan clean

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

# The benchmarks' extra (rq and uvicorn for the baseline, profilers) into .venv: docs/PERFORMANCE.md.
setup-bench:
	@bash scripts/setup.sh --bench

demo: setup
	.venv/bin/ragcore demo

dev: setup
	.venv/bin/ragcore dev

test: setup-test
	PATH="$(CURDIR)/.venv-sam/bin:$(PY312_DIR):$$PATH" .venv/bin/python -m pytest $(PYTEST_ARGS)

sam-validate: setup-test
	.venv-sam/bin/sam validate --lint
	.venv-sam/bin/cfn-lint template.yaml

# checkov on the template, offline: no platform download, no update check (README: Static scan).
scan: setup-test
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE .venv-checkov/bin/checkov --file template.yaml \
	  --framework cloudformation --skip-download --download-external-modules false --compact

sam-build: setup-test
	PATH="$(CURDIR)/.venv-sam/bin:$(PY312_DIR):$$PATH" sam build

clean:
	rm -rf .aws-sam .data .pytest_cache
