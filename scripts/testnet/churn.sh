#!/usr/bin/env bash
# Churn while fetching: 6 nodes at the given RTT and rate; nodes 1 and 2 both hold a file;
# node 5 fetches it while a third of the nodes (2 and 3, one of them a seeder) are killed
# one second in and restarted three seconds later. Prints whether the fetch completed byte
# for byte, and how long it took.
#
#   sudo bash scripts/testnet/churn.sh [--mb 20] [--rtt 40ms] [--rate 100mbit] [--debug]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB=20 RTT=40ms RATE=100mbit
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mb) MB="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "churn: unknown option $1" >&2; exit 2 ;;
    esac
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-churn}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-churn}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
$T up 6 --rtt "$RTT" --rate "$RATE" "${UP[@]}" > /dev/null
FILE="$IPFSD_LAB/payload.bin"
head -c "$((MB * 1000000))" /dev/urandom > "$FILE"
CID="$($T ipfsd 1 add -Q "$FILE")"
$T ipfsd 2 pin add "$CID" > /dev/null
start="$(date +%s.%N)"
$T ipfsd 5 cat "$CID" > "$IPFSD_LAB/fetched.bin" 2> "$IPFSD_LAB/fetch.err" &
FETCH=$!
sleep 1
$T kill 2; $T kill 3
sleep 3
$T restart 2 2> /dev/null; $T restart 3 2> /dev/null
status=0
wait "$FETCH" || status=$?
end="$(date +%s.%N)"
secs="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')"
if [ "$status" = 0 ] && cmp -s "$FILE" "$IPFSD_LAB/fetched.bin"; then
    echo "churn: ok: $MB MB fetched byte for byte in $secs s while nodes 2 (a seeder) and 3 were killed and restarted (rtt $RTT, rate $RATE)"
else
    echo "churn: FAILED after $secs s: $(tail -1 "$IPFSD_LAB/fetch.err") ($(stat -c %s "$IPFSD_LAB/fetched.bin") of $((MB * 1000000)) bytes)"
    exit 1
fi
