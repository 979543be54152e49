#!/usr/bin/env bash
# moto's S3-compatible server (PyPI `moto[server]`) in a venv cached outside the repository, keyed by version:
# /var/cache/wgmesh/moto-<version>/bin/moto_server. The shared-state-backend test (test/pulumi/s3-backend.test.ts)
# starts it on loopback for Pulumi's s3:// backend. Idempotent; quick when present.
set -euo pipefail
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
dir="${WGMESH_MOTO_DIR:-/var/cache/wgmesh/moto-${MOTO_VERSION}}"
ts() { echo "== moto $(date -u +%FT%TZ): $*"; }
if [ -x "$dir/bin/moto_server" ] && "$dir/bin/python" -c 'import moto.server, flask' 2>/dev/null; then
  ts "present ($dir)"
  exit 0
fi
py="$(command -v python3 || true)"
if [ -z "$py" ] || ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
  ts "apt-get install python3 python3-venv"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  py="$(command -v python3)"
fi
tmp="${dir}.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
ts "building $dir with $("$py" --version)"
"$py" -m venv "$tmp"
"$tmp/bin/pip" install -q --disable-pip-version-check "moto[server]==${MOTO_VERSION}"
"$tmp/bin/python" -c 'import moto.server, flask'
# venv scripts carry the build path in their shebang: rebuild them for the final path
rm -rf "$dir"
mv "$tmp" "$dir"
"$py" -m venv --upgrade "$dir" >/dev/null
sed -i "1s|^#!.*python.*$|#!$dir/bin/python|" "$dir"/bin/moto_server "$dir"/bin/pip* 2>/dev/null || true
"$dir/bin/moto_server" --help >/dev/null
ts "ready: $dir/bin/moto_server"
