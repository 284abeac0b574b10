#!/usr/bin/env bash
# DHT provider-lookup benchmark: latency, messages and derived hop count in an N-node
# Kademlia network of real ipfsd networks in one process (tests/examples/dht_bench/).
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
RUN_TIMEOUT=600
. "$ROOT/scripts/lib/example.sh"

log() { echo "[bench-dht] $*" >&2; }

example_header "$@"
example_build dht_bench

log "running (at most ${RUN_TIMEOUT}s)"
status=0
timeout "$RUN_TIMEOUT" "$BIN" "$@" || status=$?
if [ "$status" -eq 124 ]; then
    log "killed by timeout ${RUN_TIMEOUT}s"
fi
exit "$status"
