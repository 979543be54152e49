#!/usr/bin/env bash
# `make dist`: everything a user installs, as files, in dist/release/ (after `make build` + `make gen-sdk`):
#   wgmesh-pulumi-<v>.tgz                          npm package @wgmesh/pulumi (TypeScript resources; carries
#                                                  the gzip'd daemon DecentralizedNode uploads)
#                                                  → npm install ./wgmesh-pulumi-<v>.tgz
#   pulumi-resource-wgmesh-v<v>-linux-amd64.tar.gz provider plugin for YAML/Python/Go (and the nodejs SDK)
#                                                  → pulumi plugin install resource wgmesh <v> --file …
#   pulumi_wgmesh-<v>-py3-none-any.whl, pulumi_wgmesh-<v>.tar.gz
#                                                  Python SDK → pip install ./pulumi_wgmesh-<v>-py3-none-any.whl
#   goproxy/                                       Go SDK as a module proxy directory (module
#                                                  github.com/wgmesh/pulumi-wgmesh/sdk, version v<v>)
#                                                  → GOPROXY=file://…/goproxy,<your proxy> GONOSUMDB=github.com/wgmesh/pulumi-wgmesh \
#                                                    go get github.com/wgmesh/pulumi-wgmesh/sdk@v<v>
#   SHA256SUMS
# linux-arm64: not built — the plugin carries the daemon as a Node.js single executable made from this
# machine's own node binary (x86-64); see README "Install".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
# shellcheck source=/dev/null
source scripts/pulumi-env.sh >/dev/null
rel="$root/dist/release"
version="$(node -p 'require("./package.json").version')"
test -f dist/provider/src/index.js || { echo "dist: compile first (make build)" >&2; exit 1; }
test -f dist/artifact/manifest.json || { echo "dist: the daemon artifact is missing (make build)" >&2; exit 1; }
rm -rf "$rel"
mkdir -p "$rel"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say() { echo "dist: $*" >&2; }

# npm (the package.json "files" list: compiled code without tests, schema.json, the daemon's gzip'd copy)
tgz="$(npm pack --silent --pack-destination "$rel")"
say "npm      $tgz ($(du -h "$rel/$tgz" | cut -f1))"

# provider plugin
plugin="$(bash scripts/plugin-package.sh "$rel" | tail -n 1)"
say "plugin   $(basename "$plugin") ($(du -h "$plugin" | cut -f1))"

# Python SDK: wheel and sdist, built from a copy (setuptools writes build/ and *.egg-info into the source)
cp -r sdk/python "$tmp/python"
(cd "$tmp/python" && python3 -m pip wheel -q --no-deps --no-build-isolation --disable-pip-version-check -w "$rel" . >/dev/null \
  && python3 setup.py -q sdist -d "$rel" >/dev/null 2>&1)
say "python   $(cd "$rel" && ls pulumi_wgmesh-*)"

# Go SDK: the module's files (as committed) in a GOPROXY directory: @v/list, .info, .mod, .zip
python3 scripts/go-module-zip.py sdk "github.com/wgmesh/pulumi-wgmesh/sdk" "v$version" "$rel/goproxy" >&2

(cd "$rel" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
say "done: $rel"
