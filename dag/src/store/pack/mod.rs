//! Packs: append-only segments holding the bytes of large blocks.
//!
//! Key-value separation (as in WiscKey, and iroh-blobs' external files): redb keeps the
//! index (multihash → size and location) and small blocks inline, while the bytes of
//! large blocks are appended to the current pack, so an import writes its data once,
//! sequentially, instead of copying it through B-tree pages.
//!
//! Data flow: [`super::WriteTables`] appends a block's bytes ([`Packs::append`]) and
//! records the returned (pack id, offset) in the index, in the same transaction; readers
//! read them back at that location ([`Packs::read`]). Deleting a block frees its range
//! once the deletion has committed ([`Packs::free`]); GC compaction moves the live blocks
//! of mostly-garbage packs and deletes packs nothing references ([`Packs::remove`]).
//!
//! [`Packs`] is one of:
//! - [`file`]: pack files in a directory beside the database (a store on disk);
//! - [`memory`]: blocks held in RAM (an in-memory store, whose packs take every block,
//!   not only the large ones: [`Packs::inline_max`]).

mod file;
mod memory;

use super::{INLINE_MAX, Result};
use bytes::Bytes;
use std::collections::HashMap;
use std::path::Path;

pub(crate) use file::{FilePacks, header_len};
#[cfg(test)]
pub(crate) use memory::MEMORY_PACK_SIZE;
pub(crate) use memory::MemoryPacks;

/// A deleted block's bytes in a pack: its data (`len` bytes at `offset`) and, in a pack
/// file, the `header` bytes of its record just before the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Freed {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) header: u64,
}

/// A pack file is closed and a new one started past this size.
pub const PACK_TARGET_SIZE: u64 = 1 << 30;

/// The pack side of the store.
pub(crate) enum Packs {
    /// Pack files on disk.
    File(FilePacks),
    /// Segments in RAM.
    Memory(MemoryPacks),
}

impl Packs {
    /// Opens (creating) the pack directory of an on-disk store.
    pub(crate) fn open(dir: &Path) -> Result<Packs> {
        FilePacks::open(dir).map(Packs::File)
    }

    /// Empty packs in RAM, for an in-memory store.
    pub(crate) fn in_memory() -> Packs {
        Packs::Memory(MemoryPacks::default())
    }

    /// Blocks up to this size are stored inside redb, larger ones in the packs: on disk
    /// [`INLINE_MAX`] (a small block costs a page read, not a pack file's random read); in
    /// memory none, every block goes to the packs (see [`memory`] for why).
    pub(crate) fn inline_max(&self) -> usize {
        match self {
            Packs::File(_) => INLINE_MAX,
            // Only an empty block (which has no bytes to hold) stays in redb.
            Packs::Memory(_) => 0,
        }
    }

    /// The lowest pack id that may still receive appends: the current pack's, or the
    /// next new pack's when none is open.
    pub(crate) fn first_active_id(&self) -> u32 {
        match self {
            Packs::File(p) => p.first_active_id(),
            Packs::Memory(p) => p.first_active_id(),
        }
    }

    /// Appends one block; answers (pack id, offset of the data).
    pub(crate) fn append(&self, mh: &[u8], data: &[u8]) -> Result<(u32, u64)> {
        match self {
            Packs::File(p) => p.append(mh, data),
            Packs::Memory(p) => p.append(data),
        }
    }

    /// Starts making appended bytes durable in the background (see [`FilePacks`]).
    pub(crate) fn flush_in_background(&self) -> Result<()> {
        match self {
            Packs::File(p) => p.flush_in_background(),
            Packs::Memory(_) => Ok(()),
        }
    }

    /// Makes every appended byte durable. Runs before every redb commit of the store, so
    /// a durable index entry never points at bytes that are not.
    pub(crate) fn sync(&self) -> Result<()> {
        match self {
            Packs::File(p) => p.sync(),
            Packs::Memory(_) => Ok(()),
        }
    }

    /// Reads `len` bytes at `offset` of pack `id`; `None` if the pack or the range is gone.
    pub(crate) fn read(&self, id: u32, offset: u64, len: usize) -> Result<Option<Bytes>> {
        match self {
            Packs::File(p) => p.read(id, offset, len),
            Packs::Memory(p) => Ok(p.read(id, offset, len)),
        }
    }

    /// Deletes a pack no index entry points at any more.
    pub(crate) fn remove(&self, id: u32) -> Result<()> {
        match self {
            Packs::File(p) => p.remove(id),
            Packs::Memory(p) => {
                p.remove(id);
                Ok(())
            }
        }
    }

    /// Frees the space of deleted blocks' bytes, `(offset, len)` ranges per pack id. Call
    /// only once the deletion has committed (durably) and no reader can still see the
    /// deleted blocks (module `snapshot`). A failure only leaves space for
    /// compaction to reclaim, so it is logged, not returned.
    pub(crate) fn free(&self, ranges: &HashMap<u32, Vec<Freed>>) {
        for (id, ranges) in ranges {
            let punched = match self {
                Packs::File(p) => p.punch(*id, ranges),
                Packs::Memory(p) => {
                    p.punch(*id, ranges);
                    Ok(())
                }
            };
            if let Err(e) = punched {
                tracing::warn!(error = %e, "cannot free the space of deleted blocks");
            }
        }
    }

    /// Total bytes the packs take (on disk, or held in RAM).
    pub(crate) fn disk_size(&self) -> Result<u64> {
        match self {
            Packs::File(p) => p.disk_size(),
            Packs::Memory(p) => Ok(p.held()),
        }
    }

    /// Bytes pack `id` takes (0 if it is gone), against which compaction weighs the bytes
    /// still referenced: a file's size (freed holes included), or the bytes held in RAM
    /// (freed blocks are dropped at once, so only aborted writes' bytes count as garbage).
    pub(crate) fn file_size(&self, id: u32) -> Result<u64> {
        match self {
            Packs::File(p) => p.file_size(id),
            Packs::Memory(p) => Ok(p.held_by(id)),
        }
    }

    /// Ids of the packs.
    pub(crate) fn ids(&self) -> Result<Vec<u32>> {
        match self {
            Packs::File(p) => p.ids(),
            Packs::Memory(p) => Ok(p.ids()),
        }
    }
}
