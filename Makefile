# wgmesh for Pulumi — build, test, demo.
#   make test        every test suite (prepares this machine first: apt packages, npm ci, testbed caches,
#                    the Pulumi CLI and language hosts built from the Go module proxy)
#   make demo        a local 3-host mesh with `pulumi up` (make demo-down removes it)
#   make dist        the release files users install (dist/release/)
SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: deps prepare build dist daemon-artifact test test-unit test-testbed test-engine test-daemon test-pulumi test-slow \
        pulumi-toolchain plugin plugin-schema plugin-package gen-sdk examples demo demo-down \
        bench-plan bench-deploy bench-join bench-artifact bench-pulumi clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

deps: node_modules/.package-lock.json

build: deps
	npm run -s build
	bash scripts/plugin-build.sh --no-tsc
	node scripts/daemon-artifact.js

# The self-contained daemon for Linux hosts (Node 20 single executable + the daemon-only CLI):
# dist/artifact/wgmesh-linux-x64{,.gz} + manifest.json, cached in /var/cache/wgmesh/daemon-artifact.
daemon-artifact: deps
	node scripts/daemon-artifact.js

# The release files users install from, in dist/release/: npm tarball, plugin tarball (linux-amd64), Python
# wheel + sdist, Go module proxy directory (see scripts/dist.sh and README "Install").
dist: build
	bash scripts/dist.sh

# Everything the tests need on this machine (idempotent; quick when already done).
prepare: build
	bash scripts/prepare.sh

pulumi-toolchain:
	bash scripts/pulumi-toolchain.sh

test: prepare
	bash scripts/test-all.sh

# A local 3-host mesh with `pulumi up` on examples/full-mesh (hosts stay up until `make demo-down`).
demo: prepare
	bash scripts/demo.sh

# No build: removing the demo needs only what `make demo` built.
demo-down:
	bash scripts/demo.sh down

# Provider plugin: compiled JS + executable wrapper dist/pulumi-resource-wgmesh; regenerates schema.json
# from provider/src/plugin/schema.ts.
plugin: deps
	bash scripts/plugin-build.sh

# schema.json from provider/src/plugin/schema.ts (what `make plugin` does; `make gen-sdk` also regenerates sdk/)
plugin-schema: plugin

# Tarball for `pulumi plugin install resource wgmesh <version> --file dist/pulumi-resource-wgmesh-v<version>-linux-<arch>.tar.gz`
# (≈55 MB: it carries the gzip'd daemon artifact DecentralizedNode uploads, built/linked from its cache by the script)
plugin-package: plugin
	bash scripts/plugin-package.sh

# schema.json + sdk/{nodejs,python,go} (reproducible: `make gen-sdk && git diff --exit-code schema.json sdk/`)
gen-sdk: plugin pulumi-toolchain
	bash scripts/plugin-gen-sdk.sh --no-tsc

# Go example go.mod/go.sum for offline builds; checks the Go build and the Python SDK install
examples: gen-sdk
	bash scripts/plugin-examples.sh

test-unit: build
	bash scripts/test-all.sh unit

test-testbed: build
	bash scripts/test-all.sh testbed

test-engine: build
	bash scripts/test-all.sh engine

test-daemon: build
	bash scripts/test-all.sh daemon

test-slow: build
	bash scripts/test-all.sh slow

test-pulumi: build
	bash scripts/test-all.sh pulumi

bench-plan: build
	npm run -s bench:plan

bench-deploy: build
	npm run -s bench:deploy

bench-join: build
	npm run -s bench:join

bench-artifact: build
	npm run -s bench:artifact

# The Pulumi front door at 10–500 nodes against trivial-resource floors (fresh previews; add
# `-- --converged 100` for a converged preview on 100 testbed hosts, root).
bench-pulumi: build
	npm run -s bench:pulumi

clean:
	rm -rf dist
