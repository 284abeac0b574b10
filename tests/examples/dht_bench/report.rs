//! The report: percentiles, the human-readable table (stdout) and the JSON line (last).

use super::{ALPHA, Args, Run, Sample};
use serde_json::json;
use std::time::Duration;

/// Rounded to 2 decimals (for the JSON line).
fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Nearest-rank percentile of sorted values.
fn pct<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[derive(Debug, Default)]
struct Summary {
    n: usize,
    success: f64,
    errors: usize,
    local: usize,
    lat: [f64; 4],
    req_mean: f64,
    req_p50: u32,
    req_p90: u32,
    hops_mean: f64,
    hops_p50: u32,
    hops_max: u32,
    /// Simulated lookups that never reached a holder.
    hops_missing: usize,
    sim_msgs_mean: f64,
}

fn summarize(samples: &[Sample]) -> Summary {
    let n = samples.len();
    let mut lat: Vec<f64> = samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1e3)
        .collect();
    lat.sort_by(f64::total_cmp);
    let mut req: Vec<u32> = samples.iter().map(|s| s.requests).collect();
    req.sort_unstable();
    let mut hops: Vec<u32> = samples.iter().filter_map(|s| s.hops).collect();
    hops.sort_unstable();
    let latf = |p| pct(&lat, p);
    Summary {
        n,
        success: samples.iter().filter(|s| s.found).count() as f64 / n.max(1) as f64,
        errors: samples.iter().filter(|s| s.error).count(),
        local: samples.iter().filter(|s| s.local).count(),
        lat: [
            latf(50.0),
            latf(90.0),
            latf(99.0),
            lat.last().copied().unwrap_or(0.0),
        ],
        req_mean: mean(req.iter().map(|&r| f64::from(r))),
        req_p50: pct(&req, 50.0),
        req_p90: pct(&req, 90.0),
        hops_mean: mean(hops.iter().map(|&h| f64::from(h))),
        hops_p50: pct(&hops, 50.0),
        hops_max: hops.last().copied().unwrap_or(0),
        hops_missing: n - hops.len(),
        sim_msgs_mean: mean(samples.iter().map(|s| f64::from(s.sim_messages))),
    }
}

fn summary_json(s: &Summary) -> serde_json::Value {
    if s.n == 0 {
        return json!({ "lookups": 0 });
    }
    json!({
        "lookups": s.n,
        "success_rate": r2(s.success * 100.0) / 100.0,
        "errors": s.errors,
        "local_hits": s.local,
        "latency_ms_p50": r2(s.lat[0]),
        "latency_ms_p90": r2(s.lat[1]),
        "latency_ms_p99": r2(s.lat[2]),
        "latency_ms_max": r2(s.lat[3]),
        "requests_mean": r2(s.req_mean),
        "requests_p50": s.req_p50,
        "requests_p90": s.req_p90,
        "hops_derived_mean": r2(s.hops_mean),
        "hops_derived_p50": s.hops_p50,
        "hops_derived_max": s.hops_max,
        "hops_derived_missing": s.hops_missing,
        "sim_messages_mean": r2(s.sim_msgs_mean),
    })
}

fn row(label: &str, s: &Summary) -> String {
    if s.n == 0 {
        return format!("{label:<22} {:>5}  (none)", 0);
    }
    format!(
        "{label:<22} {:>5} {:>7.1}% {:>4} {:>6}  {:>6.2} {:>6.2} {:>6.2} {:>7.2}  {:>5.1} {:>3} {:>3}  {:>5.2} {:>3} {:>3}  {:>5.1}",
        s.n,
        s.success * 100.0,
        s.errors,
        s.local,
        s.lat[0],
        s.lat[1],
        s.lat[2],
        s.lat[3],
        s.req_mean,
        s.req_p50,
        s.req_p90,
        s.hops_mean,
        s.hops_p50,
        s.hops_max,
        s.sim_msgs_mean,
    )
}

fn stats3(v: &[usize]) -> (usize, f64, usize) {
    (
        v.iter().copied().min().unwrap_or(0),
        mean(v.iter().map(|&x| x as f64)),
        v.iter().copied().max().unwrap_or(0),
    )
}

/// Prints the table, the notes on what is measured and what derived, and the JSON line.
pub(crate) fn print(args: &Args, r: &Run) {
    let all = summarize(&r.first);
    let remote_samples: Vec<Sample> = r.first.iter().filter(|s| !s.local).cloned().collect();
    let remote = summarize(&remote_samples);
    let full_sum = r.full.as_deref().map(summarize);
    let wan: Vec<usize> = r.sizes.iter().map(|s| s.0).collect();
    let connected: Vec<usize> = r.sizes.iter().map(|s| s.2).collect();
    let (wmin, wmean, wmax) = stats3(&wan);
    let (_, kmean, _) = stats3(&r.known);
    let (_, cmean, _) = stats3(&connected);
    let (_, camean, _) = stats3(&r.connected_after);
    let (hmin, hmean, hmax) = stats3(&r.holders);
    let n = args.nodes;

    println!();
    println!(
        "ipfsd DHT provider-lookup benchmark: {n} nodes on 127.0.0.1, {} keys, {} lookups, \
         k={}, alpha={ALPHA} (libp2p-kad default), seed {}",
        args.keys, args.lookups, args.k, args.seed
    );
    println!(
        "  DHTs: {}; disjoint paths: {}",
        if args.lan {
            "WAN + LAN (lookups run on both; requests = the larger of the two queries' counts)"
        } else {
            "WAN only (LAN DHT off for a clean measurement)"
        },
        if args.disjoint { "on" } else { "off" }
    );
    let mut boot: Vec<f64> = r.settled.calls.iter().map(Duration::as_secs_f64).collect();
    boot.sort_by(f64::total_cmp);
    println!(
        "  setup {:.1} s: start {:.1} s, settle {:.1} s, publish {:.1} s ({} failed batch(es))",
        r.setup.as_secs_f64(),
        r.start.as_secs_f64(),
        r.settled.took.as_secs_f64(),
        r.publish.as_secs_f64(),
        r.publish_errors.len(),
    );
    println!(
        "  settle: {} bootstrap round(s) on all nodes, call p50/p90/max {:.1}/{:.1}/{:.1} s, \
         {} failed; target >= {} entries per WAN table {}",
        r.settled.rounds,
        pct(&boot, 50.0),
        pct(&boot, 90.0),
        boot.last().copied().unwrap_or(0.0),
        r.settled.failed_bootstraps,
        r.settled.want,
        if r.settled.reached {
            "reached"
        } else {
            "NOT reached"
        },
    );
    if let Some(e) = &r.settled.first_error {
        println!("    first bootstrap failure: {e}");
    }
    for e in r.publish_errors.iter().take(3) {
        println!("    publish error: {e}");
    }
    println!(
        "  WAN routing table: min/mean/max {wmin}/{wmean:.1}/{wmax} of {} peers; known peers \
         (table + address book) mean {kmean:.1}; connected peers mean {cmean:.1} before \
         lookups, {camean:.1} after",
        n - 1
    );
    if r.mismatch > 0 {
        println!(
            "  WARNING: the probed table differs in size from the node's own count on {} node(s)",
            r.mismatch
        );
    }
    println!(
        "  provider-record holders per key: min/mean/max {hmin}/{hmean:.1}/{hmax} of {n} nodes"
    );
    println!(
        "  limit=1 lookups took {:.1} s in all",
        r.first_took.as_secs_f64()
    );
    println!();
    println!(
        "{:<22} {:>5} {:>8} {:>4} {:>6}  {:>29}  {:>13}  {:>13}  {:>5}",
        "", "", "", "", "", "latency ms (measured)", "requests (m.)", "hops (derived)", "sim"
    );
    println!(
        "{:<22} {:>5} {:>8} {:>4} {:>6}  {:>6} {:>6} {:>6} {:>7}  {:>5} {:>3} {:>3}  {:>5} {:>3} {:>3}  {:>5}",
        "lookups",
        "n",
        "success",
        "err",
        "local",
        "p50",
        "p90",
        "p99",
        "max",
        "mean",
        "p50",
        "p90",
        "mean",
        "p50",
        "max",
        "msgs"
    );
    println!("{}", row("limit=1 (fetch-like)", &all));
    println!("{}", row("limit=1, remote only", &remote));
    if let Some(f) = &full_sum {
        println!("{}", row("limit=20 (full)", f));
    }
    println!();
    println!(
        "  measured: latency = wall time of Network::find_providers as its caller sees it, \
         lookups one at a time (includes dialling peers not yet connected); requests = \
         LookupStats.requests, messages the real lookup sent; success = the key's provider \
         was among the answers."
    );
    println!(
        "  local = the origin already held the provider record (it is among the k closest \
         to the key), so a limit=1 lookup ends with 0 requests; \"remote only\" leaves those out."
    );
    println!(
        "  derived, not measured: hops = rounds of a round-synchronous Kademlia lookup \
         (alpha={ALPHA}, 20 peers per answer, ends when the k closest have answered) replayed \
         offline over the WAN routing tables probed before the lookups: limit=1 rows = round \
         in which a record holder is first queried (0 = local); limit=20 row = rounds until \
         the lookup ends. sim msgs = that replay's message count, to set beside the measured \
         requests. libp2p-kad itself does not report hops: it keeps alpha requests in flight \
         (per path; with disjoint paths 3 paths) rather than running rounds."
    );
    if args.disjoint {
        println!(
            "  disjoint paths: a lookup runs 3 paths with up to alpha requests in flight each, so \
             its requests exceed the one-path replay's; and libp2p's provide stores the record \
             on the union of the paths' closest peers, so a key can have more than k+1 holders."
        );
    }
    if args.lan {
        println!("  LAN DHT on: lookups run on both DHTs; the replay covers the WAN DHT only.");
    }
    if all.hops_missing > 0 {
        println!(
            "  {} limit=1 replay(s) never reached a holder (not counted in hops)",
            all.hops_missing
        );
    }

    let mut j = json!({
        "bench": "dht_provider_lookup",
        "nodes": n,
        "keys": args.keys,
        "lookups": args.lookups,
        "k": args.k,
        "alpha": ALPHA,
        "lan_dht": args.lan,
        "disjoint_paths": args.disjoint,
        "seed": args.seed,
        "setup_s": r2(r.setup.as_secs_f64()),
        "start_s": r2(r.start.as_secs_f64()),
        "settle_s": r2(r.settled.took.as_secs_f64()),
        "settle_rounds": r.settled.rounds,
        "settled": r.settled.reached,
        "publish_s": r2(r.publish.as_secs_f64()),
        "publish_failures": r.publish_errors.len(),
        "routing_table_min": wmin,
        "routing_table_mean": r2(wmean),
        "holders_mean": r2(hmean),
        "hops_note": "derived: offline round-synchronous replay (alpha=3) over probed routing tables",
        "total_s": r2(r.total.as_secs_f64()),
    });
    if let (Some(obj), serde_json::Value::Object(a)) = (j.as_object_mut(), summary_json(&all)) {
        obj.extend(a);
        obj.insert("remote_only".into(), summary_json(&remote));
        if let Some(f) = &full_sum {
            obj.insert("full".into(), summary_json(f));
        }
    }
    println!("{j}");
}
