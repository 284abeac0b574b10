//! GC racing fetches (issue 14, item 11): `repo gc` running in a loop on a node while it
//! fetches a DAG for `pin add`, and while it streams a `cat` of content it prefetches from
//! another node. Fetched blocks are held (a store lease) until the pin commits or the
//! stream ends: the pin succeeds and the cat is complete and correct.

use ipfsd_tests::fixtures::noise;
use ipfsd_tests::testnet::{TestNode, init_repo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Most GC runs of the loop (it stops earlier when the test is done).
const MAX_GCS: u64 = 2000;

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, Some(2), |_| {});
    TestNode::start(&path, None)
}

/// Runs `repo gc` on `node` in a loop until `stop` (or [`MAX_GCS`] runs); answers the
/// count of runs.
fn gc_loop(node: Arc<TestNode>, stop: Arc<AtomicBool>, runs: Arc<AtomicU64>) {
    for _ in 0..MAX_GCS {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let r = node.call("repo/gc", &[]);
        assert_eq!(r.status, 200, "gc failed: {}", r.text());
        runs.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn gc_in_a_loop_never_collects_blocks_a_pin_add_or_a_cat_is_fetching() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path(), "a");
    let b = Arc::new(start(dir.path(), "b"));
    b.call("swarm/connect", &[("arg", a.swarm_addr())]).ok();
    let pinned = noise(41, 12 << 20);
    let streamed = noise(42, 12 << 20);
    let pinned_cid = a.add(&pinned);
    let streamed_cid = a.add(&streamed);

    let stop = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU64::new(0));
    let gc = {
        let (b, stop, runs) = (b.clone(), stop.clone(), runs.clone());
        std::thread::spawn(move || gc_loop(b, stop, runs))
    };
    // The loop is running before the fetches start.
    ipfsd_tests::testnet::wait_for(std::time::Duration::from_secs(30), "a first gc", || {
        (runs.load(Ordering::SeqCst) > 0).then_some(())
    });

    let pin = b.call("pin/add", &[("arg", &pinned_cid)]);
    let gcs_during_pin = runs.load(Ordering::SeqCst);
    let cat = b.cat(&streamed_cid);
    stop.store(true, Ordering::SeqCst);
    gc.join().expect("gc loop");

    assert_eq!(pin.status, 200, "pin add failed: {}", pin.text());
    assert!(cat == streamed, "cat differs ({} bytes)", cat.len());
    assert!(gcs_during_pin > 1, "gc did not run during the pin");
    // What was pinned is complete, and survives one more GC.
    b.call("repo/gc", &[]).ok();
    let verify = b.call("pin/verify", &[]).ok().text();
    assert!(!verify.contains("broken"), "{verify}");
    assert!(b.cat(&pinned_cid) == pinned);
}
