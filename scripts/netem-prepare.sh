#!/usr/bin/env bash
# The fault suite's user-space netem (test/fault/netem.py) needs fnfqueue (PyPI) in a virtualenv of its own:
# this machine's kernel has no sch_netem, so delay and loss are applied by a process reading an NFQUEUE.
# Cached outside the repo, keyed by version; built in a temp dir and renamed (a killed build leaves nothing).
# Usage: bash scripts/netem-prepare.sh        (idempotent; prints the venv's python)
set -euo pipefail
VERSION=1.1.2
DIR=/var/cache/wgmesh/netem-venv-fnfqueue-$VERSION
if [ -x "$DIR/bin/python" ] && "$DIR/bin/python" -c 'import fnfqueue' 2>/dev/null; then echo "$DIR/bin/python"; exit 0; fi
mkdir -p /var/cache/wgmesh
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
TMP=$(mktemp -d "$DIR.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$PY" -m venv "$TMP" >&2
"$TMP/bin/pip" install -q --disable-pip-version-check "fnfqueue==$VERSION" >&2
rm -rf "$DIR"
# Only bin/python is used (a moved venv's python finds its site-packages; its scripts' shebangs would not).
mv "$TMP" "$DIR"
trap - EXIT
"$DIR/bin/python" -c 'import fnfqueue' >&2
echo "$DIR/bin/python"
