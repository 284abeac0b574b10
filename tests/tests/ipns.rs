//! IPNS across real ipfsd daemons on 127.0.0.1: a name published on one node of a
//! 10-node network resolves on every other one (API, `cat /ipns/…`, the gateway), a newer
//! record wins everywhere, an expired one is refused; and the republisher keeps a
//! short-lived name alive only while its daemon runs.

use ipfsd_tests::ipns_forge::record;
use ipfsd_tests::testnet::{TestNode, chain, unique_bytes, wait_for, wan_table};
use libp2p::identity::Keypair;
use std::time::{Duration, Instant, SystemTime};

const SETTLE: Duration = Duration::from_secs(30);

/// The sequence of the record `node` finds for `name` through the DHT.
fn dht_sequence(node: &TestNode, name: &str) -> u64 {
    dht_sequence_if_held(node, name)
        .unwrap_or_else(|| panic!("routing/get {name}: no valid record (404)"))
}

/// [`dht_sequence`], or `None` while no valid record is found (404: between two
/// republications of a short-lived record, under load, every copy may have expired).
fn dht_sequence_if_held(node: &TestNode, name: &str) -> Option<u64> {
    use base64::Engine;
    let reply = node.call("routing/get", &[("arg", name)]);
    if reply.status == 404 {
        return None;
    }
    let got = reply.ok().json();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(got["Extra"].as_str().expect("Extra"))
        .expect("base64");
    Some(ipns::Record::decode(&bytes).expect("a record").sequence())
}

/// Stores the IPNS record `value` under `key` on each of `nodes` by a raw DHT
/// `PUT_VALUE` (no lookup, so no other node is told), then checks with a raw `GET_VALUE`
/// that each holds it.
fn spread_to(nodes: &[TestNode], key: &[u8], value: &[u8]) {
    use ipfsd_tests::kad_wire::{KAD_WAN, RawClient, get_value, put_value};
    const STEP: Duration = Duration::from_secs(10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let addrs: Vec<libp2p::Multiaddr> = nodes
            .iter()
            .map(|n| n.swarm_addr().parse().expect("multiaddr"))
            .collect();
        let (client, peers) = RawClient::connect(Keypair::generate_ed25519(), &addrs, STEP)
            .await
            .expect("raw client connects");
        for peer in peers {
            let echo = client
                .request(peer, KAD_WAN, &put_value(key, value), 1 << 20, STEP)
                .await
                .unwrap_or_else(|e| panic!("PUT_VALUE to {peer}: {e}"));
            assert_eq!(
                echo.record.map(|r| r.value),
                Some(value.to_vec()),
                "{peer}: echo"
            );
            let held = client
                .request(peer, KAD_WAN, &get_value(key), 1 << 20, STEP)
                .await
                .unwrap_or_else(|e| panic!("GET_VALUE from {peer}: {e}"));
            assert_eq!(
                held.record.map(|r| r.value),
                Some(value.to_vec()),
                "{peer} did not store the record"
            );
        }
    });
}

fn publish(node: &TestNode, path: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut args = vec![("arg", path)];
    args.extend_from_slice(extra);
    node.call("name/publish", &args).ok().json()
}

#[test]
fn ten_nodes_resolve_a_name_newer_records_win_and_expired_ones_are_refused() {
    const N: usize = 10;
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("[{:>6.2?}] {what}", t0.elapsed());
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain(dir.path(), "node", N, None, |c| {
        c.provide.interval = "0".into()
    });
    for (i, n) in nodes.iter().enumerate() {
        wait_for(SETTLE, &format!("node {i}'s routing table"), || {
            (wan_table(n) >= 5).then_some(())
        });
    }
    phase("10 nodes up, routing tables filled");

    // The test holds the key too (imported into node 0), to sign records of its own.
    let key = Keypair::generate_ed25519();
    let imported = nodes[0]
        .call_with_file(
            "key/import",
            &[("arg", "site")],
            &key.to_protobuf_encoding().expect("encode key"),
        )
        .ok()
        .json();
    let name = imported["Id"].as_str().expect("Id").to_string();
    // Private keys go in, never out: there is no key/export in the API (as in Kubo).
    assert_eq!(nodes[0].call("key/export", &[("arg", "site")]).status, 404);
    assert_eq!(name, ipns::Name::new(key.public().to_peer_id()).to_string());
    let ipns_path = format!("/ipns/{name}");

    let v1 = unique_bytes("first version");
    let cid1 = nodes[0].add(&v1);
    let p = publish(&nodes[0], &cid1, &[("key", "site"), ("ttl", "1m")]);
    assert_eq!(p["Name"], name.as_str());
    assert_eq!(p["Value"], format!("/ipfs/{cid1}").as_str());
    assert_eq!(p["Sequence"], 0);
    assert_eq!(p["Online"], true, "the record reached other peers");
    phase("published sequence 0 on node 0");
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let started = Instant::now();
        let got = n
            .resolve_name(&ipns_path)
            .unwrap_or_else(|e| panic!("node {i}: {e}"));
        assert_eq!(got, format!("/ipfs/{cid1}"), "node {i}");
        eprintln!("node {i} resolved in {:?}", started.elapsed());
    }
    // The content under the name, over BitSwap, by path; and through node 9's gateway.
    assert_eq!(nodes[9].cat(&ipns_path), v1);
    let gw = ipfsd_tests::http::get(nodes[9].gateway_url(), &ipns_path, &[]);
    assert_eq!(gw.status, 200, "{}", gw.text());
    assert_eq!(gw.body, v1);
    assert_eq!(gw.header("x-ipfs-path"), Some(ipns_path.as_str()));
    assert_eq!(gw.header("cache-control"), Some("public, max-age=60"));
    let host = format!("{name}.ipns.localhost");
    let sub = ipfsd_tests::http::get(nodes[8].gateway_url(), "/", &[("Host", &host)]);
    assert_eq!(sub.status, 200, "{}", sub.text());
    assert_eq!(sub.body, v1);
    phase("all 9 others resolve it; cat and the gateway serve it");

    // A second publication (sequence 1) wins on every node, cached answers included once
    // a node has looked again.
    let v2 = unique_bytes("second version");
    let cid2 = nodes[0].add(&v2);
    let p = publish(&nodes[0], &format!("/ipfs/{cid2}"), &[("key", "site")]);
    assert_eq!(p["Sequence"], 1);
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            n.resolve_name(&name),
            Ok(format!("/ipfs/{cid2}")),
            "node {i}"
        );
        assert_eq!(dht_sequence(n, &ipns_path), 1, "node {i}");
        let cached = n.call("name/resolve", &[("arg", &ipns_path)]).ok().json();
        assert_eq!(
            cached["Path"],
            format!("/ipfs/{cid2}").as_str(),
            "node {i} cache"
        );
    }
    assert_eq!(nodes[5].cat(&ipns_path), v2);
    // --stream: one line per better answer as the lookup finds it, the newest last.
    let lines = nodes[4]
        .call(
            "name/resolve",
            &[("arg", &ipns_path), ("stream", "true"), ("nocache", "true")],
        )
        .ok()
        .lines();
    assert!(!lines.is_empty());
    assert_eq!(
        lines.last().expect("a line")["Path"],
        format!("/ipfs/{cid2}").as_str(),
        "{lines:?}"
    );
    phase("sequence 1 wins on all 10 nodes");

    // An older record is refused by a node that holds the newer one.
    let old = record(
        &key,
        &format!("/ipfs/{cid1}"),
        0,
        SystemTime::now() + SETTLE,
    );
    let r = nodes[0].call_with_file("routing/put", &[("arg", &ipns_path)], &old);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("older"), "{}", r.text());

    // An expired record is refused outright...
    let expired = record(
        &key,
        "/ipfs/bafkqaaa/expired",
        9,
        SystemTime::now() - Duration::from_secs(1),
    );
    let r = nodes[4].call_with_file("routing/put", &[("arg", &ipns_path)], &expired);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("expired"), "{}", r.text());
    // ...and one that expires while peers hold it is dropped for the valid record below
    // it. Sequence 5, valid for a few seconds, is stored on nodes 3..=6 only, by raw
    // PUT_VALUEs (a lookup by a node would repair every other copy to sequence 5, leaving
    // nothing to fall back to); the other six keep sequence 1. Once it has expired, every
    // node must resolve sequence 1: never the expired value, and never "not found".
    let brief_value = "/ipfs/bafkqaaa/brief";
    let until = SystemTime::now() + Duration::from_secs(6);
    let brief = record(&key, brief_value, 5, until);
    let routing_key = ipns::Name::new(key.public().to_peer_id()).routing_key();
    spread_to(&nodes[3..=6], &routing_key, &brief);
    phase("sequence 5 stored on nodes 3..=6 (checked by GET_VALUE)");
    assert!(
        SystemTime::now() < until,
        "sequence 5 expired before it was checked in place: a longer validity is needed"
    );
    // The condition is the clock: the record's validity has passed.
    std::thread::sleep(until.duration_since(SystemTime::now()).unwrap_or_default());
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            n.resolve_name(&ipns_path),
            Ok(format!("/ipfs/{cid2}")),
            "node {i} after sequence 5 expired"
        );
    }
    phase("older and expired records refused; sequence 1 resolves again");
    for n in nodes {
        n.stop();
    }
}

#[test]
fn republishing_keeps_a_short_lived_name_alive_only_while_the_daemon_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = chain(dir.path(), "node", 3, None, |c| {
        c.provide.interval = "0".into();
        c.ipns.republish_period = "1h".into();
    });
    for (i, n) in nodes.iter().enumerate() {
        wait_for(SETTLE, &format!("node {i}'s routing table"), || {
            (wan_table(n) >= 2).then_some(())
        });
    }
    let cid = nodes[0].add(&unique_bytes("short-lived name"));
    let lifetime = Duration::from_secs(4);
    let p = publish(&nodes[0], &cid, &[("lifetime", "4s"), ("ttl", "0")]);
    let name = p["Name"].as_str().expect("Name").to_string();
    assert_eq!(p["Sequence"], 0);
    // The name keeps resolving elsewhere past its lifetime, to a record signed again and
    // again (re-signed at half its lifetime): wait until the first record has expired and
    // sequence 3 is out, then resolve it.
    let published = Instant::now();
    let seq = wait_for(lifetime * 4, "sequence 3 on node 2", || {
        let seq = dht_sequence_if_held(&nodes[2], &format!("/ipns/{name}"))?;
        (seq >= 3 && published.elapsed() > lifetime).then_some(seq)
    });
    assert_eq!(nodes[2].resolve_name(&name), Ok(format!("/ipfs/{cid}")));
    eprintln!("sequence {seq} after {:?}", published.elapsed());
    // Without the daemon nobody re-signs it: the copies expire and the name stops
    // resolving, with "no valid record" (not any other failure).
    nodes.remove(0).stop();
    let gone = wait_for(lifetime * 2, "the name to stop resolving", || {
        nodes[1].resolve_name(&name).err()
    });
    assert!(
        gone.starts_with("404") && gone.contains("no peer holds a valid record"),
        "an expired name must not resolve: {gone}"
    );
    for n in nodes {
        n.stop();
    }
}

#[test]
fn a_name_published_offline_resolves_elsewhere_once_its_daemon_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a_path = dir.path().join("a");
    let repo = ipfsd_tests::testnet::init_repo(&a_path, None, |c| c.bootstrap = Vec::new());
    // No daemon: the record is signed and kept in the repository only.
    let keystore = node::keystore::Keystore::new(&a_path, repo.identity().keypair().clone());
    let names = node::names::Names::open(Some(&a_path), keystore, None, 16).expect("names");
    let options = node::names::PublishOptions {
        key: "self".into(),
        lifetime: Duration::from_secs(3600),
        ttl: Duration::from_secs(60),
        sequence: None,
        allow_offline: true,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let published = rt
        .block_on(names.publish("/ipfs/bafkqaaa", &options))
        .expect("offline publish");
    assert!(!published.online);
    drop((names, repo));
    let a = TestNode::start(&a_path, None);
    let a_addr = a.swarm_addr().to_string();
    ipfsd_tests::testnet::init_repo(&dir.path().join("b"), None, |c| c.bootstrap = vec![a_addr]);
    let b = TestNode::start(&dir.path().join("b"), None);
    let path = wait_for(SETTLE, "B to resolve A's offline-published name", || {
        b.resolve_name(&published.name.to_string()).ok()
    });
    assert_eq!(path, "/ipfs/bafkqaaa");
    b.stop();
    a.stop();
}
