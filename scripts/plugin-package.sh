#!/usr/bin/env bash
# Packs the provider plugin as a tarball that `pulumi plugin install resource wgmesh <version> --file <tgz>`
# installs: the wrapper `pulumi-resource-wgmesh` at the root, the compiled provider code, package.json,
# schema.json, the production node_modules (npm ci --omit=dev, from the npm cache when offline) and the
# self-contained daemon artifact that DecentralizedNode uploads to hosts (dist/artifact/: the Linux x64
# executable's gzip'd copy and manifest.json — where daemon/artifact.ts looks beside package.json).
# The artifact is (re)built for the package by scripts/daemon-artifact.js (a cache hit links it in ≈1 s).
#   scripts/plugin-package.sh [OUT_DIR]    → OUT_DIR/pulumi-resource-wgmesh-v<version>-linux-<arch>.tar.gz (default dist/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd -P)"
cd "$root"
test -x dist/pulumi-resource-wgmesh || bash scripts/plugin-build.sh
version="$(node -p 'require("./package.json").version')"
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp dist/pulumi-resource-wgmesh package.json package-lock.json schema.json "$stage/"
mkdir -p "$stage/provider"
cp -r dist/provider/src "$stage/provider/src"
find "$stage/provider" \( -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' \) -delete
WGMESH_ARTIFACT_OUT="$stage/dist/artifact" node scripts/daemon-artifact.js --quiet
# Hosts get the gzip'd copy (unpacked on the host, or by the provider for a host without gzip): the
# executable itself is not shipped (−87 MB installed).
rm -f "$stage/dist/artifact/wgmesh-linux-x64"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
tgz="$out/pulumi-resource-wgmesh-v$version-linux-$arch.tar.gz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00Z' -czf "$tgz" .
echo "$tgz"
