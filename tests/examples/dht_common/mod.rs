//! What the in-process DHT benchmarks (`dht_bench`, `reprovide_bench`) share: the process
//! frame (flags, runtime, global time limit, the phase named when it runs out), seeded
//! randomness, and an N-node network of real ipfsd networks on 127.0.0.1, started,
//! settled and stopped the same way by both.
//!
//! Included by each benchmark with `#[path]` (a folder without `main.rs` is not an example
//! of its own); a benchmark may leave some of it unused.

#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, bail, ensure};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use node::metrics::Metrics;
use node::net::{NetConfig, NetTask, Network, Records};
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Longest wait for one step that is not a DHT query (info, dial, probe request).
pub const STEP: Duration = Duration::from_secs(10);

/// splitmix64: small, seedable, good enough to pick identities, nodes and keys.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

/// The benchmark's name, for its messages.
static NAME: OnceLock<&'static str> = OnceLock::new();
/// The phase running now, for the global-timeout message.
static PHASE: Mutex<&str> = Mutex::new("starting");

fn name() -> &'static str {
    NAME.get().copied().unwrap_or("bench")
}

/// Enters phase `p` (printed on stderr).
pub fn phase(p: &'static str) {
    if let Ok(mut g) = PHASE.lock() {
        *g = p;
    }
    eprintln!("[{}] {p}", name());
}

/// A progress line on stderr, under the benchmark's name.
pub fn progress(line: std::fmt::Arguments<'_>) {
    eprintln!("[{}]   {line}", name());
}

/// Awaits `f` for at most [`STEP`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(STEP, f)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {}s", STEP.as_secs()))
}

/// The command line's flags as `(name, value)` pairs, `--name value` or `--name=value`;
/// `None` when `--help` (or `-h`) was asked for.
pub fn flags() -> Result<Option<Vec<(String, String)>>> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        out.push(match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v = it.next().ok_or_else(|| anyhow!("{arg} needs a value"))?;
                (arg, v)
            }
        });
    }
    Ok(Some(out))
}

/// `v` as a number in `min..=max`.
pub fn num(flag: &str, v: &str, min: u64, max: u64) -> Result<u64> {
    let n: u64 = v
        .parse()
        .map_err(|_| anyhow!("{flag}: {v:?} is not a number"))?;
    ensure!(
        (min..=max).contains(&n),
        "{flag}: {n} is outside {min}..={max}"
    );
    Ok(n)
}

/// `v` as seconds in `min..=max`.
pub fn secs(flag: &str, v: &str, min: u64, max: u64) -> Result<Duration> {
    num(flag, v, min, max).map(Duration::from_secs)
}

/// `v` as a yes or no.
pub fn flag(flag: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => bail!("{flag}: {v:?} is not true or false"),
    }
}

/// The process: parses the flags (`parse` answers `None` for `--help`, which prints
/// `usage`), turns on `RUST_LOG` diagnostics on stderr, and runs `run` on a multi-thread
/// runtime within the global limit `timeout(&args)`. Exit codes: 0 done, 1 error, 2 bad
/// flags, 3 out of time (naming the phase).
pub fn main<A, F, Fut>(
    bench: &'static str,
    usage: &str,
    parse: fn() -> Result<Option<A>>,
    timeout: fn(&A) -> Duration,
    run: F,
) -> ExitCode
where
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let _ = NAME.set(bench);
    let args = match parse() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{bench}: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("RUST_LOG").is_some() {
        // Diagnostics on stderr, e.g. RUST_LOG=libp2p_kad=debug.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{bench}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let limit = timeout(&args);
    let outcome = rt.block_on(async { tokio::time::timeout(limit, run(args)).await });
    let code = match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{bench}: error: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            let during = PHASE.lock().map(|g| *g).unwrap_or("?");
            eprintln!(
                "{bench}: aborted: the global time limit of {} s (--timeout) ran out during \
                 \"{during}\"",
                limit.as_secs()
            );
            ExitCode::from(3)
        }
    };
    // Whatever is left (node tasks of an aborted run) ends with the runtime.
    rt.shutdown_timeout(Duration::from_secs(2));
    code
}

/// One node of the network.
#[derive(Debug)]
pub struct Node {
    pub net: Network,
    pub task: NetTask,
    pub peer: PeerId,
    /// Its listen address with `/p2p/`.
    pub addr: Multiaddr,
}

pub fn is_loopback(a: &Multiaddr) -> bool {
    matches!(a.iter().next(), Some(Protocol::Ip4(ip)) if ip.is_loopback())
}

/// How node `i` is set up: its config (listen and bootstrap are filled in by
/// [`start_nodes`]), its record store and the registry its metrics go to.
pub struct Setup {
    pub config: NetConfig,
    pub records: Records,
    pub metrics: Arc<Metrics>,
}

/// Starts `count` nodes on 127.0.0.1 with seeded identities, each bootstrapping to 1-3
/// random earlier ones; `setup(i, peer)` gives node `i`'s config, records and metrics.
pub async fn start_nodes(
    count: usize,
    rng: &mut Rng,
    mut setup: impl FnMut(usize, PeerId) -> Result<Setup>,
) -> Result<Vec<Node>> {
    let listen: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse()?;
    let mut nodes: Vec<Node> = Vec::with_capacity(count);
    for i in 0..count {
        let keypair = Keypair::ed25519_from_bytes(rng.bytes32()).context("node identity")?;
        let peer = keypair.public().to_peer_id();
        let mut picked = Vec::new();
        if i > 0 {
            let want = (1 + rng.below(3)).min(i);
            while picked.len() < want {
                let j = rng.below(i);
                if !picked.contains(&j) {
                    picked.push(j);
                }
            }
        }
        let bootstrap: Vec<Multiaddr> = picked.iter().map(|&j| nodes[j].addr.clone()).collect();
        ensure!(bootstrap.iter().all(is_loopback), "non-loopback bootstrap");
        let Setup {
            config,
            records,
            metrics,
        } = setup(i, peer)?;
        let config = NetConfig {
            listen: vec![listen.clone()],
            bootstrap,
            ..config
        };
        let (net, task) = Network::start_metered(keypair, config, records, None, metrics)
            .await
            .with_context(|| format!("starting node {i}"))?;
        let info = within("node info", net.info()).await??;
        ensure!(
            !info.listen.is_empty() && info.listen.iter().all(is_loopback),
            "node {i} listens on {:?}, not only on 127.0.0.1",
            info.listen
        );
        let addr = info
            .listen
            .first()
            .cloned()
            .context("no listen address")?
            .with(Protocol::P2p(peer));
        nodes.push(Node {
            net,
            task,
            peer,
            addr,
        });
    }
    Ok(nodes)
}

/// Stops every node and waits (at most [`STEP`] each, all at once) for their tasks.
pub async fn stop_nodes(nodes: Vec<Node>) {
    let mut set = JoinSet::new();
    for node in nodes {
        node.net.stop().await;
        set.spawn(async move { tokio::time::timeout(STEP, node.task.wait()).await });
    }
    while set.join_next().await.is_some() {}
}

/// WAN and LAN routing-table sizes and connected peers, per node.
pub async fn table_sizes(nodes: &[Node]) -> Result<Vec<(usize, usize, usize)>> {
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let info = within("node info", n.net.info()).await??;
        out.push((info.routing_table.0, info.routing_table.1, info.peers));
    }
    Ok(out)
}

#[derive(Debug)]
pub struct Settled {
    pub rounds: u32,
    pub failed_bootstraps: u32,
    /// Every bootstrap call's duration.
    pub calls: Vec<Duration>,
    pub first_error: Option<String>,
    pub reached: bool,
    pub want: usize,
    pub took: Duration,
}

/// Bootstrap rounds on all nodes at once until every WAN table holds min(k, N-1)/2
/// peers, or `longest` has passed (a round under way is finished first).
pub async fn settle(
    nodes: &[Node],
    k: usize,
    query_timeout: Duration,
    longest: Duration,
) -> Result<Settled> {
    let want = k.min(nodes.len() - 1).div_ceil(2);
    let started = Instant::now();
    let deadline = started + longest;
    let limit = query_timeout + Duration::from_secs(5);
    let (mut rounds, mut failed, mut calls, mut first_error) = (0, 0, Vec::new(), None);
    loop {
        rounds += 1;
        let mut set = JoinSet::new();
        for (i, n) in nodes.iter().enumerate() {
            let net = n.net.clone();
            set.spawn(async move {
                let t = Instant::now();
                let r = match tokio::time::timeout(limit, net.bootstrap()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("node {i}: {e}")),
                    Err(_) => Err(format!("node {i}: no answer within {}s", limit.as_secs())),
                };
                (t.elapsed(), r)
            });
        }
        while let Some(joined) = set.join_next().await {
            let (took, r) = joined.unwrap_or_else(|e| (Duration::ZERO, Err(e.to_string())));
            calls.push(took);
            if let Err(e) = r {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        let reached = table_sizes(nodes).await?.iter().all(|t| t.0 >= want);
        if reached || Instant::now() >= deadline {
            return Ok(Settled {
                rounds,
                failed_bootstraps: failed,
                calls,
                first_error,
                reached,
                want,
                took: started.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
