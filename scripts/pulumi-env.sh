# shellcheck shell=bash
# Environment for running the Pulumi toolchain built by scripts/pulumi-toolchain.sh.
# Source it (bash or zsh):   source scripts/pulumi-env.sh
# Idempotent: sourcing it twice leaves PATH unchanged. Every default applies only when unset.
#
# Variables you may set before sourcing:
#   WGMESH_CACHE              cache root (default /var/cache/wgmesh, or ~/.cache/wgmesh if that is not writable)
#   PULUMI_BACKEND_URL        state backend (default file://$WGMESH_STATE_DIR)
#   WGMESH_STATE_DIR          directory of the default file backend (default ~/.local/state/wgmesh/pulumi)
#   PULUMI_CONFIG_PASSPHRASE  passphrase protecting secrets in the stack; SET YOUR OWN. The default below
#                             only exists so local demos and tests run unattended.

# Pinned versions. The wrapper modules in tools/pulumi/*/go.mod must agree with these.
WGMESH_PULUMI_VERSION=3.274.1            # CLI (github.com/pulumi/pulumi/pkg/v3) and tools/codegen
WGMESH_PULUMI_HOSTS_SDK_VERSION=3.68.0   # nodejs + python language hosts (github.com/pulumi/pulumi/sdk/v3)
WGMESH_PULUMI_GO_HOST_SDK_VERSION=3.60.0 # go language host (github.com/pulumi/pulumi/sdk/v3)
WGMESH_PULUMI_YAML_VERSION=1.25.0        # github.com/pulumi/pulumi-yaml
WGMESH_PULUMI_PYPI_VERSION=3.272.0       # `pulumi` package from the Python package index

if [ -n "${BASH_SOURCE:-}" ]; then
  WGMESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC2296
  WGMESH_ROOT="$(cd "$(dirname "${(%):-%x}")/.." && pwd -P)"
else
  WGMESH_ROOT="$(pwd -P)"
fi

if [ -z "${WGMESH_CACHE:-}" ]; then
  if mkdir -p /var/cache/wgmesh 2>/dev/null && [ -w /var/cache/wgmesh ]; then
    WGMESH_CACHE=/var/cache/wgmesh
  else
    WGMESH_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/wgmesh"
  fi
fi
WGMESH_PULUMI_HOME="$WGMESH_CACHE/pulumi-v$WGMESH_PULUMI_VERSION"
WGMESH_PULUMI_BIN="$WGMESH_PULUMI_HOME/bin"
WGMESH_PULUMI_VENV="$WGMESH_PULUMI_HOME/python-venv-pulumi-$WGMESH_PULUMI_PYPI_VERSION"
export WGMESH_ROOT WGMESH_CACHE WGMESH_PULUMI_VERSION WGMESH_PULUMI_HOME WGMESH_PULUMI_BIN WGMESH_PULUMI_VENV \
  WGMESH_PULUMI_HOSTS_SDK_VERSION WGMESH_PULUMI_GO_HOST_SDK_VERSION WGMESH_PULUMI_YAML_VERSION \
  WGMESH_PULUMI_PYPI_VERSION

# PATH, first match wins: the Python virtualenv (the v3.68 python host runs the first `python3` on PATH),
# then the built CLI + language hosts + the dynamic-provider shim `pulumi-resource-pulumi-nodejs` (placed
# beside the CLI by pulumi-toolchain.sh, as in Pulumi's releases, so the CLI uses it without a warning).
_wgmesh_path_prepend() {
  case ":$PATH:" in
    *":$1:"*) PATH="$(printf '%s' ":$PATH:" | sed "s#:$1:#:#; s#^:##; s#:\$##")" ;;
  esac
  PATH="$1${PATH:+:$PATH}"
}
_wgmesh_path_prepend "$WGMESH_PULUMI_BIN"
_wgmesh_path_prepend "$WGMESH_PULUMI_VENV/bin"
unset -f _wgmesh_path_prepend
export PATH

export PULUMI_SKIP_UPDATE_CHECK=true
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE="wgmesh-local-insecure-passphrase"
fi
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  WGMESH_STATE_DIR="${WGMESH_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/wgmesh/pulumi}"
  mkdir -p "$WGMESH_STATE_DIR"
  export WGMESH_STATE_DIR
  export PULUMI_BACKEND_URL="file://$WGMESH_STATE_DIR"
fi
case "$-" in
  *i*) [ -x "$WGMESH_PULUMI_BIN/pulumi" ] || echo "pulumi-env: toolchain not built yet; run: bash $WGMESH_ROOT/scripts/pulumi-toolchain.sh" >&2 ;;
esac
