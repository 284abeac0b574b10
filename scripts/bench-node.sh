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
. "$ROOT/scripts/lib/example.sh"

example_header
example_build node_bench
cd "$WORK"
timeout 300 "$BIN"
