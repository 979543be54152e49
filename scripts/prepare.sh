#!/usr/bin/env bash
# Installs what the build and the tests need on this machine (idempotent; fast when already done).
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
for pair in wg:wireguard-tools; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== prepare: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
echo "== prepare: npm ci"
npm ci --no-audit --no-fund --loglevel=error
