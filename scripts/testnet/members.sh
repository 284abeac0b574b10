#!/usr/bin/env bash
# Mixed members and a NAT: four ipfsd nodes (node 3 behind its own NAT), a Kubo member
# (node 4) and a Helia member (node 5), all joined through node 0 at the given RTT. Each
# kind adds a file of random bytes and the others read it. Nobody but node 0 was told about
# anyone: peers meet through the DHT (a lab this small is soon fully connected, so BitSwap
# may find a holder among its connections before a provider lookup answers):
#   ipfsd node 1 adds → Kubo, Helia and the NAT'd node 3 read it;
#   Helia adds → ipfsd node 2 and Kubo read it;
#   Kubo adds → ipfsd node 1 and Helia read it;
#   the NAT'd node 3 adds → node 0 reads it (over the connection node 3 opened: nothing
#   can dial into a NAT).
# Prints one line per read and "members: ok" when every read matched byte for byte.
#
#   sudo bash scripts/testnet/members.sh [--kb 512] [--rtt 40ms] [--debug]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KB=512 RTT=40ms
UP=()
while [ $# -gt 0 ]; do
    case "$1" in
        --kb) KB="$2"; shift 2 ;;
        --rtt) RTT="$2"; shift 2 ;;
        --debug) UP+=(--debug); shift ;;
        *) echo "members: unknown option $1" >&2; exit 2 ;;
    esac
done
export IPFSD_LAB="${IPFSD_LAB:-/tmp/ipfsd-lab-members}" IPFSD_LAB_PREFIX="${IPFSD_LAB_PREFIX:-memb}"
T="bash $HERE/../testnet.sh"
trap '$T down' EXIT
$T up 4 --nat 1 --kubo 1 --helia 1 --rtt "$RTT" "${UP[@]}" > /dev/null
KUBO=4 HELIA=5 NAT=3
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

# Every node has a peer before anything is added (a daemon's bootstrap dial may still be
# under way when its API answers): 30 s at most.
for ((t = 0; ; t++)); do
    lonely="$($T status | awk 'NR > 1 && /^[0-9]/ && $4 == 0 { print $1 }' | tr '\n' ' ')"
    [ -z "$lonely" ] && break
    [ "$t" -lt 60 ] || { echo "members: FAILED: nodes without peers: $lonely"; exit 1; }
    sleep 0.5
done

failed=0
payload() { head -c "$((KB * 1024))" /dev/urandom > "$IPFSD_LAB/$1.bin"; echo "$IPFSD_LAB/$1.bin"; }
# read_by WHO FILE CID: WHO (an ipfsd node number, or kubo / helia) reads CID and compares.
read_by() {
    local who="$1" file="$2" cid="$3" out="$IPFSD_LAB/read.$RANDOM" start end answer ok=1 why=
    start="$(date +%s.%N)"
    case "$who" in
        kubo|helia)
            local i="$KUBO"
            [ "$who" = helia ] && i="$HELIA"
            answer="$($T "$who" "$i" fetch "$cid" "$out" 120)"
            echo "$answer" | grep -q '"ok": *true' || { ok=0; why="$(echo "$answer" | field error)"; } ;;
        *)
            timeout 120 $T ipfsd "$who" cat "$cid" > "$out" 2> "$out.err" || { ok=0; why="$(tail -1 "$out.err")"; } ;;
    esac
    end="$(date +%s.%N)"
    if [ "$ok" = 1 ] && cmp -s "$file" "$out"; then
        printf '  %-6s read %s in %.2f s\n' "$who" "${cid:0:16}…" "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')"
    else
        echo "  $who could not read $cid: ${why:-different bytes}"
        failed=1
    fi
    rm -f "$out" "$out.err"
}

F="$(payload from-ipfsd)"
CID="$($T ipfsd 1 add -Q "$F")"
echo "members: ipfsd node 1 added $CID"
read_by kubo "$F" "$CID"
read_by helia "$F" "$CID"
read_by "$NAT" "$F" "$CID"

F="$(payload from-helia)"
CID="$($T helia "$HELIA" add "$F" | field cid)"
echo "members: Helia added $CID"
read_by 2 "$F" "$CID"
read_by kubo "$F" "$CID"

F="$(payload from-kubo)"
CID="$($T kubo "$KUBO" add "$F" | field cid)"
echo "members: Kubo added $CID"
read_by 1 "$F" "$CID"
read_by helia "$F" "$CID"

F="$(payload from-nat)"
CID="$($T ipfsd "$NAT" add -Q "$F")"
echo "members: node $NAT (behind a NAT) added $CID"
read_by 0 "$F" "$CID"

if [ "$failed" = 0 ]; then
    echo "members: ok: every read matched byte for byte (rtt $RTT, $KB KiB files)"
else
    echo "members: FAILED"
    exit 1
fi
