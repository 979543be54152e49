#!/usr/bin/env bash
# Prepares the multi-language examples to build offline against this repository's generated SDKs:
#  - examples/go-full-mesh/go.mod + go.sum: the requirement list of the Pulumi CLI wrapper module
#    (tools/pulumi/cli, whose exact versions the toolchain build put in the module cache) plus the wgmesh
#    Go SDK replaced by ../../sdk; `go build` then runs with GOPROXY=off.
#  - checks that the Python SDK pip-installs and the Go example builds.
# Run after `make gen-sdk` or a toolchain version change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
# shellcheck source=/dev/null
source scripts/pulumi-env.sh
ex=examples/go-full-mesh
{
  sed -e 's#^module .*#module github.com/wgmesh/pulumi-wgmesh/examples/go-full-mesh#' -e '/^tool /d' \
      -e '/^\/\/ Wrapper module/d' tools/pulumi/cli/go.mod
  printf '\nrequire github.com/wgmesh/pulumi-wgmesh/sdk v0.0.0\n\nreplace github.com/wgmesh/pulumi-wgmesh/sdk => ../../sdk\n'
} > "$ex/go.mod"
cp tools/pulumi/cli/go.sum "$ex/go.sum"
(cd "$ex" && GOPROXY=off GOFLAGS=-mod=mod go build -o /dev/null .)
echo "plugin-examples: $ex builds offline"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cp -r sdk/python "$tmp/src"   # setuptools writes build/ and *.egg-info into the source directory
python3 -m pip install -q --no-deps --no-index --no-build-isolation --target "$tmp/lib" "$tmp/src"
PYTHONPATH="$tmp/lib" python3 -c 'import pulumi_wgmesh'
echo "plugin-examples: sdk/python installs and imports"
