#!/usr/bin/env bash
# Lab benchmark: 100 MB ipfsd->ipfsd and Kubo->Kubo on identical emulated links at
# 100 Mbit/s and RTT 0 / 20 / 80 / 200 ms (scripts/testnet/transfer.sh, release build),
# each over what the nodes choose given TCP and QUIC addresses (QUIC, for both) and over
# TCP alone; then the link emulator's own ceiling (scripts/testnet/ceiling.sh). As root.
#
#   sudo bash scripts/bench-testnet.sh [--mb 100] [--rtts "0ms 20ms 80ms 200ms"] [--rate 100mbit]
#                                      [--transports "both tcp"]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB=100 RTTS="0ms 20ms 80ms 200ms" RATE=100mbit TRANSPORTS="both tcp"
while [ $# -gt 0 ]; do
    case "$1" in
        --mb) MB="$2"; shift 2 ;;
        --rtts) RTTS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --transports) TRANSPORTS="$2"; shift 2 ;;
        *) echo "bench-testnet: unknown option $1" >&2; exit 2 ;;
    esac
done
echo "machine: $(nproc) CPU(s); $(uname -sm); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit:  $(cd "$HERE/.." && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for rtt in $RTTS; do
    for t in $TRANSPORTS; do
        timeout 1800 bash "$HERE/testnet/transfer.sh" --mb "$MB" --rtt "$rtt" --rate "$RATE" \
            --impl both --transport "$t" | grep '^transfer'
    done
done
timeout 600 bash "$HERE/testnet/ceiling.sh" --mb 1000 | grep '^linkemu'
