#!/usr/bin/env bash
# Many seeders over the lab: S seeders (nodes 0..S-1) add the same random file, each on its
# own link of the given rate and RTT; two leechers (nodes S and S+1) have links without a
# rate limit, so the seeders' links are what limits. Node S fetches the file from seeder 0
# alone, node S+1 from all S seeders at once. Prints, per run, both rates (MB/s, share of
# the links), the speed-up, the duplicate blocks node S+1 received (blocks received beyond
# the DAG's count, and the node's own DupBlksReceived, which misses a block fetched again
# after it arrived), each seeder's share of the bytes sent, the packets the emulator
# dropped at full queues (by uplink) and the seeders' traffic to other nodes. The issue's
# target (4 seeders at 25 Mbit/s, 40 ms: >= 3.6x one seeder's rate, <= 1% duplicate blocks)
# is printed beside the figures, not asserted; a download that is not the file byte for
# byte fails the script.
#
#   sudo bash scripts/testnet/seeders.sh [--mb 40] [--seeders 4] [--rate 25mbit] [--rtt 40ms]
#                                        [--runs 1] [--transport both|tcp|quic]
#                                        [--leecher-rate 0] [--logs DIR] [--debug]
#
# The leechers talk only to the peers they dial: `Routing.Type none` (no DHT), no bootstrap
# list, and inbound connections refused (nftables in their namespaces). Node S dials
# seeder 0 only, node S+1 every seeder (QUIC unless --transport tcp, as ipfsd's dialer
# prefers; a leecher listens on that one transport only), so node S never serves node S+1;
# each fetch checks the leecher's peers first. Run 1 starts on fresh connections, later
# runs reuse them; each run uses a new file, so nothing is cached. --logs DIR
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
command -v nft > /dev/null || { echo "seeders: needs nftables (apt-get install nftables)" >&2; exit 2; }
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

# The transport the leechers listen on and dial (`both`: QUIC, as ipfsd's dialer prefers).
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
    # Inbound connections refused: a seeder that knows the leecher (from the DHT, where it
    # was a server until this restart) must not dial it. Refused at once, not dropped: a
    # dial left retrying its SYN would meet the leecher's own dial (both from port 4001)
    # as a TCP simultaneous open, and the handshake fails.
    $T exec "$L" -- nft -f - << 'NFT'
table inet leecher {
    chain input {
        type filter hook input priority filter; policy accept;
        ct state established,related accept
        tcp dport 4001 reject with tcp reset
        udp dport 4001 reject
    }
}
NFT
done
declare -a IDS
for ((s = 0; s < SEEDERS; s++)); do IDS[s]="$($T id "$s")"; done

# Closes every connection of leecher $1 and waits until neither end lists it. (A
# disconnect only starts the close, and a connect to a peer still listed is a no-op.)
isolate() {
    local l="$1" id t p list peers
    id="$($T id "$l")"
    for ((t = 0; t < 100; t++)); do
        peers="$($T ipfsd "$l" swarm peers | sed 's|.*/p2p/||' | sort -u)"
        for ((p = 0; p < SEEDERS; p++)); do
            list="$($T ipfsd "$p" swarm peers)"
            case "$list" in *"/p2p/$id"*) peers+=" ${IDS[p]}" ;; esac
        done
        [ -n "${peers// /}" ] || return 0
        for p in $peers; do $T ipfsd "$l" swarm disconnect "$p" > /dev/null 2>&1 || true; done
        sleep 0.1
    done
    die "node $l: still connected to $peers"
}
# Connects leecher $1 to seeders 0..$2-1 (a no-op for those it holds a connection to),
# checks that it has no other peer and prints the transports used ("quic x4").
only_seeders() {
    local l="$1" k="$2" s peers
    for ((s = 0; s < k; s++)); do
        $T ipfsd "$l" swarm connect "/ip4/198.18.0.$((s + 1))/$via/p2p/${IDS[s]}" > /dev/null \
            || die "node $l could not connect to seeder $s"
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
# Whatever reached the leechers before their firewall goes.
isolate "$ONE"
isolate "$MANY"
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
# The emulator's counters so far (its stats file, rewritten every second; "{}" if none).
emu() { cat "$IPFSD_LAB/emu.stats" 2> /dev/null || echo '{}'; }
# What the emulator saw between two `emu` readings $1 and $2 while leecher $3 fetched:
# packets dropped at full queues (and the uplinks that dropped them), and the seeders'
# traffic to anyone but that leecher (MB; a seeder's link is shared with it).
emu_diff() {
    python3 - "$1" "$2" "$3" "$SEEDERS" << 'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
leecher, seeders = int(sys.argv[3]), int(sys.argv[4])
def at(rows, *ix):
    for i in ix:
        rows = rows[i] if i < len(rows) else 0
        if rows == 0:
            return 0
    return rows
ub = b.get("queue_dropped_up", [])
per = [f"node {i} {n - at(a.get('queue_dropped_up', []), i)}" for i, n in enumerate(ub)
       if n > at(a.get("queue_dropped_up", []), i)]
out = f"{b.get('queue_dropped', 0) - a.get('queue_dropped', 0)} packets dropped at full queues"
if per:
    out += f" ({', '.join(per)} on its uplink)"
mb = b.get("delivered_between", [])
side = [f"{s}->{t} {(n - at(a.get('delivered_between', []), s, t)) / 1e6:.1f} MB"
        for s in range(min(seeders, len(mb))) for t, n in enumerate(mb[s])
        if t != leecher and n - at(a.get("delivered_between", []), s, t) >= 100_000]
if side:
    out += "; seeders to others: " + ", ".join(side)
print(out)
PY
}

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
    # Blocks in the DAG (the root and every block under it, each once).
    NEED=$(($($T ipfsd 0 refs -r -u "$CID" | wc -l) + 1))
    OUT="$IPFSD_LAB/fetched.bin"

    # One seeder.
    over1="$(only_seeders "$ONE" 1)"
    q0="$(emu)"
    secs1="$(fetch "$ONE" "$OUT")"
    sleep 1.2
    q1="$(emu)"

    # Every seeder, with the counters before and after.
    overn="$(only_seeders "$MANY" "$SEEDERS")"
    declare -a SENT0 BLK0 SENT1 BLK1
    for ((s = 0; s < SEEDERS; s++)); do SENT0[s]="$(counter "$s" DataSent)"; BLK0[s]="$(counter "$s" BlocksSent)"; done
    recv0="$(counter "$MANY" BlocksReceived)" dup0="$(counter "$MANY" DupBlksReceived)" dupd0="$(counter "$MANY" DupDataReceived)"
    secsn="$(fetch "$MANY" "$OUT")"
    sleep 1.2
    q2="$(emu)"
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
        -v shares="$shares" -v sum="$SUMMARY" -v need="$NEED" -v d1="$(emu_diff "$q0" "$q1" "$ONE")" -v dn="$(emu_diff "$q1" "$q2" "$MANY")" 'BEGIN {
        m1 = b / 1e6 / s1; mn = b / 1e6 / sn
        l1 = (bps > 0) ? sprintf("%.0f%% of its %s link", 100 * b * 8 / s1 / bps, rate) : "no rate limit"
        ln = (bps > 0) ? sprintf("%.0f%% of %d such links", 100 * b * 8 / sn / bps / k, k) : "no rate limit"
        printf "seeders run %d: 1 seeder:  %.0f MB in %6.2f s = %5.2f MB/s (%s; %s; %s)\n", r, b / 1e6, s1, m1, l1, o1, d1
        printf "seeders run %d: %d seeders: %.0f MB in %6.2f s = %5.2f MB/s = %.2fx one seeder (%s; %s; %s)\n", r, k, b / 1e6, sn, mn, mn / m1, ln, on, dn
        extra = recv - need
        printf "seeders run %d: duplicates: %d of %d blocks received beyond the %d of the DAG (%.2f%%; the node counted %d, %.2f MB); sent by seeder %s\n", r, extra, recv, need, recv ? 100 * extra / recv : 0, dup, dupd / 1e6, shares
        printf "%f %d %d\n", mn / m1, extra, recv >> sum
    }'
    # Empty the leechers' stores (the next run adds a new file anyway).
    $T ipfsd "$ONE" repo gc > /dev/null 2>&1 || true
    $T ipfsd "$MANY" repo gc > /dev/null 2>&1 || true
    rm -f "$FILE" "$OUT"
done
if [ "$RUNS" -gt 1 ]; then
    sort -g "$SUMMARY" | awk -v n="$RUNS" '{ x[NR] = $1; d += $2; b += $3 }
        END { printf "seeders: %d runs: speed-up min %.2fx, median %.2fx, max %.2fx; duplicates %d of %d blocks (%.2f%%)\n",
            n, x[1], (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2, x[n], d, b, b ? 100 * d / b : 0 }'
fi
