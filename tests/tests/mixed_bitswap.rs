//! Mixed-codec DAGs over BitSwap: a dag-cbor root linking to dag-json, dag-cbor, UnixFS
//! (dag-pb) and raw blocks, hashed with sha2-256, sha2-512 and blake3
//! ([`ipfsd_tests::mixed::MixedDag`]), imported on a seeder with `dag import`; a leecher
//! `pin add`s the root, which fetches every block over BitSwap (each checked with its own
//! hash function and codec on receipt); `dag export` is then byte-identical on both nodes,
//! and still so on the leecher alone with the seeder gone, after a GC.
//!
//! The same DAG with Helia as the seeder, and Helia fetching it from ipfsd, is in
//! `interop_mixed.rs`.

use ipfsd_tests::mixed::{MixedDag, dag_cids};
use ipfsd_tests::testnet::{TestNode, init_repo};
use std::collections::BTreeSet;

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, Some(2), |_| {});
    TestNode::start(&path, None)
}

fn car_cids(car: &[u8]) -> Vec<String> {
    dag::car::Reader::new(car)
        .expect("CAR header")
        .map(|b| b.expect("verified block").cid().to_string())
        .collect()
}

#[test]
fn ipfsd_leecher_pins_a_mixed_codec_mixed_hash_dag_from_ipfsd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeder = start(dir.path(), "seeder");
    let leecher = start(dir.path(), "leecher");
    let dag = MixedDag::new(11);
    let hashes = dag.hashes();
    let codecs = dag.codecs();
    for h in ["sha2-256", "sha2-512", "blake3"] {
        assert!(hashes.get(h).copied().unwrap_or(0) >= 2, "{hashes:?}");
    }
    for c in ["dag-cbor", "dag-json", "dag-pb", "raw"] {
        assert!(codecs.contains_key(c), "{codecs:?}");
    }
    let root = dag.cid();
    let want = dag.cids();

    seeder.call_with_file("dag/import", &[], &dag.car()).ok();
    assert_eq!(dag_cids(&seeder, &root), want, "seeder holds the DAG");
    leecher
        .call("swarm/connect", &[("arg", seeder.swarm_addr())])
        .ok();
    leecher.call("pin/add", &[("arg", &root)]).ok();
    assert_eq!(
        dag_cids(&leecher, &root),
        want,
        "leecher fetched every block"
    );

    let seeder_car = seeder.call("dag/export", &[("arg", &root)]).ok().body;
    let leecher_car = leecher.call("dag/export", &[("arg", &root)]).ok().body;
    assert!(
        seeder_car == leecher_car,
        "dag export differs between the nodes"
    );
    let in_car: BTreeSet<String> = car_cids(&leecher_car).into_iter().collect();
    assert_eq!(in_car, want);

    // The leecher holds it all by itself, and its pin keeps every block through GC.
    seeder.stop();
    leecher.call("repo/gc", &[]).ok();
    let verify = leecher.call("pin/verify", &[]).ok().text();
    assert!(!verify.contains("\"Ok\":false"), "{verify}");
    let after = leecher.call("dag/export", &[("arg", &root)]).ok().body;
    assert!(after == seeder_car, "dag export changed without the seeder");
    let stat = leecher.call("bitswap/stat", &[]).ok().json();
    assert!(
        stat["BlocksReceived"].as_u64() >= Some(want.len() as u64),
        "{stat}"
    );
    leecher.stop();
}
