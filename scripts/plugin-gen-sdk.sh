#!/usr/bin/env bash
# Regenerates schema.json (from provider/src/plugin/schema.ts) and sdk/{nodejs,python,go} from it with
# wgmesh-codegen (Pulumi's own generators, pinned to the CLI's version). Deterministic: run twice, no diff.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
# shellcheck source=/dev/null
source scripts/pulumi-env.sh
bash scripts/plugin-build.sh "$@" >/dev/null
"$WGMESH_PULUMI_BIN/wgmesh-codegen" --schema schema.json --out sdk --lang nodejs,python,go
