#!/usr/bin/env bash
# Prepares this machine for the testbed (test/testbed): host packages, then the cached Debian rootfs and
# the local apt repository (built only when their recipe changed). Idempotent; fast when already done.
# Usage: bash scripts/testbed-prepare.sh        (as root; needs the machine's Debian mirror for a cold build)
set -euo pipefail
cd "$(dirname "$0")/.."
ts() { echo "== testbed-prepare $(date -u +%FT%TZ): $*"; }

if [ "$(id -u)" -ne 0 ]; then echo "testbed-prepare: must run as root" >&2; exit 1; fi

# command -> package that provides it
need=()
for pair in debootstrap:debootstrap systemd-nspawn:systemd-container nft:nftables ip:iproute2 \
            dpkg-scanpackages:dpkg-dev ssh:openssh-client ssh-keygen:openssh-client nsenter:util-linux \
            ping:iputils-ping wg:wireguard-tools; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# debootstrap verifies the archive with this keyring
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  ts "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  ts "host packages present"
fi
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || ts "no overlayfs: hosts will get full rootfs copies (slower)"
[ -c /dev/net/tun ] || { ts "/dev/net/tun missing: wireguard-go cannot run in the hosts"; exit 1; }

if [ ! -f dist/test/testbed/cli.js ]; then
  ts "compiling (npx tsc)"
  npx tsc -p tsconfig.json >&2 || [ -f dist/test/testbed/cli.js ]
fi
ts "rootfs and apt repository caches"
node dist/test/testbed/cli.js prepare
ts "done"
