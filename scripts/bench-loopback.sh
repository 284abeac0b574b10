#!/usr/bin/env bash
# BitSwap on loopback against the transport it runs on, in one run: first the bare
# transport (scripts/bench-transport.sh: one libp2p stream, TCP + noise + yamux, nothing
# else), then ipfsd -> ipfsd: a seeder daemon holding MIB of random bytes, and for each run
# a fresh leecher daemon connected to it over TCP (and over QUIC) timing `ipfsd cat` to
# the last byte. Prints MB/s and the CPU seconds of seeder, leecher and the `cat` client,
# then the ratios the issue asks about (cat / transport throughput, daemons' CPU /
# transport's CPU), and cat against the floor: the same transport run with the least work
# a fetch for `cat` must add (hash, disk, client process; `bench-transport.sh ... floor`).
#
#   bash scripts/bench-loopback.sh [MIB=100] [RUNS=3] [TRANSPORTS="tcp quic"]
#
# Everything listens on 127.0.0.1 only, with no bootstrap peers; daemons are stopped and
# the temporary directory removed at exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIB="${1:-100}"
RUNS="${2:-3}"
TRANSPORTS="${3:-tcp quic}"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p ipfsd-cli
BIN="${IPFSD_BIN:-$ROOT/target/release/ipfsd}"
WORK="$(mktemp -d /tmp/ipfsd-bench-loopback.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# CPU seconds (user + system) of a process so far.
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
ipfsd() { local repo="$1"; shift; "$BIN" --repo "$repo" "$@"; }
# Starts a daemon on repo $1 listening on loopback TCP and QUIC; prints its PID.
daemon() {
    local repo="$1"
    ipfsd "$repo" init --pow-difficulty 4 > /dev/null
    ipfsd "$repo" config Bootstrap --json '[]' > /dev/null
    ipfsd "$repo" config Addresses.Swarm --json '["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]' > /dev/null
    ipfsd "$repo" config Addresses.API /ip4/127.0.0.1/tcp/0 > /dev/null
    ipfsd "$repo" config Addresses.Gateway /ip4/127.0.0.1/tcp/0 > /dev/null
    "$BIN" --repo "$repo" daemon > "$repo.log" 2>&1 &
    echo $!
}
wait_api() {
    local t=0
    until [ -s "$1/api" ] && ipfsd "$1" swarm peers > /dev/null 2>&1; do
        t=$((t + 1)); [ "$t" -lt 200 ] || { echo "bench-loopback: daemon $1 did not start" >&2; exit 1; }
        sleep 0.05
    done
}
# The daemon's listen address of a kind (tcp or quic), with its peer ID.
addr_of() {
    ipfsd "$1" id | python3 -c '
import json, sys
kind = "/quic-v1" if sys.argv[1] == "quic" else "/tcp/"
me = json.load(sys.stdin)
a = next(a for a in me["Addresses"] if kind in a and a.startswith("/ip4/127.0.0.1/"))
print(a if "/p2p/" in a else a + "/p2p/" + me["ID"])' "$2"
}

echo "== transport: one libp2p stream, TCP + noise + yamux ($MIB MiB)"
T_OUT="$(bash "$ROOT/scripts/bench-transport.sh" "$MIB" "$RUNS")"
echo "$T_OUT"
T_MBS="$(echo "$T_OUT" | awk '{ print $3 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
T_CPU="$(echo "$T_OUT" | awk '{ print $11 + $14 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
echo "== the floor: the same stream, plus hashing, disk and a client process ($MIB MiB)"
F_OUT="$(bash "$ROOT/scripts/bench-transport.sh" "$MIB" "$RUNS" floor)"
echo "$F_OUT"
F_MBS="$(echo "$F_OUT" | awk '{ print $3 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"

SRC="$WORK/input.bin"
head -c "$((MIB << 20))" /dev/urandom > "$SRC"
SEED="$WORK/seeder"
SPID="$(daemon "$SEED")"; PIDS+=("$SPID")
wait_api "$SEED"
CID="$(ipfsd "$SEED" add -Q "$SRC")"
for tr in $TRANSPORTS; do
    echo "== ipfsd -> ipfsd over $tr: fresh leecher, cat $MIB MiB"
    results=()
    for ((r = 1; r <= RUNS; r++)); do
        L="$WORK/leech-$tr-$r"
        LPID="$(daemon "$L")"; PIDS+=("$LPID")
        wait_api "$L"
        ipfsd "$L" swarm connect "$(addr_of "$SEED" "$tr")" > /dev/null
        s0="$(cpu "$SPID")"; l0="$(cpu "$LPID")"
        start="$(date +%s.%N)"
        got="$( { /usr/bin/time -f '%U %S' -o "$WORK/cat.time" "$BIN" --repo "$L" cat "$CID"; } | wc -c)"
        end="$(date +%s.%N)"
        s1="$(cpu "$SPID")"; l1="$(cpu "$LPID")"
        [ "$got" = "$((MIB << 20))" ] || { echo "bench-loopback: got $got bytes" >&2; exit 1; }
        over="$(ipfsd "$L" swarm peers | head -1)"
        line="$(awk -v m="$MIB" -v s="$start" -v e="$end" -v s0="$s0" -v s1="$s1" -v l0="$l0" -v l1="$l1" -v c="$(cat "$WORK/cat.time")" -v via="$over" 'BEGIN {
            split(c, cc, " "); secs = e - s
            printf "run: %.0f MB/s (%.2f s), seeder %.2f CPU-s, leecher %.2f CPU-s, cat %.2f CPU-s; via %s",
                m * 1.048576 / secs, secs, s1 - s0, l1 - l0, cc[1] + cc[2], via }')"
        echo "$line"
        results+=("$line")
        "$BIN" --repo "$L" shutdown > /dev/null 2>&1 || kill "$LPID"
        wait "$LPID" 2> /dev/null || true
        rm -rf "$L"
    done
    med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    m="$(printf '%s\n' "${results[@]}" | awk '{ print $2 }' | med)"
    c="$(printf '%s\n' "${results[@]}" | awk '{ print $7 + $10 }' | med)"
    awk -v tm="$T_MBS" -v tc="$T_CPU" -v fm="$F_MBS" -v tr="$tr" -v m="$m" -v c="$c" 'BEGIN {
        printf "%s: median %.0f MB/s = %.2f x the transport (%.0f MB/s), %.2f x the floor (%.0f MB/s); seeder+leecher %.2f CPU-s = %.2f x the transport (%.2f)\n",
            tr, m, m / tm, tm, m / fm, fm, c, c / tc, tc }'
done
