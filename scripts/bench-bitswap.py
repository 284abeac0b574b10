#!/usr/bin/env python3
"""Benchmark of BitSwap between separate ipfsd daemon processes over loopback.

    python3 scripts/bench-bitswap.py [--size-mb 100] [--runs 3] [--seeders 4] [--downloaders 20]
                                     [--dl-mb 20] [--seeder-rate 25] [--ttfb-files 10]
                                     [--time-limit 300] [--kubo] [--keep] [--bin PATH]

Builds the release binary (unless --bin is given), then measures:
  1. ipfsd -> ipfsd throughput: a seeder daemon holds a --size-mb pseudo-random file; each of
     --runs runs starts a FRESH leecher repo + daemon connected to the seeder and times
     `ipfsd cat CID` on it, from start to the last byte (target >= 250 MB/s, 5x the ~50 MB/s
     Kubo -> Kubo figure; --kubo also runs tests/interop/kubo_bitswap_selftest.sh --bench for
     the Kubo -> Kubo baseline on this host).
  2. time to first byte of `ipfsd cat` on an already connected leecher, for --ttfb-files
     distinct 1 KiB and 256 KiB files held by the seeder (median / p90; the same for a local
     `cat` on the seeder itself, i.e. the CLI + RPC overhead without BitSwap).
  3. many seeders: the same file added on --seeders daemons; a fresh leecher connected to all
     of them vs. a fresh leecher connected to one (goal: faster from many than from one), with
     the share of the bytes each seeder sent and the duplicate blocks. With --seeder-rate N > 0
     (MB/s) this is repeated with every seeder capped by Bitswap.UploadRate: on a host with
     few cores every process shares the CPUs, so uncapped the leecher is the bottleneck.
  4. memory under load: a fresh seeder with a --dl-mb file and --downloaders fresh leecher
     daemons all connected to it, each running `cat` at once; the seeder's VmHWM before and
     after (and VmRSS), wall time, aggregate MB/s. Everything is stopped after --time-limit s.
Every download's byte count is checked (and its sha256 in scenario 1's first run and
scenario 4). Every daemon listens and dials on 127.0.0.1 only (ephemeral API and swarm ports,
no bootstrap peers, no mDNS); every subprocess has a timeout; daemons are shut down at exit;
inputs are deterministic pseudo-random bytes in a temp dir removed at exit (unless --keep).
MB = 2^20 bytes. Exit status 1 when a download failed or differs (targets only say FAIL).

Helpers (write_input, run, proc_kib, Daemon) come from scripts/bench-daemon.py.
"""
import argparse, fcntl, hashlib, importlib.util, json, os, re, selectors, shutil, signal, statistics
import subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("bench_daemon", os.path.join(ROOT, "scripts", "bench-daemon.py"))
bd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bd)

MIB = 1 << 20
CMD_TIMEOUT = 60  # seconds, for the short commands (id, swarm connect, stats, config)
POW = "4"  # identity proof-of-work difficulty: keeps `init` fast
BENIGN = ("Failed to trigger bootstrap",)  # log lines expected with no bootstrap peers


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 8192))
            lines = f.read().decode(errors="replace").splitlines()[-n:]
        return "\n    ".join([""] + lines)
    except OSError:
        return ""


def cli(binary, repo, *args, timeout=CMD_TIMEOUT):
    """Runs `ipfsd --repo REPO ARGS` (killed after `timeout` s); answers its stdout."""
    cmd = [binary, "--repo", repo, *args]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(cmd)}: no answer within {timeout} s")
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace').strip()}")
    return p.stdout.decode()


def cli_json(binary, repo, *args):
    return json.loads(cli(binary, repo, *args))


def bd_run(cmd):
    """bench-daemon.py's run(), whose failure (sys.exit) becomes a Failure here."""
    try:
        return bd.run(cmd)
    except SystemExit as e:
        raise Failure(str(e))
    except subprocess.TimeoutExpired as e:
        raise Failure(f"{' '.join(cmd)}: no answer within {e.timeout} s")


def init_repo(binary, repo, upload_rate=0):
    bd_run([binary, "--repo", repo, "init", "--pow-difficulty", POW])
    if upload_rate:
        cli(binary, repo, "config", "Bitswap.UploadRate", str(upload_rate), "--json")


def add(binary, repo, path):
    _, out = bd_run([binary, "--repo", repo, "add", "-Q", path])
    return out.decode().strip()


def dag_blocks(binary, repo, cid):
    """How many distinct blocks the DAG under `cid` has (the root included)."""
    return 1 + len(set(cli(binary, repo, "refs", "-r", "-u", cid).split()))


DAEMONS = []  # every daemon started, so that the end stops each
_start_lock = threading.Lock()


class Daemon(bd.Daemon):
    """bench-daemon.py's Daemon, plus `--swarm-addr /ip4/127.0.0.1/tcp/0`, its output in
    REPO.log (RUST_LOG=level), its own addresses checked to be loopback only, and a stop()
    that may be called more than once. bench-daemon.py starts the process with a literal
    command line, so while it starts, the `subprocess` module it sees is a stand-in whose
    Popen adds the swarm address, the log file and the environment."""

    def __init__(self, binary, repo, level="warn"):
        self.log_path = repo + ".log"
        self.stopped = False
        api = os.path.join(repo, "api")
        if os.path.exists(api):  # left by an earlier daemon of this repo that was killed
            os.remove(api)
        logf = open(self.log_path, "ab")
        env = dict(os.environ, RUST_LOG=level)
        extra = ["--swarm-addr", "/ip4/127.0.0.1/tcp/0"]

        class Subprocess:
            def __getattr__(self, name):
                return getattr(subprocess, name)

            @staticmethod
            def Popen(cmd, **kw):
                assert cmd[3] == "daemon" and "/ip4/127.0.0.1/tcp/0" in cmd, cmd
                kw.update(stdout=logf, stderr=logf, env=env)
                return subprocess.Popen(cmd + extra, **kw)

        with _start_lock:
            bd.subprocess = Subprocess()
            try:
                super().__init__(binary, repo)
            except SystemExit:
                if getattr(self, "proc", None) is not None and self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                raise Failure(f"daemon {os.path.basename(repo)} did not start:{tail(self.log_path)}")
            finally:
                bd.subprocess = subprocess
                logf.close()
        DAEMONS.append(self)
        self.name = os.path.basename(repo)
        ident = cli_json(binary, repo, "id")
        self.peer_id = ident["ID"]
        addrs = ident.get("Addresses") or []
        bad = [a for a in addrs if not a.startswith("/ip4/127.0.0.1/")]
        if bad or not addrs:
            self.stop()
            raise Failure(f"daemon {self.name} listens on {addrs}: not loopback only")
        self.addr = next((a for a in addrs if a.startswith("/ip4/127.0.0.1/tcp/")), None)
        if not self.addr:
            self.stop()
            raise Failure(f"daemon {self.name} has no /ip4/127.0.0.1/tcp/ address: {addrs}")
        if "/p2p/" not in self.addr:
            self.addr += "/p2p/" + self.peer_id

    def kib(self, field):
        return bd.proc_kib(self.proc.pid, field) if self.proc.poll() is None else 0

    def stat(self):
        return cli_json(self.binary, self.repo, "bitswap", "stat", "--json")

    def ledger(self, peer):
        return cli_json(self.binary, self.repo, "bitswap", "ledger", peer, "--json")

    def connect(self, other):
        assert other.addr.startswith("/ip4/127.0.0.1/tcp/"), other.addr
        cli(self.binary, self.repo, "swarm", "connect", other.addr)
        t = time.perf_counter()
        while other.peer_id not in cli(self.binary, self.repo, "swarm", "peers"):
            if time.perf_counter() - t > 10:
                raise Failure(f"{self.name}: {other.name} not among the peers 10 s after `swarm connect`")
            time.sleep(0.05)

    def stop(self):
        if not self.stopped:
            self.stopped = True
            try:
                super().stop()
            except subprocess.TimeoutExpired:  # `shutdown` hung: bd.Daemon.stop() did not kill
                self.proc.kill()
                self.proc.wait()


def start(binary, work, name, level, upload_rate=0, init=True):
    repo = os.path.join(work, name)
    if init:
        init_repo(binary, repo, upload_rate)
    return Daemon(binary, repo, level)


def stop_all(daemons):
    for d in daemons:
        d.stop()


class Cat:
    """`ipfsd --repo REPO cat CID`, its stdout read here as it arrives (counted, optionally
    hashed), timed from the start to the first byte and to the end of the output."""

    def __init__(self, binary, repo, cid, digest=False):
        self.name, self.cid = os.path.basename(repo), cid
        self.err = tempfile.TemporaryFile()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([binary, "--repo", repo, "cat", cid], stdout=subprocess.PIPE, stderr=self.err)
        self.fd = self.proc.stdout.fileno()
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, MIB)
        except OSError:
            pass
        os.set_blocking(self.fd, False)
        self.bytes, self.first, self.end, self.rc, self.timed_out = 0, None, None, None, False
        self.hash = hashlib.sha256() if digest else None

    def readable(self):
        """Reads what is there; answers False at the end of the output."""
        try:
            data = os.read(self.fd, MIB)
        except BlockingIOError:
            return True
        if not data:
            self.end = time.perf_counter()
            return False
        if self.first is None:
            self.first = time.perf_counter()
        self.bytes += len(data)
        if self.hash:
            self.hash.update(data)
        return True

    @property
    def seconds(self):
        return self.end - self.t0

    @property
    def ttfb(self):
        return self.first - self.t0

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace").strip()[-800:]

    def check(self, size, sha=None):
        """Answers None when the download is complete and correct, else what is wrong."""
        if self.timed_out:
            return f"{self.name}: cat {self.cid} still running after the time limit, {self.bytes} of {size} bytes"
        if self.rc != 0:
            return f"{self.name}: cat {self.cid} failed ({self.rc}) after {self.bytes} bytes: {self.stderr()}"
        if self.bytes != size:
            return f"{self.name}: cat {self.cid} printed {self.bytes} bytes, expected {size}"
        if sha and self.hash and self.hash.hexdigest() != sha:
            return f"{self.name}: cat {self.cid}: sha256 {self.hash.hexdigest()} differs from the input's {sha}"
        return None


def drain(cats, limit_s, tick=None):
    """Reads every cat's output until each ends, or kills the rest after `limit_s` s.
    `tick` is called about every 50 ms (sampling)."""
    sel = selectors.DefaultSelector()
    for c in cats:
        sel.register(c.fd, selectors.EVENT_READ, c)
    deadline = time.perf_counter() + limit_s
    while sel.get_map():
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        for key, _ in sel.select(timeout=min(left, 0.05)):
            if not key.data.readable():
                sel.unregister(key.fd)
        if tick:
            tick()
    sel.close()
    for c in cats:
        if c.end is None:
            c.timed_out = True
            c.proc.kill()
        try:
            c.rc = c.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.rc = c.proc.wait()
        c.proc.stdout.close()
    return cats


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    return h.hexdigest()


def pctl(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))]


def fmt_runs(xs, f="{:.0f}"):
    return "runs: " + " ".join(f.format(x) for x in xs)


class Report:
    def __init__(self):
        self.rows, self.notes, self.errors = [], [], []

    def row(self, name, val, target="", ok=None, detail=""):
        self.rows.append((name, val, target, ok, detail))

    def note(self, msg):
        self.notes.append(msg)
        log("note: " + msg)

    def error(self, msg):
        self.errors.append(msg)
        log("ERROR: " + msg)


def scenario_throughput(a, binary, work, rep, seeder, src, cid, sha):
    log(f"1. {a.runs} runs: fresh leecher <- seeder, cat {a.size_mb} MiB")
    size = a.size_mb * MIB
    nblocks = dag_blocks(binary, seeder.repo, cid)
    secs, ttfbs, hwms, dups, extra = [], [], [], [], []
    for i in range(a.runs):
        leech = start(binary, work, f"leech1-{i}", a.log_level)
        try:
            leech.connect(seeder)
            c = drain([Cat(binary, leech.repo, cid, digest=(i == 0))], a.time_limit)[0]
            bad = c.check(size, sha if i == 0 else None)
            if bad:
                rep.error("scenario 1: " + bad + tail(leech.log_path, 8))
                continue
            secs.append(c.seconds)
            ttfbs.append(c.ttfb)
            hwms.append(leech.kib("VmHWM") / 1024)
            st = leech.stat()
            dups.append(st["DupBlksReceived"])
            extra.append(st["BlocksReceived"] - nblocks)
            sp = seeder.ledger(leech.peer_id).get("SendProbability")
            log(f"   run {i + 1}: {a.size_mb / c.seconds:.0f} MB/s ({c.seconds:.2f} s, first byte after "
                f"{c.ttfb * 1000:.0f} ms), {st['BlocksReceived']} blocks (DAG: {nblocks}) in {st['MessagesReceived']} messages, "
                f"{st['DupBlksReceived']} duplicates, leecher VmHWM {hwms[-1]:.0f} MiB, seeder's send "
                f"probability to it now {sp}" + (", sha256 ok" if i == 0 else ""))
        finally:
            leech.stop()
            shutil.rmtree(leech.repo, ignore_errors=True)
    if not secs:
        rep.row(f"1 seeder -> fresh leecher, cat {a.size_mb} MiB", "no run", ">= 250 MB/s", False)
        return None
    mbps = [a.size_mb / s for s in secs]
    med = a.size_mb / statistics.median(secs)
    rep.row(f"1 seeder -> fresh leecher, cat {a.size_mb} MiB", f"{med:.0f} MB/s", ">= 250 MB/s", med >= 250,
            fmt_runs(mbps) + (", sha256 checked in run 1" if sha else ""))
    rep.row("  first byte of that cat (median)", f"{statistics.median(ttfbs) * 1000:.0f} ms")
    rep.row("  leecher peak RSS (median VmHWM)", f"{statistics.median(hwms):.0f} MiB")
    rep.row("  duplicate blocks received (total)", f"{sum(dups)}", "0", sum(dups) == 0,
            f"blocks received - DAG blocks, per run: {' '.join(map(str, extra))} (DAG: {nblocks} blocks)")
    return med


def scenario_ttfb(a, binary, work, rep, seeder):
    log(f"2. time to first byte, {a.ttfb_files} distinct files of 1 KiB and of 256 KiB")
    leech = start(binary, work, "leech-ttfb", a.log_level)
    try:
        leech.connect(seeder)
        for size in (1024, 256 * 1024):
            remote, local = [], []
            for i in range(a.ttfb_files):
                path = os.path.join(work, f"small-{size}-{i}.bin")
                data = os.urandom(size)
                with open(path, "wb") as f:
                    f.write(data)
                cid = add(binary, seeder.repo, path)
                sha = hashlib.sha256(data).hexdigest()
                c = drain([Cat(binary, leech.repo, cid, digest=True)], min(a.time_limit, 120))[0]
                bad = c.check(size, sha)
                if bad:
                    rep.error("scenario 2: " + bad)
                    continue
                remote.append(c.ttfb * 1000)
                c = drain([Cat(binary, seeder.repo, cid)], 60)[0]
                if not c.check(size):
                    local.append(c.ttfb * 1000)
            label = "1 KiB" if size == 1024 else "256 KiB"
            if remote:
                rep.row(f"time to first byte, {label} over BitSwap",
                        f"{statistics.median(remote):.1f} ms", detail=f"p90 {pctl(remote, 90):.1f} ms, "
                        f"max {max(remote):.1f} ms, {len(remote)} files")
            else:
                rep.row(f"time to first byte, {label} over BitSwap", "no run", "", False)
            if local:
                rep.row(f"  same, local cat on the seeder", f"{statistics.median(local):.1f} ms",
                        detail=f"p90 {pctl(local, 90):.1f} ms (CLI + RPC, no BitSwap)")
        st = leech.stat()
        if st["DupBlksReceived"]:
            rep.note(f"scenario 2: the TTFB leecher received {st['DupBlksReceived']} duplicate blocks")
    finally:
        leech.stop()
        shutil.rmtree(leech.repo, ignore_errors=True)


def fetch_from(a, binary, work, rep, name, connect, seeders, cid, tag):
    """A fresh leecher connected to `connect` cats `cid`; answers (MB/s, % of the bytes from each
    of `seeders`, duplicate blocks) or None. (Connected to one seeder, a leecher may still find
    other running seeders as providers through the DHT.)"""
    leech = start(binary, work, name, a.log_level)
    try:
        for s in connect:
            leech.connect(s)
        c = drain([Cat(binary, leech.repo, cid)], a.time_limit)[0]
        bad = c.check(a.size_mb * MIB)
        if bad:
            rep.error(f"scenario 3 ({tag}): " + bad + tail(leech.log_path, 8))
            return None
        recv = [leech.ledger(s.peer_id).get("Recv", 0) for s in seeders]
        st = leech.stat()
        shares = [100 * r / max(1, sum(recv)) for r in recv]
        log(f"   {tag}: {a.size_mb / c.seconds:.0f} MB/s ({c.seconds:.2f} s), bytes per seeder "
            f"{'/'.join(f'{x:.0f}%' for x in shares)}, {st['DupBlksReceived']} duplicate blocks "
            f"({st['DupDataReceived'] / MIB:.1f} MiB), {len(st['Peers'])} peers")
        return a.size_mb / c.seconds, shares, st["DupBlksReceived"]
    finally:
        leech.stop()
        shutil.rmtree(leech.repo, ignore_errors=True)


class Seeders:
    """The seeders of scenario 3: seed1 (scenario 1's) and seed2.. created on first use, each
    holding the same file; `only(k, rate)` makes exactly the first k run, with
    Bitswap.UploadRate = rate MB/s (0: none; set while stopped, so a change restarts them)."""

    def __init__(self, a, binary, work, first, src, cid):
        self.a, self.binary, self.work, self.src, self.cid = a, binary, work, src, cid
        self.d, self.rate = {1: first}, {1: 0}

    def only(self, k, rate_mb):
        for i, d in self.d.items():
            if i > k:
                d.stop()
        out = []
        for i in range(1, k + 1):
            d = self.d.get(i)
            if d is None or d.stopped or self.rate[i] != rate_mb:
                if d is not None:
                    d.stop()
                repo = os.path.join(self.work, f"seed{i}")
                new = not os.path.isdir(repo)
                if new:
                    init_repo(self.binary, repo)
                cli(self.binary, repo, "config", "Bitswap.UploadRate", str(rate_mb * MIB), "--json")
                d = self.d[i] = Daemon(self.binary, repo, self.a.log_level)
                self.rate[i] = rate_mb
                if new and add(self.binary, repo, self.src) != self.cid:
                    raise Failure(f"seed{i}: the same bytes were not added as {self.cid}")
            out.append(d)
        return out


def scenario_many(a, binary, work, rep, pool, cid, rate_mb):
    n = a.seeders
    cap = f", each seeder capped at {rate_mb} MB/s" if rate_mb else ", uncapped"
    tag = f" (cap {rate_mb} MB/s each)" if rate_mb else ""
    log(f"3. {a.runs} runs: 1 seeder vs. {n} seeders{cap}")
    one, alone, many, shares_alone, shares_many, dups = [], [], [], [], [], 0
    seeders = pool.only(1, rate_mb)  # the others stopped: they could be found through the DHT
    for i in range(a.runs):
        r = fetch_from(a, binary, work, rep, f"leech3-one-{rate_mb}-{i}", seeders, seeders, cid,
                       f"run {i + 1}, the only seeder running")
        if r:
            one.append(r[0])
    seeders = pool.only(n, rate_mb)
    for i in range(a.runs):
        r = fetch_from(a, binary, work, rep, f"leech3-all-{rate_mb}-{i}", seeders, seeders, cid,
                       f"run {i + 1}, connected to all {n} seeders")
        if r:
            many.append(r[0])
            shares_many.append(r[1])
            dups += r[2]
        r = fetch_from(a, binary, work, rep, f"leech3-alone-{rate_mb}-{i}", seeders[:1], seeders, cid,
                       f"run {i + 1}, connected to 1 of {n} running seeders")
        if r:
            alone.append(r[0])
            shares_alone.append(r[1])
    if not one or not many:
        rep.row(f"{n} seeders vs 1{tag}", "no run", "> 1.0x", False)
        return

    def split(shares):
        return "/".join(f"{statistics.mean(s[k] for s in shares):.0f}%" for k in range(n))

    m1, mn = statistics.median(one), statistics.median(many)
    rep.row(f"cat {a.size_mb} MiB from 1 seeder{tag}", f"{m1:.0f} MB/s", detail=fmt_runs(one) + ", the only seeder running")
    rep.row(f"cat {a.size_mb} MiB from {n} seeders{tag}", f"{mn:.0f} MB/s",
            detail=fmt_runs(many) + f", bytes per seeder {split(shares_many)}, {dups} duplicate blocks")
    rep.row(f"  ratio {n} seeders / 1", f"{mn / m1:.2f}x", "> 1.0x", mn / m1 > 1.0)
    if alone:
        rep.row(f"  connected to 1 of {n} running", f"{statistics.median(alone):.0f} MB/s",
                detail=fmt_runs(alone) + f", bytes per seeder {split(shares_alone)} (others found via DHT)")


def scenario_load(a, binary, work, rep):
    n, size = a.downloaders, a.dl_mb * MIB
    log(f"4. {n} leechers x {a.dl_mb} MiB at once from one fresh seeder")
    src = os.path.join(work, "dl.bin")
    bd.write_input(src, a.dl_mb, 3)
    sha = sha256_file(src)
    daemons = []
    try:
        seeder = start(binary, work, "seed-load", a.log_level)
        daemons.append(seeder)
        cid = add(binary, seeder.repo, src)
        nblocks = dag_blocks(binary, seeder.repo, cid)
        hwm0, rss0 = seeder.kib("VmHWM") / 1024, seeder.kib("VmRSS") / 1024
        t = time.perf_counter()
        leeches = []
        for i in range(n):
            d = start(binary, work, f"leech4-{i}", a.log_level)
            daemons.append(d)
            leeches.append(d)
            d.connect(seeder)
        log(f"   {n} leechers started and connected in {time.perf_counter() - t:.1f} s; seeder VmHWM "
            f"{hwm0:.0f} MiB, VmRSS {rss0:.0f} MiB")
        peak = [rss0]

        def sample():
            peak[0] = max(peak[0], seeder.kib("VmRSS") / 1024)

        t0 = time.perf_counter()
        cats = drain([Cat(binary, d.repo, cid, digest=True) for d in leeches], a.time_limit, sample)
        wall = time.perf_counter() - t0
        hwm1, rss1 = seeder.kib("VmHWM") / 1024, seeder.kib("VmRSS") / 1024
        bad = [b for b in (c.check(size, sha) for c in cats) if b]
        for b in bad:
            rep.error("scenario 4: " + b)
        done = [c for c in cats if not c.check(size, sha)]
        st = seeder.stat()
        lst = [d.stat() for d in leeches if d.proc.poll() is None]
        dups = sum(x["DupBlksReceived"] for x in lst)
        p2p = sum(x["BlocksSent"] for x in lst)
        npeers = [len(x["Peers"]) for x in lst]
        lh = [d.kib("VmHWM") / 1024 for d in leeches]
        secs = sorted(c.seconds for c in done)
        if secs:
            log(f"   downloads took {secs[0]:.2f} .. {secs[-1]:.2f} s (median {statistics.median(secs):.2f}); "
                f"seeder sent {st['BlocksSent']} blocks, {st['DataSent'] / MIB:.1f} MiB "
                f"({n} x {nblocks} blocks, {n * a.dl_mb} MiB of file data asked for)")
        agg = len(done) * a.dl_mb / wall
        rep.row(f"{n} leechers x {a.dl_mb} MiB at once: complete", f"{len(done)}/{n}", f"{n}/{n}", len(done) == n,
                f"byte counts and sha256 checked, limit {a.time_limit} s")
        rep.row("  wall time", f"{wall:.2f} s", detail=(f"each {secs[0]:.2f} .. {secs[-1]:.2f} s, median "
                                                      f"{statistics.median(secs):.2f} s" if secs else ""))
        rep.row("  aggregate", f"{agg:.0f} MB/s")
        rep.row("  seeder VmHWM before -> after", f"{hwm0:.0f} -> {hwm1:.0f} MiB",
                detail=f"VmRSS {rss0:.0f} MiB before, peak sampled {peak[0]:.0f}, {rss1:.0f} after")
        rep.row("  seeder blocks sent / needed", f"{st['BlocksSent'] / (n * nblocks):.3f}x",
                detail=f"{st['BlocksSent']} blocks ({st['DataSent'] / MIB:.1f} MiB) for {n} x {nblocks}; "
                f"the leechers sent each other {p2p} blocks; {dups} duplicate blocks at the leechers")
        if npeers:
            rep.row("  leechers' peers at the end (min / max)", f"{min(npeers)} / {max(npeers)}",
                    detail="connected to the seeder only at the start; others found via the DHT")
        if lh:
            rep.row("  leecher peak RSS (median / max)", f"{statistics.median(lh):.0f} / {max(lh):.0f} MiB")
    finally:
        t = time.perf_counter()
        stop_all(daemons)
        log(f"   stopped {len(daemons)} daemons in {time.perf_counter() - t:.1f} s")


def kubo_baseline(a, rep):
    script = os.path.join(ROOT, "tests", "interop", "kubo_bitswap_selftest.sh")
    log(f"Kubo -> Kubo baseline: {script} --bench --bench-mb {a.size_mb} --runs {a.runs}")
    try:
        p = subprocess.run(["bash", script, "--bench", "--bench-mb", str(a.size_mb), "--runs", str(a.runs)],
                           capture_output=True, timeout=900)
        summary = json.loads(p.stdout.decode().strip().splitlines()[-1])
        b = summary["bench"]
        rep.row(f"Kubo -> Kubo, fetch {a.size_mb} MiB (baseline)", f"{b['median_mbps']:.0f} MB/s",
                detail=f"best {b['best_mbps']} MB/s; {b.get('timing', '')}")
        return b["median_mbps"]
    except subprocess.TimeoutExpired:
        rep.note("Kubo baseline: the selftest did not finish within 900 s")
    except (ValueError, KeyError, IndexError):
        err = p.stderr.decode(errors="replace").strip().splitlines()[-3:]
        rep.note(f"Kubo baseline not available (exit {p.returncode}): {' | '.join(err)}")
    return None


def scan_logs(work, rep):
    """Counts the WARN / ERROR lines of every daemon log (but the expected ones)."""
    seen, total = {}, 0
    for f in sorted(os.listdir(work)):
        if not f.endswith(".log"):
            continue
        with open(os.path.join(work, f), errors="replace") as fh:
            for line in fh:
                line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
                if (" WARN " in line or " ERROR " in line or "panicked" in line) and not any(b in line for b in BENIGN):
                    total += 1
                    key = re.sub(r"^\S+\s+", "", line)
                    key = re.sub(r"12D3Koo\w+|Qm\w{44}|baf\w{50,}|\d+", "#", key)[:200]
                    seen.setdefault(key, [0, f])[0] += 1
    if total:
        rep.note(f"daemon logs: {total} WARN/ERROR lines; most frequent:")
        for key, (cnt, f) in sorted(seen.items(), key=lambda kv: -kv[1][0])[:8]:
            rep.notes.append(f"    {cnt:5d}x  {key}  (e.g. {f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=100, help="file size of scenarios 1 and 3 (MiB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seeders", type=int, default=4)
    ap.add_argument("--downloaders", type=int, default=20)
    ap.add_argument("--dl-mb", type=int, default=20, help="file size of scenario 4 (MiB)")
    ap.add_argument("--seeder-rate", type=int, default=25,
                    help="scenario 3 again with each seeder capped at this many MB/s (0: skip)")
    ap.add_argument("--ttfb-files", type=int, default=10, help="distinct files per size in scenario 2")
    ap.add_argument("--time-limit", type=int, default=300, help="seconds allowed for each batch of downloads")
    ap.add_argument("--log-level", default="warn", help="RUST_LOG of the daemons")
    ap.add_argument("--only", default="1234", help="scenarios to run, e.g. 14")
    ap.add_argument("--kubo", action="store_true", help="also the Kubo -> Kubo baseline")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (repos, daemon logs)")
    ap.add_argument("--bin")
    a = ap.parse_args()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "ipfsd-cli"], cwd=ROOT, check=True, timeout=1800)
        binary = os.path.join(ROOT, "target", "release", "ipfsd")
    binary = os.path.abspath(binary)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # KeyboardInterrupt: the finally below runs
    work = tempfile.mkdtemp(prefix="ipfsd-bench-bitswap.")
    rep = Report()
    load0 = os.getloadavg()
    t_all = time.perf_counter()
    try:
        seeders = []
        if set(a.only) & set("123"):
            src = os.path.join(work, "input.bin")
            bd.write_input(src, a.size_mb, 1)
            sha = sha256_file(src)
            seeders.append(start(binary, work, "seed1", a.log_level))
            cid = add(binary, seeders[0].repo, src)
            log(f"seeder {seeders[0].peer_id} at {seeders[0].addr} holds {a.size_mb} MiB as {cid}")
        scenarios = []
        if "1" in a.only:
            scenarios.append(lambda: scenario_throughput(a, binary, work, rep, seeders[0], src, cid, sha))
        if "2" in a.only:
            scenarios.append(lambda: scenario_ttfb(a, binary, work, rep, seeders[0]))
        if "3" in a.only:
            def many():
                pool = Seeders(a, binary, work, seeders[0], src, cid)
                scenario_many(a, binary, work, rep, pool, cid, 0)
                if a.seeder_rate:
                    scenario_many(a, binary, work, rep, pool, cid, a.seeder_rate)
            scenarios.append(many)
        if "4" in a.only:
            scenarios.append(lambda: scenario_load(a, binary, work, rep))
        for sc in scenarios:
            try:
                sc()
            except Failure as e:
                rep.error(str(e))
        stop_all(DAEMONS)
        if a.kubo:
            kubo_baseline(a, rep)
        scan_logs(work, rep)
    finally:
        stop_all(DAEMONS)
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"ipfsd BitSwap between daemons on 127.0.0.1 - {os.cpu_count()} CPUs, {a.runs} runs (medians), "
          f"fresh leecher repos, MB = 2^20 bytes; {time.perf_counter() - t_all:.0f} s")
    for name, val, target, ok, detail in rep.rows:
        res = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {name:<44} {val:>14}  {target:<12} {res:<4}  {detail}".rstrip())
    print(f"  load average: {' '.join(f'{x:.2f}' for x in load0)} at the start, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    for n in rep.notes:
        print("  " + n)
    if rep.errors:
        print(f"  {len(rep.errors)} error(s):")
        for e in rep.errors:
            print("    " + e)
        sys.exit(1)


if __name__ == "__main__":
    main()
