//! DHT benchmark: provider-lookup latency, messages and (derived) hop count in an N-node
//! Kademlia network of real ipfsd networks ([`node::net::Network`]) in one process, every
//! node listening on and dialling 127.0.0.1 only.
//!
//! Run: `cargo run --release -p ipfsd-tests --example dht_bench -- --nodes 30 --lookups 200`
//! or `bash scripts/bench-dht.sh --nodes 30`; `--help` lists the flags.
//!
//! Data flow, one phase after the other (the phase is printed on stderr, and named in the
//! error if the global `--timeout` cuts the run short):
//! 1. start N nodes, each bootstrapping to 1-3 random earlier ones (seeded identities and
//!    topology);
//! 2. settle: DHT bootstrap rounds on every node until each WAN routing table holds at least
//!    min(k, N-1)/2 peers, or `--settle` seconds have passed;
//! 3. publish `--keys` random multihash keys, each from one random node, awaited;
//! 4. snapshot: every node's WAN routing table, read exactly over the wire by `probe`, and
//!    which nodes hold each provider record (their record stores);
//! 5. M lookups from random non-provider nodes with limit 1 (stops at the first provider, as
//!    a fetch does), then the same M with limit 20 (the full lookup), one at a time;
//! 6. hop count, derived offline by `sim`: a round-synchronous Kademlia lookup (alpha = 3)
//!    replayed over the snapshot, since libp2p-kad does not report hops;
//! 7. `report`: a table on stdout, then one JSON line (the last line).

use anyhow::{Context, Result, bail};
use libp2p::PeerId;
use libp2p::kad::RecordKey;
use libp2p::kad::store::RecordStore;
use node::metrics::Metrics;
use node::net::{Limits, NetConfig, Records};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[path = "../dht_common/mod.rs"]
mod common;
mod probe;
mod report;
mod sim;

use common::{
    Node, Rng, Settled, Setup, flag, is_loopback, num, phase, secs, settle, start_nodes,
    stop_nodes, table_sizes, within,
};

/// libp2p-kad's default parallelism (requests in flight per lookup path).
const ALPHA: usize = 3;
/// The limit of the "full" lookups.
const FULL_LIMIT: usize = 20;

const USAGE: &str = "\
dht_bench: provider-lookup latency, messages and derived hop count in an N-node
Kademlia network on 127.0.0.1, all in one process.

  --nodes N              nodes (2..=60, default 30)
  --lookups M            lookups with limit 1, then the same M with limit 20 (1..=2000, default 200)
  --keys K               distinct keys published, each by one random node (1..=1000, default 50)
  --seed S               seed of identities, topology, keys and lookups (default 1)
  --lan true|false       run the LAN DHT too (default false: WAN DHT only, one clean measurement)
  --disjoint true|false  S/Kademlia disjoint lookup paths (default true)
  --k K                  bucket size and replication factor (1..=64, default 20, as in IPFS)
  --full true|false      also run the limit=20 lookups (default true)
  --query-timeout S      one DHT query's time limit, seconds (1..=60, default 10)
  --settle S             longest wait for routing tables to fill, seconds (1..=120, default 30)
  --timeout S            global time limit, seconds; past it the run aborts with an error
                         (10..=600, default 150)
RUST_LOG (e.g. libp2p_kad=debug) turns on diagnostics on stderr.
";

#[derive(Debug, Clone)]
struct Args {
    nodes: usize,
    lookups: usize,
    keys: usize,
    seed: u64,
    lan: bool,
    disjoint: bool,
    k: usize,
    full: bool,
    query_timeout: Duration,
    settle: Duration,
    timeout: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            nodes: 30,
            lookups: 200,
            keys: 50,
            seed: 1,
            lan: false,
            disjoint: true,
            k: 20,
            full: true,
            query_timeout: Duration::from_secs(10),
            settle: Duration::from_secs(30),
            timeout: Duration::from_secs(150),
        }
    }
}

/// `None`: `--help` was asked for.
fn parse_args() -> Result<Option<Args>> {
    let Some(flags) = common::flags()? else {
        return Ok(None);
    };
    let mut a = Args::default();
    for (name, v) in flags {
        let (name, v) = (name.as_str(), v.as_str());
        match name {
            "--nodes" => a.nodes = num(name, v, 2, 60)? as usize,
            "--lookups" => a.lookups = num(name, v, 1, 2000)? as usize,
            "--keys" => a.keys = num(name, v, 1, 1000)? as usize,
            "--seed" => a.seed = num(name, v, 0, u64::MAX)?,
            "--lan" => a.lan = flag(name, v)?,
            "--disjoint" => a.disjoint = flag(name, v)?,
            "--k" => a.k = num(name, v, 1, 64)? as usize,
            "--full" => a.full = flag(name, v)?,
            "--query-timeout" => a.query_timeout = secs(name, v, 1, 60)?,
            "--settle" => a.settle = secs(name, v, 1, 120)?,
            "--timeout" => a.timeout = secs(name, v, 10, 600)?,
            _ => bail!("unknown flag {name} (see --help)"),
        }
    }
    Ok(Some(a))
}

/// Announces each key from its provider node; returns the failed batches' errors.
async fn publish(nodes: &[Node], keys: &[(RecordKey, usize)], args: &Args) -> Vec<String> {
    let mut by_node: BTreeMap<usize, Vec<RecordKey>> = BTreeMap::new();
    for (key, p) in keys {
        by_node.entry(*p).or_default().push(key.clone());
    }
    let limit = args.query_timeout * 3 + Duration::from_secs(10);
    let mut set = JoinSet::new();
    for (i, batch) in by_node {
        let net = nodes[i].net.clone();
        set.spawn(async move {
            match tokio::time::timeout(limit, net.provide(batch)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("node {i}: {e}")),
                Err(_) => Some(format!("node {i}: provide timed out")),
            }
        });
    }
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Some(e)) => errors.push(e),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    errors
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    origin: usize,
    key: usize,
}

#[derive(Debug, Clone, Default)]
struct Sample {
    latency: Duration,
    requests: u32,
    found: bool,
    error: bool,
    /// The origin held the provider record itself (snapshot).
    local: bool,
    /// Derived hops for this lookup (see [`sim::Sim`]).
    hops: Option<u32>,
    sim_messages: u32,
}

/// Everything one run measured, for [`report::print`].
#[derive(Debug)]
struct Run {
    start: Duration,
    settled: Settled,
    publish: Duration,
    publish_errors: Vec<String>,
    /// Start + settle + publish.
    setup: Duration,
    /// Per node, before the lookups: (WAN table, LAN table, connected peers).
    sizes: Vec<(usize, usize, usize)>,
    /// Per node: peers with known addresses (table + address book).
    known: Vec<usize>,
    /// Per node: connected peers after the lookups.
    connected_after: Vec<usize>,
    /// Per key: nodes holding its provider record.
    holders: Vec<usize>,
    /// Nodes whose probed table size differs from their own count.
    mismatch: usize,
    /// Time all limit=1 lookups took.
    first_took: Duration,
    first: Vec<Sample>,
    full: Option<Vec<Sample>>,
    total: Duration,
}

/// Runs the plan's lookups one after the other.
async fn lookups(
    nodes: &[Node],
    keys: &[(RecordKey, usize)],
    plan: &[Plan],
    limit: usize,
    args: &Args,
) -> Vec<Sample> {
    let per = args.query_timeout + Duration::from_secs(5);
    let mut out = Vec::with_capacity(plan.len());
    for p in plan {
        let (key, provider) = &keys[p.key];
        let started = Instant::now();
        let r =
            tokio::time::timeout(per, nodes[p.origin].net.find_providers(key.clone(), limit)).await;
        let latency = started.elapsed();
        out.push(match r {
            Ok(Ok((found, stats))) => Sample {
                latency,
                requests: stats.requests,
                found: found.iter().any(|f| f.peer == nodes[*provider].peer),
                ..Sample::default()
            },
            _ => Sample {
                latency,
                error: true,
                ..Sample::default()
            },
        });
    }
    out
}

async fn run(args: &Args) -> Result<()> {
    let t0 = Instant::now();
    let mut rng = Rng(args.seed);
    let n = args.nodes;

    phase("starting nodes");
    let nodes = start_nodes(n, &mut rng, |_, peer| {
        Ok(Setup {
            config: NetConfig {
                lan_dht: args.lan,
                disjoint_paths: args.disjoint,
                k: args.k,
                query_timeout: args.query_timeout,
                ..NetConfig::default()
            },
            records: Records::in_memory(peer, Limits::default()).context("record store")?,
            metrics: Arc::new(Metrics::new()),
        })
    })
    .await?;
    let start_s = t0.elapsed();

    phase("settling routing tables (bootstrap rounds)");
    let settled = settle(&nodes, args.k, args.query_timeout, args.settle).await?;

    phase("publishing provider records");
    let t_pub = Instant::now();
    let keys: Vec<(RecordKey, usize)> = (0..args.keys)
        .map(|_| {
            let digest = dag::block::sha256(&rng.bytes32());
            (RecordKey::new(&digest.to_bytes()), rng.below(n))
        })
        .collect();
    let publish_errors = publish(&nodes, &keys, args).await;
    let publish_s = t_pub.elapsed();
    let setup_s = t0.elapsed();

    phase("snapshot: probing routing tables, reading record stores");
    let probed = probe::probe_tables(&nodes, args.seed).await?;
    let tables: HashMap<PeerId, Vec<PeerId>> = nodes
        .iter()
        .zip(&probed)
        .map(|(node, t)| (node.peer, t.iter().copied().collect()))
        .collect();
    let sizes = table_sizes(&nodes).await?;
    let mut known = Vec::with_capacity(n);
    for node in &nodes {
        known.push(within("known addrs", node.net.known_addrs()).await??.len());
    }
    let holders: Vec<HashSet<PeerId>> = keys
        .iter()
        .map(|(key, p)| {
            let provider = nodes[*p].peer;
            nodes
                .iter()
                .filter(|node| {
                    node.net
                        .records()
                        .providers(key)
                        .iter()
                        .any(|r| r.provider == provider)
                })
                .map(|node| node.peer)
                .collect()
        })
        .collect();
    let mismatch = probed
        .iter()
        .zip(&sizes)
        .filter(|(t, s)| t.len() != s.0)
        .count();

    let plan: Vec<Plan> = (0..args.lookups)
        .map(|_| {
            let key = rng.below(keys.len());
            let provider = keys[key].1;
            let mut origin = rng.below(n - 1);
            if origin >= provider {
                origin += 1;
            }
            Plan { origin, key }
        })
        .collect();
    let annotate = |samples: &mut [Sample], stop_at_first: bool| {
        for (s, p) in samples.iter_mut().zip(&plan) {
            let origin = nodes[p.origin].peer;
            let h = &holders[p.key];
            let sim = sim::simulate(&tables, h, origin, &keys[p.key].0, args.k, stop_at_first);
            s.local = h.contains(&origin);
            if stop_at_first {
                s.hops = sim.first;
                s.sim_messages = sim.messages_to_first;
            } else {
                s.hops = Some(sim.rounds);
                s.sim_messages = sim.messages;
            }
        }
    };

    phase("lookups, limit 1");
    let t_l = Instant::now();
    let mut first = lookups(&nodes, &keys, &plan, 1, args).await;
    let first_s = t_l.elapsed();
    annotate(&mut first, true);
    let full = if args.full {
        phase("lookups, limit 20");
        let mut s = lookups(&nodes, &keys, &plan, FULL_LIMIT, args).await;
        annotate(&mut s, false);
        Some(s)
    } else {
        None
    };
    let connected_after: Vec<usize> = table_sizes(&nodes).await?.iter().map(|t| t.2).collect();

    phase("stopping nodes");
    stop_nodes(nodes).await;

    let run = Run {
        start: start_s,
        settled,
        publish: publish_s,
        publish_errors,
        setup: setup_s,
        sizes,
        known,
        connected_after,
        holders: holders.iter().map(HashSet::len).collect(),
        mismatch,
        first_took: first_s,
        first,
        full,
        total: t0.elapsed(),
    };
    report::print(args, &run);
    Ok(())
}

fn main() -> ExitCode {
    common::main(
        "dht_bench",
        USAGE,
        parse_args,
        |a| a.timeout,
        |a| async move { run(&a).await },
    )
}
