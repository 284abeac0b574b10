//! IPNS interop with the JS reference (`tests/interop/helia-ipns.mjs`: the `ipns` package
//! and a Helia node with `@helia/ipns` on the Kademlia DHT, TCP on 127.0.0.1 only):
//! * records made by JS (Ed25519 V1+V2 and V2-only, secp256k1, RSA, large sequences,
//!   TTLs, `/ipns/` values, and broken ones) get the same verdict and fields in ipfsd;
//! * records made by ipfsd (its daemon's `name publish`, and the `ipns` crate with every
//!   shape, broken ones included) get the same verdict in JS;
//! * over the network: Helia resolves a name ipfsd published (A answering its GET_VALUE),
//!   and two ipfsd nodes (A, and B bootstrapped from A) resolve names Helia published and
//!   republished with a higher sequence, and `cat` content under one.
//!
//! Needs the reference peers: `bash scripts/setup-peers.sh`. `IPFSD_SKIP_INTEROP=1` skips (not under CI).

use base64::Engine;
use ipfsd_tests::ipns_forge::{bad_records, lower_sequence, tomorrow};
use ipfsd_tests::peer::LinePeer;
use ipfsd_tests::script::run_node;
use ipfsd_tests::testnet::{TestNode, init_repo, unique_bytes, wait_for};
use ipfsd_tests::{skip_interop, workspace_root};
use libp2p::identity::Keypair;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, SystemTime};

const READY: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(60);

fn script() -> std::path::PathBuf {
    workspace_root().join("tests/interop/helia-ipns.mjs")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Longest `helia-ipns.mjs vectors|validate` may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `helia-ipns.mjs MODE FILE` and answers its stdout as JSON.
fn run_script(mode: &str, file: &std::path::Path) -> Value {
    let out = run_node(
        &script(),
        &[mode.as_ref(), file.as_os_str()],
        SCRIPT_TIMEOUT,
    )
    .expect("run node");
    let stdout = out
        .stdout_if_ok()
        .unwrap_or_else(|e| panic!("helia-ipns.mjs {mode}: {e:#}"));
    serde_json::from_str(stdout).expect("JSON on stdout")
}

/// An ipfsd-made record for the JS validator, and the verdict (and fields) expected.
struct Case {
    label: String,
    name: String,
    bytes: Vec<u8>,
    valid: bool,
    /// Value and sequence, for valid records.
    fields: Option<(String, u64)>,
}

#[test]
fn js_and_ipfsd_accept_and_refuse_each_others_records_alike() {
    if skip_interop() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");

    // 1. JS-made vectors, checked by the ipns crate.
    let vectors_file = dir.path().join("vectors.json");
    run_script("vectors", &vectors_file);
    let vectors: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&vectors_file).expect("read")).expect("JSON");
    assert!(vectors.len() >= 10, "{} vectors", vectors.len());
    let now = SystemTime::now();
    let mut kinds = std::collections::BTreeSet::new();
    // Vectors JS refused, and accepted.
    let mut verdicts = [0usize; 2];
    for v in &vectors {
        let label = v["label"].as_str().expect("label");
        let name: ipns::Name = v["name"].as_str().expect("name").parse().expect("a name");
        assert_eq!(
            name,
            v["peerId"]
                .as_str()
                .expect("peerId")
                .parse()
                .expect("peer id form"),
            "{label}: both name forms"
        );
        let hex: String = name
            .routing_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            v["routingKey"].as_str().expect("routingKey"),
            "{label}"
        );
        let bytes = b64()
            .decode(v["record"].as_str().expect("record"))
            .expect("b64");
        let verdict = ipns::validate(&name, &bytes, now);
        // What the JS validator itself says of the vector (not what it was made to be).
        let js = v["jsValid"]
            .as_bool()
            .expect("jsValid: the JS validator's verdict");
        eprintln!(
            "JS {label}: JS says {js} ({}), ipfsd says {:?}",
            v["jsError"],
            verdict.as_ref().map(|_| "valid")
        );
        assert_eq!(
            verdict.is_ok(),
            js,
            "{label}: ipfsd says {:?}, the JS validator {} ({})",
            verdict.as_ref().map(|_| "valid"),
            if js { "valid" } else { "invalid" },
            v["jsError"]
        );
        // The set holds what it claims to (refusals included): the JS verdict matches
        // what each vector was made to be.
        let made = v["expectValid"].as_bool().expect("expectValid");
        assert_eq!(
            js, made,
            "{label}: the JS validator disagrees with the vector's label"
        );
        verdicts[usize::from(js)] += 1;
        if let Ok(r) = verdict {
            assert_eq!(
                r.value(),
                v["value"].as_str().expect("value").as_bytes(),
                "{label}"
            );
            assert_eq!(
                r.sequence().to_string(),
                v["sequence"].as_str().expect("seq"),
                "{label}"
            );
            assert_eq!(
                r.ttl().as_nanos().to_string(),
                v["ttlNs"].as_str().expect("ttl"),
                "{label}"
            );
            assert_eq!(r.has_v1(), v["v1"].as_bool().expect("v1"), "{label}");
            kinds.insert(v["keyType"].as_str().expect("keyType").to_string());
        }
    }
    assert!(
        verdicts[0] >= 5 && verdicts[1] >= 5,
        "refused and accepted by JS: {verdicts:?}"
    );
    eprintln!("valid JS key types checked: {kinds:?}");
    assert!(
        kinds.len() >= 3,
        "Ed25519, secp256k1 and RSA records: {kinds:?}"
    );

    // 2. ipfsd-made records, checked by JS: one from a daemon's `name publish`...
    let repo = dir.path().join("node");
    init_repo(&repo, None, |c| c.bootstrap = Vec::new());
    let node = TestNode::start(&repo, None);
    let cid = node.add(b"ipfsd record for js");
    node.call("key/gen", &[("arg", "site")]).ok();
    let p = node
        .call(
            "name/publish",
            &[
                ("arg", &cid),
                ("key", "site"),
                ("allow-offline", "true"),
                ("ttl", "90s"),
            ],
        )
        .ok()
        .json();
    let published_name = p["Name"].as_str().expect("Name").to_string();
    let got = node
        .call(
            "routing/get",
            &[("arg", &format!("/ipns/{published_name}"))],
        )
        .ok()
        .json();
    let daemon_record = b64()
        .decode(got["Extra"].as_str().expect("Extra"))
        .expect("b64");
    node.stop();
    // ...and the ipns crate's, of every shape, plus the records every ipfsd layer refuses.
    let ed = Keypair::generate_ed25519();
    let other = Keypair::generate_ed25519();
    let ipns_value = ipns::Name::new(other.public().to_peer_id()).to_path();
    let name_of = |k: &Keypair| ipns::Name::new(k.public().to_peer_id()).to_string();
    let mut cases = vec![Case {
        label: "daemon name publish".into(),
        name: published_name,
        bytes: daemon_record,
        valid: true,
        fields: Some((format!("/ipfs/{cid}"), 0)),
    }];
    let good = |label: &str, key: &Keypair, value: &str, seq: u64, ttl: Duration| {
        let r = ipns::Record::create(key, value.as_bytes(), seq, tomorrow(), ttl).expect("create");
        Case {
            label: label.to_string(),
            name: name_of(key),
            bytes: r.as_bytes().to_vec(),
            valid: true,
            fields: Some((value.to_string(), seq)),
        }
    };
    cases.push(good(
        "ed25519",
        &ed,
        "/ipfs/bafkqaaa",
        1,
        Duration::from_secs(300),
    ));
    cases.push(good(
        "max sequence",
        &ed,
        "/ipfs/bafkqaaa",
        u64::MAX,
        Duration::from_secs(1),
    ));
    cases.push(good("ttl 0", &ed, "/ipfs/bafkqaaa", 2, Duration::ZERO));
    cases.push(good(
        "ipns value",
        &ed,
        &format!("{ipns_value}/a/b"),
        3,
        Duration::from_secs(60),
    ));
    let long = format!("/ipfs/bafkqaaa/{}", "segment/".repeat(200));
    cases.push(good("long value", &ed, &long, 4, Duration::from_secs(60)));
    for bad in bad_records(&ed, &other)
        .into_iter()
        .chain([lower_sequence(&ed, 0)])
    {
        // A lower sequence is only refused next to a newer record; alone it is valid.
        let lone_valid = bad.case == "lower sequence";
        cases.push(Case {
            label: bad.case.to_string(),
            name: name_of(&ed),
            bytes: bad.value,
            valid: lone_valid,
            fields: None,
        });
    }
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({ "label": c.label, "name": c.name, "record": b64().encode(&c.bytes) }))
        .collect();
    let in_file = dir.path().join("ipfsd-records.json");
    std::fs::write(&in_file, serde_json::to_vec(&input).expect("json")).expect("write");
    let verdicts = run_script("validate", &in_file);
    let verdicts = verdicts.as_array().expect("an array");
    assert_eq!(verdicts.len(), cases.len());
    for (
        Case {
            label,
            name,
            bytes,
            valid,
            fields,
        },
        v,
    ) in cases.iter().zip(verdicts)
    {
        eprintln!("ipfsd {label}: JS says ok={} {}", v["ok"], v["error"]);
        assert_eq!(v["label"].as_str(), Some(label.as_str()));
        let js = v["ok"].as_bool().expect("ok: the JS validator's verdict");
        // ipfsd's own verdict on its record, compared with the JS validator's.
        let name: ipns::Name = name.parse().expect("a name");
        let ours = ipns::validate(&name, bytes, SystemTime::now());
        assert_eq!(
            ours.is_ok(),
            js,
            "{label}: ipfsd says {ours:?}, JS says {v}"
        );
        assert_eq!(js, *valid, "{label}: expected valid={valid}: {v}");
        if let Some((value, seq)) = fields {
            assert_eq!(v["value"].as_str(), Some(value.as_str()), "{label}");
            assert_eq!(
                v["sequence"].as_str(),
                Some(seq.to_string().as_str()),
                "{label}"
            );
            assert_eq!(v["v1"], true, "{label}: ipfsd writes V1 fields too");
            assert_eq!(v["v2"], true, "{label}");
        }
    }
}

#[test]
fn helia_and_ipfsd_resolve_each_others_names_over_the_dht() {
    if skip_interop() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("a"), None, |c| c.bootstrap = Vec::new());
    let a = TestNode::start(&dir.path().join("a"), None);
    // B starts out knowing only A (Helia finds it through A's routing table).
    let a_addr = a.swarm_addr().to_string();
    init_repo(&dir.path().join("b"), None, |c| c.bootstrap = vec![a_addr]);
    let b = TestNode::start(&dir.path().join("b"), None);
    let mut cmd = Command::new("node");
    cmd.arg(script()).args(["peer", "--seconds", "300"]);
    let mut helia = LinePeer::spawn("helia-ipns", cmd, READY);
    let helia_name = helia.ready["name"].as_str().expect("name").to_string();
    let helia_peer = helia.ready["peerId"].as_str().expect("peerId").to_string();
    let joined = helia.ok(&format!("connect {}", a.swarm_addr()), STEP);
    eprintln!("helia joined A: {joined}");
    wait_for(STEP, "A to see Helia as a DHT peer", || {
        a.peers().contains(&helia_peer).then_some(())
    });

    // ipfsd publishes; Helia resolves it over the DHT, from A.
    let cid = a.add(&unique_bytes("ipfsd's content for helia"));
    let p = a.call("name/publish", &[("arg", &cid)]).ok().json();
    let a_name = p["Name"].as_str().expect("Name").to_string();
    let got = helia.ok(&format!("resolve {a_name} nocache"), STEP);
    eprintln!("helia resolved ipfsd's name: {got}");
    assert_eq!(got["value"], format!("/ipfs/{cid}").as_str());
    assert_eq!(got["sequence"], "0");
    // Helia also holds a copy (A's publication put it there, Helia being a DHT server):
    // what counts is that A answered Helia's GET_VALUE with the record.
    let sources: Vec<&str> = got["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        sources.contains(&a.peer_id()),
        "A answered with the record: {sources:?}"
    );

    // Helia publishes; A and B (which knows only A) resolve it.
    let helia_cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    let published = helia.ok(&format!("publish /ipfs/{helia_cid}"), STEP);
    eprintln!("helia published: {published}");
    let seq0: u64 = published["sequence"]
        .as_str()
        .expect("seq")
        .parse()
        .expect("u64");
    for (who, n) in [("A", &a), ("B", &b)] {
        let path = wait_for(STEP, &format!("{who} to resolve Helia's name"), || {
            n.resolve_name(&format!("/ipns/{helia_name}")).ok()
        });
        assert_eq!(path, format!("/ipfs/{helia_cid}"), "{who}");
    }
    // A republication with a higher sequence wins on both.
    let next = helia.ok(&format!("publish /ipfs/{helia_cid}/next"), STEP);
    let seq1: u64 = next["sequence"]
        .as_str()
        .expect("seq")
        .parse()
        .expect("u64");
    assert!(seq1 > seq0, "{seq1} > {seq0}");
    for (who, n) in [("A", &a), ("B", &b)] {
        assert_eq!(
            n.resolve_name(&helia_name),
            Ok(format!("/ipfs/{helia_cid}/next")),
            "{who} sees the newer record"
        );
    }
    // Content under a Helia name is reachable by path on ipfsd (here: A's own block).
    let own = a.add(b"under a helia name");
    helia.ok(&format!("publish /ipfs/{own}"), STEP);
    // (B cached the previous value for its TTL: a fresh lookup replaces it.)
    assert_eq!(b.resolve_name(&helia_name), Ok(format!("/ipfs/{own}")));
    assert_eq!(b.cat(&format!("/ipns/{helia_name}")), b"under a helia name");
    drop(helia);
    b.stop();
    a.stop();
}
