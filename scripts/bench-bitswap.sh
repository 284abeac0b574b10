#!/usr/bin/env bash
# BitSwap between separate ipfsd daemon processes on 127.0.0.1 (release build):
#   1. one seeder -> a fresh leecher: `pin add` (fetch into the store) and `cat` of a
#      --size-mb file, median of --runs (target >= 250 MB/s, 5x Kubo's ~50 MB/s);
#   2. time to first byte of `cat` for small files (1 KiB and 256 KiB) on a connected leecher;
#   3. the same file from --seeders seeders at once vs. from one, each seeder limited to
#      --seeder-rate MB/s (Bitswap.UploadRate: on one 2-core host every process shares the
#      CPUs, so without a per-seeder limit the leecher, not the seeders, is the bottleneck);
#   4. --downloaders leechers fetching a --dl-mb file from one seeder at once: wall time,
#      aggregate MB/s and the seeder's peak RSS (VmHWM) before and after.
# Usage: bash scripts/bench-bitswap.sh [--size-mb 100] [--runs 3] [--seeders 4]
#                                     [--downloaders 20] [--dl-mb 20] [--seeder-rate 25]
#                                     [--bin PATH]
# Every daemon listens on 127.0.0.1 with ephemeral ports, has no bootstrap peers, and is
# shut down at exit; every command has a timeout. MB = 2^20 bytes.
set -euo pipefail

SIZE_MB=100 RUNS=3 SEEDERS=4 DOWNLOADERS=20 DL_MB=20 SEEDER_RATE=25 BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mb) SIZE_MB="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seeders) SEEDERS="$2"; shift 2 ;;
    --downloaders) DOWNLOADERS="$2"; shift 2 ;;
    --dl-mb) DL_MB="$2"; shift 2 ;;
    --seeder-rate) SEEDER_RATE="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$BIN" ]]; then
  cargo build --release --quiet -p ipfsd-cli --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/ipfsd"
fi
WORK="$(mktemp -d /tmp/ipfsd-bench-bitswap.XXXXXX)"
PIDS=()
cleanup() {
  for r in "$WORK"/r-*; do
    [[ -s "$r/api" ]] && timeout 10 "$BIN" --repo "$r" shutdown >/dev/null 2>&1 || true
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

T() { timeout 300 "$BIN" --repo "$WORK/r-$1" "${@:2}"; }
now() { date +%s.%N; }
mbps() { python3 -c "import sys; print(f'{$1 / ($3 - $2):.0f}')"; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

daemon() { # NAME [UPLOAD_RATE_BYTES]: init (if new) and start a daemon; waits for its API
  local r="$WORK/r-$1"
  if [[ ! -d "$r" ]]; then
    timeout 60 "$BIN" --repo "$r" init --pow-difficulty 2 >/dev/null
    [[ -z "${2:-}" ]] || timeout 60 "$BIN" --repo "$r" config Bitswap.UploadRate "$2" --json >/dev/null
  fi
  RUST_LOG=warn "$BIN" --repo "$r" daemon --api-addr /ip4/127.0.0.1/tcp/0 --gateway-addr /ip4/127.0.0.1/tcp/0 \
    --swarm-addr /ip4/127.0.0.1/tcp/0 >"$r.log" 2>&1 &
  PIDS+=($!)
  echo $! >"$r.pid"
  for _ in $(seq 1 1000); do [[ -s "$r/api" ]] && break; sleep 0.01; done
  [[ -s "$r/api" ]] || { echo "daemon $1 did not start" >&2; exit 1; }
}
stop() { T "$1" shutdown >/dev/null 2>&1 || true; sleep 0.2; }
addr() { T "$1" swarm addrs local --id | grep '^/ip4/127.0.0.1/tcp/' | head -n1; }
connect() { T "$1" swarm connect "$(addr "$2")" >/dev/null; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$(cat "$WORK/r-$1.pid")/status"; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$(cat "$WORK/r-$1.pid")/status"; }

python3 -c "import os,sys; r=__import__('random').Random(7); open(sys.argv[1],'wb').write(r.randbytes(int(sys.argv[2])<<20))" "$WORK/big.bin" "$SIZE_MB"
echo "ipfsd BitSwap benchmark, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Throughput from one seeder.
daemon seed
CID="$(T seed add -Q "$WORK/big.bin")"
pins="" cats=""
for i in $(seq 1 "$RUNS"); do
  for mode in pin cat; do
    daemon "leech-$mode-$i"
    connect "leech-$mode-$i" seed
    t0=$(now)
    if [[ $mode == pin ]]; then
      T "leech-$mode-$i" pin add "$CID" >/dev/null
    else
      T "leech-$mode-$i" cat "$CID" >"$WORK/out.bin"
      cmp -s "$WORK/out.bin" "$WORK/big.bin" || { echo "cat: content differs" >&2; exit 1; }
    fi
    t1=$(now)
    if [[ $mode == pin ]]; then pins="$pins $(mbps "$SIZE_MB" "$t0" "$t1")"; else cats="$cats $(mbps "$SIZE_MB" "$t0" "$t1")"; fi
    stop "leech-$mode-$i"
  done
done
rm -f "$WORK/out.bin"
printf '  %-52s %8s MB/s  (runs:%s)  target >= 250\n' "1 seeder -> 1 leecher, pin add ${SIZE_MB} MiB" "$(echo $pins | median)" "$pins"
printf '  %-52s %8s MB/s  (runs:%s)  target >= 250\n' "1 seeder -> 1 leecher, cat ${SIZE_MB} MiB" "$(echo $cats | median)" "$cats"

# 2. Time to first byte.
daemon ttfb
connect ttfb seed
for size in 1024 262144; do
  times=""
  for i in $(seq 1 7); do
    f="$WORK/small-$size-$i"
    python3 -c "import os,sys; open(sys.argv[1],'wb').write(os.urandom(int(sys.argv[2])))" "$f" "$size"
    c="$(T seed add -Q "$f")"
    t0=$(now)
    T ttfb cat "$c" | head -c1 >/dev/null
    t1=$(now)
    times="$times $(python3 -c "print(f'{($t1 - $t0) * 1000:.1f}')")"
  done
  printf '  %-52s %8s ms    (runs:%s)\n' "time to first byte, ${size}-byte file (CLI included)" "$(echo $times | median)" "$times"
done
stop ttfb

# 3. Many seeders vs one (each limited to --seeder-rate MB/s).
RATE=$((SEEDER_RATE << 20))
for s in $(seq 1 "$SEEDERS"); do daemon "rs$s" "$RATE"; T "rs$s" add -Q "$WORK/big.bin" >/dev/null; done
one="" many=""
for i in $(seq 1 "$RUNS"); do
  daemon "one-$i"; connect "one-$i" rs1
  t0=$(now); T "one-$i" pin add "$CID" >/dev/null; t1=$(now)
  one="$one $(mbps "$SIZE_MB" "$t0" "$t1")"; stop "one-$i"
  daemon "many-$i"
  for s in $(seq 1 "$SEEDERS"); do connect "many-$i" "rs$s"; done
  t0=$(now); T "many-$i" pin add "$CID" >/dev/null; t1=$(now)
  many="$many $(mbps "$SIZE_MB" "$t0" "$t1")"; stop "many-$i"
done
printf '  %-52s %8s MB/s  (runs:%s)\n' "pin add ${SIZE_MB} MiB from 1 seeder (${SEEDER_RATE} MB/s cap)" "$(echo $one | median)" "$one"
printf '  %-52s %8s MB/s  (runs:%s)\n' "pin add ${SIZE_MB} MiB from ${SEEDERS} seeders (each capped)" "$(echo $many | median)" "$many"
for s in $(seq 1 "$SEEDERS"); do stop "rs$s"; done

# 4. Many downloaders at once from one seeder.
python3 -c "import sys; r=__import__('random').Random(9); open(sys.argv[1],'wb').write(r.randbytes(int(sys.argv[2])<<20))" "$WORK/dl.bin" "$DL_MB"
DCID="$(T seed add -Q "$WORK/dl.bin")"
before="$(hwm seed)"
for d in $(seq 1 "$DOWNLOADERS"); do daemon "dl$d"; connect "dl$d" seed; done
t0=$(now)
jobs_=()
for d in $(seq 1 "$DOWNLOADERS"); do T "dl$d" pin add "$DCID" >/dev/null & jobs_+=($!); done
fail=0
for j in "${jobs_[@]}"; do wait "$j" || fail=1; done
t1=$(now)
[[ $fail == 0 ]] || { echo "a download failed" >&2; exit 1; }
for d in $(seq 1 "$DOWNLOADERS"); do
  [[ "$(T "dl$d" cat "$DCID" | wc -c)" == $((DL_MB << 20)) ]] || { echo "dl$d: size differs" >&2; exit 1; }
done
total=$((DL_MB * DOWNLOADERS))
printf '  %-52s %8s s     (%s MB/s aggregate)\n' "${DOWNLOADERS} downloaders x ${DL_MB} MiB, wall time" "$(python3 -c "print(f'{$t1 - $t0:.2f}')")" "$(mbps "$total" "$t0" "$t1")"
printf '  %-52s %8s MiB   (peak before the downloads: %s MiB, RSS now %s MiB)\n' "seeder peak RSS (VmHWM)" "$(hwm seed)" "$before" "$(rss seed)"
