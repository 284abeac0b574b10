#!/usr/bin/env bash
# A name published on both sides of a partition: one key, held by node 1 (side A) and
# node 4 (side B). During the partition each side publishes its own value, side B last;
# each side resolves its own. After healing, every node must resolve side B's value, the
# newer record (same key, higher sequence or later validity: IPNS's selection rule). What
# each side resolved during the partition is printed and checked too (both publish with
# --allow-offline: a DHT put whose closest peers are across the partition fails).
#
#   sudo bash scripts/testnet/partition.sh [--rtt 40ms] [--debug]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RTT=40ms
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rtt) RTT="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "partition: unknown option $1" >&2; exit 2 ;;
    esac
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-partition}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-part}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
$T up 6 --rtt "$RTT" "${UP[@]}" > /dev/null
# The DHT first: every node's routing table holds the five others (30 s at most). Cut
# earlier, a star is cut while its nodes know only node 0, and side B's nodes cannot find
# each other at all.
tables=
for ((t = 0; t < 60; t++)); do
    tables="$($T status | awk 'NR > 1 && /^[0-9]/ { printf "%s ", $5 }')"
    [ "$(echo "$tables" | tr ' ' '\n' | grep -c '^5$')" = 6 ] && break
    sleep 0.5
done
echo "partition: routing table sizes before the cut: $tables"
# One key on both sides.
$T ipfsd 1 key gen shared > /dev/null
$T ipfsd 1 key export shared -o "$IPFSD_LAB/shared.key" > /dev/null
$T ipfsd 4 key import shared "$IPFSD_LAB/shared.key" > /dev/null
echo "side A's value" > "$IPFSD_LAB/a.txt"
echo "side B's value" > "$IPFSD_LAB/b.txt"
A="$($T ipfsd 1 add -Q "$IPFSD_LAB/a.txt")"
B="$($T ipfsd 4 add -Q "$IPFSD_LAB/b.txt")"
$T partition 0,1,2 3,4,5
NAME="$($T ipfsd 1 name publish --allow-offline --key shared -Q "/ipfs/$A")"
sleep 1
$T ipfsd 4 name publish --allow-offline --key shared -Q "/ipfs/$B" > /dev/null
resolve() { $T ipfsd "$1" name resolve --nocache "/ipns/$NAME" 2> "$IPFSD_LAB/resolve$1.err" || echo "(unresolved: $(tail -1 "$IPFSD_LAB/resolve$1.err"))"; }
before_a="$(resolve 0)" before_b="$(resolve 5)"
$T heal
ok=1 after=()
# During the cut each side resolves its own value.
[ "$before_a" = "/ipfs/$A" ] && [ "$before_b" = "/ipfs/$B" ] || ok=0
# Connections across the cut resume at their transport's next retransmission (backed off
# during the cut: seconds, for TCP and QUIC alike), so a node gets a few tries, 1 s apart.
for i in 0 1 2 3 4 5; do
    for ((try = 1; try <= 5; try++)); do
        r="$(resolve "$i")"
        [ "$r" = "/ipfs/$B" ] && break
        sleep 1
    done
    note=""
    [ "$try" -eq 1 ] || note=" (try $((try > 5 ? 5 : try)))"
    after+=("$i:${r#/ipfs/}$note")
    [ "$r" = "/ipfs/$B" ] || ok=0
done
echo "partition: during it side A resolved ${before_a#/ipfs/} (A = $A), side B ${before_b#/ipfs/} (B = $B)"
echo "partition: after healing: ${after[*]}"
if [ "$ok" = 1 ]; then
    echo "partition: ok: each side resolved its own value during the cut; after healing every node resolves the newer value (B)"
else
    echo "partition: FAILED"
    exit 1
fi
