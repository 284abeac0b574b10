//! Observing a running daemon through the real binary: the Prometheus endpoint (scraped
//! and parsed strictly, each named family checked to change as traffic flows between two
//! daemons on 127.0.0.1), `stats bw` against the bytes a fetch moved, `log level|ls`
//! changing what the daemon logs, `diag sys`, `stats repo`.

use crate::common::{Repo, http_agent, random_bytes, s, socket_addr};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ a strict parser

/// One sample: its full name (with `_total`, `_bucket`, ...), labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// One metric family: its `# TYPE` and samples.
#[derive(Debug, Clone)]
pub(super) struct Family {
    kind: String,
    samples: Vec<Sample>,
}

pub(super) type Families = BTreeMap<String, Family>;

/// A sample's labels less `le`: which series of a histogram it belongs to.
type LabelKey = Vec<(String, String)>;

/// The suffixes a sample of a family of `kind` may carry.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "gauge" | "unknown" => &[""],
        "histogram" | "gaugehistogram" => &["_bucket", "_count", "_sum", "_created"],
        "summary" => &["", "_count", "_sum", "_created"],
        "info" => &["_info"],
        "stateset" => &[""],
        _ => &[],
    }
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// `{a="x",b="y\"z"}` → labels; answers the rest of the line.
fn labels(mut rest: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut out = BTreeMap::new();
    rest = rest.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let key = &rest[..eq];
        if !is_name(key) {
            return Err(format!("bad label name {key:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    '"' => value.push('"'),
                    '\\' => value.push('\\'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, c) => value.push(c),
            }
        };
        if out.insert(key.to_string(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

fn number(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad number {s:?}")),
    }
}

/// Parses the OpenMetrics text format strictly: every sample belongs to the family whose
/// `# TYPE` precedes it and carries one of that type's suffixes, no family twice, names
/// and labels well formed, histogram buckets cumulative and ending at `+Inf` = `_count`,
/// and the text ends with `# EOF`.
pub(super) fn parse(text: &str) -> Result<Families, String> {
    let mut fams = Families::new();
    let mut current: Option<String> = None;
    let mut eof = false;
    for line in text.lines() {
        let err = |e: String| format!("{e} in line {line:?}");
        if eof {
            return Err(err("text after # EOF".into()));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (what, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let arg = parts.next().unwrap_or("");
            if !is_name(name) {
                return Err(err(format!("bad family name {name:?}")));
            }
            match what {
                "TYPE" => {
                    if suffixes(arg).is_empty() {
                        return Err(err(format!("unknown type {arg:?}")));
                    }
                    if fams.contains_key(name) {
                        return Err(err(format!("family {name} twice")));
                    }
                    fams.insert(
                        name.to_string(),
                        Family {
                            kind: arg.to_string(),
                            samples: Vec::new(),
                        },
                    );
                    current = Some(name.to_string());
                }
                "HELP" => {}
                "UNIT" => {
                    if !name.ends_with(&format!("_{arg}")) {
                        return Err(err(format!("{name} does not end in its unit {arg}")));
                    }
                }
                _ => return Err(err(format!("unknown metadata {what:?}"))),
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        let (labels, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(err)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("no space before the value".into()))?
            .split(' ');
        let value = number(fields.next().unwrap_or("")).map_err(err)?;
        if let Some(ts) = fields.next() {
            number(ts).map_err(err)?;
        }
        if fields.next().is_some() {
            return Err(err("trailing fields".into()));
        }
        let fam_name = current
            .as_ref()
            .ok_or_else(|| err("sample before any # TYPE".into()))?;
        let fam = fams.get_mut(fam_name).ok_or("lost family")?;
        let ok = suffixes(&fam.kind)
            .iter()
            .any(|suf| name == format!("{fam_name}{suf}"));
        if !ok {
            return Err(err(format!("sample {name} outside its family {fam_name}")));
        }
        fam.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    if !eof {
        return Err("no # EOF at the end".into());
    }
    for (name, f) in &fams {
        if f.kind != "histogram" {
            continue;
        }
        // Per label set (less `le`): buckets non-decreasing, the last is +Inf = _count.
        let mut series: BTreeMap<LabelKey, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts: BTreeMap<LabelKey, f64> = BTreeMap::new();
        for smp in &f.samples {
            let key: LabelKey = smp
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if smp.name.ends_with("_bucket") {
                let le = number(smp.labels.get("le").ok_or("bucket without le")?)?;
                series.entry(key).or_default().push((le, smp.value));
            } else if smp.name.ends_with("_count") {
                counts.insert(key, smp.value);
            }
        }
        for (key, buckets) in &series {
            let cumulative = buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            let last = buckets.last().ok_or("no buckets")?;
            if !cumulative || last.0 != f64::INFINITY || Some(&last.1) != counts.get(key) {
                return Err(format!(
                    "histogram {name} {key:?} is inconsistent: {buckets:?}"
                ));
            }
        }
    }
    Ok(fams)
}

/// The sum of `family`'s samples named `family + suffix` whose labels include `with`.
pub(super) fn value(fams: &Families, family: &str, suffix: &str, with: &[(&str, &str)]) -> f64 {
    let f = fams
        .get(family)
        .unwrap_or_else(|| panic!("no family {family} in {:?}", fams.keys()));
    f.samples
        .iter()
        .filter(|smp| smp.name == format!("{family}{suffix}"))
        .filter(|smp| {
            with.iter()
                .all(|(k, v)| smp.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|smp| smp.value)
        .sum()
}

#[test]
fn the_parser_is_strict() {
    let good = "# TYPE a counter\na_total{x=\"1\"} 2\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n# EOF\n";
    let f = parse(good).expect("good text");
    assert_eq!(value(&f, "a", "_total", &[("x", "1")]), 2.0);
    for bad in [
        "# TYPE a counter\na_total 1\n",             // no EOF
        "# TYPE a counter\na 1\n# EOF\n",            // counter without _total
        "b_total 1\n# EOF\n",                        // no TYPE
        "# TYPE a counter\na_total{x=1} 1\n# EOF\n", // unquoted label
        "# TYPE a counter\na_total one\n# EOF\n",    // not a number
        "# TYPE a gauge\n# TYPE a gauge\n# EOF\n",   // family twice
        "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n# EOF\n",
        "# TYPE a gauge\na 1\n# EOF\na 2\n", // after EOF
        "# TYPE a_bytes gauge\n# UNIT a_bytes seconds\n# EOF\n", // unit mismatch
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

// ------------------------------------------------------------------ helpers

fn api_url(r: &Repo) -> String {
    let addr = socket_addr(&r.api()).expect("api address");
    format!("http://{addr}")
}

fn gateway_url(r: &Repo) -> String {
    std::fs::read_to_string(r.path.join("gateway"))
        .expect("gateway file")
        .trim()
        .to_string()
}

/// GETs the metrics endpoint and parses it.
fn scrape(r: &Repo) -> Families {
    let mut resp = http_agent()
        .get(format!("{}/debug/metrics/prometheus", api_url(r)))
        .call()
        .expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = resp.body_mut().read_to_string().expect("body");
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn get_status(url: &str) -> u16 {
    http_agent().get(url).call().expect("GET").status().as_u16()
}

/// Polls `cond` on fresh scrapes of `r` (10 s at most); answers the last scrape.
fn scrape_until(r: &Repo, what: &str, cond: impl Fn(&Families) -> bool) -> Families {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let f = scrape(r);
        if cond(&f) {
            return f;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn id(r: &Repo) -> Value {
    serde_json::from_str(&r.ok(&["id"])).expect("id JSON")
}

/// B connected to A; answers A's peer ID.
fn connect(a: &Repo, b: &Repo) -> String {
    let a_id = id(a);
    let addr = a_id["Addresses"][0].as_str().expect("address").to_string();
    assert!(addr.starts_with("/ip4/127.0.0.1/"), "{addr}");
    b.ok(&["swarm", "connect", &addr]);
    a_id["ID"].as_str().expect("ID").to_string()
}

fn bw(r: &Repo, extra: &[&str]) -> Value {
    let mut args = vec!["stats", "bw", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&r.ok(&args)).expect("stats bw JSON")
}

// ------------------------------------------------------------------ the tests

#[test]
fn every_named_family_changes_as_traffic_flows() {
    let mut a = Repo::init();
    // A serves slowly, so B's fetch is seen in progress (its wantlist non-empty).
    a.ok(&["config", "Bitswap.UploadRate", "262144", "--json"]);
    a.start_daemon();
    let b = Repo::init_online();
    let a0 = scrape(&a);
    let b0 = scrape(&b);
    // Before any traffic: the families exist, nothing moved.
    assert_eq!(value(&b0, "ipfsd_bitswap_blocks", "_total", &[]), 0.0);
    assert_eq!(
        value(&a0, "ipfsd_libp2p_bandwidth_bytes", "_total", &[]),
        0.0
    );
    for (fam, kind) in [
        ("ipfsd_provide_queue_length", "gauge"),
        ("ipfsd_bitswap_wantlist_size", "gauge"),
        ("ipfsd_gateway_request_duration_seconds", "histogram"),
        ("ipfsd_libp2p_streams_open", "gauge"),
    ] {
        assert_eq!(a0[fam].kind, kind, "{fam}");
    }

    // add: the store grows and the blocks are announced.
    let data = random_bytes(11, 2 << 20);
    let file = a.file("f", &data);
    let cid = a.add(&[s(&file)]);
    let a1 = scrape_until(&a, "an announcement", |f| {
        value(f, "ipfsd_provides", "_total", &[]) > value(&a0, "ipfsd_provides", "_total", &[])
    });
    assert!(
        value(&a1, "ipfsd_store_blocks", "", &[]) >= 9.0,
        "{:?}",
        a1["ipfsd_store_blocks"]
    );
    assert!(value(&a1, "ipfsd_store_size_bytes", "", &[("kind", "data")]) >= data.len() as f64);

    // A fetch from B: connections, streams, bytes, BitSwap blocks per version, wantlists.
    connect(&a, &b);
    let mut cat = b
        .cmd(&["cat", &cid])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let during = scrape_until(&b, "B's wantlist to fill", |f| {
        value(f, "ipfsd_bitswap_wantlist_size", "", &[("list", "ours")]) > 0.0
    });
    assert!(value(&during, "ipfsd_bitswap_sessions", "", &[]) >= 1.0);
    let mut out = Vec::new();
    std::io::Read::read_to_end(cat.stdout.as_mut().expect("stdout"), &mut out).expect("read");
    let status = crate::common::wait_deadline(&mut cat, Duration::from_secs(60));
    assert!(status.success());
    assert!(out == data, "cat returned other bytes");
    let b2 = scrape_until(&b, "B's wantlist to empty", |f| {
        value(f, "ipfsd_bitswap_wantlist_size", "", &[("list", "ours")]) == 0.0
    });
    let a2 = scrape(&a);
    let got = value(
        &b2,
        "ipfsd_bitswap_data_bytes",
        "_total",
        &[("direction", "in"), ("version", "1.2.0")],
    );
    assert!(got >= data.len() as f64, "B received {got} block bytes");
    let sent = value(
        &a2,
        "ipfsd_bitswap_data_bytes",
        "_total",
        &[("direction", "out"), ("version", "1.2.0")],
    );
    assert!(sent >= data.len() as f64, "A sent {sent} block bytes");
    assert!(
        value(
            &b2,
            "ipfsd_bitswap_blocks",
            "_total",
            &[("direction", "in")]
        ) >= 9.0
    );
    assert_eq!(
        value(
            &b2,
            "ipfsd_bitswap_blocks",
            "_total",
            &[("version", "1.0.0")]
        ),
        0.0
    );
    assert!(value(&b2, "ipfsd_bitswap_peers", "", &[]) >= 1.0);
    assert!(value(&b2, "ipfsd_libp2p_peers", "", &[]) >= 1.0);
    for (r, dir) in [(&b2, "out"), (&a2, "in")] {
        assert_eq!(
            value(
                r,
                "ipfsd_libp2p_connections_opened",
                "_total",
                &[("direction", dir), ("transport", "tcp")]
            ),
            1.0
        );
        assert!(
            value(
                r,
                "ipfsd_libp2p_streams_opened",
                "_total",
                &[("direction", dir)]
            ) >= 1.0
        );
        assert!(
            value(
                r,
                "ipfsd_libp2p_connections_open",
                "",
                &[("transport", "tcp")]
            ) >= 1.0
        );
        assert!(value(r, "libp2p_swarm_connections_established", "_total", &[]) >= 1.0);
    }
    let b_in = value(
        &b2,
        "ipfsd_libp2p_bandwidth_bytes",
        "_total",
        &[("direction", "in")],
    );
    assert!(b_in >= data.len() as f64, "B read {b_in} bytes");
    assert!(
        value(
            &a2,
            "ipfsd_libp2p_bandwidth_bytes",
            "_total",
            &[("direction", "out")]
        ) >= data.len() as f64
    );

    // Gateway requests by status, and their latency.
    let gw = gateway_url(&a);
    assert_eq!(get_status(&format!("{gw}/ipfs/{cid}")), 200);
    assert_eq!(get_status(&format!("{gw}/ipfs/{cid}/no-such-entry")), 404);
    let a3 = scrape(&a);
    assert_eq!(
        value(
            &a3,
            "ipfsd_gateway_requests",
            "_total",
            &[("status", "200")]
        ),
        1.0
    );
    assert!(
        value(
            &a3,
            "ipfsd_gateway_requests",
            "_total",
            &[("status", "404")]
        ) >= 1.0
    );
    assert_eq!(
        value(&a3, "ipfsd_gateway_request_duration_seconds", "_count", &[]),
        value(&a3, "ipfsd_gateway_requests", "_total", &[])
    );

    // GC: a run is counted, and what it removed.
    let unpinned = a.file("u", &random_bytes(12, 10_000));
    a.add(&[s(&unpinned), "--pin=false"]);
    a.ok(&["repo", "gc"]);
    let a4 = scrape(&a);
    assert_eq!(value(&a4, "ipfsd_gc_runs", "_total", &[]), 1.0);
    assert!(value(&a4, "ipfsd_gc_removed_blocks", "_total", &[]) >= 1.0);

    // A DHT query: its latency is observed (libp2p's families appear with their first
    // sample).
    let kad = "libp2p_kad_query_result_duration_seconds";
    let before = b2.get(kad).map_or(0.0, |_| value(&b2, kad, "_count", &[]));
    b.ok(&["routing", "findprovs", &cid]);
    let b3 = scrape_until(&b, "a DHT query's duration", |f| {
        f.contains_key(kad) && value(f, kad, "_count", &[]) > before
    });
    assert_eq!(b3[kad].kind, "histogram");
    assert!(value(&b3, kad, "_count", &[("type", "GetProviders")]) >= 1.0);

    // A full reprovide: counted, and its age appears.
    // The age is there only once a run has finished.
    assert_eq!(
        a4.contains_key("ipfsd_reprovide_last_run_age_seconds"),
        value(&a4, "ipfsd_reprovide_runs", "_total", &[]) > 0.0
    );
    let runs = value(&a4, "ipfsd_reprovide_runs", "_total", &[]);
    a.ok(&["routing", "reprovide"]);
    let a5 = scrape_until(&a, "a reprovide run", |f| {
        value(f, "ipfsd_reprovide_runs", "_total", &[]) > runs
    });
    assert!(value(&a5, "ipfsd_reprovide_last_run_age_seconds", "", &[]) >= 0.0);
    // Its health: a run of a few blocks fits in 22 h.
    assert_eq!(a5["ipfsd_reprovide_falling_behind"].kind, "gauge");
    assert_eq!(value(&a5, "ipfsd_reprovide_falling_behind", "", &[]), 0.0);
    assert!(value(&a5, "ipfsd_reprovide_estimated_duration_seconds", "", &[]) >= 0.0);
    let stats: Value = serde_json::from_str(&a.ok(&["stats", "provide"])).unwrap();
    assert_eq!(stats["FallingBehind"], false, "{stats}");
    assert_eq!(stats["ReprovideIntervalSeconds"], 79200.0, "{stats}");
    assert!(
        stats["ReprovideSweep"]["Lookups"].as_u64() >= Some(1),
        "{stats}"
    );
}

/// The provide queue's length follows the announcements: an add of ~5,000 blocks fills
/// it (at most 16 announcements are under way at once), and it drains as they reach the
/// one peer.
#[test]
fn the_provide_queue_fills_and_drains() {
    let a = Repo::init_online();
    let b = Repo::init_online();
    connect(&a, &b);
    let before = value(&scrape(&a), "ipfsd_provides", "_total", &[]);
    let file = a.file("many", &random_bytes(12, 5 << 20));
    a.add(&["--chunker", "size-1024", "--raw-leaves", s(&file)]);
    let queued = |f: &Families| value(f, "ipfsd_provide_queue_length", "", &[]);
    let deadline = Instant::now() + Duration::from_secs(120);
    // Scraped back to back: the queue may drain within a second.
    let most = loop {
        let f = scrape(&a);
        if queued(&f) > 0.0 {
            break queued(&f);
        }
        assert!(
            value(&f, "ipfsd_provides", "_total", &[]) < before + 5000.0,
            "the announcements finished without the queue ever seen filled"
        );
        assert!(Instant::now() < deadline, "the provide queue never filled");
    };
    loop {
        let f = scrape(&a);
        if queued(&f) == 0.0 && value(&f, "ipfsd_provides", "_total", &[]) >= before + 5000.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the provide queue did not drain: {} left",
            queued(&f)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("provide queue: {most} keys seen waiting, then drained");
}

#[test]
fn stats_bw_agrees_with_the_bytes_moved() {
    stats_bw_agrees(Transport::Tcp);
}

#[test]
fn stats_bw_agrees_with_the_bytes_moved_over_quic() {
    stats_bw_agrees(Transport::Quic);
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic",
        }
    }
}

/// A daemon listening on TCP and on QUIC (both on 127.0.0.1).
fn tcp_and_quic_daemon() -> Repo {
    let mut r = Repo::init();
    r.try_start_daemon_args(&[], &["--swarm-addr", "/ip4/127.0.0.1/udp/0/quic-v1"])
        .expect("daemon starts");
    r
}

/// B connected to A over `transport`; answers A's peer ID.
fn connect_over(a: &Repo, b: &Repo, transport: Transport) -> String {
    let a_id = id(a);
    let addr = a_id["Addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(Value::as_str)
        .find(|addr| addr.contains("/quic-v1") == (transport == Transport::Quic))
        .unwrap_or_else(|| panic!("no {} address in {a_id}", transport.name()))
        .to_string();
    assert!(addr.starts_with("/ip4/127.0.0.1/"), "{addr}");
    b.ok(&["swarm", "connect", &addr]);
    a_id["ID"].as_str().expect("ID").to_string()
}

fn stats_bw_agrees(transport: Transport) {
    const SIZE: usize = 20 << 20;
    let (a, b) = match transport {
        Transport::Tcp => (Repo::init_online(), Repo::init_online()),
        Transport::Quic => (tcp_and_quic_daemon(), tcp_and_quic_daemon()),
    };
    let file = a.file("big", &random_bytes(21, SIZE));
    let cid = a.add(&[s(&file)]);
    let a_peer = connect_over(&a, &b, transport);
    let before = bw(&b, &[]);
    let before_a = bw(&a, &[]);
    let out = b.ok_bytes(&["cat", &cid]);
    assert_eq!(out.len(), SIZE);
    let after = bw(&b, &[]);
    let after_a = bw(&a, &[]);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}")) as f64;
    let moved_in = n(&after, "TotalIn") - n(&before, "TotalIn");
    let moved_out = n(&after_a, "TotalOut") - n(&before_a, "TotalOut");
    let ratio = moved_in / SIZE as f64;
    eprintln!(
        "stats bw ({}): B TotalIn +{moved_in} bytes, A TotalOut +{moved_out} bytes for {SIZE} bytes fetched (ratio {ratio:.4})",
        transport.name()
    );
    assert!(
        (0.95..=1.05).contains(&ratio),
        "TotalIn moved {moved_in} for {SIZE}"
    );
    assert!(
        (0.95..=1.05).contains(&(moved_out / SIZE as f64)),
        "A's TotalOut moved {moved_out} for {SIZE}"
    );
    // Per peer and per transport, the same traffic. The counters keep moving (identify,
    // the DHT, pings), so a peer's count is bounded by a total read after it, not before
    // (a total read before it failed CI once: the peer's count had passed it).
    let peer = bw(&b, &["--peer", &a_peer]);
    assert!(n(&peer, "TotalIn") >= SIZE as f64);
    let total_later = n(&bw(&b, &[]), "TotalIn");
    assert!(
        n(&peer, "TotalIn") <= total_later,
        "the peer's {} against a later total {total_later}",
        n(&peer, "TotalIn")
    );
    // Likewise the per-transport reads lie between a total read before them and one after.
    let total_before = n(&bw(&b, &[]), "TotalIn");
    let (tcp, quic) = (
        n(&bw(&b, &["--proto", "tcp"]), "TotalIn"),
        n(&bw(&b, &["--proto", "quic"]), "TotalIn"),
    );
    let total_after = n(&bw(&b, &[]), "TotalIn");
    assert!(
        total_before <= tcp + quic && tcp + quic <= total_after,
        "the transports add up: {tcp} + {quic} against {total_before}..={total_after}"
    );
    match transport {
        // TCP only on both sides: nothing over QUIC.
        Transport::Tcp => assert_eq!(quic, 0.0),
        // Both listen on both; the fetch went over the QUIC connection.
        Transport::Quic => assert!(quic >= 0.95 * SIZE as f64, "QUIC in: {quic}"),
    }
    let e = b.fail(&["stats", "bw", "--proto", "/ipfs/bitswap/1.2.0"]);
    assert!(e.contains("tcp or quic"), "{e}");
    let e = b.fail(&["stats", "bw", "--peer", "nonsense"]);
    assert!(e.contains("invalid peer ID"), "{e}");

    // The human form, Kubo's four lines.
    let text = b.ok(&["stats", "bw"]);
    let keys: Vec<&str> = text
        .lines()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        ["Bandwidth", "TotalIn", "TotalOut", "RateIn", "RateOut"],
        "{text}"
    );

    // --poll prints a line per interval until stopped.
    let mut poll = b
        .cmd(&["stats", "bw", "--poll", "--json", "-i", "100ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn poll");
    let mut lines = BufReader::new(poll.stdout.take().expect("stdout")).lines();
    for _ in 0..3 {
        let line = lines.next().expect("a line").expect("read");
        let v: Value = serde_json::from_str(&line).expect("JSON line");
        assert!(n(&v, "TotalIn") >= SIZE as f64, "{v}");
        assert!(v["RateIn"].as_f64().is_some(), "{v}");
    }
    poll.kill().expect("kill poll");
    poll.wait().expect("wait poll");
}

#[test]
fn log_level_changes_what_the_daemon_logs() {
    let r = Repo::init_online();
    let ls = r.ok(&["log", "ls"]);
    for sub in ["bitswap", "node", "libp2p_kad"] {
        assert!(ls.lines().any(|l| l == sub), "{ls}");
    }
    // A refused API request logs at debug level (node::api::guard), naming its path.
    let refused = |path: &str| {
        let resp = http_agent()
            .post(format!("{}/api/v0/{path}", api_url(&r)))
            .header("Origin", "http://evil.example")
            .send_empty()
            .expect("request");
        assert_eq!(resp.status().as_u16(), 403);
    };
    let logged = |path: &str| r.daemon_log().contains(&format!("/api/v0/{path}"));
    refused("marker-one");
    assert_eq!(
        r.ok(&["log", "level", "node", "debug"]).trim(),
        "Changed log level of 'node' to 'debug'"
    );
    refused("marker-two");
    r.ok(&["log", "level", "all", "error"]);
    refused("marker-three");
    // A record is written before the answer is sent; a fourth marker, logged again, shows
    // the log file has caught up with all of them.
    r.ok(&["log", "level", "node", "debug"]);
    refused("marker-four");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logged("marker-four") {
        assert!(Instant::now() < deadline, "{}", r.daemon_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!logged("marker-one"), "logged at the default level");
    assert!(
        logged("marker-two"),
        "not logged after `log level node debug`"
    );
    assert!(
        !logged("marker-three"),
        "logged after `log level all error`"
    );

    let e = r.fail(&["log", "level", "nonsense", "debug"]);
    assert!(e.contains("unknown log subsystem"), "{e}");
    let e = r.fail(&["log", "level", "node", "loud"]);
    assert!(e.contains("invalid log level"), "{e}");
    // Offline there is nothing to change.
    let offline = Repo::init();
    let e = offline.fail(&["log", "ls"]);
    assert!(e.contains("needs the running node"), "{e}");
}

#[test]
fn diag_sys_and_stats_repo() {
    let r = Repo::init_online();
    let v: Value = serde_json::from_str(&r.ok(&["diag", "sys"])).expect("diag sys JSON");
    assert_eq!(v["runtime"]["os"], std::env::consts::OS);
    assert_eq!(v["runtime"]["arch"], std::env::consts::ARCH);
    assert!(
        v["runtime"]["numcpu"].as_u64().is_some_and(|n| n >= 1),
        "{v}"
    );
    assert_eq!(v["ipfs_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["environment"]["IPFS_PATH"], s(&r.path));
    assert_eq!(v["net"]["online"], true);
    let addrs = v["net"]["interface_addresses"]
        .as_array()
        .expect("addresses");
    assert!(
        !addrs.is_empty()
            && addrs
                .iter()
                .all(|a| a.as_str().is_some_and(|a| a.starts_with("/ip4/127.0.0.1/"))),
        "{v}"
    );
    if cfg!(target_os = "linux") {
        let rss = v["memory"]["rss"].as_u64().expect("rss");
        assert!(
            rss > 1 << 20 && rss < v["memory"]["total"].as_u64().expect("total"),
            "{v}"
        );
        assert!(
            v["diskinfo"]["total_space"].as_u64().is_some_and(|n| n > 0),
            "{v}"
        );
    }
    // `stats repo` is `repo stat`, through the daemon and offline.
    r.file("hello.txt", b"hello world\n");
    r.add(&["hello.txt"]);
    assert_eq!(r.ok(&["stats", "repo"]), r.ok(&["repo", "stat"]));
    assert!(r.ok(&["stats", "repo"]).starts_with("NumObjects: 1\n"));
}
