#!/usr/bin/env bash
# Self-test of `helia-ipns.mjs` (JS IPNS reference), JS <-> JS over loopback:
#   bash tests/interop/helia_ipns_selftest.sh [OUTDIR]
# 1. vectors -> validate round trip: every vector's validate verdict must equal its
#    `expectValid` (all valid but `expired` and the deliberately broken ones), and the
#    fields read back must match.
# 2. Three `helia-ipns.mjs peer` processes on 127.0.0.1: A and B (DHT servers) and C (--client).
#    B and C connect to A (and must find A in their routing tables). A publishes; B resolves
#    (nocache) and gets the same value and record, answered over GET_VALUE by A; C (a pure
#    client: A never puts to it) resolves too. A publishes again: B gets the new value with a
#    higher sequence. Also: resolving an unknown name fails, a non-loopback connect is
#    refused, bad commands get ok:false, `quit` is clean.
# Every peer has a --seconds watchdog; the whole run is < 60 s (7-9 s here, mostly Node start-ups).
# Prints ONE JSON summary on stdout; exit 0 ok, 1 mismatch/failure.
# OUTDIR (default: a temp dir, removed afterwards unless KEEP=1) holds the vectors and logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="${1:-}"
case "$OUT" in -*) echo "usage: $0 [OUTDIR]" >&2; exit 2 ;; esac
AUTO=0
if [ -z "$OUT" ]; then OUT="$(mktemp -d /tmp/ipfsd-helia-ipns.XXXXXX)"; AUTO=1; fi
mkdir -p "$OUT"
cleanup() { if [ "$AUTO" = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$OUT"; fi; }
trap cleanup EXIT

timeout -k 5 60 "$PYTHON" - "$HERE/helia-ipns.mjs" "$OUT" <<'EOF'
import json, os, subprocess, sys, time
script, out = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        fails.append(what)
    return cond


def node(*args, timeout=30):
    return subprocess.run(["node", script, *args], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- vectors -> validate
vec_file = os.path.join(out, "vectors.json")
r = node("vectors", vec_file)
check(r.returncode == 0, f"vectors exit 0 ({r.stderr.strip()[-200:]})")
vectors = json.load(open(vec_file))
labels = {v["label"] for v in vectors}
for need in ("ed25519-v1v2-default", "ed25519-v2-only", "ipns-path", "large-sequence", "ttl-1h", "expired"):
    check(need in labels, f"vector {need} present")
r = node("validate", vec_file)
check(r.returncode == 0, "validate exit 0")
res = {x["label"]: x for x in json.loads(r.stdout)}
check(len(res) == len(vectors), f"validate answered all {len(vectors)} vectors")
for v in vectors:
    got = res.get(v["label"], {})
    check(got.get("ok") == v["expectValid"], f"validate {v['label']}: ok={got.get('ok')} expected {v['expectValid']} ({got.get('error')})")
    if v["expectValid"]:
        same = all(got.get(k) == v[k] for k in ("value", "sequence", "validity", "ttlNs", "v1", "v2"))
        check(same, f"validate {v['label']}: fields read back equal the vector")
# name in 12D3Koo form works too, and a garbage record is an answer, not a crash
v0 = next(v for v in vectors if v["label"] == "ed25519-v1v2-default")
alt = os.path.join(out, "alt.json")
json.dump([{"label": "peerid-form", "name": v0["peerId"], "record": v0["record"]},
           {"label": "garbage", "name": v0["name"], "record": "AAEC"}], open(alt, "w"))
r = node("validate", alt)
alt_res = {x["label"]: x for x in json.loads(r.stdout)} if r.returncode == 0 else {}
check(alt_res.get("peerid-form", {}).get("ok") is True, "validate accepts a 12D3Koo name")
check(alt_res.get("garbage", {}).get("ok") is False and alt_res["garbage"]["error"], "validate reports a garbage record as invalid")
check(node("validate", os.path.join(out, "missing.json")).returncode == 1, "validate of a missing file exits 1")
check(node("bogus").returncode == 2, "unknown mode exits 2")


# ---------------------------------------------------------------- peers
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
from linepeer import LinePeer  # noqa: E402


class Peer(LinePeer):
    """One `helia-ipns.mjs peer` process; every command is traced on stderr."""

    def __init__(self, name, *extra, seconds=45):
        super().__init__(name, ["node", script, "peer", "--seconds", str(seconds), *extra], out, trace=True)
        print(f"{name}: {self.info['p2p']} {self.info['name']} ({self.info['mode']})", file=sys.stderr)

    def quit(self):
        a, rc = super().quit(10)
        return a.get("ok") is True and rc == 0


t_peers = time.monotonic()
A = Peer("A")
B = Peer("B")
C = Peer("C", "--client")
check(A.info["mode"] == "server" and C.info["mode"] == "client", "A is a DHT server, C a client")
check(all(a.startswith("/ip4/127.0.0.1/tcp/") for p in (A, B, C) for a in p.info["addrs"]), "loopback listen addresses only")
check(A.info["name"].startswith("k51"), "name is k51... (CIDv1 libp2p-key base36)")

a = B(f"connect {A.info['p2p']}")
check(a.get("ok") and a.get("routingTable") is True, "B connect A: A in B's routing table")
a = C(f"connect {A.info['p2p']}")
check(a.get("ok") and a.get("routingTable") is True, "C connect A: A in C's routing table")
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    rt = A("peers").get("routingTable", [])
    if B.info["peerId"] in rt:
        break
    time.sleep(0.1)
check(B.info["peerId"] in rt, "B (server) in A's routing table")
check(C.info["peerId"] not in rt, "C (client) not in A's routing table")

v1 = "/ipfs/bafkreibmmgjmd3dlktsgxxgdf3djo7tog6p2pj3r3fjf2p6g2rflgzudra"
v2 = "/ipfs/bafkreifljjrqiv65id2mzx6yqac4oub3jfgfem4tstlu2ol67kck6hde7a/sub/path"
p1 = A(f"publish {v1}")
check(p1.get("ok") and p1.get("value") == v1 and p1.get("sequence") == "1", "A publish #1 (sequence 1)")
check(p1.get("name") == A.info["name"], "publish name = A's name")
check(B.info["peerId"] in p1.get("putTo", []), "A's PUT_VALUE acknowledged by B")
check(C.info["peerId"] not in p1.get("putTo", []), "no PUT_VALUE to client C")
r1 = B(f"resolve {A.info['name']} nocache")
check(r1.get("ok") and r1.get("value") == v1 and r1.get("sequence") == "1", "B resolves #1 (nocache)")
check(r1.get("record") == p1.get("record"), "B got the exact record A published")
check(A.info["peerId"] in r1.get("sources", []), "B's record came over GET_VALUE from A")
rc = C(f"resolve {A.info['peerId']} nocache")
check(rc.get("ok") and rc.get("value") == v1 and rc.get("bestFrom") == A.info["peerId"], "client C resolves #1 (12D3Koo name) from A")

p2 = A(f"publish {v2} 3600000 1000 v1")
check(p2.get("ok") and p2.get("sequence") == "2" and p2.get("v1") is True and p2.get("ttlNs") == "1000000000", "A publish #2 (sequence 2, V1+V2, TTL 1 s)")
r2 = B(f"resolve {A.info['name']} nocache")
check(r2.get("ok") and r2.get("value") == v2 and int(r2.get("sequence", 0)) > int(r1.get("sequence", 0)), "B resolves #2: new value, higher sequence")
check(r2.get("path") == "sub/path", "B resolves #2: path part")
r2c = B(f"resolve {A.info['name']}")
check(r2c.get("ok") and r2c.get("sequence") == "2", "B resolves #2 again (cache allowed)")

unknown = next(v for v in vectors if v["label"] == "ed25519-v2-only")["name"]
a = B(f"resolve {unknown} nocache")
check(a.get("ok") is False and a.get("error"), f"unknown name: ok:false ({a.get('error')})")
a = B("connect /ip4/10.0.0.1/tcp/4001/p2p/" + A.info["peerId"])
check(a.get("ok") is False, "non-loopback connect refused")
check(B("frobnicate").get("ok") is False, "unknown command: ok:false")
check(A("publish").get("ok") is False, "publish without VALUE: ok:false")
peers = A("peers")
check(peers.get("ok") and B.info["peerId"] in peers.get("peers", []), "peers lists B")
t_net = time.monotonic() - t_peers
for p in (A, B, C):
    check(p.quit(), f"{p.name} quit, exit 0")

summary = {"ok": not fails, "failed": fails, "vectors": len(vectors),
           "peerPhaseSeconds": round(t_net, 2), "seconds": round(time.monotonic() - t0, 2)}
print(json.dumps(summary))
sys.exit(0 if not fails else 1)
EOF
