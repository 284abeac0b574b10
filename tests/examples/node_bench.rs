//! `Node` figures (scripts/bench-node.sh runs this in release): how long `spawn()` takes
//! to a ready node (in memory, offline and online; a new repository on disk; reopening
//! it), the RSS of one idle online node, and the RSS of 20 online nodes in one process.
//!
//! Output: a table on stdout, then one JSON line. Every node listens on 127.0.0.1 only.

use node::Node;
use std::time::{Duration, Instant};

/// The process's resident set size in KiB (Linux `/proc/self/status`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// How long `builder` takes to a ready node (which is then shut down).
async fn spawn_time(builder: node::NodeBuilder) -> Duration {
    let t = Instant::now();
    let n = builder.spawn().await.expect("node");
    let d = t.elapsed();
    n.shutdown().await;
    d
}

/// Median and maximum of `runs` timings of `f`, in ms.
async fn time<F, Fut>(runs: usize, mut f: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut all = Vec::with_capacity(runs);
    for i in 0..runs {
        all.push(millis(f(i).await));
    }
    all.sort_by(f64::total_cmp);
    (all[all.len() / 2], all[all.len() - 1])
}

#[tokio::main]
async fn main() {
    let runs = 20;
    let dir = tempfile::tempdir().expect("tmp");
    let baseline = rss_kib();

    // Idle RSS first, in a process that has started no node yet (later, the allocator
    // reuses what earlier nodes freed): one online node, then 20 (19 bootstrapped to the
    // first), each after a pause.
    let before_one = rss_kib();
    let first = Node::builder().in_memory().spawn().await.expect("node");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let one = rss_kib().saturating_sub(before_one);
    let boot = first.listen_addrs().await.expect("addrs")[0].to_string();
    let mut nodes = vec![first];
    for _ in 1..20 {
        nodes.push(
            Node::builder()
                .in_memory()
                .bootstrap([boot.clone()])
                .spawn()
                .await
                .expect("node"),
        );
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peers = nodes[0].swarm().peers().await.expect("peers").len();
    let twenty = rss_kib().saturating_sub(before_one);
    let tasks: usize = nodes.iter().map(|n| n.tasks().len()).sum();
    for n in &nodes {
        n.shutdown().await;
    }

    let memory_offline = time(runs, |_| spawn_time(Node::builder().in_memory().offline())).await;
    let memory_online = time(runs, |_| spawn_time(Node::builder().in_memory())).await;
    let repo = |i: usize| dir.path().join(format!("repo{i}"));
    // The first pass creates each repository, the second opens it again.
    let disk_new = time(runs, |i| spawn_time(Node::builder().repo(repo(i)))).await;
    let disk_reopen = time(runs, |i| spawn_time(Node::builder().repo(repo(i)))).await;

    println!("| figure | median | max |");
    println!("|---|---|---|");
    for (what, (p50, max)) in [
        ("spawn, in memory, offline (ms)", memory_offline),
        ("spawn, in memory, online (ms)", memory_online),
        ("spawn, new repository on disk, online (ms)", disk_new),
        ("spawn, existing repository, online (ms)", disk_reopen),
    ] {
        println!("| {what} | {p50:.1} | {max:.1} |");
    }
    println!(
        "| RSS of one idle online node (MiB) | {:.1} | |",
        one as f64 / 1024.0
    );
    println!(
        "| RSS of 20 idle online nodes, 19 connected to the first (MiB) | {:.1} ({:.1} per node) | |",
        twenty as f64 / 1024.0,
        twenty as f64 / 1024.0 / 20.0
    );
    println!(
        "process baseline RSS before any node: {:.1} MiB; first node's peers: {peers}; tasks of the 20 nodes: {tasks}",
        baseline as f64 / 1024.0
    );
    println!(
        "{}",
        serde_json::json!({
            "spawn_memory_offline_ms": memory_offline,
            "spawn_memory_online_ms": memory_online,
            "spawn_disk_new_ms": disk_new,
            "spawn_disk_reopen_ms": disk_reopen,
            "rss_one_kib": one,
            "rss_twenty_kib": twenty,
            "peers_of_first": peers,
        })
    );
}
