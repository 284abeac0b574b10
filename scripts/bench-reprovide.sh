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
. "$ROOT/scripts/lib/example.sh"

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

example_header "${ARGS[@]}"
example_build reprovide_bench

log "running (at most $((RUN_LIMIT + 60))s)"
status=0
TMPDIR="$WORK" timeout "$((RUN_LIMIT + 60))" "$BIN" "${ARGS[@]}" || status=$?
if [ "$status" -eq 124 ]; then
    log "killed by timeout $((RUN_LIMIT + 60))s"
fi
exit "$status"
