//! The storage quota on a node with a repository (in-process, offline: no network):
//! automatic GC keeps a store under `Datastore.StorageMax` while far more unpinned
//! content than that is added, with every pinned item intact; an add that does not fit
//! even after GC fails with a clear error and leaves no pin and, after GC, no blocks.

use bytes::Bytes;
use node::{AddOptions, Config, Node};
use std::path::Path;

const MB: u64 = 1_000_000;

/// Deterministic pseudo-random bytes (xorshift), distinct per seed.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn config(max: &str, watermark: i64) -> Config {
    Config::default()
        .with("Datastore.StorageMax", serde_json::json!(max))
        .and_then(|c| c.with("Datastore.StorageGCWatermark", serde_json::json!(watermark)))
        // Only the watermark and the limit trigger GC in these tests.
        .and_then(|c| c.with("Datastore.GCPeriod", serde_json::json!("24h")))
        .expect("config")
}

async fn start(dir: &Path, config: Config, auto_gc: bool) -> Node {
    Node::builder()
        .repo(dir.join("repo"))
        .config(config)
        .offline()
        .auto_gc(auto_gc)
        .spawn()
        .await
        .expect("node starts")
}

async fn add(node: &Node, data: Vec<u8>, pin: bool) -> Result<String, node::Error> {
    let options = AddOptions::default().pin(pin);
    Ok(node.add(data, options).root().await?.cid.to_string())
}

async fn cat(node: &Node, cid: &str) -> Bytes {
    node.cat(cid, ..)
        .await
        .expect("cat")
        .bytes()
        .await
        .expect("read")
}

/// Bytes the block store takes on disk (allocated blocks: freed pack ranges are holes).
fn disk_usage(repo: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut files = vec![repo.join("blocks.redb")];
    if let Ok(entries) = std::fs::read_dir(repo.join("blocks.packs")) {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    for f in files {
        if let Ok(m) = std::fs::metadata(&f) {
            total += m.blocks() * 512;
        }
    }
    total
}

/// Adds `total` bytes of unpinned content in files of `file` bytes to a node with
/// `StorageMax` = `max` and auto GC, plus pinned files before and halfway; checks the
/// store never holds more than `max`, every add succeeds, and the pinned files read back.
async fn churn(max_text: &str, max: u64, file: usize, total: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), config(max_text, 90), true).await;
    let repo = dir.path().join("repo");
    let mut pinned = Vec::new();
    for seed in 0..2 {
        let data = random_bytes(1_000_000 + seed, file);
        pinned.push((add(&node, data, true).await.expect("pinned add"), seed));
    }
    let count = total / file as u64;
    let (mut most, mut most_disk, mut drops) = (0, 0, 0);
    let mut last = 0;
    for n in 0..count {
        if n == count / 2 {
            for seed in 2..4 {
                let data = random_bytes(1_000_000 + seed, file);
                pinned.push((add(&node, data, true).await.expect("pinned add"), seed));
            }
        }
        let added = add(&node, random_bytes(n, file), false).await;
        assert!(added.is_ok(), "unpinned add {n} failed: {added:?}");
        let stat = node.store().stat().expect("stat");
        most = most.max(stat.total_size);
        most_disk = most_disk.max(disk_usage(&repo));
        if stat.total_size < last {
            drops += 1;
        }
        last = stat.total_size;
        assert!(
            stat.total_size <= max,
            "after add {n}: {} bytes stored, StorageMax {max}",
            stat.total_size
        );
    }
    eprintln!(
        "quota churn: StorageMax {max}, {count} adds of {file} bytes: most stored {most}, most on disk {most_disk}, {drops} GCs seen"
    );
    assert!(drops > 0, "no GC freed anything");
    assert!(most <= max);
    for (cid, seed) in &pinned {
        let want = random_bytes(1_000_000 + seed, file);
        assert!(cat(&node, cid).await == want, "pinned {cid} intact");
    }
    let report = node.store().verify().expect("verify");
    assert!(report.is_ok(), "the store does not verify: {report:?}");
    node.shutdown().await;
    // The limit is on the blocks' bytes; on disk come the redb file and, in the pack being
    // appended to, the file-system page at each boundary between runs of records freed by
    // different GCs (hole punching frees whole pages only; records freed together are
    // punched as one range), see DESIGN.md, Quota. Measured: 20.18 MB on disk for 19.93 MB
    // stored (21.44 MB when each block's data was punched alone). Without hole punching
    // the pack would hold everything ever added.
    assert!(
        most_disk <= max + max / 20 + 2 * MB,
        "the store took {most_disk} bytes on disk (StorageMax {max})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_gc_keeps_the_store_under_storage_max() {
    churn("20MB", 20 * MB, 1 << 20, 100 * MB).await;
}

/// The figure: 1 GB of unpinned content in 10 MB files under a 200 MB limit.
/// Slow in a debug build: `cargo test --release -p ipfsd-node --test quota -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn auto_gc_keeps_the_store_under_200mb_while_1gb_is_added() {
    churn("200MB", 200 * MB, 10 << 20, 1000 * MB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_that_cannot_fit_even_after_gc_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), config("20MB", 90), true).await;
    let kept = random_bytes(1, 15 * MB as usize);
    let kept_cid = add(&node, kept.clone(), true).await.expect("pinned add");
    for seed in 2..5 {
        add(&node, random_bytes(seed, MB as usize), false)
            .await
            .expect("garbage add");
    }
    let err = add(&node, random_bytes(9, 10 * MB as usize), true)
        .await
        .expect_err("10 MB do not fit beside 15 MB pinned under 20 MB");
    let msg = err.to_string();
    assert!(
        msg.contains("storage limit exceeded")
            && msg.contains("StorageMax")
            && msg.contains("20000000"),
        "{msg}"
    );
    // Nothing of it is pinned; what it stored is garbage that GC takes.
    let pins = node.store().pins().expect("pins");
    assert_eq!(pins.len(), 1, "{pins:?}");
    assert_eq!(pins[0].0.to_string(), kept_cid);
    assert!(node.store().stat().expect("stat").total_size <= 20 * MB);
    node.gc().await.expect("gc");
    let stat = node.store().stat().expect("stat");
    let dag = kept.len() as u64;
    // The pinned file's leaves plus its few internal nodes.
    assert!(
        stat.total_size >= dag && stat.total_size < dag + 64 * 1024,
        "{stat:?}"
    );
    assert!(cat(&node, &kept_cid).await == kept);
    // What fits still goes in.
    add(&node, random_bytes(10, 4 * MB as usize), true)
        .await
        .expect("4 MB fit");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_gc_an_add_past_the_limit_fails_until_gc_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), config("10MB", 90), false).await;
    for seed in 0..8 {
        add(&node, random_bytes(seed, MB as usize), false)
            .await
            .expect("fits");
    }
    let data = random_bytes(100, 3 * MB as usize);
    let err = add(&node, data.clone(), true)
        .await
        .expect_err("past the limit");
    assert!(err.to_string().contains("storage limit exceeded"), "{err}");
    assert!(node.store().pins().expect("pins").is_empty());
    node.gc().await.expect("gc");
    let cid = add(&node, data.clone(), true).await.expect("fits after gc");
    assert!(cat(&node, &cid).await == data);
    node.shutdown().await;
}
