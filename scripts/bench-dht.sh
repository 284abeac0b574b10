#!/usr/bin/env bash
# DHT provider-lookup benchmark: latency, messages and derived hop count in an N-node
# Kademlia network of real ipfsd networks in one process (tests/examples/dht_bench.rs).
#
#   bash scripts/bench-dht.sh [--nodes 30] [--lookups 200] [--keys 50] [--seed 1] [--k 20]
#                             [--lan false] [--disjoint true] [--full true] [--timeout 150] ...
#
# Every argument goes to the benchmark unchanged (`--help` lists them). The script prints
# the machine and the commit, builds the example in release (cargo build --release -p
# ipfsd-tests --example dht_bench; waiting on cargo's build lock is normal), copies the
# binary into a temporary directory (so a concurrent rebuild cannot swap it mid-run) and
# runs it under `timeout 600`; the benchmark also stops itself after its own --timeout.
# Output: a table on stdout, then one JSON line (the last line).
# Network: every node listens on and dials 127.0.0.1 only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# The build may wait on others' builds; bounded too.
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"
RUN_TIMEOUT=600

log() { echo "[bench-dht] $*" >&2; }

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]; then
    COMMIT="$COMMIT (uncommitted changes present)"
fi
CPU="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
echo "machine: $(nproc) CPU(s) available${CPU:+, $CPU}; $(uname -sm); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "commit:  $COMMIT"
echo "rustc:   $(rustc --version 2>/dev/null || echo unknown)"
echo "args:    ${*:-(defaults)}"

log "building (cargo build --release -p ipfsd-tests --example dht_bench, at most ${BUILD_TIMEOUT}s)"
(cd "$ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release -p ipfsd-tests --example dht_bench >&2)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ipfsd-bench-dht.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$TARGET_DIR/release/examples/dht_bench" "$WORK/dht_bench"

log "running (at most ${RUN_TIMEOUT}s)"
status=0
timeout "$RUN_TIMEOUT" "$WORK/dht_bench" "$@" || status=$?
if [ "$status" -eq 124 ]; then
    log "killed by timeout ${RUN_TIMEOUT}s"
fi
exit "$status"
