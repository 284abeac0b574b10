#!/usr/bin/env python3
"""Benchmark of ipfsd through its daemon, against the same commands offline.

    python3 scripts/bench-daemon.py [--size-mb 100] [--big-mb 1024] [--runs 5] [--bin PATH]

Builds the release binary (unless --bin is given), then measures, each in fresh repos:
  - daemon start-to-ready time (until the `api` file exists and the API answers) and idle RSS;
  - `ipfsd add` of a --size-mb file offline and through the daemon (median of --runs);
  - `ipfsd cat` of it through the daemon;
  - peak RSS of both processes while adding a --big-mb file through the daemon.
Targets (issue: daemon/RPC API): add through the daemon >= 80% of offline, cat >= 500 MB/s,
idle RSS < 30 MB, start-to-ready < 200 ms, 1 GB add < 150 MB RSS for each process.
Every daemon listens on 127.0.0.1 (ephemeral port) and is shut down at the end; inputs are
deterministic pseudo-random bytes in a temp dir removed at exit. MB = 2^20 bytes.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_input(path, size_mb, seed):
    # In a child process, so this driver stays small: a forked child's peak RSS starts
    # with its parent's, and the commands measured below are forked from here.
    code = ("import random,sys\nrng=random.Random(int(sys.argv[2]))\nn=int(sys.argv[3])\n"
            "with open(sys.argv[1],'wb') as f:\n"
            "    for _ in range(n//8): f.write(rng.randbytes(8<<20))\n"
            "    f.write(rng.randbytes((n%8)<<20))\n")
    subprocess.run([sys.executable, "-c", code, path, str(seed), str(size_mb)], check=True)


def run(cmd, discard=False):
    """Runs cmd; answers (seconds, stdout). With `discard`, stdout goes to /dev/null."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if discard else subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=900)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"bench-daemon: {' '.join(cmd)} failed: {err.decode(errors='replace')}")
    return dt, out


def peak_rss_mib(cmd):
    """Runs cmd and answers (seconds, its own peak RSS in MiB)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    if status != 0:
        sys.exit(f"bench-daemon: {' '.join(cmd)} failed: {p.stderr.read().decode(errors='replace')}")
    return dt, ru.ru_maxrss / 1024


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Daemon:
    def __init__(self, binary, repo):
        self.binary, self.repo = binary, repo
        api = os.path.join(repo, "api")
        t = time.perf_counter()
        self.proc = subprocess.Popen([binary, "--repo", repo, "daemon", "--api-addr", "/ip4/127.0.0.1/tcp/0", "--gateway-addr", "/ip4/127.0.0.1/tcp/0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            if os.path.exists(api):
                addr = open(api).read().strip()
                if addr:
                    host, port = addr.split("/")[2], addr.split("/")[4]
                    assert host == "127.0.0.1", addr
                    try:
                        req = urllib.request.Request(f"http://{host}:{port}/api/v0/version", method="POST")
                        urllib.request.urlopen(req, timeout=2).read()
                        break
                    except OSError:
                        pass
            if time.perf_counter() - t > 20 or self.proc.poll() is not None:
                sys.exit("bench-daemon: the daemon did not start")
            time.sleep(0.002)
        self.ready_s = time.perf_counter() - t

    def stop(self):
        subprocess.run([self.binary, "--repo", self.repo, "shutdown"], capture_output=True, timeout=30)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--big-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin")
    a = ap.parse_args()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "ipfsd-cli"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "ipfsd")
    work = tempfile.mkdtemp(prefix="ipfsd-bench-daemon.")
    try:
        src = os.path.join(work, "input.bin")
        write_input(src, a.size_mb, 1)
        mb = a.size_mb
        offline, online, cats, readies, idles = [], [], [], [], []
        for i in range(a.runs):
            repo = os.path.join(work, f"off{i}")
            run([binary, "--repo", repo, "init"])
            run(["cat", src], discard=True)  # warm the page cache (without growing this process)
            dt, _ = run([binary, "--repo", repo, "add", "-Q", src])
            offline.append(dt)
            shutil.rmtree(repo)
            repo = os.path.join(work, f"on{i}")
            run([binary, "--repo", repo, "init"])
            d = Daemon(binary, repo)
            readies.append(d.ready_s)
            time.sleep(0.2)
            idles.append(proc_kib(d.proc.pid, "VmRSS") / 1024)
            dt, out = run([binary, "--repo", repo, "add", "-Q", src])
            online.append(dt)
            cid = out.decode().strip()
            dt, _ = run([binary, "--repo", repo, "cat", cid], discard=True)
            cats.append(dt)
            d.stop()
            shutil.rmtree(repo)
        big_cli = big_daemon = big_s = None
        if a.big_mb:
            big = os.path.join(work, "big.bin")
            write_input(big, a.big_mb, 2)
            repo = os.path.join(work, "big")
            run([binary, "--repo", repo, "init"])
            d = Daemon(binary, repo)
            big_s, big_cli = peak_rss_mib([binary, "--repo", repo, "add", "-Q", big])
            big_daemon = proc_kib(d.proc.pid, "VmHWM") / 1024
            d.stop()
        med = statistics.median
        rows = [
            ("daemon start-to-ready", f"{med(readies) * 1000:.0f} ms", "< 200 ms", med(readies) < 0.2),
            ("daemon idle RSS", f"{med(idles):.1f} MiB", "< 30 MiB", med(idles) < 30),
            (f"add {mb} MiB offline", f"{mb / med(offline):.0f} MB/s", "", None),
            (f"add {mb} MiB through the daemon", f"{mb / med(online):.0f} MB/s",
             ">= 80% offline", med(offline) / med(online) >= 0.8),
            ("  ratio to offline", f"{med(offline) / med(online) * 100:.0f}%", "", None),
            (f"cat {mb} MiB through the daemon", f"{mb / med(cats):.0f} MB/s", ">= 500 MB/s", mb / med(cats) >= 500),
        ]
        if big_cli is not None:
            rows += [
                (f"add {a.big_mb} MiB through the daemon", f"{a.big_mb / big_s:.0f} MB/s", "", None),
                ("  peak RSS, CLI", f"{big_cli:.1f} MiB", "< 150 MiB", big_cli < 150),
                ("  peak RSS, daemon", f"{big_daemon:.1f} MiB", "< 150 MiB", big_daemon < 150),
            ]
        print(f"ipfsd through the daemon - {a.runs} runs, medians, fresh repos; load {os.getloadavg()}")
        for name, val, target, ok in rows:
            res = "" if ok is None else ("PASS" if ok else "FAIL")
            print(f"  {name:<36} {val:>12}  {target:<16} {res}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
