//! Multi-node DHT scenarios with real ipfsd daemons on 127.0.0.1 (ephemeral ports):
//! a 10-node network with chained bootstrap (providers and peers found from every node,
//! records surviving a restart), and the S/Kademlia admission rule keeping a weak peer out.

use base64::Engine;
use ipfsd_tests::testnet::{
    TestNode, chain, init_repo, set_bootstrap, unique_bytes, wait_for, wan_table,
};
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(30);

/// `routing/get` of `key` on `node`: the value's bytes.
fn get_value(node: &TestNode, key: &str) -> Vec<u8> {
    let got = node.call("routing/get", &[("arg", key)]).ok().json();
    base64::engine::general_purpose::STANDARD
        .decode(got["Extra"].as_str().expect("Extra"))
        .expect("base64 value")
}

fn total_provides(node: &TestNode) -> u64 {
    node.call("stats/provide", &[]).ok().json()["TotalProvides"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn ten_nodes_find_providers_and_peers_and_keep_records_across_restart() {
    const N: usize = 10;
    let t0 = std::time::Instant::now();
    let phase = |what: &str| eprintln!("[{:>6.2?}] {what}", t0.elapsed());
    let dir = tempfile::tempdir().expect("tempdir");
    // Only what this test announces: records found after the restart come from the
    // datastore, not from a fresh announcement.
    let mut nodes = chain(dir.path(), "node", N, None, |c| {
        c.provide.interval = "0".into()
    });
    phase("10 nodes started");
    // Chained bootstrap: each node knows one other at first; the DHT's own bootstrap
    // lookups must spread that into full routing tables.
    for (i, n) in nodes.iter().enumerate() {
        wait_for(SETTLE, &format!("node {i}'s routing table"), || {
            (wan_table(n) >= 5).then_some(())
        });
    }

    phase("routing tables filled");
    // A block added on node 0 is announced in the background and found from every node.
    let cid = nodes[0].add(&unique_bytes("testnet content"));
    wait_for(SETTLE, "node 0's announcement", || {
        (total_provides(&nodes[0]) >= 1).then_some(())
    });
    let provider = nodes[0].peer_id().to_string();
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let t = std::time::Instant::now();
        wait_for(SETTLE, &format!("node {i} to find the provider"), || {
            n.findprovs(&cid).contains(&provider).then_some(())
        });
        eprintln!("node {i} found the provider in {:?}", t.elapsed());
    }

    phase("provider found from every node");
    // findpeer across the network: node 9 looks up node 0 without being connected to it.
    let last = &nodes[N - 1];
    let _ = last.call("swarm/disconnect", &[("arg", &provider)]);
    let found = last
        .call("routing/findpeer", &[("arg", &provider)])
        .ok()
        .json();
    let addrs: Vec<String> = found["Responses"][0]["Addrs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    assert!(
        addrs.contains(&nodes[0].listen_addr()),
        "findpeer gave {addrs:?}, want {}",
        nodes[0].listen_addr()
    );

    phase("findpeer done");
    // A /pk/ value put on node 3 is readable on node 7.
    let pk_owner = &nodes[3];
    let id = pk_owner.call("id", &[]).ok().json();
    let public_key = base64::engine::general_purpose::STANDARD
        .decode(id["PublicKey"].as_str().expect("PublicKey"))
        .expect("base64 key");
    let pk_key = format!("/pk/{}", pk_owner.peer_id());
    pk_owner
        .call_with_file("routing/put", &[("arg", &pk_key)], &public_key)
        .ok();
    assert_eq!(get_value(&nodes[7], &pk_key), public_key);
    phase("/pk/ value put and read");
    // A value no validator accepts is refused before it leaves the node.
    let refused = pk_owner.call_with_file(
        "routing/put",
        &[("arg", &format!("/pk/{}", nodes[4].peer_id()))],
        &public_key,
    );
    assert_eq!(refused.status, 400, "{}", refused.text());

    phase("invalid value refused");
    // Restart everything but the provider, each on a new ephemeral port (a port released
    // by a stopped node may be taken by another process meanwhile), bootstrapping to the
    // node restarted before it. Node 0 stays down: whatever says it provides the block was
    // on disk.
    for n in nodes.drain(..) {
        n.stop();
    }
    phase("all nodes stopped");
    let mut restarted: Vec<TestNode> = Vec::new();
    for i in 1..N {
        let path = dir.path().join(format!("node{i}"));
        let bootstrap = restarted
            .last()
            .map(|prev| vec![prev.swarm_addr().to_string()])
            .unwrap_or_default();
        set_bootstrap(&path, bootstrap);
        restarted.push(TestNode::start(&path, None));
    }
    for (i, n) in restarted.iter().enumerate() {
        let i = i + 1;
        let t = std::time::Instant::now();
        let stats = n.call("stats/dht", &[]).ok().json();
        assert!(
            stats["Records"]["ProviderRecords"].as_u64() >= Some(1),
            "node {i} lost its provider records: {stats}"
        );
        wait_for(
            SETTLE,
            &format!("node {i} to find the provider after restart"),
            || n.findprovs(&cid).contains(&provider).then_some(()),
        );
        eprintln!(
            "node {i} found the provider after restart in {:?}",
            t.elapsed()
        );
    }
    phase("provider found after restart");
    assert_eq!(
        get_value(&restarted[6], &pk_key),
        public_key,
        "the /pk/ value survived the restart"
    );
    phase("/pk/ value read after restart");
    for n in restarted {
        n.stop();
    }
}

#[test]
fn min_peer_difficulty_keeps_a_weak_peer_out() {
    const MIN: u32 = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let strong = chain(dir.path(), "strong", 3, Some(MIN), |c| {
        c.routing.min_peer_difficulty = MIN;
    });
    // A peer below the bar (no PoW, as Kubo's and Helia's IDs): redraw until it is.
    let weak_path = dir.path().join("weak");
    let weak = loop {
        let _ = std::fs::remove_dir_all(&weak_path);
        let repo = init_repo(&weak_path, None, |c| {
            c.bootstrap = vec![strong[0].swarm_addr().to_string()];
        });
        if repo.identity().difficulty() < MIN {
            drop(repo);
            break TestNode::start(&weak_path, None);
        }
    };

    // Both directions are refused. The weak side's handshake completes before the strong
    // side checks the authenticated ID and drops the connection, so the weak side's dial
    // may report success (and its bootstrap dials keep trying); what counts is that the
    // strong side never admits it (checked below).
    let _ = weak.call("swarm/connect", &[("arg", strong[1].swarm_addr())]);
    let r = strong[1].call("swarm/connect", &[("arg", weak.swarm_addr())]);
    assert_ne!(
        r.status,
        200,
        "strong node dialled a weak peer: {}",
        r.text()
    );
    assert!(r.text().contains("difficulty"), "{}", r.text());

    // The strong nodes still form a network among themselves.
    for n in &strong {
        wait_for(SETTLE, "the strong nodes' routing tables", || {
            (wan_table(n) >= 2).then_some(())
        });
    }
    let cid = strong[2].add(&unique_bytes("pow content"));
    let provider = strong[2].peer_id().to_string();
    wait_for(SETTLE, "strong node 0 to find the provider", || {
        strong[0].findprovs(&cid).contains(&provider).then_some(())
    });

    // The weak peer is nowhere: not connected, not in any routing table or address book,
    // and it cannot find what the strong nodes provide.
    for (i, n) in strong.iter().enumerate() {
        assert!(
            !n.peers().iter().any(|p| p == weak.peer_id()),
            "strong node {i} is connected to the weak peer"
        );
        let addrs = n.call("swarm/addrs", &[]).ok().json();
        assert!(
            addrs["Addrs"]
                .as_object()
                .expect("swarm/addrs answers Addrs")
                .get(weak.peer_id())
                .is_none(),
            "strong node {i} knows the weak peer: {addrs}"
        );
    }
    let refused: u64 = strong
        .iter()
        .map(|n| {
            let s = n.call("stats/dht", &[]).ok().json();
            s["PowRefused"]
                .as_u64()
                .unwrap_or_else(|| panic!("stats/dht lacks PowRefused: {s}"))
        })
        .sum();
    assert!(refused >= 2, "refusals counted: {refused}");
    assert!(weak.findprovs(&cid).is_empty());
    weak.stop();
    for n in strong {
        n.stop();
    }
}

/// Content imported while no daemon ran is announced by the reprovider, per the strategy
/// (`roots`: the pinned root, not the blocks under it), and `stats provide` reports the run.
#[test]
fn reprovider_announces_per_strategy_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a_path = dir.path().join("a");
    let repo = init_repo(&a_path, None, |c| {
        c.provide.strategy = "roots".into();
        c.provide.interval = "0".into(); // only when asked
    });
    // Three 1 KiB chunks under one root, imported and pinned offline.
    let params = dag::import::Params {
        chunk_size: 1024,
        ..dag::import::Params::default()
    };
    let mut writer = repo.store().writer().expect("writer");
    let added = dag::import::Importer::new(params, &mut writer)
        .expect("importer")
        .add_reader(&unique_bytes("reprovide").repeat(200)[..3000], "")
        .expect("import");
    writer.finish().expect("commit");
    repo.store()
        .pin_add(&added.cid, dag::store::PinMode::Recursive)
        .expect("pin");
    let root = added.cid;
    let leaf = *dag::codec::links(
        &root,
        &repo.store().get(&root).expect("read").expect("root"),
    )
    .expect("links")
    .first()
    .expect("a leaf");
    drop(repo);

    let a = TestNode::start(&a_path, None);
    let b_path = dir.path().join("b");
    init_repo(&b_path, None, |c| {
        c.bootstrap = vec![a.swarm_addr().to_string()]
    });
    let b = TestNode::start(&b_path, None);
    wait_for(SETTLE, "b in a's routing table", || {
        (wan_table(&a) >= 1).then_some(())
    });
    assert!(
        b.findprovs(&root.to_string()).is_empty(),
        "announced before asked"
    );

    a.call("routing/reprovide", &[]).ok();
    let stats = wait_for(SETTLE, "a reprovide run", || {
        let s = a.call("stats/provide", &[]).ok().json();
        (s["ReprovideRuns"].as_u64() >= Some(1)).then_some(s)
    });
    assert_eq!(
        stats["LastReprovideKeys"], 1,
        "roots: only the pin root: {stats}"
    );
    let provider = a.peer_id().to_string();
    wait_for(SETTLE, "b to find the root's provider", || {
        b.findprovs(&root.to_string())
            .contains(&provider)
            .then_some(())
    });
    assert!(
        b.findprovs(&leaf.to_string()).is_empty(),
        "a leaf was announced under the roots strategy"
    );
    b.stop();
    a.stop();
}
