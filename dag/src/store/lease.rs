//! Leases: temporary GC roots for DAGs being fetched.
//!
//! A `pin add` that fetches a DAG from the network, or a `cat` whose blocks are prefetched,
//! stores blocks long before (or without ever) pinning them. A [`Lease`] on the DAG's root,
//! taken before the fetch starts and dropped when the pin has committed or the stream has
//! ended (RAII), makes GC keep everything stored under that root meanwhile: GC's mark phase
//! walks leased roots like recursive pins (what is missing is simply not there yet).
//!
//! Batched writers ([`super::Writer`], imports) register every block they store the same
//! way, by multihash ([`Store::register_write`]), until they have committed their pins:
//! GC skips those blocks in each sweep batch, so a GC (the daemon's automatic one, or
//! one a writer at the quota runs itself) can run while adds are in progress. A writer
//! that ends while a GC runs hands its blocks over to that GC's skip list until the GC
//! ends: the GC marked before the writer's pins existed, so without it the next sweep
//! batch would delete blocks those pins now hold (seen: a pinned file lost a block in 1
//! of 5 runs of the 200 MB quota churn).
//!
//! Data flow: leases live in the import/GC lock's state. GC reads them when it marks, and
//! again before each sweep batch: a lease taken during a GC is walked (in a fresh snapshot)
//! before the next batch commits, and taking one waits while a batch is committing, so no
//! block under a lease is ever deleted. The wait is one sweep batch at most.

use super::pin::{Visit, children, walk};
use super::{BlockTables, Inner, Result, Store};
use crate::Cid;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The leases held, in the import/GC lock's state.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    roots: BTreeMap<u64, Cid>,
    next_id: u64,
    /// Bumped when a lease is taken.
    epoch: u64,
    /// A GC sweep batch is committing: new leases and registrations wait.
    sweeping: bool,
    /// Blocks stored by the batched writers in progress, by writer.
    writes: HashMap<u64, HashSet<Vec<u8>>>,
    /// Blocks of writers that ended while a GC was running. That GC marked before their
    /// pins existed, so it goes on skipping them until it ends ([`Leases::gc_ended`]).
    ended: HashSet<Vec<u8>>,
}

impl Leases {
    /// The GC in progress ended: what it had to skip is protected by pins (or garbage
    /// for the next GC).
    pub(crate) fn gc_ended(&mut self) {
        self.ended = HashSet::new();
    }
}

/// A temporary GC root, from [`Store::lease`]; released on drop.
pub struct Lease {
    inner: Arc<Inner>,
    id: u64,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("id", &self.id).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inner.lock.state().leases.roots.remove(&self.id);
    }
}

impl Store {
    /// Keeps the DAG under `root` (whatever of it is stored, now or later) from GC until
    /// the lease is dropped. Take it before fetching blocks that a later pin or a running
    /// stream needs. Waits while a GC sweep batch commits (milliseconds).
    pub fn lease(&self, root: Cid) -> Lease {
        let lock = &self.inner.lock;
        let mut state = lock.state();
        while state.leases.sweeping {
            state = lock.wait(state);
        }
        let leases = &mut state.leases;
        let id = leases.next_id;
        leases.next_id += 1;
        leases.epoch += 1;
        leases.roots.insert(id, root);
        drop(state);
        Lease {
            inner: self.inner.clone(),
            id,
        }
    }

    /// Registers `mh` as stored by the writer `writer` (see the module docs), so no GC
    /// deletes it until [`Store::end_writes`]. Waits while a GC sweep batch commits.
    pub(crate) fn register_write(&self, writer: u64, mh: Vec<u8>) {
        let lock = &self.inner.lock;
        let mut state = lock.state();
        while state.leases.sweeping {
            state = lock.wait(state);
        }
        state.leases.writes.entry(writer).or_default().insert(mh);
    }

    /// A new writer id for [`Store::register_write`].
    pub(crate) fn writer_id(&self) -> u64 {
        let mut state = self.inner.lock.state();
        let id = state.leases.next_id;
        state.leases.next_id += 1;
        id
    }

    /// Drops the registrations of `writer` (its pins are committed, or it failed). A GC
    /// running now marked before those pins: it keeps skipping the blocks until it ends.
    pub(crate) fn end_writes(&self, writer: u64) {
        let mut state = self.inner.lock.state();
        if let Some(blocks) = state.leases.writes.remove(&writer)
            && state.gc
        {
            state.leases.ended.extend(blocks);
        }
    }

    /// Removes from `batch` the blocks registered by writers in progress. Call during a
    /// sweep batch (registrations wait meanwhile).
    pub(crate) fn drop_written(&self, batch: &mut Vec<Vec<u8>>) {
        let state = self.inner.lock.state();
        let (writes, ended) = (&state.leases.writes, &state.leases.ended);
        if ended.is_empty() && writes.values().all(HashSet::is_empty) {
            return;
        }
        batch.retain(|mh| !ended.contains(mh) && !writes.values().any(|set| set.contains(mh)));
    }

    /// The leased roots and their epoch (for GC's mark phase).
    pub(crate) fn leased_roots(&self) -> (u64, Vec<Cid>) {
        let state = self.inner.lock.state();
        (
            state.leases.epoch,
            state.leases.roots.values().copied().collect(),
        )
    }

    /// Starts a sweep batch: new leases wait until [`SweepBatch`] drops. Answers the leased
    /// roots if leases were taken since `epoch` (which it updates).
    pub(crate) fn sweep_batch(&self, epoch: &mut u64) -> (SweepBatch<'_>, Option<Vec<Cid>>) {
        let mut state = self.inner.lock.state();
        state.leases.sweeping = true;
        let fresh = (state.leases.epoch != *epoch).then(|| {
            *epoch = state.leases.epoch;
            state.leases.roots.values().copied().collect()
        });
        drop(state);
        (SweepBatch { store: self }, fresh)
    }
}

/// A sweep batch in progress (see [`Store::sweep_batch`]).
pub(crate) struct SweepBatch<'a> {
    store: &'a Store,
}

impl Drop for SweepBatch<'_> {
    fn drop(&mut self) {
        let lock = &self.store.inner.lock;
        lock.state().leases.sweeping = false;
        lock.cv.notify_all();
    }
}

/// Adds to `keep` the multihashes of every stored block under the leased `roots`. Links
/// come only from verified blocks (as for pins); a block that fails stops with its error,
/// given with the lease's root.
pub(crate) fn mark_leased<T: BlockTables>(
    tables: &T,
    roots: &[Cid],
    seen: &mut HashSet<Cid>,
    keep: &mut HashSet<Vec<u8>>,
    mut fail: impl FnMut(Cid, Cid, super::StoreError) -> super::StoreError,
) -> Result<()> {
    for root in roots {
        walk(tables, *root, false, seen, |c, visit| match visit {
            // Not fetched yet.
            Visit::Missing => Ok(None),
            Visit::Present(data) => {
                keep.insert(c.hash().to_bytes());
                children(c, data).map(Some).map_err(|e| fail(*c, *root, e))
            }
        })?;
    }
    Ok(())
}
