#!/usr/bin/env bash
# `Node` figures: spawn-to-ready (in memory / on disk), idle RSS of one node and of 20
# nodes in one process (tests/examples/node_bench.rs, release build).
#
#   bash scripts/bench-node.sh
#
# Prints the machine and the commit, a table, then one JSON line (the last line).
# Network: every node listens on and dials 127.0.0.1 only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]; then
    COMMIT="$COMMIT (uncommitted changes present)"
fi
echo "machine: $(nproc) CPU(s); $(uname -sm); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "commit:  $COMMIT"
echo "[bench-node] building (cargo build --release -p ipfsd-tests --example node_bench)" >&2
(cd "$ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release -p ipfsd-tests --example node_bench >&2)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ipfsd-bench-node.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$TARGET_DIR/release/examples/node_bench" "$WORK/node_bench"
cd "$WORK"
timeout 300 ./node_bench
