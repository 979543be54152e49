# wgmesh for Pulumi — build, test, demo.
#   make test        every test suite (prepares this machine first: apt packages, npm ci, testbed caches,
#                    the Pulumi CLI and language hosts built from the Go module proxy)
#   make demo        a local 3-host mesh with `pulumi up` (make demo-down removes it)
SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: deps prepare build test test-unit test-testbed test-engine test-daemon test-pulumi \
        pulumi-toolchain bench-plan bench-deploy bench-join clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

deps: node_modules/.package-lock.json

build: deps
	npm run -s build

# Everything the tests need on this machine (idempotent; quick when already done).
prepare:
	bash scripts/prepare.sh

pulumi-toolchain:
	bash scripts/pulumi-toolchain.sh

test: prepare build
	bash scripts/test-all.sh

test-unit: build
	bash scripts/test-all.sh unit

test-testbed: build
	bash scripts/test-all.sh testbed

test-engine: build
	bash scripts/test-all.sh engine

test-daemon: build
	bash scripts/test-all.sh daemon

test-pulumi: build
	bash scripts/test-all.sh pulumi

bench-plan: build
	npm run -s bench:plan

bench-deploy: build
	npm run -s bench:deploy

bench-join: build
	npm run -s bench:join

clean:
	rm -rf dist
