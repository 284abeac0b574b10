//! Block store throughput: a stored add (hash + batched durable write) and verified reads.
//!
//! `cargo bench -p ipfsd-dag --bench store` (set `STORE_BENCH_MB`, default 100, and
//! `STORE_BENCH_DIR` for the database's directory). Prints MB/s and the peak RSS.

use bytes::Bytes;
use dag::block::{RAW, Version};
use dag::{Block, Store};
use std::time::Instant;

const BLOCK: usize = 256 * 1024;

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    let mb: usize = std::env::var("STORE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = match std::env::var("STORE_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d)?,
        Err(_) => tempfile::tempdir()?,
    };
    let store = Store::open(&dir.path().join("bench.redb"))?;
    let n = mb * (1 << 20) / BLOCK;
    let total = (n * BLOCK) as f64 / 1e6;

    // Stored add: the producer hashes each chunk (as the importer does) while the writer
    // thread stores the previous ones.
    let mut chunk = vec![0u8; BLOCK];
    let mut cids = Vec::with_capacity(n);
    let t = Instant::now();
    let mut writer = store.writer()?;
    for i in 0..n {
        chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let block = Block::encode(Version::V1, RAW, Bytes::copy_from_slice(&chunk));
        cids.push(*block.cid());
        writer.put(block)?;
    }
    let stats = writer.finish()?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "stored add: {total:.0} MB in {secs:.2}s = {:.0} MB/s ({} commits), peak RSS {} MB",
        total / secs,
        stats.commits,
        peak_rss_mb()
    );

    let t = Instant::now();
    let mut read = 0usize;
    for cid in &cids {
        read += store.get(cid)?.map_or(0, |b| b.len());
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "get (verified): {:.0} MB in {secs:.2}s = {:.0} MB/s",
        read as f64 / 1e6,
        read as f64 / 1e6 / secs
    );

    let t = Instant::now();
    let report = store.verify()?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "verify: {} blocks in {secs:.2}s = {:.0} MB/s",
        report.checked,
        total / secs
    );

    let stat = store.stat()?;
    println!(
        "stat: {} blocks, {} MB of blocks, file {} MB; peak RSS {} MB",
        stat.num_blocks,
        stat.total_size >> 20,
        stat.file_size >> 20,
        peak_rss_mb()
    );
    Ok(())
}
