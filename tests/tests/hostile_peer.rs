//! Issue 14's "hostile peer": a peer serves crafted DAGs over BitSwap — a 4000-deep chain
//! of directories, 4000 nested HAMT shards, a 64-level "diamond" (every node links its
//! child twice: 2^64 paths over 66 blocks), a HAMT whose every slot links the same next
//! shard (repeats, the only "cycles" content addressing allows: no block can link to
//! itself or to a block linking back, since a CID hashes the bytes holding the link), and
//! one directory block as large as BitSwap carries, packed with tiny links, and a HAMT of
//! [`WIDE_HAMT`] tiny entries (10^6 in the `#[ignore]`d variant, `scripts/hostile-million.sh`)
//! — while the node under test fetches them through its gateway, `pin add`, `refs` and
//! `ls`, and meanwhile serves a normal client (gateway GETs and API `cat` of local content)
//! whose requests must keep completing.
//!
//! The wide HAMT's gateway listing must stop at the gateway's cap of 10,000 entries and say
//! it is truncated; the API's `ls` streams every entry.
//!
//! The node must stay up, answer every hostile request (an error where the DAG is invalid)
//! within the harness's timeouts, and keep the normal client going. The client's latency
//! (p50/p99/max) is printed: the "p99 < 100 ms" is a benchmark figure, not an
//! assertion here; only a freeze (one request over [`FREEZE`]) fails the test.

use ipfsd_tests::hostile::{self, Crafted};
use ipfsd_tests::http;
use ipfsd_tests::testnet::{TestNode, init_repo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A normal request taking this long means the node froze.
const FREEZE: Duration = Duration::from_secs(10);

/// Entries of the wide HAMT in the default run (the 10^6 runs in
/// [`hostile_dags_with_a_million_entry_hamt`], too slow for the suite's debug build).
const WIDE_HAMT: usize = 50_000;

/// Deadline of the wide HAMT's `pin add` and `ls` (a million entries, ~100k blocks fetched
/// over BitSwap in a debug build, outlast the harness's usual call timeout).
const SLOW_CALL: Duration = Duration::from_secs(900);

/// The gateway's listing cap (`LISTING_LIMIT` in the node's gateway).
const LISTING_LIMIT: usize = 10_000;

/// Depth of the chain fetched whole over BitSwap.
const FETCHED_LEVELS: usize = 500;

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, None, |_| {});
    TestNode::start(&path, None)
}

fn serve(peer: &TestNode, c: &Crafted) {
    peer.call_with_file("dag/import", &[], &c.car()).ok();
}

/// An API call with the [`SLOW_CALL`] deadline; panics unless it answers 200 in full.
fn slow_call(n: &TestNode, cmd: &str, args: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Read;
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(SLOW_CALL))
        .build()
        .new_agent();
    let mut req = agent.post(format!("{}/{cmd}", n.api_url()));
    for (k, v) in args {
        req = req.query(*k, *v);
    }
    let resp = req.send_empty().expect("the API answers");
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .read_to_end(&mut body)
        .expect("a complete body");
    assert_eq!(status, 200, "{cmd}: {}", String::from_utf8_lossy(&body));
    body
}

/// A gateway GET with the [`SLOW_CALL`] deadline; panics unless it answers 200 in full.
fn slow_get(n: &TestNode, path: &str) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(SLOW_CALL))
        .build()
        .new_agent();
    let resp = agent
        .get(format!("{}{path}", n.gateway_url()))
        .call()
        .expect("the gateway answers");
    let status = resp.status().as_u16();
    let body = resp.into_body().read_to_string().expect("a complete body");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn gateway(n: &TestNode, path: &str) -> http::HttpReply {
    http::get(n.gateway_url(), path, &[])
}

/// What the normal client saw.
struct ClientReport {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

/// Alternates a gateway GET and an API `cat` of local content until `stop`.
fn normal_client(
    node: Arc<TestNode>,
    cid: String,
    want: Vec<u8>,
    stop: Arc<AtomicBool>,
) -> ClientReport {
    let mut report = ClientReport {
        latencies: Vec::new(),
        failures: Vec::new(),
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Acquire) {
        let t = Instant::now();
        let got = if i.is_multiple_of(2) {
            let r = gateway(&node, &format!("/ipfs/{cid}"));
            (r.status == 200).then_some(r.body)
        } else {
            let r = node.call("cat", &[("arg", &cid)]);
            (r.status == 200).then_some(r.body)
        };
        let took = t.elapsed();
        if took > Duration::from_millis(500) {
            eprintln!("slow normal request: {took:?}");
        }
        report.latencies.push(took);
        if got.as_deref() != Some(&want[..]) {
            report.failures.push(format!("request {i} failed"));
        }
        i += 1;
    }
    report
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[test]
fn hostile_dags_from_a_peer_neither_crash_nor_starve_the_node() {
    hostile_run(WIDE_HAMT);
}

/// The figure: a directory of 10^6 tiny links (run by `scripts/hostile-million.sh`).
#[test]
#[ignore = "slow in a debug build: run by scripts/hostile-million.sh"]
fn hostile_dags_with_a_million_entry_hamt() {
    hostile_run(1_000_000);
}

fn hostile_run(wide_hamt_entries: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let peer = start(dir.path(), "hostile");
    let node = Arc::new(start(dir.path(), "victim"));
    node.call("swarm/connect", &[("arg", peer.swarm_addr())])
        .ok();

    let deep = hostile::dir_chain(4000, "deep");
    let fetched = hostile::dir_chain(FETCHED_LEVELS, "fetched");
    let hamt = hostile::hamt_chain(4000, "hamt");
    let diamond = hostile::diamond(64, "diamond");
    let slots = hostile::hamt_all_slots(12, "slots");
    // As large as a BitSwap block may be (2 MiB), less room for the message around it.
    let (wide, entries) = hostile::wide_dir((2 << 20) - 4096);
    let t = Instant::now();
    let huge = hostile::wide_hamt(wide_hamt_entries);
    eprintln!(
        "built a HAMT of {wide_hamt_entries} entries in {} blocks in {:.1?}",
        huge.blocks.len(),
        t.elapsed()
    );
    for c in [&deep, &fetched, &hamt, &diamond, &slots, &wide, &huge] {
        serve(&peer, c);
    }
    eprintln!("the wide directory has {entries} entries");

    let local = ipfsd_tests::testnet::unique_bytes("normal client");
    let local_cid = node.add(&local);
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (node, stop) = (node.clone(), stop.clone());
        std::thread::spawn(move || normal_client(node, local_cid, local, stop))
    };

    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("{:>6.1?} {what}", t0.elapsed());

    // A 4000-deep chain: listed one level at a time. A shorter one is fetched whole and
    // walked iteratively (a chain is fetched one round trip per level, which in a loaded
    // debug build outlasts the harness's call timeout at 4000 levels).
    let r = gateway(&node, &format!("/ipfs/{}/", deep.cid()));
    assert_eq!(r.status, 200, "{}", r.text());
    node.call("pin/add", &[("arg", &fetched.cid())]).ok();
    let refs = node
        .call("refs", &[("arg", &fetched.cid()), ("recursive", "true")])
        .ok()
        .lines();
    assert_eq!(refs.len(), fetched.blocks.len() - 1);
    lap("deep directory chains: listed, pinned, refs");

    // 4000 nested shards: refused once the hash is used up (after 8 levels).
    let r = gateway(&node, &format!("/ipfs/{}/", hamt.cid()));
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert!(r.text().contains("HAMT deeper"), "{}", r.text());
    let r = node.call("ls", &[("arg", &hamt.cid())]);
    assert!(r.text().contains("HAMT deeper"), "{}", r.text());
    lap("deep HAMT: refused");

    // The diamond: fetched and walked once per block, its 2^64 paths never enumerated.
    node.call("pin/add", &[("arg", &diamond.cid())]).ok();
    let refs = node
        .call(
            "refs",
            &[
                ("arg", &diamond.cid()),
                ("recursive", "true"),
                ("unique", "true"),
            ],
        )
        .ok()
        .lines();
    assert_eq!(refs.len(), diamond.blocks.len() - 1);
    let path = format!("/ipfs/{}/{}file", diamond.cid(), "a/b/".repeat(32));
    let r = gateway(&node, &path);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"diamond");
    lap("diamond: pinned, refs, path");

    // Every slot to the same shard: a lookup runs out of hash, a listing meets a repeat
    // (or the depth limit first); pinning it is an ordinary (deduplicated) walk.
    for path in ["/", "/index.html"] {
        let r = gateway(&node, &format!("/ipfs/{}{path}", slots.cid()));
        assert!(r.status >= 400, "{path}: {} {}", r.status, r.text());
        assert!(r.text().contains("HAMT"), "{path}: {}", r.text());
    }
    node.call("pin/add", &[("arg", &slots.cid())]).ok();
    lap("all-slots HAMT: refused, pinned");

    // The widest directory a peer can send in one block.
    let r = gateway(&node, &format!("/ipfs/{}/", wide.cid()));
    assert_eq!(r.status, 200, "{}", r.text());
    let ls = node.call("ls", &[("arg", &wide.cid())]).ok().json();
    assert_eq!(
        ls["Objects"][0]["Links"].as_array().map(Vec::len),
        Some(entries)
    );
    lap("wide directory: listed");

    // Fetched whole first (the fetch walk, in parallel): a listing walk fetching shard by
    // shard over BitSwap was seen at ~20 shards/s in a debug build (126 s for the ~2400
    // shards behind 10,000 entries of a 50,000-entry HAMT).
    slow_call(&node, "pin/add", &[("arg", &huge.cid())]);
    lap("wide HAMT: pinned");
    // The gateway lists (and reads) only up to its cap, and says so; then `ls` streams
    // every entry.
    let page = slow_get(&node, &format!("/ipfs/{}/", huge.cid()));
    assert!(page.contains("Listing truncated"), "no truncation note");
    assert!(page.contains("?format=car"));
    let rows = page.matches("<td class=\"cid\">").count();
    assert_eq!(rows, LISTING_LIMIT, "rows in the truncated listing");
    drop(page);
    lap("wide HAMT: gateway listing truncated");
    let ls = slow_call(&node, "ls", &[("arg", &huge.cid()), ("stream", "true")]);
    let mut count = 0usize;
    for line in ls.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("an ls line");
        assert_eq!(v["Objects"][0]["Links"][0]["Type"], 2, "{v}");
        count += 1;
    }
    assert_eq!(count, wide_hamt_entries);
    drop(ls);
    lap("wide HAMT: ls streamed");

    stop.store(true, Ordering::Release);
    let report = client.join().expect("client thread");
    node.call("id", &[]).ok();
    peer.call("id", &[]).ok();

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let mut lat = report.latencies;
    assert!(!lat.is_empty(), "the normal client made no request");
    lat.sort();
    let (p50, p99, max) = (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
    );
    eprintln!(
        "normal client under hostile fetches: {} requests, p50 {p50:?}, p99 {p99:?}, max {max:?} (target p99 < 100 ms)",
        lat.len()
    );
    assert!(
        max < FREEZE,
        "the node froze: a normal request took {max:?}"
    );
}
