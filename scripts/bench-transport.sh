#!/usr/bin/env bash
# The transport ceiling for BitSwap on this machine: one libp2p stream (TCP on 127.0.0.1,
# noise, yamux, libp2p-stream) between two processes, nothing else (see
# tests/examples/transport_ceiling.rs). Prints MB/s (MiB/s) and each side's CPU seconds
# per run. Usage: bash scripts/bench-transport.sh [MIB=100] [RUNS=3] [floor]
#
# With "floor", the receiver also does the least a node fetching for `ipfsd cat` must do
# with each block (hash it once, write it to disk, hand it to a separate client process
# that writes it to a pipe counted by `wc -c`; see `Floor` in the example), and the
# receiver's CPU includes that client and counter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIB="${1:-100}"
RUNS="${2:-3}"
MODE="${3:-}"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p ipfsd-tests --example transport_ceiling
BIN="$ROOT/target/release/examples/transport_ceiling"
OUT="$(mktemp)"
FLOOR="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$OUT" "$FLOOR"' EXIT
"$BIN" serve > "$OUT" &
SERVER=$!
for _ in $(seq 1 500); do [ -s "$OUT" ] && break; sleep 0.01; done
ADDR="$(head -n1 "$OUT")"
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
for run in $(seq 1 "$RUNS"); do
  s0="$(cpu "$SERVER")"
  python3 - "$BIN" "$ADDR" "$MIB" "$SERVER" "$s0" "$run" "$MODE" "$FLOOR" <<'PY'
import json, resource, subprocess, sys
bin_, addr, mib, server, s0, run, mode, floor = sys.argv[1:]
extra = ["--floor", floor] if mode == "floor" else []
out = subprocess.run([bin_, "fetch", addr, mib] + extra, check=True, capture_output=True, text=True).stdout
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(f"/proc/{server}/stat") as f:
    st = f.read().rsplit(")", 1)[1].split()
s1 = int(st[11]) + int(st[12])
r = json.loads(out.strip().splitlines()[-1])
print(f"run {run}: {r['mbps']:.0f} MB/s ({r['mib']} MiB in {r['seconds']:.2f} s), "
      f"sender {(s1 - int(s0)) / 100:.2f} CPU-s, receiver {ru.ru_utime + ru.ru_stime:.2f} CPU-s")
PY
done
