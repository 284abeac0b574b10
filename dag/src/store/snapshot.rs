//! Pack space is freed only once no reader can still see the blocks that used it.
//!
//! A redb read transaction sees a snapshot. One that began before a GC committed its
//! deletions still finds the deleted blocks in its index, and may read their pack bytes
//! after the GC is done. Had the GC freed those bytes at once, such a reader would get
//! zeros (a punched hole) or no file at all (a removed pack) in place of a block its
//! snapshot says is stored: `repo verify` beside an automatic GC reported most of the
//! store corrupt, and a pin walk could have done the same.
//!
//! So every transaction that reads block bytes ([`super::ReadTables`]) first enters the
//! current epoch here and leaves it when it ends. A GC that has committed its deletions
//! hands the space it frees to [`Snapshots::release`], which opens a new epoch and keeps
//! the space until every reader that entered an older epoch has left: at once when none
//! is reading, otherwise when the last of them ends (that reader frees it on its way
//! out). Readers that enter later began after the deletions committed and cannot see the
//! deleted blocks.
//!
//! The cost: a long reader (`repo verify` over a large store) holds the space GCs free
//! meanwhile until it ends. The quota counts blocks' bytes, not disk, so it is unaffected.

use super::pack::{Freed, Packs};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Pack space given up by a GC.
pub(crate) enum Space {
    /// `(offset, len)` ranges of deleted blocks' bytes, per pack id.
    Ranges(HashMap<u32, Vec<Freed>>),
    /// Packs no index entry points at any more.
    Packs(Vec<u32>),
}

/// The epochs of the readers in progress and the space waiting for them.
#[derive(Default)]
pub(crate) struct Snapshots {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The epoch readers entering now join.
    epoch: u64,
    /// Epoch → readers in it.
    readers: BTreeMap<u64, usize>,
    /// Space freed in epoch `.0`: readers of earlier epochs may still see it.
    waiting: Vec<(u64, Space)>,
}

impl State {
    /// Takes out the space no reader can see any more.
    fn ready(&mut self) -> Vec<Space> {
        let oldest = self.readers.keys().next().copied().unwrap_or(u64::MAX);
        let (ready, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(epoch, _)| *epoch <= oldest);
        self.waiting = waiting;
        ready.into_iter().map(|(_, freed)| freed).collect()
    }
}

impl Snapshots {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a reader; call before its transaction begins, and keep the answer for
    /// as long as the transaction reads.
    pub(crate) fn enter<'a>(&'a self, packs: &'a Packs) -> Reader<'a> {
        let mut s = self.state();
        let epoch = s.epoch;
        *s.readers.entry(epoch).or_default() += 1;
        Reader {
            snapshots: self,
            packs,
            epoch,
        }
    }

    /// Frees `freed` once no reader that began before now is left. Call only after the
    /// deletions that gave it up have committed (durably).
    pub(crate) fn release(&self, packs: &Packs, freed: Space) {
        let ready = {
            let mut s = self.state();
            s.epoch += 1;
            let epoch = s.epoch;
            s.waiting.push((epoch, freed));
            s.ready()
        };
        apply(packs, ready);
    }

    /// Packs whose removal waits for readers: a compaction must not count them again.
    pub(crate) fn packs_waiting(&self) -> HashSet<u32> {
        self.state()
            .waiting
            .iter()
            .filter_map(|(_, freed)| match freed {
                Space::Packs(ids) => Some(ids.iter().copied()),
                Space::Ranges(_) => None,
            })
            .flatten()
            .collect()
    }

    /// Pack space still waiting for readers (for tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.state().waiting.len()
    }
}

/// A reader in progress (see [`Snapshots::enter`]); leaving frees what waited only for it.
pub(crate) struct Reader<'a> {
    snapshots: &'a Snapshots,
    packs: &'a Packs,
    epoch: u64,
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let ready = {
            let mut s = self.snapshots.state();
            if let Some(n) = s.readers.get_mut(&self.epoch) {
                *n -= 1;
                if *n == 0 {
                    s.readers.remove(&self.epoch);
                }
            }
            if s.waiting.is_empty() {
                return;
            }
            s.ready()
        };
        apply(self.packs, ready);
    }
}

fn apply(packs: &Packs, freed: Vec<Space>) {
    for f in freed {
        match f {
            Space::Ranges(ranges) => packs.free(&ranges),
            Space::Packs(ids) => {
                for id in ids {
                    if let Err(e) = packs.remove(id) {
                        tracing::warn!(pack = id, error = %e, "cannot remove an unreferenced pack");
                    }
                }
            }
        }
    }
}
