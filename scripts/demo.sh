#!/usr/bin/env bash
# Builds ipfsd and runs its main job on an embedded default: a fresh repository in a temp
# directory, a generated sample tree (a small web page, a 3 MB file, an empty dir), then
# add → ls → cat → pin → gc → CAR export/import into a second repo → verify, and the same
# repo served by `ipfsd daemon` (RPC API on 127.0.0.1, any free port) that the CLI then
# goes through, and a second daemon that connects to it and finds it through the DHT as
# the provider of the site and reads the site through an IPNS name the first publishes.
# No network beyond loopback, no external services, no public
# bootstrap peers. Leaves nothing behind.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p ipfsd-cli
BIN="$ROOT/target/release/ipfsd"
WORK="$(mktemp -d /tmp/ipfsd-demo.XXXXXX)"
DAEMON_PID=""; DAEMON2_PID=""
trap 'for p in $DAEMON_PID $DAEMON2_PID; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
A="$WORK/repo-a"; B="$WORK/repo-b"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "ipfsd $*"; "$BIN" "$@"; }

mkdir -p "$WORK/site/assets" "$WORK/site/empty"
printf '<!doctype html><title>ipfsd</title><h1>Hello from ipfsd</h1>\n' > "$WORK/site/index.html"
printf 'body { font-family: sans-serif }\n' > "$WORK/site/assets/style.css"
python3 - "$WORK/site/assets/data.bin" <<'PY'
import random, sys
random.seed(7)
open(sys.argv[1], "wb").write(random.randbytes(3 * 1024 * 1024))
PY

run --repo "$A" init
run --repo "$A" add -r "$WORK/site"
ROOT_CID="$("$BIN" --repo "$A" add -r -Q "$WORK/site")"
run --repo "$A" ls "$ROOT_CID"
run --repo "$A" cat "$ROOT_CID/index.html"
step "ipfsd add -n --profile unixfs-v1-2025 -r site   (same tree, CIDv1 profile, nothing stored)"
"$BIN" --repo "$A" add -n -Q --profile unixfs-v1-2025 -r "$WORK/site"
run --repo "$A" pin ls --type recursive
run --repo "$A" repo stat
step "ipfsd dag export $ROOT_CID > site.car"
"$BIN" --repo "$A" dag export "$ROOT_CID" > "$WORK/site.car"
ls -l "$WORK/site.car"
run --repo "$B" init
run --repo "$B" dag import "$WORK/site.car"
step "ipfsd cat $ROOT_CID/assets/data.bin | cmp - site/assets/data.bin   (from the second repo)"
"$BIN" --repo "$B" cat "$ROOT_CID/assets/data.bin" | cmp - "$WORK/site/assets/data.bin" && echo "identical"
run --repo "$A" pin rm "$ROOT_CID"
run --repo "$A" repo gc -q
run --repo "$A" repo stat
run --repo "$B" repo verify

wait_api() { for _ in $(seq 1 500); do [ -s "$1/api" ] && break; sleep 0.01; done; }
step "ipfsd --repo repo-b daemon --api-addr /ip4/127.0.0.1/tcp/0 --gateway-addr /ip4/127.0.0.1/tcp/0 --swarm-addr /ip4/127.0.0.1/tcp/0 &"
RUST_LOG=warn "$BIN" --repo "$B" daemon --api-addr /ip4/127.0.0.1/tcp/0 --gateway-addr /ip4/127.0.0.1/tcp/0 --swarm-addr /ip4/127.0.0.1/tcp/0 &
DAEMON_PID=$!
wait_api "$B"
echo "RPC API at $(cat "$B/api")"
run --repo "$B" id
run --repo "$B" ls "$ROOT_CID"
step "echo 'added through the daemon' | ipfsd add"
echo 'added through the daemon' | "$BIN" --repo "$B" add
run --repo "$B" routing provide "$ROOT_CID"
GW="$(cat "$B/gateway")"
step "curl $GW/ipfs/$ROOT_CID/   (the HTTP gateway: the site's index.html)"
curl -sS --fail --max-time 10 "$GW/ipfs/$ROOT_CID/" | cmp - "$WORK/site/index.html" && echo "identical"
step "curl $GW/ipfs/$ROOT_CID/assets/   (a directory listing)"
curl -sS --fail --max-time 10 "$GW/ipfs/$ROOT_CID/assets/" -o "$WORK/listing.html"
grep -o '<a href="./[^"]*">[^<]*</a>' "$WORK/listing.html" || { echo "no entries in the listing" >&2; exit 1; }
step "curl -r 0-15 $GW/ipfs/$ROOT_CID/assets/data.bin | cmp - <(head -c 16 site/assets/data.bin)   (a range)"
curl -sS --fail --max-time 10 -r 0-15 "$GW/ipfs/$ROOT_CID/assets/data.bin" | cmp - <(head -c 16 "$WORK/site/assets/data.bin") && echo "identical"
step "curl '$GW/ipfs/$ROOT_CID?format=car' | ipfsd --repo repo-c dag import   (a trustless CAR)"
curl -sS --fail --max-time 30 "$GW/ipfs/$ROOT_CID?format=car" -o "$WORK/from-gateway.car"
run --repo "$WORK/repo-c" init
run --repo "$WORK/repo-c" dag import "$WORK/from-gateway.car"

step "ipfsd --repo repo-a daemon ... &   (a second peer on loopback)"
RUST_LOG=warn "$BIN" --repo "$A" daemon --api-addr /ip4/127.0.0.1/tcp/0 --gateway-addr /ip4/127.0.0.1/tcp/0 --swarm-addr /ip4/127.0.0.1/tcp/0 >/dev/null &
DAEMON2_PID=$!
wait_api "$A"
B_ADDR="$("$BIN" --repo "$B" swarm addrs local --id | head -n1)"
B_ID="${B_ADDR##*/p2p/}"
run --repo "$A" swarm connect "$B_ADDR"
run --repo "$A" swarm peers
run --repo "$A" routing findprovs "$ROOT_CID"
run --repo "$A" routing findpeer "$B_ID"
step "ipfsd --repo repo-a cat $ROOT_CID/assets/data.bin | cmp - site/assets/data.bin   (repo-a collected it: BitSwap fetches it from repo-b)"
"$BIN" --repo "$A" cat "$ROOT_CID/assets/data.bin" | cmp - "$WORK/site/assets/data.bin" && echo "identical"
A_ADDR="$("$BIN" --repo "$A" swarm addrs local --id | head -n1)"
run --repo "$A" bitswap stat
run --repo "$B" bitswap ledger "${A_ADDR##*/p2p/}"
step "ipfsd --repo repo-b name publish $ROOT_CID   (a signed IPNS record, put to the DHT)"
NAME="$("$BIN" --repo "$B" name publish -Q "$ROOT_CID")"
echo "Published to $NAME: /ipfs/$ROOT_CID"
run --repo "$A" name resolve --nocache "$NAME"
step "ipfsd --repo repo-a cat /ipns/$NAME/index.html | cmp - site/index.html   (through the name)"
"$BIN" --repo "$A" cat "/ipns/$NAME/index.html" | cmp - "$WORK/site/index.html" && echo "identical"
run --repo "$A" shutdown
run --repo "$B" shutdown
wait "$DAEMON_PID" "$DAEMON2_PID" || true
DAEMON_PID=""; DAEMON2_PID=""
printf '\ndemo complete\n'
