//! Packs held in RAM: the [`super::Packs`] of an in-memory store, which keeps every
//! block's bytes here (see [`crate::store::Store::in_memory`]).
//!
//! Each pack maps an offset to the bytes of one block (a [`Bytes`], copied from the
//! caller's block so a large network or file buffer is never kept alive by a small slice
//! of it). Freeing a range drops that block's bytes at once (the file packs punch a hole),
//! and removing a pack drops the rest. Nothing is durable, so syncing does nothing.
//!
//! Bytes appended by a transaction that then aborts (a dropped atomic writer, a failed
//! `put_many`) are referenced by no index entry. As on disk, GC compaction reclaims them:
//! a pack whose held bytes are more than half garbage is rewritten, one with no live block
//! is dropped. The pack still receiving appends is never compacted, so such garbage in it
//! (at most [`MEMORY_PACK_SIZE`]) waits until it rolls over.

use super::Result;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// An in-memory pack is closed and a new one started past this size (small, so that
/// bytes of aborted writes are soon in a pack that GC compaction may reclaim).
pub(crate) const MEMORY_PACK_SIZE: u64 = 16 << 20;

/// The packs of an in-memory store.
#[derive(Default)]
pub(crate) struct MemoryPacks {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    packs: BTreeMap<u32, Pack>,
    /// The pack receiving appends.
    current: Option<u32>,
    /// The id the next new pack gets (ids start at 1: 0 means "inline").
    next_id: u32,
}

#[derive(Default)]
struct Pack {
    /// Offsets handed out so far (the next append's offset).
    appended: u64,
    /// Bytes of the blocks still held.
    held: u64,
    blocks: HashMap<u64, Bytes>,
}

impl MemoryPacks {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`super::Packs::first_active_id`].
    pub(crate) fn first_active_id(&self) -> u32 {
        let s = self.state();
        s.current.unwrap_or(s.next_id.max(1))
    }

    /// Keeps a copy of `data`; answers (pack id, offset).
    pub(crate) fn append(&self, data: &[u8]) -> Result<(u32, u64)> {
        let mut s = self.state();
        let full = |s: &State, id| {
            s.packs
                .get(&id)
                .is_none_or(|p: &Pack| p.appended >= MEMORY_PACK_SIZE)
        };
        let id = match s.current {
            Some(id) if !full(&s, id) => id,
            _ => {
                let id = s.next_id.max(1);
                s.next_id = id + 1;
                s.current = Some(id);
                s.packs.insert(id, Pack::default());
                id
            }
        };
        let pack = s.packs.entry(id).or_default();
        let offset = pack.appended;
        // Every offset is a distinct key, even for an empty block.
        pack.appended += (data.len() as u64).max(1);
        pack.held += data.len() as u64;
        pack.blocks.insert(offset, Bytes::copy_from_slice(data));
        Ok((id, offset))
    }

    /// The block at `offset` of pack `id` if it is `len` bytes long.
    pub(crate) fn read(&self, id: u32, offset: u64, len: usize) -> Option<Bytes> {
        let s = self.state();
        let data = s.packs.get(&id)?.blocks.get(&offset)?;
        (data.len() == len).then(|| data.clone())
    }

    /// Drops the blocks at the ranges' offsets (readers holding them keep their copy).
    pub(crate) fn punch(&self, id: u32, ranges: &[super::Freed]) {
        let mut s = self.state();
        if let Some(pack) = s.packs.get_mut(&id) {
            for freed in ranges {
                if let Some(data) = pack.blocks.remove(&freed.offset) {
                    pack.held -= data.len() as u64;
                }
            }
            // A mostly emptied pack is not compacted (nothing but aborted writes counts as
            // garbage here): give back its table's spare room.
            if pack.blocks.len() * 4 < pack.blocks.capacity() {
                pack.blocks.shrink_to_fit();
            }
        }
    }

    /// Drops a pack.
    pub(crate) fn remove(&self, id: u32) {
        let mut s = self.state();
        s.packs.remove(&id);
        if s.current == Some(id) {
            s.current = None;
        }
    }

    /// Bytes held by every pack.
    pub(crate) fn held(&self) -> u64 {
        self.state().packs.values().map(|p| p.held).sum()
    }

    /// Bytes held by pack `id`.
    pub(crate) fn held_by(&self, id: u32) -> u64 {
        self.state().packs.get(&id).map_or(0, |p| p.held)
    }

    /// Ids of the packs.
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.state().packs.keys().copied().collect()
    }
}
