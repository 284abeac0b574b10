//! Reprovide benchmark: one node's full reprovide run of K keys against an N-node Kademlia
//! network of real ipfsd networks ([`node::net::Network`]) in one process, every node
//! listening on and dialling 127.0.0.1 only.
//!
//! Run: `cargo run --release -p ipfsd-tests --example reprovide_bench -- --keys 10000` or
//! `bash scripts/bench-reprovide.sh`; `--help` lists the flags.
//!
//! The path measured is the node's own: node 0's store (a `dag::Store` in a temporary
//! directory, filled with K tiny raw blocks through `Store::put_many`) is announced by the
//! reprovider the daemon runs (`node::net::provide::spawn_reprovider`, strategy `all`),
//! triggered once; the benchmark polls `stats provide` until the run has finished.
//!
//! Data flow, one phase after the other (printed on stderr; the global `--timeout` names
//! the phase it cut short):
//! 1. start N nodes, each bootstrapping to 1-3 random earlier ones (seeded), node 0 the
//!    reprovider; nodes 1..N count what they receive in one shared metrics registry;
//! 2. settle: bootstrap rounds until every WAN table holds min(k, N-1)/2 peers;
//! 3. fill node 0's store with K raw blocks;
//! 4. the reprovide run, with progress (keys done, estimate, `FallingBehind`) every 10 s;
//! 5. verify (when no record store hit its cap): `--verify` lookups of random keys from
//!    random other nodes must find node 0;
//! 6. report: time, keys/s, DHT requests (the reprovider's own counters, and the inbound
//!    `FIND_NODE`/`ADD_PROVIDER` the other nodes counted, read once they stop moving after
//!    the run), peak memory of the process, and one JSON line (the last line).

use anyhow::{Context, Result, bail, ensure};
use libp2p::kad::RecordKey;
use node::metrics::Metrics;
use node::net::provide::{Mode, Strategy, spawn_reprovider};
use node::net::{Limits, NetConfig, ProvideStats, Records, provider_key};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "dht_common/mod.rs"]
mod common;

use common::{Rng, Setup, num, phase, progress, secs, settle, start_nodes, stop_nodes, within};

const USAGE: &str = "\
reprovide_bench: one node's full reprovide run of K keys against an N-node Kademlia
network on 127.0.0.1, all in one process.

  --nodes N            nodes, the reprovider included (3..=60, default 30)
  --keys K             blocks in the reprovider's store (1..=2000000, default 10000)
  --mode M             sweep (default) or per-key (Provide.Sweep = false)
  --interval S         Provide.Interval for the health estimate, seconds (default 79200 = 22h)
  --max-provider-keys  provider keys each other node's record store holds at most
                       (default 1048576, ipfsd's own; lower it to bound the memory of big runs)
  --verify M           lookups checking that node 0 is found (0..=1000, default 50)
  --seed S             seed of identities, topology and keys (default 1)
  --k K                bucket size and replication factor (1..=20, default 20)
  --query-timeout S    one DHT query's time limit, seconds (1..=60, default 10)
  --timeout S          global time limit, seconds (10..=7200, default 600)
";

#[derive(Debug, Clone)]
struct Args {
    nodes: usize,
    keys: usize,
    mode: Mode,
    interval: Duration,
    max_provider_keys: usize,
    verify: usize,
    seed: u64,
    k: usize,
    query_timeout: Duration,
    timeout: Duration,
}

/// `None`: `--help` was asked for.
fn parse_args() -> Result<Option<Args>> {
    let Some(flags) = common::flags()? else {
        return Ok(None);
    };
    let mut a = Args {
        nodes: 30,
        keys: 10_000,
        mode: Mode::Sweep,
        interval: Duration::from_secs(22 * 3600),
        max_provider_keys: Limits::default().max_provider_keys,
        verify: 50,
        seed: 1,
        k: 20,
        query_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(600),
    };
    for (name, v) in flags {
        let (name, v) = (name.as_str(), v.as_str());
        match name {
            "--nodes" => a.nodes = num(name, v, 3, 60)? as usize,
            "--keys" => a.keys = num(name, v, 1, 2_000_000)? as usize,
            "--mode" => {
                a.mode = match v {
                    "sweep" => Mode::Sweep,
                    "per-key" => Mode::PerKey,
                    _ => bail!("--mode: {v:?} is not sweep or per-key"),
                }
            }
            "--interval" => a.interval = secs(name, v, 1, 365 * 24 * 3600)?,
            "--max-provider-keys" => {
                a.max_provider_keys = num(name, v, 1, 1 << 24)? as usize;
            }
            "--verify" => a.verify = num(name, v, 0, 1000)? as usize,
            "--seed" => a.seed = num(name, v, 0, u64::MAX)?,
            "--k" => a.k = num(name, v, 1, 20)? as usize,
            "--query-timeout" => a.query_timeout = secs(name, v, 1, 60)?,
            "--timeout" => a.timeout = secs(name, v, 10, 7200)?,
            _ => bail!("unknown flag {name} (see --help)"),
        }
    }
    Ok(Some(a))
}

/// Inbound DHT requests by type, from the shared registry of nodes 1..N.
fn inbound(m: &Metrics) -> (u64, u64) {
    let text = m.encode();
    let count = |kind: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("libp2p_kad_inbound_requests_total{"))
            .filter(|l| l.contains(&format!("request=\"{kind}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    (count("FindNode"), count("AddProvider"))
}

/// The process's peak and current resident memory, MiB (Linux `/proc/self/status`).
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn block(seed: u64, i: usize) -> dag::Block {
    let data = format!("reprovide bench {seed} {i}").into_bytes();
    dag::Block::encode(dag::Version::V1, dag::block::RAW, data)
}

async fn run(args: &Args) -> Result<()> {
    let t0 = Instant::now();
    let mut rng = Rng(args.seed);
    let received = Arc::new(Metrics::new());

    phase("starting nodes");
    // Node 0 with its own registry; the others count what they receive in `received`.
    let nodes = start_nodes(args.nodes, &mut rng, |i, peer| {
        // The other nodes hold provider records of many keys: their bound is a flag.
        let limits = if i == 0 {
            Limits::default()
        } else {
            Limits {
                max_provider_keys: args.max_provider_keys,
                ..Limits::default()
            }
        };
        Ok(Setup {
            config: NetConfig {
                lan_dht: false,
                k: args.k,
                query_timeout: args.query_timeout,
                limits,
                ..NetConfig::default()
            },
            records: Records::in_memory(peer, limits).context("record store")?,
            metrics: if i == 0 {
                Arc::new(Metrics::new())
            } else {
                received.clone()
            },
        })
    })
    .await?;
    phase("settling routing tables (bootstrap rounds)");
    let settled = settle(&nodes, args.k, args.query_timeout, Duration::from_secs(60)).await?;
    ensure!(
        settled.reached,
        "routing tables did not reach {} peers within 60 s",
        settled.want
    );
    let rounds = settled.rounds;
    let setup = t0.elapsed();

    phase("filling the reprovider's store");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("blocks");
    let t_fill = Instant::now();
    let (keys, seed) = (args.keys, args.seed);
    let store = tokio::task::spawn_blocking(move || -> Result<dag::Store> {
        let store = dag::Store::open(&path)?;
        let mut i = 0;
        while i < keys {
            let end = (i + 50_000).min(keys);
            store.put_many((i..end).map(|i| block(seed, i)))?;
            i = end;
        }
        Ok(store)
    })
    .await??;
    let fill = t_fill.elapsed();
    let (_, rss_before) = memory();

    phase("reprovide run");
    let before = inbound(&received);
    let tasks = node::TaskTracker::new();
    let net0 = nodes[0].net.clone();
    let reprovider = spawn_reprovider(
        net0.clone(),
        store.clone(),
        Strategy::All,
        args.mode,
        // The first run only when triggered.
        Duration::from_secs(365 * 24 * 3600),
        Some(args.interval),
        &tasks,
    );
    let t_run = Instant::now();
    reprovider.trigger();
    let mut last_print = Instant::now();
    let stats: ProvideStats = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let s = within("provide stats", net0.provide_stats()).await??;
        if s.reprovide_runs >= 1 {
            break s;
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            progress(format_args!(
                "{:>7.1}s: {} of {} keys, estimate {:?} s, falling behind: {}",
                t_run.elapsed().as_secs_f64(),
                s.reprovide_done,
                s.reprovide_expected_keys.unwrap_or(0),
                s.reprovide_estimate.map(|d| d.as_secs()),
                s.falling_behind
            ));
        }
    };
    let took = t_run.elapsed();
    reprovider.stop();
    // The receivers may still be working through queued messages: read their counters
    // once they have not moved for a second (30 s at most).
    let mut after = inbound(&received);
    let quiet_by = Instant::now() + Duration::from_secs(30);
    let mut still = 0;
    while still < 5 && Instant::now() < quiet_by {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = inbound(&received);
        still = if now == after { still + 1 } else { 0 };
        after = now;
    }
    let (peak, rss_after) = memory();

    let capped = nodes[1..]
        .iter()
        .any(|n| n.net.records().counts().provider_keys >= args.max_provider_keys);
    let (mut verified, mut checked) = (0, 0);
    if !capped && args.verify > 0 {
        phase("verifying: lookups from other nodes find the reprovider");
        for _ in 0..args.verify {
            let key: RecordKey = provider_key(block(args.seed, rng.below(args.keys)).cid());
            let from = 1 + rng.below(nodes.len() - 1);
            let limit = args.query_timeout + Duration::from_secs(5);
            checked += 1;
            if let Ok(Ok((found, _))) =
                tokio::time::timeout(limit, nodes[from].net.find_providers(key, 1)).await
                && found.iter().any(|p| p.peer == nodes[0].peer)
            {
                verified += 1;
            }
        }
    }

    phase("stopping nodes");
    stop_nodes(nodes).await;

    let secs = took.as_secs_f64();
    let find_node = after.0.saturating_sub(before.0);
    let add_provider = after.1.saturating_sub(before.1);
    let sweep = stats.reprovide_sweep;
    let mode = match args.mode {
        Mode::Sweep => "sweep",
        _ => "per-key",
    };
    let cpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "reprovide of {} keys, {} mode, {} nodes on 127.0.0.1 (k = {}), {cpu} CPU(s)",
        args.keys, mode, args.nodes, args.k
    );
    println!(
        "  setup {:.1} s ({rounds} bootstrap rounds), store filled in {:.1} s",
        setup.as_secs_f64(),
        fill.as_secs_f64()
    );
    println!(
        "  run: {:.1} s, {:.0} keys/s; {} keys, {} failed (per-key path), {} reached no peer (sweep)",
        secs,
        args.keys as f64 / secs.max(1e-9),
        stats.last_reprovide_keys,
        stats.failed_provides,
        sweep.failed_keys
    );
    println!(
        "  received by the other nodes: {find_node} FIND_NODE, {add_provider} ADD_PROVIDER \
         ({:.2} and {:.2} per key)",
        find_node as f64 / args.keys as f64,
        add_provider as f64 / args.keys as f64
    );
    println!(
        "  sweep counters: {} lookups, {} lookup requests, {} ADD_PROVIDER sent, {} failed streams",
        sweep.lookups, sweep.lookup_requests, sweep.add_providers, sweep.failed_peers
    );
    println!(
        "  memory (whole process, all {} nodes): peak {:.0} MiB, {:.0} MiB before the run, {:.0} after",
        args.nodes, peak, rss_before, rss_after
    );
    println!(
        "  at this rate 10^6 keys take {:.0} s; Provide.Interval {} s: falling behind = {}",
        1e6 * secs / args.keys as f64,
        args.interval.as_secs(),
        stats.falling_behind
    );
    if capped {
        println!("  verify: skipped (a record store reached --max-provider-keys)");
    } else {
        println!("  verify: {verified} of {checked} lookups found the reprovider");
    }
    println!(
        "{}",
        json!({
            "keys": args.keys, "mode": mode, "nodes": args.nodes, "k": args.k, "cpus": cpu,
            "seed": args.seed, "run_s": secs, "keys_per_s": args.keys as f64 / secs.max(1e-9),
            "fill_s": fill.as_secs_f64(), "setup_s": setup.as_secs_f64(),
            "find_node_received": find_node, "add_provider_received": add_provider,
            "lookups": sweep.lookups, "lookup_requests": sweep.lookup_requests,
            "add_provider_sent": sweep.add_providers, "failed_streams": sweep.failed_peers,
            "failed_keys": sweep.failed_keys, "failed_provides": stats.failed_provides,
            "peak_rss_mib": peak, "rss_before_mib": rss_before,
            "falling_behind": stats.falling_behind, "interval_s": args.interval.as_secs(),
            "verified": verified, "verify_lookups": checked, "stores_capped": capped,
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    common::main(
        "reprovide_bench",
        USAGE,
        parse_args,
        |a| a.timeout,
        |a| async move { run(&a).await },
    )
}
