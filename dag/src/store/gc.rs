//! Garbage collection: delete exactly the blocks no pin reaches.
//!
//! Mark: in one read transaction (a snapshot; redb readers never block writers), walk every
//! recursive pin's DAG and take every direct pin's block, collecting the multihashes to
//! keep; every other key of that snapshot is a candidate. Sweep: delete the candidates in
//! write transactions of [`SWEEP_BATCH`] blocks, so readers and other writers interleave.
//! The GC side of the import/GC lock is held throughout: imports (which hold the shared
//! side from their first block until their root is pinned) wait, and GC waits for them.
//! Blocks written after the snapshot are never candidates.

use super::pin::{Visit, children, read_pins, walk};
use super::{GcGuard, PinMode, ReadTables, Result, Store, WriteTables, raw_cid, set_durability};
use crate::Cid;
use redb::{Durability, ReadableTable};
use std::collections::HashSet;

/// Blocks deleted per sweep transaction.
const SWEEP_BATCH: usize = 1000;

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Removed blocks, as CIDv1 raw (only multihashes are stored; Kubo prints them so).
    pub removed: Vec<Cid>,
    /// Sum of the removed blocks' sizes.
    pub freed_bytes: u64,
}

impl Store {
    /// Deletes every block not reachable from a pin (recursive pins' whole DAGs, direct
    /// pins' own blocks). Waits for running imports to pin their roots first.
    ///
    /// A recursive pin whose DAG has a block that cannot be decoded fails the GC with
    /// [`super::StoreError::Decode`] (what it links to is unknown, so nothing is safe to
    /// delete); blocks missing under a pin are skipped.
    pub fn gc(&self) -> Result<GcReport> {
        let _gc = GcGuard::new(&self.inner.lock);
        let candidates = {
            let tables = ReadTables::open(&self.inner.db)?;
            let mut keep: HashSet<Vec<u8>> = HashSet::new();
            let mut seen = HashSet::new();
            for (root, mode) in read_pins(&tables)? {
                match mode {
                    PinMode::Direct => {
                        keep.insert(root.hash().to_bytes());
                    }
                    PinMode::Recursive => {
                        walk(&tables, root, false, &mut seen, |c, visit| match visit {
                            Visit::Missing => {
                                tracing::warn!(cid = %c, pin = %root, "block of a pinned DAG is missing");
                                Ok(None)
                            }
                            Visit::Present(data) => {
                                keep.insert(c.hash().to_bytes());
                                children(c, data).map(Some)
                            }
                        })?;
                    }
                }
            }
            let mut candidates = Vec::new();
            for entry in tables.index.iter()? {
                let (key, _) = entry?;
                if !keep.contains(key.value()) {
                    candidates.push(key.value().to_vec());
                }
            }
            candidates
        };

        let mut report = GcReport::default();
        let batches = candidates.len().div_ceil(SWEEP_BATCH);
        for (n, batch) in candidates.chunks(SWEEP_BATCH).enumerate() {
            let mut txn = self.write_txn()?;
            // Only the last batch needs to reach the disk before `gc` returns; a crash
            // before it leaves garbage the next GC removes.
            if n + 1 < batches {
                set_durability(&mut txn, Durability::None)?;
            }
            {
                let mut tables = WriteTables::open(&txn)?;
                for mh in batch {
                    if let Some(size) = tables.remove(mh)? {
                        report.freed_bytes += size;
                        report.removed.push(raw_cid(mh)?);
                    }
                }
                tables.finish()?;
            }
            txn.commit()?;
        }
        tracing::debug!(
            removed = report.removed.len(),
            bytes = report.freed_bytes,
            "gc done"
        );
        Ok(report)
    }
}
