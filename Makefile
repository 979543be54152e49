# wgmesh for Pulumi — build, test, demo.
# `make test` runs every suite; `make demo` brings up a local mesh with `pulumi up`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: deps build test test-unit bench-plan clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json

build: deps
	npm run -s build

test-unit: build
	node scripts/run-tests.js unit

test: test-unit

bench-plan: build
	npm run -s bench:plan

clean:
	rm -rf dist
