#!/usr/bin/env bash
# DHT over the lab: N ipfsd nodes (star bootstrap through node 0) at the given RTT; K
# nodes each add a distinct small file (announced to the DHT), then every node looks up
# the provider of every key (`ipfsd routing findprovs -n 1`, which ends at the first
# provider). Prints how many lookups found the right provider and their latency p50/p99.
#
#   sudo bash scripts/testnet/dht.sh [--nodes 30] [--keys 10] [--rtt 40ms] [--debug]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODES=30 KEYS=10 RTT=40ms
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) NODES="$2"; shift 2 ;;
        --keys) KEYS="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "dht: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$KEYS" -le "$NODES" ] || { echo "dht: --keys at most --nodes" >&2; exit 2; }
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-dht}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-dht}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
$T up "$NODES" --rtt "$RTT" "${UP[@]}" > /dev/null
# Let the routing tables fill (each node has looked itself up through node 0 by now).
sleep 5
declare -a CIDS OWNERS
for ((k = 0; k < KEYS; k++)); do
    owner=$(( (k * 7 + 1) % NODES ))
    echo "dht scenario key $k $RANDOM$RANDOM" > "$IPFSD_LAB/key$k.txt"
    CIDS[k]="$($T ipfsd "$owner" add -Q "$IPFSD_LAB/key$k.txt")"
    OWNERS[k]="$($T id "$owner")"
    $T ipfsd "$owner" routing provide "${CIDS[k]}" > /dev/null 2>&1 || true
done
: > "$IPFSD_LAB/lookups"
found=0 total=0
for ((i = 0; i < NODES; i++)); do
    for ((k = 0; k < KEYS; k++)); do
        start="$(date +%s%N)"
        out="$($T ipfsd "$i" routing findprovs -n 1 "${CIDS[k]}" 2> /dev/null || true)"
        end="$(date +%s%N)"
        total=$((total + 1))
        if echo "$out" | grep -q "${OWNERS[k]}"; then
            found=$((found + 1))
            echo $(( (end - start) / 1000000 )) >> "$IPFSD_LAB/lookups"
        fi
    done
done
sort -n "$IPFSD_LAB/lookups" | awk -v f="$found" -v t="$total" -v n="$NODES" -v rtt="$RTT" '
    { v[NR] = $1 }
    END {
        if (NR == 0) { printf "dht: 0 of %d lookups found the provider\n", t; exit 1 }
        p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
        printf "dht: %d nodes at rtt %s: %d of %d lookups found the provider; latency p50 %d ms, p99 %d ms (each through the CLI and the RPC API)\n",
            n, rtt, f, t, p50, p99 }'
