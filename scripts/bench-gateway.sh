#!/usr/bin/env bash
# HTTP gateway throughput on 127.0.0.1 (release build, one offline daemon, wrk as the load):
#   1. a 1 KiB file, --conns connections for --secs seconds: requests/s, p50/p99 latency
#      (target >= 20,000 req/s);
#   2. the same for a 1 KiB file in a directory, by path (one more block to resolve);
#   3. a --size-mb file, --big-conns connections: MB/s (target >= 1 GB/s), p50/p99 per request;
#   4. a 64 KiB byte range of that file (Range requests, as a video player seeks).
# Usage: bash scripts/bench-gateway.sh [--secs 10] [--conns 64] [--big-conns 4] [--size-mb 100]
#                                     [--threads 1] [--bin PATH]
# wrk is installed from Debian's packages when missing. The daemon listens on 127.0.0.1 only
# (ephemeral ports, offline: no swarm) and is shut down at exit. MB = 2^20 bytes.
# On a 2-core host wrk and the daemon share the CPUs: the figures are for both together.
set -euo pipefail

SECS=10 CONNS=64 BIG_CONNS=4 SIZE_MB=100 THREADS=1 BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --secs) SECS="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    --big-conns) BIG_CONNS="$2"; shift 2 ;;
    --size-mb) SIZE_MB="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null
fi
if [[ -z "$BIN" ]]; then
  cargo build --release --quiet -p ipfsd-cli --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/ipfsd"
fi
WORK="$(mktemp -d /tmp/ipfsd-bench-gateway.XXXXXX)"
REPO="$WORK/repo"
PID=""
cleanup() {
  [[ -s "$REPO/api" ]] && timeout 10 "$BIN" --repo "$REPO" shutdown >/dev/null 2>&1 || true
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

timeout 60 "$BIN" --repo "$REPO" init --pow-difficulty 2 >/dev/null
RUST_LOG=warn "$BIN" --repo "$REPO" --offline daemon --api-addr /ip4/127.0.0.1/tcp/0 \
  --gateway-addr /ip4/127.0.0.1/tcp/0 >"$WORK/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 1000); do [[ -s "$REPO/gateway" ]] && break; sleep 0.01; done
GW="$(cat "$REPO/gateway")"
case "$GW" in http://127.0.0.1:*) ;; *) echo "gateway not on loopback: $GW" >&2; exit 1 ;; esac

T() { timeout 300 "$BIN" --repo "$REPO" "$@"; }
head -c 1024 /dev/urandom >"$WORK/small.bin"
mkdir -p "$WORK/dir/a"
cp "$WORK/small.bin" "$WORK/dir/a/small.bin"
python3 -c "import sys; r=__import__('random').Random(5); open(sys.argv[1],'wb').write(r.randbytes(int(sys.argv[2])<<20))" "$WORK/big.bin" "$SIZE_MB"
SMALL="$(T add -Q "$WORK/small.bin")"
DIR="$(T add -Q -r "$WORK/dir")"
BIG="$(T add -Q "$WORK/big.bin")"
# Check the content before measuring.
curl -sf "$GW/ipfs/$BIG" | cmp -s - "$WORK/big.bin" || { echo "big file differs" >&2; exit 1; }
curl -sf "$GW/ipfs/$DIR/a/small.bin" | cmp -s - "$WORK/small.bin" || { echo "small file differs" >&2; exit 1; }

cat >"$WORK/range.lua" <<'EOF'
local n = 0
request = function()
  n = n + 1
  local start = (n * 7919 * 65536) % (tonumber(os.getenv("SIZE")) - 65536)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + 65535) })
end
EOF

echo "ipfsd gateway benchmark, $(nproc) cores, wrk -t$THREADS, ${SECS}s each, load $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # LABEL CONNS URL [wrk args...]
  local label="$1" conns="$2" url="$3"; shift 3
  local out
  out="$(SIZE=$((SIZE_MB << 20)) wrk -t"$THREADS" -c"$conns" -d"${SECS}s" --timeout 30s --latency "$@" "$url")"
  python3 - "$label" "$conns" "$out" <<'EOF'
import re, sys
label, conns, out = sys.argv[1], sys.argv[2], sys.argv[3]
def grab(pat):
    m = re.search(pat, out)
    return m.group(1) if m else "?"
rps = float(grab(r"Requests/sec:\s+([\d.]+)"))
tr = grab(r"Transfer/sec:\s+([\d.]+\w+)")
num = float(re.match(r"[\d.]+", tr).group()) if tr != "?" else 0
unit = re.sub(r"[\d.]+", "", tr)
mbs = num * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}.get(unit, 0)
errors = grab(r"Non-2xx or 3xx responses:\s+(\d+)")
sock = grab(r"Socket errors: ([^\n]+)")
p50, p99 = grab(r"50%\s+([\d.]+\w+)"), grab(r"99%\s+([\d.]+\w+)")
print(f"  {label:<40} c={conns:<4} {rps:>9.0f} req/s {mbs:>7.0f} MB/s  p50 {p50:>8}  p99 {p99:>8}"
      + ("" if errors == "?" else f"  NON-2xx: {errors}") + ("" if sock == "?" else f"  socket errors: {sock}"))
EOF
  echo "      daemon RSS $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status"), peak $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status"), $(awk '/Threads/ {print $2}' "/proc/$PID/status") threads"
}
run "1 KiB file by CID" "$CONNS" "$GW/ipfs/$SMALL"
run "1 KiB file by path (dir/a/small.bin)" "$CONNS" "$GW/ipfs/$DIR/a/small.bin"
run "${SIZE_MB} MiB file" "$BIG_CONNS" "$GW/ipfs/$BIG"
run "64 KiB ranges of the ${SIZE_MB} MiB file" "$CONNS" "$GW/ipfs/$BIG" -s "$WORK/range.lua"
echo "  daemon peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$PID/status)"
