//! BitSwap between real ipfsd daemons on 127.0.0.1 (ephemeral ports): multi-block files
//! and directory trees both ways, `cat` of content found only through the DHT in a
//! 10-node network, ledgers persisted across restarts and compared (and reset) on
//! reconnect.

use ipfsd_tests::fixtures::{Tree, noise};
use ipfsd_tests::testnet::{TestNode, init_repo, wait_for};
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_secs(30);

fn connect(a: &TestNode, b: &TestNode) {
    a.call("swarm/connect", &[("arg", b.swarm_addr())]).ok();
}

/// `node`'s ledger for `peer`; panics unless it has every counter the test compares (two
/// missing fields would compare equal).
fn ledger(node: &TestNode, peer: &str) -> serde_json::Value {
    let l = node.call("bitswap/ledger", &[("arg", peer)]).ok().json();
    for field in ["Sent", "Recv", "BlocksSent", "BlocksRecv", "Resets"] {
        assert!(l[field].is_u64(), "ledger lacks {field}: {l}");
    }
    l
}

/// A counter of `bitswap/stat`; panics if it is missing.
fn stat(node: &TestNode, field: &str) -> u64 {
    let s = node.call("bitswap/stat", &[]).ok().json();
    s[field]
        .as_u64()
        .unwrap_or_else(|| panic!("bitswap/stat lacks {field}: {s}"))
}

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    if !path.exists() {
        init_repo(&path, Some(2), |_| {});
    }
    TestNode::start(&path, None)
}

#[test]
fn ipfsd_to_ipfsd_files_and_trees_both_ways_and_ledgers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path(), "a");
    let b = start(dir.path(), "b");
    connect(&b, &a);

    // A → B: a 12 MiB file and a tree.
    let big = noise(1, 12 << 20);
    let cid = a.add(&big);
    let t0 = Instant::now();
    let got = b.cat(&cid);
    eprintln!("12 MiB a→b in {:?}", t0.elapsed());
    assert!(got == big, "file differs ({} bytes)", got.len());
    let ta = Tree::new(10);
    let root = ta.add_to(&a);
    ta.check_on(&b, &root);

    // B → A.
    let big_b = noise(2, 11 << 20);
    let cid_b = b.add(&big_b);
    assert!(a.cat(&cid_b) == big_b);
    let tb = Tree::new(20);
    let root_b = tb.add_to(&b);
    tb.check_on(&a, &root_b);

    // Ledgers mirror each other: what A sent is what B received and vice versa.
    let (la, lb) = wait_for(Duration::from_secs(10), "ledgers to settle", || {
        let la = ledger(&a, b.peer_id());
        let lb = ledger(&b, a.peer_id());
        (la["Sent"] == lb["Recv"] && la["Recv"] == lb["Sent"]).then_some((la, lb))
    });
    assert!(la["Sent"].as_u64() >= Some(12 << 20), "{la}");
    assert!(lb["Sent"].as_u64() >= Some(11 << 20), "{lb}");
    assert_eq!(la["BlocksSent"], lb["BlocksRecv"]);
    assert!(stat(&b, "BlocksReceived") > 40);

    // Restart both (on new ephemeral ports): ledgers persist, and the exchange on
    // reconnect agrees.
    a.stop();
    b.stop();
    let a = start(dir.path(), "a");
    let b = start(dir.path(), "b");
    let again = ledger(&a, b.peer_id());
    assert_eq!(again["Sent"], la["Sent"], "persisted: {again} vs {la}");
    assert_eq!(again["Recv"], la["Recv"]);
    connect(&b, &a);
    wait_for(
        Duration::from_secs(15),
        "the ledger exchange to agree",
        || (stat(&a, "LedgerAgreed") >= 1 && stat(&b, "LedgerAgreed") >= 1).then_some(()),
    );
    assert_eq!(
        ledger(&a, b.peer_id())["Sent"],
        la["Sent"],
        "kept after agreeing"
    );
    assert_eq!(ledger(&a, b.peer_id())["LedgerExchange"], true);

    // B's ledger is tampered with while it is down: the views disagree and both reset.
    let peer_a: libp2p::PeerId = a.peer_id().parse().expect("peer id");
    a.call("swarm/disconnect", &[("arg", b.swarm_addr())]).ok();
    b.stop();
    {
        let db = bitswap::LedgerDb::open(&dir.path().join("b").join(node::content::LEDGER_FILE))
            .expect("open ledger db");
        let mut l = db.get(&peer_a).expect("read").expect("a ledger for A");
        l.bytes_recv += 12345;
        db.save(&[(peer_a, l)]).expect("save");
    }
    let b = start(dir.path(), "b");
    connect(&b, &a);
    wait_for(
        Duration::from_secs(15),
        "both sides to reset the ledger",
        || {
            let la = ledger(&a, b.peer_id());
            let lb = ledger(&b, a.peer_id());
            (la["Resets"] == 1 && lb["Resets"] == 1 && la["Sent"] == 0 && lb["Recv"] == 0)
                .then_some(())
        },
    );
    // Content still moves after a reset, and is counted from zero.
    let small = noise(3, 700_000);
    let cid_s = a.add(&small);
    assert!(b.cat(&cid_s) == small);
    wait_for(Duration::from_secs(10), "counting from zero", || {
        let la = ledger(&a, b.peer_id());
        let n = la["Sent"].as_u64().expect("Sent");
        (700_000..2_000_000).contains(&n).then_some(())
    });
    a.stop();
    b.stop();
}

#[test]
fn cat_finds_unconnected_holder_through_the_dht_in_ten_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes: Vec<TestNode> = Vec::new();
    for i in 0..10 {
        let path = dir.path().join(format!("n{i}"));
        let bootstrap: Vec<String> = nodes
            .last()
            .map(|prev| vec![prev.swarm_addr().to_string()])
            .unwrap_or_default();
        init_repo(&path, Some(2), |c| c.bootstrap = bootstrap);
        nodes.push(TestNode::start(&path, None));
    }
    let data = noise(7, 3 << 20);
    let cid = nodes[0].add(&data);
    // The announcement reaches the DHT (found from the far end).
    wait_for(SETTLE, "the provider record", || {
        nodes[9]
            .findprovs(&cid)
            .contains(&nodes[0].peer_id().to_string())
            .then_some(())
    });
    // Node 9 is not connected to the holder (DHT traffic may reconnect them: retried).
    wait_for(Duration::from_secs(20), "node 9 without node 0", || {
        let _ = nodes[9].call("swarm/disconnect", &[("arg", nodes[0].swarm_addr())]);
        (!nodes[9].peers().contains(&nodes[0].peer_id().to_string())).then_some(())
    });
    let t0 = Instant::now();
    let got = nodes[9].cat(&cid);
    eprintln!("cat through the DHT: {:?}", t0.elapsed());
    assert!(got == data, "content differs ({} bytes)", got.len());
    assert!(nodes[9].peers().contains(&nodes[0].peer_id().to_string()));
    for n in nodes {
        n.stop();
    }
}
