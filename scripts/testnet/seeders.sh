#!/usr/bin/env bash
# Many seeders over the lab: S seeders (nodes 0..S-1) add the same random file, each on its
# own link of the given rate and RTT; two leechers (nodes S and S+1) have links without a
# rate limit, so the seeders' links are what limits. Node S fetches the file from seeder 0
# alone, node S+1 from all S seeders at once. Prints, per run, both rates (MB/s, share of
# the links), the speed-up, the duplicate blocks node S+1 received and each seeder's share
# of the bytes sent. The issue's target (4 seeders at 25 Mbit/s, 40 ms: >= 3.6x one
# seeder's rate, <= 1% duplicate blocks) is printed beside the figures, not asserted; a
# download that is not the file byte for byte fails the script.
#
#   sudo bash scripts/testnet/seeders.sh [--mb 40] [--seeders 4] [--rate 25mbit] [--rtt 40ms]
#                                        [--runs 1] [--transport both|tcp|quic]
#                                        [--leecher-rate 0] [--logs DIR] [--debug]
#
# The leechers run with `Routing.Type none` (no DHT: they talk only to the peers they are
# connected to), and the lab is partitioned while each one fetches: node S and seeder 0 on
# one side during the one-seeder fetch, node S+1 and every seeder during the other (node S
# then holds the file and must not serve it). Each leecher dials its seeders itself (QUIC
# unless --transport tcp, as ipfsd's dialer prefers); anything else it is connected to is
# disconnected before the fetch. A run uses a new file, so nothing is cached. --logs DIR
# keeps the daemons' logs (RUST_LOG as testnet.sh reads it, e.g. info,bitswap=trace).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB=40 SEEDERS=4 RATE=25mbit RTT=40ms RUNS=1 TRANSPORT=both LRATE=0 LOGS=""
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mb) MB="$2"; shift 2 ;;
        --seeders) SEEDERS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --transport) TRANSPORT="$2"; shift 2 ;;
        --leecher-rate) LRATE="$2"; shift 2 ;;
        --logs) LOGS="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "seeders: unknown option $1" >&2; exit 2 ;;
    esac
done
for v in "--mb $MB" "--seeders $SEEDERS" "--runs $RUNS"; do
    [[ "${v#* }" =~ ^[1-9][0-9]*$ ]] || { echo "seeders: ${v% *} N, N >= 1" >&2; exit 2; }
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-seeders}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-seed}"
T="bash $HERE/../testnet.sh"
# shellcheck disable=SC2317 # (called by the trap)
finish() {
    if [ -n "$LOGS" ]; then
        mkdir -p "$LOGS"
        for d in "$IPFSD_LAB"/node*; do cp "$d/daemon.log" "$LOGS/${d##*/}.log" 2> /dev/null || true; done
    fi
    $T down
}
trap finish EXIT
die() { echo "seeders: $*" >&2; exit 1; }
ONE=$SEEDERS MANY=$((SEEDERS + 1))
BYTES=$((MB * 1000000))
$T up $((SEEDERS + 2)) --transport "$TRANSPORT" --rtt "$RTT" --rate "$RATE" "${UP[@]}" > /dev/null

# The transport the leechers listen on and dial (a seeder may dial one too, e.g. for a DHT
# query after its add: then it can use only this one). `both`: QUIC, as ipfsd's dialer
# prefers.
via=udp/4001/quic-v1
[ "$TRANSPORT" = tcp ] && via=tcp/4001
# The leechers: no DHT, no bootstrap, one listen address, links without the seeders'
# limit (a restart reads the config).
for L in "$ONE" "$MANY"; do
    $T ipfsd "$L" config Routing.Type none > /dev/null
    $T ipfsd "$L" config Bootstrap --json '[]' > /dev/null
    $T ipfsd "$L" config Addresses.Swarm --json "[\"/ip4/198.18.0.$((L + 1))/$via\"]" > /dev/null
    pid="$(cat "$IPFSD_LAB/node$L/pid")"
    $T kill "$L"
    for ((t = 0; t < 100; t++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2> /dev/null || die "node $L did not stop"
    $T restart "$L" 2> /dev/null
    $T set-link "$L" --rate "$LRATE"
done
declare -a IDS
for ((s = 0; s < SEEDERS; s++)); do IDS[s]="$($T id "$s")"; done

# Drops leecher $1's connections, partitions the lab so that it reaches exactly seeders
# 0..$2-1, connects it to them and prints the transports used ("quic x4").
only_seeders() {
    local l="$1" k="$2" s others="" p peers want=""
    for ((s = 0; s < k; s++)); do want+="${IDS[s]} "; done
    for ((p = 0; p < SEEDERS + 2; p++)); do
        [ "$p" = "$l" ] || [ "$p" -lt "$k" ] || others+="${others:+,}$p"
    done
    $T heal 2> /dev/null
    # Fresh connections: one that an earlier partition cut sits in retransmission backoff.
    for p in $($T ipfsd "$l" swarm peers | sed 's|.*/p2p/||' | sort -u); do
        $T ipfsd "$l" swarm disconnect "$p" > /dev/null 2>&1 || true
    done
    if [ -n "$others" ]; then
        $T partition "$(seq -s, 0 $((k - 1))),$l" "$others" 2> /dev/null
    fi
    for ((s = 0; s < k; s++)); do
        $T ipfsd "$l" swarm connect "/ip4/198.18.0.$((s + 1))/$via/p2p/${IDS[s]}" > /dev/null \
            || die "node $l could not connect to seeder $s"
    done
    peers="$($T ipfsd "$l" swarm peers)"
    for p in $(echo "$peers" | sed 's|.*/p2p/||' | sort -u); do
        case " $want" in
            *" $p "*) ;;
            *) $T ipfsd "$l" swarm disconnect "$p" > /dev/null 2>&1 || true ;;
        esac
    done
    peers="$($T ipfsd "$l" swarm peers)"
    for ((s = 0; s < k; s++)); do
        echo "$peers" | grep -q "/p2p/${IDS[s]}$" || die "node $l is not connected to seeder $s"
    done
    [ "$(echo "$peers" | sed 's|.*/p2p/||' | sort -u | wc -l)" = "$k" ] \
        || die "node $l has peers other than its seeders: $peers"
    echo "$peers" | awk '{ t = ($0 ~ /quic/) ? "quic" : "tcp"; n[t]++ }
        END { for (t in n) printf "%s%s x%d", (s++ ? ", " : ""), t, n[t] }'
}
# A counter of node $1's `stats bitswap`.
counter() { $T ipfsd "$1" stats bitswap | sed -n "s/^ *\"$2\": *\([0-9]*\).*/\1/p" | head -1; }
# Fetches the file on leecher $1 into $2; prints the seconds taken. Fails on wrong bytes.
fetch() {
    local start end got
    start="$(date +%s.%N)"
    timeout 600 bash "$HERE/../testnet.sh" ipfsd "$1" cat "$CID" > "$2" || die "node $1: cat failed or timed out"
    end="$(date +%s.%N)"
    got="$(stat -c %s "$2" 2> /dev/null || echo 0)"
    [ "$got" = "$BYTES" ] || die "node $1: got $got bytes of $BYTES"
    cmp -s "$FILE" "$2" || die "node $1: fetched bytes differ from the file"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}
bps() { awk 'NR == 1 { print $4 }' "$IPFSD_LAB/links"; }

echo "seeders: $MB MB, $SEEDERS seeders at $RATE each, rtt $RTT, leecher links $([ "$LRATE" = 0 ] && echo unlimited || echo "$LRATE"), transport $TRANSPORT (issue's target: >= 3.6x one seeder, <= 1% duplicate blocks)"
SUMMARY="$IPFSD_LAB/summary"
: > "$SUMMARY"
for ((r = 1; r <= RUNS; r++)); do
    FILE="$IPFSD_LAB/payload$r.bin"
    head -c "$BYTES" /dev/urandom > "$FILE"
    CID=""
    for ((s = 0; s < SEEDERS; s++)); do
        c="$($T ipfsd "$s" add -Q "$FILE")"
        [ -z "$CID" ] || [ "$c" = "$CID" ] || die "seeder $s added $c, seeder 0 $CID"
        CID="$c"
    done
    OUT="$IPFSD_LAB/fetched.bin"

    # One seeder.
    over1="$(only_seeders "$ONE" 1)"
    secs1="$(fetch "$ONE" "$OUT")"

    # Every seeder, with the counters before and after.
    overn="$(only_seeders "$MANY" "$SEEDERS")"
    declare -a SENT0 BLK0 SENT1 BLK1
    for ((s = 0; s < SEEDERS; s++)); do SENT0[s]="$(counter "$s" DataSent)"; BLK0[s]="$(counter "$s" BlocksSent)"; done
    recv0="$(counter "$MANY" BlocksReceived)" dup0="$(counter "$MANY" DupBlksReceived)" dupd0="$(counter "$MANY" DupDataReceived)"
    secsn="$(fetch "$MANY" "$OUT")"
    recv="$(( $(counter "$MANY" BlocksReceived) - recv0 ))"
    dup="$(( $(counter "$MANY" DupBlksReceived) - dup0 ))"
    dupd="$(( $(counter "$MANY" DupDataReceived) - dupd0 ))"
    shares=""
    total=0
    for ((s = 0; s < SEEDERS; s++)); do
        SENT1[s]="$(( $(counter "$s" DataSent) - SENT0[s] ))"
        BLK1[s]="$(( $(counter "$s" BlocksSent) - BLK0[s] ))"
        total=$((total + SENT1[s]))
    done
    for ((s = 0; s < SEEDERS; s++)); do
        shares+="$(awk -v s="$s" -v b="${SENT1[s]}" -v n="${BLK1[s]}" -v t="$total" \
            'BEGIN { printf "%s%d: %.0f%% (%d blocks)", (s ? ", " : ""), s, t ? 100 * b / t : 0, n }')"
    done

    awk -v r="$r" -v b="$BYTES" -v s1="$secs1" -v sn="$secsn" -v k="$SEEDERS" -v bps="$(bps)" \
        -v rate="$RATE" -v o1="$over1" -v on="$overn" -v recv="$recv" -v dup="$dup" -v dupd="$dupd" \
        -v shares="$shares" -v sum="$SUMMARY" 'BEGIN {
        m1 = b / 1e6 / s1; mn = b / 1e6 / sn
        l1 = (bps > 0) ? sprintf("%.0f%% of its %s link", 100 * b * 8 / s1 / bps, rate) : "no rate limit"
        ln = (bps > 0) ? sprintf("%.0f%% of %d such links", 100 * b * 8 / sn / bps / k, k) : "no rate limit"
        printf "seeders run %d: 1 seeder:  %.0f MB in %6.2f s = %5.2f MB/s (%s; %s)\n", r, b / 1e6, s1, m1, l1, o1
        printf "seeders run %d: %d seeders: %.0f MB in %6.2f s = %5.2f MB/s = %.2fx one seeder (%s; %s)\n", r, k, b / 1e6, sn, mn, mn / m1, ln, on
        printf "seeders run %d: duplicates: %d of %d blocks received (%.2f%%, %.2f MB); sent by seeder %s\n", r, dup, recv, recv ? 100 * dup / recv : 0, dupd / 1e6, shares
        printf "%f %d %d\n", mn / m1, dup, recv >> sum
    }'
    # Fresh leechers for the next run (a new file, so nothing would be found anyway).
    $T ipfsd "$ONE" repo gc > /dev/null 2>&1 || true
    $T ipfsd "$MANY" repo gc > /dev/null 2>&1 || true
    rm -f "$FILE" "$OUT"
done
if [ "$RUNS" -gt 1 ]; then
    sort -g "$SUMMARY" | awk -v n="$RUNS" '{ x[NR] = $1; d += $2; b += $3 }
        END { printf "seeders: %d runs: speed-up min %.2fx, median %.2fx, max %.2fx; duplicates %d of %d blocks (%.2f%%)\n",
            n, x[1], (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2, x[n], d, b, b ? 100 * d / b : 0 }'
fi
