#!/usr/bin/env bash
# Builds the Pulumi engine for this machine from the Go module proxy and the Python package index
# (these machines cannot reach Pulumi's download site): the `pulumi` CLI, the nodejs / python / go / yaml
# language hosts, the SDK code generator `wgmesh-codegen`, and a Python virtualenv with the `pulumi`
# package. Everything lands in a cache OUTSIDE the repo, keyed by the CLI version:
#   $WGMESH_CACHE/pulumi-v<version>/bin        binaries (put on PATH by scripts/pulumi-env.sh)
#   $WGMESH_CACHE/pulumi-v<version>/stamps     one stamp per piece: version + hash of its wrapper module
#   $WGMESH_CACHE/pulumi-v<version>/logs       build log per piece
#   $WGMESH_CACHE/pulumi-v<version>/python-venv-pulumi-<pypi version>
# Idempotent: a piece is skipped when its binary exists, reports the pinned version and its stamp matches
# the current wrapper module (go.mod + go.sum [+ sources]); edit a wrapper module and that piece rebuilds.
#
# Usage: scripts/pulumi-toolchain.sh [--jobs N] [--force] [--only piece[,piece…]] [--list]
#   pieces: cli nodejs python go yaml venv codegen      (default: all)
#   --jobs N   pieces built concurrently (default 2; each `go build` already uses every core)
#   --force    rebuild the selected pieces even when up to date
# Needs: go >= 1.26, python3 with venv/ensurepip (only for the `venv` piece), network access to the
# Go module proxy and the Python package index. Prints the line to source at the end.
set -euo pipefail
# The whole script is one compound command, parsed before it runs: editing this file during a build is safe.
{

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=pulumi-env.sh
source "$REPO/scripts/pulumi-env.sh"

ALL_PIECES=(cli nodejs python go yaml venv codegen)
JOBS=2
FORCE=0
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2 ;;
    --jobs=*) JOBS="${1#*=}"; shift ;;
    --force) FORCE=1; shift ;;
    --only) ONLY="$2"; shift 2 ;;
    --only=*) ONLY="${1#*=}"; shift ;;
    --list) printf '%s\n' "${ALL_PIECES[@]}"; exit 0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pulumi-toolchain: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$JOBS" in ''|*[!0-9]*|0) echo "pulumi-toolchain: --jobs needs a positive integer, got '$JOBS'" >&2; exit 2 ;; esac

PIECES=()
if [ -n "$ONLY" ]; then
  IFS=',' read -r -a PIECES <<<"$ONLY"
  for p in "${PIECES[@]}"; do
    case " ${ALL_PIECES[*]} " in *" $p "*) ;; *) echo "pulumi-toolchain: unknown piece '$p' (pieces: ${ALL_PIECES[*]})" >&2; exit 2 ;; esac
  done
else
  PIECES=("${ALL_PIECES[@]}")
fi

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (https://go.dev/dl/)"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[ "$GO_MINOR" -ge 26 ] 2>/dev/null || die "Go $(go env GOVERSION) is too old; need Go >= 1.26"

BIN="$WGMESH_PULUMI_BIN"
STAMPS="$WGMESH_PULUMI_HOME/stamps"
LOGS="$WGMESH_PULUMI_HOME/logs"
mkdir -p "$BIN" "$STAMPS" "$LOGS" || die "cannot create $WGMESH_PULUMI_HOME (set WGMESH_CACHE to a writable directory)"

# One build at a time per cache (make and .ci/run may both call this script).
if command -v flock >/dev/null; then
  exec 9>"$WGMESH_PULUMI_HOME/.lock"
  flock -n 9 || { log "another pulumi-toolchain run holds $WGMESH_PULUMI_HOME/.lock; waiting"; flock 9; }
fi

PKG=github.com/pulumi/pulumi/pkg/v3
SDK=github.com/pulumi/pulumi/sdk/v3
YAML=github.com/pulumi/pulumi-yaml
VERSION_VAR=$SDK/go/common/version.Version
# The interpreter the venv is made from: WGMESH_PYTHON, else the first python3 on PATH outside the venv.
BASE_PYTHON="${WGMESH_PYTHON:-$(PATH="${PATH//"$WGMESH_PULUMI_VENV/bin:"/}" command -v python3 || true)}"
VENV_PACKAGES="pulumi==$WGMESH_PULUMI_PYPI_VERSION setuptools==75.8.0 wheel==0.45.1"

# piece -> wrapper dir | binary | main package | module whose version the binary must embed | version | -X var
piece_dir()     { case "$1" in codegen) echo "$REPO/tools/codegen" ;; venv) echo "" ;; *) echo "$REPO/tools/pulumi/$1" ;; esac; }
piece_bin()     { case "$1" in cli) echo pulumi ;; codegen) echo wgmesh-codegen ;; venv) echo "" ;; *) echo "pulumi-language-$1" ;; esac; }
piece_pkg()     {
  case "$1" in
    cli) echo "$PKG/cmd/pulumi" ;;
    nodejs) echo "$SDK/nodejs/cmd/pulumi-language-nodejs" ;;
    python) echo "$SDK/python/cmd/pulumi-language-python" ;;
    go) echo "$SDK/go/pulumi-language-go" ;;
    yaml) echo "$YAML/cmd/pulumi-language-yaml" ;;
    codegen) echo "." ;;
  esac
}
piece_module()  { case "$1" in cli|codegen) echo "$PKG" ;; nodejs|python|go) echo "$SDK" ;; yaml) echo "$YAML" ;; esac; }
piece_version() {
  case "$1" in
    cli|codegen) echo "v$WGMESH_PULUMI_VERSION" ;;
    nodejs|python) echo "v$WGMESH_PULUMI_HOSTS_SDK_VERSION" ;;
    go) echo "v$WGMESH_PULUMI_GO_HOST_SDK_VERSION" ;;
    yaml) echo "v$WGMESH_PULUMI_YAML_VERSION" ;;
    venv) echo "$WGMESH_PULUMI_PYPI_VERSION" ;;
  esac
}
piece_xvar()    { case "$1" in yaml) echo "$YAML/pkg/version.Version" ;; *) echo "$VERSION_VAR" ;; esac; }

# Stamp: what was built from what. A different wrapper module (or codegen source) gives a different stamp.
piece_stamp() {
  local p="$1" dir
  dir="$(piece_dir "$p")"
  {
    echo "piece=$p version=$(piece_version "$p")"
    if [ "$p" = venv ]; then
      echo "python=$("${BASE_PYTHON:-python3}" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none) packages=$VENV_PACKAGES"
    else
      (cd "$dir" && sha256sum go.mod go.sum $( [ "$p" = codegen ] && ls ./*.go ))
    fi
  }
}

# Is the built piece present, of the right version and built from the current wrapper module?
piece_ok() {
  local p="$1" b
  [ "$(piece_stamp "$p")" = "$(cat "$STAMPS/$p" 2>/dev/null)" ] || return 1
  if [ "$p" = venv ]; then
    [ -x "$WGMESH_PULUMI_VENV/bin/python3" ] || return 1
    [ "$("$WGMESH_PULUMI_VENV/bin/python3" -c 'import importlib.metadata as m; print(m.version("pulumi"))' 2>/dev/null)" \
      = "$WGMESH_PULUMI_PYPI_VERSION" ] || return 1
    return 0
  fi
  b="$BIN/$(piece_bin "$p")"
  [ -x "$b" ] || return 1
  go version -m "$b" 2>/dev/null | awk -v m="$(piece_module "$p")" -v v="$(piece_version "$p")" \
    '($1=="dep"||$1=="mod") && $2==m && $3==v {found=1} END {exit !found}' || return 1
  case "$p" in
    cli) [ "$("$b" version 2>/dev/null)" = "v$WGMESH_PULUMI_VERSION" ] || return 1 ;;
    python) [ -x "$BIN/pulumi-language-python-exec" ] || return 1 ;;
  esac
}

# Build functions run inside `if`, where `set -e` does not apply: every step propagates its failure.
build_go_piece() {
  local p="$1" dir out tags=""
  dir="$(piece_dir "$p")"
  out="$BIN/$(piece_bin "$p")"
  [ "$p" = cli ] && tags="-tags=osusergo,grpcnotrace"
  rm -f "$out.tmp"
  # go.mod/go.sum are committed: build exactly what they pin (-mod=readonly), fetching from the module proxy.
  (cd "$dir" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go build $tags \
      -ldflags "-s -w -X $(piece_xvar "$p")=$(piece_version "$p")" -o "$out.tmp" "$(piece_pkg "$p")") || return 1
  mv -f "$out.tmp" "$out" || return 1
  if [ "$p" = python ]; then
    # The v3.68 python host runs this script (found next to the host binary) to start the program.
    local mdir
    mdir="$(cd "$dir" && go list -mod=readonly -m -f '{{.Dir}}' "$SDK")" || return 1
    install -m 0755 "$mdir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec" || return 1
  fi
}

build_venv() {
  [ -n "$BASE_PYTHON" ] || { echo "python3 is not on PATH: install Python >= 3.9 with venv (or set WGMESH_PYTHON)"; return 1; }
  rm -rf "$WGMESH_PULUMI_VENV" || return 1
  "$BASE_PYTHON" -m venv "$WGMESH_PULUMI_VENV" || return 1
  # setuptools + wheel: so generated Python SDKs (sdk/python) can be `pip install`ed into this venv.
  "$WGMESH_PULUMI_VENV/bin/python3" -m pip install --disable-pip-version-check --no-input -q $VENV_PACKAGES || return 1
}

build_piece() {
  rm -f "$STAMPS/$1"
  if [ "$1" = venv ]; then build_venv; else build_go_piece "$1"; fi
}

# Runs one piece; prints progress; returns non-zero on failure (its log tail is printed).
run_piece() {
  local p="$1" start dur size logf="$LOGS/$1.log"
  if [ "$FORCE" = 0 ] && piece_ok "$p"; then
    log "$p: up to date ($(piece_version "$p"))"
    return 0
  fi
  log "$p: building $(piece_version "$p") (log: $logf)"
  start=$(date +%s)
  if ! build_piece "$p" >"$logf" 2>&1; then
    log "$p: FAILED after $(( $(date +%s) - start ))s; last lines of $logf:" >&2
    tail -n 25 "$logf" >&2
    return 1
  fi
  piece_stamp "$p" >"$STAMPS/$p"
  if ! piece_ok "$p"; then
    log "$p: built, but the result does not report $(piece_version "$p") (see $logf)" >&2
    return 1
  fi
  dur=$(( $(date +%s) - start ))
  if [ "$p" = venv ]; then size="$(du -sh "$WGMESH_PULUMI_VENV" | cut -f1)"; else size="$(du -h "$BIN/$(piece_bin "$p")" | cut -f1)"; fi
  log "$p: built in ${dur}s ($size)"
}

log "pulumi toolchain v$WGMESH_PULUMI_VERSION -> $WGMESH_PULUMI_HOME (pieces: ${PIECES[*]}; jobs: $JOBS)"
T0=$(date +%s)
FAILED=()
declare -A PID_PIECE=()
reap_one() {
  local pid rc=0
  wait -n -p pid || rc=$?
  [ "$rc" = 0 ] || FAILED+=("${PID_PIECE[$pid]}")
  unset "PID_PIECE[$pid]"
}
running() { local pid; for pid in "${!PID_PIECE[@]}"; do [ "${PID_PIECE[$pid]}" = "$1" ] && return 0; done; return 1; }
for p in "${PIECES[@]}"; do
  while [ "${#PID_PIECE[@]}" -ge "$JOBS" ]; do reap_one; done
  # codegen compiles most of the CLI's packages: start it after the CLI so it reuses the build cache.
  if [ "$p" = codegen ]; then while running cli; do reap_one; done; fi
  run_piece "$p" &
  PID_PIECE[$!]="$p"
done
while [ "${#PID_PIECE[@]}" -gt 0 ]; do reap_one; done

if [ "${#FAILED[@]}" -gt 0 ]; then
  die "failed pieces: ${FAILED[*]} (total $(( $(date +%s) - T0 ))s)"
fi

# The dynamic-provider shim `pulumi-resource-pulumi-nodejs` next to the CLI, where Pulumi's own release
# archives put it: the CLI looks for this bundled plugin beside itself (on PATH elsewhere it warns "using …
# from $PATH"). Pulumi's script, byte for byte: it runs the project's own @pulumi/pulumi dynamic provider.
shim="$BIN/pulumi-resource-pulumi-nodejs"
shim_text='#!/bin/sh
PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH=$(node -e "console.log(require.resolve('\''@pulumi/pulumi/cmd/dynamic-provider'\''))")
if [ ! -z "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" ]; then
    node "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" $@
fi'
if [ "$(cat "$shim" 2>/dev/null)" != "$shim_text" ]; then
  printf '%s\n' "$shim_text" > "$shim.tmp" && chmod 0755 "$shim.tmp" && mv -f "$shim.tmp" "$shim"
  log "shim: $shim"
fi
log "done in $(( $(date +%s) - T0 ))s. Use it with:  source $REPO/scripts/pulumi-env.sh"
exit 0
}
