//! Garbage collection: delete exactly the blocks no pin reaches.
//!
//! Mark: in one read transaction (a snapshot; redb readers never block writers), walk every
//! recursive pin's DAG and take every direct pin's block, collecting the multihashes to
//! keep; every other key of that snapshot is a candidate. Sweep: delete the candidates in
//! write transactions of [`SWEEP_BATCH`] blocks, so readers and other writers interleave.
//! The GC side of the import/GC lock is held throughout: holders of the shared side
//! (atomic writers, `pin add`) wait, and GC waits for them. Batched writers (adds) do not
//! take it: they register each block they store (module `lease`), and each sweep batch
//! skips the registered blocks, so adds keep running during a GC.
//! Blocks written after the snapshot are never candidates. [`Store::gc_until`] stops
//! early when asked (between pins while marking, between sweep batches), keeping what
//! it deleted so far. Leased roots ([`super::Lease`],
//! DAGs being fetched for a pin or a stream) are walked like recursive pins, at the mark
//! and again before each sweep batch for leases taken meanwhile.
//!
//! Blocks of a codec ipfsd cannot follow are kept as leaves and listed in
//! [`GcReport::unfollowed`], so callers can say which pins may not protect everything.
//!
//! Links are taken only from blocks whose bytes hash to their CID: a block that fails
//! (corrupt, unverifiable, undecodable) stops the GC before anything is deleted, with
//! [`super::StoreError::GcAborted`] naming it. After deleting, the pack bytes of deleted
//! blocks are freed (hole punching) once no reader that began before the deletion is left
//! (module `snapshot`), and on a full disk the database file is compacted.

use super::lease::mark_leased;
use super::pack::{Freed, header_len};
use super::pin::{Visit, children, read_pins, walk};
use super::snapshot::Space;
use super::{
    GcGuard, Loc, PACKS, PinMode, ReadTables, Result, Store, StoreError, WriteTables, raw_cid,
    set_durability,
};
use crate::Cid;
use crate::codec::Codec;
use redb::{Durability, ReadableTable};
use std::collections::{HashMap, HashSet};

/// Blocks deleted per sweep transaction.
const SWEEP_BATCH: usize = 1000;
/// Blocks deleted per sweep transaction on a full disk.
const SWEEP_BATCH_FULL: usize = 64;

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Removed blocks, as CIDv1 raw (only multihashes are stored; Kubo prints them so).
    pub removed: Vec<Cid>,
    /// Sum of the removed blocks' sizes.
    pub freed_bytes: u64,
    /// Pack files deleted (empty, or compacted into the current pack).
    pub packs_removed: u64,
    /// Blocks of pinned DAGs in a codec ipfsd cannot follow ([`Codec::follows_links`] is
    /// false): kept, but as leaves, so whatever they link to was not protected.
    pub unfollowed: Vec<Unfollowed>,
    /// The GC was stopped before it finished ([`Store::gc_until`]): what it reports
    /// removed is removed, other garbage may remain.
    pub stopped: bool,
}

/// A block of a pinned DAG that GC kept as a leaf because ipfsd cannot read its codec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unfollowed {
    /// The recursive pin whose DAG holds it.
    pub pin: Cid,
    /// The block (its codec is in its CID).
    pub cid: Cid,
}

impl Store {
    /// Deletes every block not reachable from a pin (recursive pins' whole DAGs, direct
    /// pins' own blocks). Waits for running imports to pin their roots first.
    ///
    /// Every block the mark phase takes links from is verified against its CID first. A
    /// recursive pin whose DAG has a block that does not match its hash, uses a hash this
    /// node cannot check, or cannot be decoded fails the GC with
    /// [`StoreError::GcAborted`] naming it, before anything is deleted (what it links to is
    /// unknown, so nothing is safe to delete); blocks missing under a pin are skipped.
    pub fn gc(&self) -> Result<GcReport> {
        self.gc_until(&|| false)
    }

    /// Like [`Store::gc`], stopping early once `stop` answers true (checked between pins
    /// while marking and between sweep batches); the report says so
    /// ([`GcReport::stopped`]). What was deleted before is durably deleted.
    pub fn gc_until(&self, stop: &dyn Fn() -> bool) -> Result<GcReport> {
        self.run(|| {
            let _gc = GcGuard::new(&self.inner.lock);
            if stop() {
                return Ok(GcReport {
                    stopped: true,
                    ..GcReport::default()
                });
            }
            let (mut lease_epoch, leased) = self.leased_roots();
            let mut report = GcReport::default();
            let mut candidates = {
                let tables = ReadTables::open(&self.inner)?;
                let mut keep: HashSet<Vec<u8>> = HashSet::new();
                let mut seen = HashSet::new();
                // DAGs being fetched for a pin or a stream are kept like pinned ones.
                mark_leased(&tables, &leased, &mut seen, &mut keep, abort)?;
                for (root, mode) in read_pins(&tables)? {
                    if stop() {
                        report.stopped = true;
                        return Ok(report);
                    }
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
                                    if !Codec::of(c).follows_links() {
                                        tracing::warn!(cid = %c, pin = %root, "pinned DAG holds a block of a codec ipfsd cannot follow: its links are not protected");
                                        report.unfollowed.push(Unfollowed { pin: root, cid: *c });
                                    }
                                    // Links come only from verified bytes; a block that fails
                                    // stops the whole GC before anything is deleted.
                                    children(c, data).map(Some).map_err(|e| abort(*c, root, e))
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

            // On a full disk (the reserve given back), commits stay small: each needs room
            // for its copy-on-write pages before it frees anything.
            let full = self.inner.reserve.is_released();
            let sweep_batch = if full { SWEEP_BATCH_FULL } else { SWEEP_BATCH };
            // Pack ranges of deleted blocks, freed once the deletions are durable.
            let mut punch: HashMap<u32, Vec<Freed>> = HashMap::new();
            let mut start = 0;
            while start < candidates.len() {
                if stop() {
                    report.stopped = true;
                    break;
                }
                // New leases wait while this batch commits; one taken since the mark (or
                // the last batch) is walked now, and its blocks are no longer candidates.
                let (_batch_guard, fresh) = self.sweep_batch(&mut lease_epoch);
                if let Some(roots) = fresh {
                    let tables = ReadTables::open(&self.inner)?;
                    let mut keep = HashSet::new();
                    mark_leased(&tables, &roots, &mut HashSet::new(), &mut keep, abort)?;
                    // What was swept before `start` is gone already.
                    let rest = candidates.split_off(start);
                    candidates = rest.into_iter().filter(|mh| !keep.contains(mh)).collect();
                    start = 0;
                }
                let end = (start + sweep_batch).min(candidates.len());
                let mut batch = candidates[start..end].to_vec();
                start = end;
                // Blocks adds in progress have stored (again, or for the first time) stay.
                self.drop_written(&mut batch);
                let mut txn = self.write_txn()?;
                // Only the last batch needs to reach the disk before `gc` returns; a crash
                // before it leaves garbage the next GC removes.
                if end < candidates.len() {
                    set_durability(&mut txn, Durability::None)?;
                }
                {
                    let mut tables = WriteTables::open(&txn, &self.inner.packs)?;
                    for mh in &batch {
                        if let Some(loc) = tables.remove(mh)? {
                            let size = loc.size;
                            if loc.pack != 0 {
                                punch.entry(loc.pack).or_default().push(Freed {
                                    offset: loc.offset,
                                    len: size,
                                    header: header_len(mh.len()),
                                });
                            }
                            report.freed_bytes += size;
                            report.removed.push(raw_cid(mh)?);
                        }
                    }
                    tables.finish()?;
                }
                self.commit(txn)?;
            }
            if report.stopped {
                // The batches committed so far were not all durable: make them so before
                // their pack bytes are freed. Compaction waits for the next GC.
                let txn = self.write_txn()?;
                self.commit(txn)?;
                self.free(punch);
                return Ok(report);
            }
            self.free(punch);
            report.packs_removed = self.compact(full)?;
            // What was freed may leave room to put the reserve back; on a full disk what
            // redb freed is inside its file: shrink it first.
            if full {
                self.inner.compact_db();
            }
            self.inner.reserve.restore();
            tracing::debug!(
                removed = report.removed.len(),
                packs_removed = report.packs_removed,
                bytes = report.freed_bytes,
                "gc done"
            );
            Ok(report)
        })
    }
}

impl Store {
    /// Frees deleted blocks' pack ranges once no reader can still see them (module
    /// `snapshot`). Call once their deletion is durable.
    pub(super) fn free(&self, ranges: HashMap<u32, Vec<Freed>>) {
        if !ranges.is_empty() {
            let inner = &self.inner;
            inner.snapshots.release(&inner.packs, Space::Ranges(ranges));
        }
    }
}

/// The error that stops a GC at block `cid` of the DAG pinned as `pin`.
fn abort(cid: Cid, pin: Cid, e: StoreError) -> StoreError {
    tracing::error!(%cid, %pin, error = %e, "gc aborted: a block of a pinned DAG cannot be trusted");
    StoreError::GcAborted {
        cid,
        pin,
        source: Box::new(e),
    }
}

/// Bytes moved per compaction transaction.
const COMPACT_BATCH_BYTES: u64 = 64 << 20;

impl Store {
    /// Deletes pack files nothing references and rewrites those mostly garbage (less than
    /// half still referenced) into the current pack; on a `full` disk only deletes (moving
    /// needs room). Runs under the GC lock.
    fn compact(&self, full: bool) -> Result<u64> {
        let packs = &self.inner.packs;
        // Packs from this one on may still receive bytes of uncommitted transactions.
        let active = packs.first_active_id();
        // Packs already given up, waiting for readers that may still see their blocks.
        let waiting = self.inner.snapshots.packs_waiting();
        let mut doomed = Vec::new();
        let mut to_move = HashSet::new();
        {
            let txn = self.inner.begin_read()?;
            let table = txn.open_table(PACKS)?;
            for id in packs.ids()? {
                if id >= active || waiting.contains(&id) {
                    continue;
                }
                let live = table.get(id)?.map_or(0, |g| g.value().1);
                let size = packs.file_size(id)?;
                if live == 0 {
                    doomed.push(id);
                } else if !full && live.saturating_mul(2) < size {
                    doomed.push(id);
                    to_move.insert(id);
                }
            }
        }
        if !to_move.is_empty() {
            let mut moving = Vec::new();
            {
                let tables = ReadTables::open(&self.inner)?;
                for entry in tables.index.iter()? {
                    let (key, loc) = entry?;
                    let loc = Loc::from(loc.value());
                    if to_move.contains(&loc.pack) {
                        moving.push((key.value().to_vec(), loc));
                    }
                }
            }
            let mut stuck = HashSet::new();
            for batch in batches_by_bytes(&moving, COMPACT_BATCH_BYTES) {
                let txn = self.write_txn()?;
                {
                    let mut tables = WriteTables::open(&txn, packs)?;
                    for (mh, loc) in batch {
                        if !tables.relocate(mh, *loc)? {
                            stuck.insert(loc.pack);
                        }
                    }
                    tables.finish()?;
                }
                self.commit(txn)?;
            }
            // A pack with unreadable blocks is kept so `verify` can report them.
            doomed.retain(|id| !stuck.contains(id));
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        // Delete only what is still unreferenced as of the latest commit (a concurrent `put`
        // may have committed entries into a pack after it was picked).
        let txn = self.write_txn()?;
        let mut removed = Vec::new();
        {
            let mut table = txn.open_table(PACKS)?;
            for id in doomed {
                if table.get(id)?.map_or(0, |g| g.value().1) == 0 {
                    table.remove(id)?;
                    removed.push(id);
                }
            }
        }
        self.commit(txn)?;
        let count = removed.len() as u64;
        if !removed.is_empty() {
            self.inner.snapshots.release(packs, Space::Packs(removed));
        }
        Ok(count)
    }
}

/// Splits `items` into runs of about `max` bytes each.
fn batches_by_bytes(items: &[(Vec<u8>, Loc)], max: u64) -> Vec<&[(Vec<u8>, Loc)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, loc)) in items.iter().enumerate() {
        bytes += loc.size;
        if bytes >= max {
            out.push(&items[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}
