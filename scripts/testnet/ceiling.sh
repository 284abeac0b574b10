#!/usr/bin/env bash
# The link emulator's own ceiling: one TCP stream between two lab nodes with no delay and
# no rate limit, so the emulator (one core, every packet read, queued and written once) is
# the bottleneck. Prints MB/s and the emulator's CPU seconds per GB moved. With --rtt and
# --rate it is instead what one plain TCP stream gets on such links: the reference for
# the transfer scenario's figures.
#
#   sudo bash scripts/testnet/ceiling.sh [--mb 1000] [--rtt 0] [--rate 0] [--debug]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB=1000 RTT=0 RATE=0
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mb) MB="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "ceiling: unknown option $1" >&2; exit 2 ;;
    esac
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-ceiling}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-ceil}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
$T up 2 --rtt "$RTT" --rate "$RATE" "${UP[@]}" > /dev/null
EMU="$(cat "$IPFSD_LAB/emu.pid")"
cpu() { awk '{ print $14 + $15 }' "/proc/$EMU/stat"; }
TICK="$(getconf CLK_TCK)"
# A receiver on node 1 that counts bytes; a sender on node 0 that writes MB MiB.
$T exec 1 -- python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.2", 9000)); s.listen(1); c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
print(n)' > "$IPFSD_LAB/received" &
RECV=$!
sleep 0.5
before="$(cpu)"
start="$(date +%s.%N)"
$T exec 0 -- python3 -c "
import socket
s = socket.create_connection(('198.18.0.2', 9000)); buf = b'x' * (1 << 20)
for _ in range($MB): s.sendall(buf)
s.close()"
wait "$RECV"
end="$(date +%s.%N)"
after="$(cpu)"
got="$(cat "$IPFSD_LAB/received")"
awk -v b="$got" -v s="$start" -v e="$end" -v c0="$before" -v c1="$after" -v t="$TICK" 'BEGIN {
    secs = e - s; cpu = (c1 - c0) / t
    printf "linkemu (rtt '"$RTT"', rate '"$RATE"'): %.0f MiB in %.2f s = %.1f MB/s (%.0f Mbit/s); emulator CPU %.2f s (%.2f CPU-s per GB)\n",
        b / 1048576, secs, b / 1e6 / secs, b * 8 / 1e6 / secs, cpu, cpu / (b / 1e9) }'
