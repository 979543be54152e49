#!/usr/bin/env bash
# `make demo`: boots 3 local Debian hosts (the testbed), runs `pulumi up` on examples/full-mesh against
# them with the local file backend, prints the mesh IPs and a ping matrix over the mesh, and leaves the
# hosts running. `make demo-down` (this script with `down`) destroys the stack and removes the hosts.
# Run as root on this machine; `make demo` runs scripts/prepare.sh first (packages, build, Pulumi).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
demo_dir=${WGMESH_DEMO_DIR:-/var/lib/wgmesh-demo}
project="$root/examples/full-mesh"
stack=demo
ts() { echo "== demo $(date -u +%H:%M:%S): $*" >&2; }

# Pulumi CLI, language host, dynamic-provider shim on PATH; the demo's own state backend.
export PULUMI_BACKEND_URL="file://$demo_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-wgmesh-demo}"
# shellcheck source=/dev/null
source "$root/scripts/pulumi-env.sh"

down() {
  if [ -d "$demo_dir/state" ] && (cd "$project" && pulumi stack select "$stack" --non-interactive >/dev/null 2>&1); then
    ts "pulumi destroy"
    (cd "$project" && pulumi destroy --yes --non-interactive --skip-preview >&2) || ts "destroy failed (hosts gone?): removing the stack anyway"
    (cd "$project" && pulumi stack rm "$stack" --yes --force --non-interactive >&2) || true
  fi
  ts "testbed down"
  node dist/test/testbed/cli.js down demo >&2
  rm -rf "$demo_dir" "$project/node_modules" "$project/Pulumi.$stack.yaml"
  ts "removed"
}

if [ "${1:-up}" = down ]; then down; exit 0; fi

mkdir -p "$demo_dir/state"
ts "booting 3 hosts (testbed 'demo')"
node dist/test/testbed/cli.js up --hosts 3 --name demo > "$demo_dir/testbed.json"
cd "$project"
pulumi stack select --create "$stack" --non-interactive >&2
node "$root/dist/test/pulumi/demo-config.js" "$demo_dir/testbed.json" "$project" --link --names app1,app2,app3 >&2
ts "pulumi up"
pulumi up --yes --non-interactive --skip-preview >&2
pulumi stack output meshIps --json > "$demo_dir/mesh-ips.json"

echo
echo "Mesh IPs:"
node -e 'const m=require(process.argv[1]); for (const [h,ip] of Object.entries(m)) console.log(`  ${h.padEnd(8)} ${ip}`)' "$demo_dir/mesh-ips.json"
echo
echo "Ping matrix over the mesh (row pings column):"
mapfile -t names < <(node -e 'console.log(Object.keys(require(process.argv[1])).join("\n"))' "$demo_dir/mesh-ips.json")
mapfile -t hosts < <(node -e 'for (const h of require(process.argv[1]).hosts) console.log(h.name)' "$demo_dir/testbed.json")
printf '  %-8s' ""; for n in "${names[@]}"; do printf '%-8s' "$n"; done; echo
fail=0
for i in "${!names[@]}"; do
  printf '  %-8s' "${names[$i]}"
  for n in "${names[@]}"; do
    if [ "$n" = "${names[$i]}" ]; then printf '%-8s' "-"; continue; fi
    ip=$(node -e 'console.log(require(process.argv[1])[process.argv[2]])' "$demo_dir/mesh-ips.json" "$n")
    if node "$root/dist/test/testbed/cli.js" exec demo "${hosts[$i]}" -- ping -c1 -W3 "$ip" >/dev/null 2>&1; then printf '%-8s' "ok"; else printf '%-8s' "FAIL"; fail=1; fi
  done
  echo
done
echo
echo "Hosts stay up: 'npm run -s testbed -- exec demo demo-h1 -- wg show', stack in $project (stack '$stack')."
echo "Remove everything with: make demo-down"
exit $fail
