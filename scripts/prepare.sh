#!/usr/bin/env bash
# Installs what the tests and the demo need on this machine, on a brand-new one too (idempotent; fast
# when already done): apt packages, the testbed caches (Debian rootfs, local apt repo), moto's S3 server (a
# PyPI venv) and the Pulumi CLI + language hosts built from the Go module proxy (all cached outside the repo,
# keyed by version).
# Runs after `make build` (npm ci + tsc), see the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
ts() { echo "== prepare $(date -u +%FT%TZ): $*"; }

need_apt=()
for pair in wg:wireguard-tools wireguard-go:wireguard-go sshd:openssh-server ssh:openssh-client \
            ip:iproute2 nft:nftables iptables:iptables ping:iputils-ping unshare:util-linux \
            ssh-agent:openssh-client; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  mapfile -t need_apt < <(printf '%s\n' "${need_apt[@]}" | sort -u)
  ts "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
else
  ts "apt packages present"
fi

bash scripts/testbed-prepare.sh
ts "fault suite: user-space netem ($(bash scripts/netem-prepare.sh))"
bash scripts/moto-prepare.sh
if [ -f scripts/pulumi-toolchain.sh ]; then bash scripts/pulumi-toolchain.sh; fi
ts "done"
