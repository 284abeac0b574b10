#!/usr/bin/env bash
# Reprovide benchmark: one node's full reprovide run of K keys (its own reprovider, strategy
# `all`, over a store of K tiny raw blocks) against an N-node Kademlia network of real ipfsd
# networks in one process (tests/examples/reprovide_bench.rs): time, keys/s, DHT requests
# (FIND_NODE / ADD_PROVIDER the other nodes received, and the sweep's own counters), peak
# memory.
#
#   bash scripts/bench-reprovide.sh [--small] [--keys 1000000] [--nodes 30] [--mode sweep|per-key]
#                                   [--max-provider-keys N] [--timeout 600] ...
#
# --small: 2,000 keys on 10 nodes (a quick check, well under a minute once built). Every
# other argument goes to the benchmark unchanged (`--help` lists them). The script prints
# the machine and the commit, builds the example in release (waiting on cargo's build lock
# is normal), copies the binary into a temporary directory (so a concurrent rebuild cannot
# swap it mid-run) and runs it under `timeout` (the benchmark's own --timeout, default
# 600 s, plus a minute); the benchmark stops itself at its --timeout.
# Output: a report on stdout, then one JSON line (the last line).
# Network: every node listens on and dials 127.0.0.1 only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"

log() { echo "[bench-reprovide] $*" >&2; }

ARGS=()
RUN_LIMIT=600
while [ $# -gt 0 ]; do
    case "$1" in
        --small) ARGS+=(--keys 2000 --nodes 10 --verify 20 --timeout 120); RUN_LIMIT=120; shift ;;
        --timeout) ARGS+=("$1" "$2"); RUN_LIMIT="$2"; shift 2 ;;
        --timeout=*) ARGS+=("$1"); RUN_LIMIT="${1#--timeout=}"; shift ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
# The benchmark's default --timeout is 600 s; pass it explicitly so both limits agree.
case " ${ARGS[*]:-} " in
    *" --timeout "*|*" --timeout="*) ;;
    *) ARGS+=(--timeout "$RUN_LIMIT") ;;
esac

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]; then
    COMMIT="$COMMIT (uncommitted changes present)"
fi
CPU="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
echo "machine: $(nproc) CPU(s) available${CPU:+, $CPU}; $(uname -sm); $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB RAM"}'); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "commit:  $COMMIT"
echo "rustc:   $(rustc --version 2>/dev/null || echo unknown)"
echo "args:    ${ARGS[*]}"

log "building (cargo build --release -p ipfsd-tests --example reprovide_bench, at most ${BUILD_TIMEOUT}s)"
(cd "$ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release -p ipfsd-tests --example reprovide_bench >&2)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ipfsd-bench-reprovide.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$TARGET_DIR/release/examples/reprovide_bench" "$WORK/reprovide_bench"

log "running (at most $((RUN_LIMIT + 60))s)"
status=0
TMPDIR="$WORK" timeout "$((RUN_LIMIT + 60))" "$WORK/reprovide_bench" "${ARGS[@]}" || status=$?
if [ "$status" -eq 124 ]; then
    log "killed by timeout $((RUN_LIMIT + 60))s"
fi
exit "$status"
