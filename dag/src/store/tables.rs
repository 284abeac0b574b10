//! Typed access to the store's redb tables inside one transaction: where blocks are
//! ([`Loc`]), reading them in a read or write transaction ([`BlockTables`]), and the
//! write side ([`WriteTables`]) that keeps the size counter and the packs' referenced
//! bytes in step with every insert, move and removal.

use super::pack::Packs;
use super::snapshot::Reader;
use super::{
    Block, DATA, INDEX, Inner, MAX_BLOCK_SIZE, META, PACKS, PINS, Result, StoreError, TOTAL_SIZE,
    block,
};
use bytes::Bytes;
use redb::{Durability, ReadableTable, WriteTransaction};
use std::collections::HashMap;

/// Where a block's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(super) size: u64,
    /// 0: inline in the `data` table.
    pub(super) pack: u32,
    pub(super) offset: u64,
}

impl From<(u64, u32, u64)> for Loc {
    fn from((size, pack, offset): (u64, u32, u64)) -> Self {
        Loc { size, pack, offset }
    }
}

/// The tables of a read transaction, and the packs.
pub(crate) struct ReadTables<'a> {
    pub(super) index: redb::ReadOnlyTable<&'static [u8], (u64, u32, u64)>,
    data: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    pub(super) pins: redb::ReadOnlyTable<&'static [u8], u8>,
    packs: &'a Packs,
    /// Keeps the pack space of blocks this snapshot sees from being freed.
    _reader: Reader<'a>,
}

impl<'a> ReadTables<'a> {
    pub(super) fn open(inner: &'a Inner) -> Result<Self> {
        // Entered before the snapshot is taken: GCs that commit after it wait for it.
        let reader = inner.snapshots.enter(&inner.packs);
        let txn = inner.begin_read()?;
        Ok(ReadTables {
            index: txn.open_table(INDEX)?,
            data: txn.open_table(DATA)?,
            pins: txn.open_table(PINS)?,
            packs: &inner.packs,
            _reader: reader,
        })
    }
}

/// Read access to blocks, in a read or a write transaction.
pub(crate) trait BlockTables {
    /// Where the block with multihash `mh` is stored.
    fn location(&self, mh: &[u8]) -> Result<Option<Loc>>;
    /// The bytes at a known location (unverified); `None` if they are gone or short.
    fn read_at(&self, mh: &[u8], loc: Loc) -> Result<Option<Bytes>>;

    /// The size of the block with multihash `mh`.
    fn block_size(&self, mh: &[u8]) -> Result<Option<u64>> {
        Ok(self.location(mh)?.map(|l| l.size))
    }

    /// The bytes of the block with multihash `mh` (unverified).
    fn read(&self, mh: &[u8]) -> Result<Option<Bytes>> {
        match self.location(mh)? {
            Some(loc) => self.read_at(mh, loc),
            None => Ok(None),
        }
    }
}

fn read_loc(
    data: &impl ReadableTable<&'static [u8], &'static [u8]>,
    packs: &Packs,
    mh: &[u8],
    loc: Loc,
) -> Result<Option<Bytes>> {
    let Ok(len) = usize::try_from(loc.size) else {
        return Ok(None);
    };
    if loc.pack == 0 {
        return Ok(data
            .get(mh)?
            .map(|g| Bytes::copy_from_slice(g.value()))
            .filter(|b| b.len() == len));
    }
    packs.read(loc.pack, loc.offset, len)
}

impl BlockTables for ReadTables<'_> {
    fn location(&self, mh: &[u8]) -> Result<Option<Loc>> {
        Ok(self.index.get(mh)?.map(|g| Loc::from(g.value())))
    }

    fn read_at(&self, mh: &[u8], loc: Loc) -> Result<Option<Bytes>> {
        read_loc(&self.data, self.packs, mh, loc)
    }
}

/// The block tables of a write transaction, tracking the change of the size counter and
/// of each pack's referenced bytes.
pub(crate) struct WriteTables<'txn> {
    index: redb::Table<'txn, &'static [u8], (u64, u32, u64)>,
    data: redb::Table<'txn, &'static [u8], &'static [u8]>,
    meta: redb::Table<'txn, &'static str, u64>,
    pack_table: redb::Table<'txn, u32, (u64, u64)>,
    packs: &'txn Packs,
    added: u64,
    removed: u64,
    /// pack id → (bytes written, change of referenced bytes) since the last `finish`.
    pack_delta: HashMap<u32, (u64, i64)>,
    /// Most bytes of blocks the store may hold after an insert ([`WriteTables::limit`]).
    max: Option<u64>,
    /// The size counter as of the last `finish` (read when the limit is first checked).
    base: Option<u64>,
    /// The counter written by the last `finish` that added bytes.
    total_written: Option<u64>,
}

impl<'txn> WriteTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction, packs: &'txn Packs) -> Result<Self> {
        Ok(WriteTables {
            index: txn.open_table(INDEX)?,
            data: txn.open_table(DATA)?,
            meta: txn.open_table(META)?,
            pack_table: txn.open_table(PACKS)?,
            packs,
            added: 0,
            removed: 0,
            pack_delta: HashMap::new(),
            max: None,
            base: None,
            total_written: None,
        })
    }

    /// Refuses inserts of new blocks that would take the sum of block sizes past `max`
    /// ([`StoreError::QuotaExceeded`]); `None`: no limit.
    pub(crate) fn limit(mut self, max: Option<u64>) -> Self {
        self.max = max;
        self
    }

    /// The size counter written by the last `finish`, if that finish added bytes (for
    /// the quota's watermark).
    pub(crate) fn total_written(&self) -> Option<u64> {
        self.total_written
    }

    /// Fails if `size` more bytes do not fit within the limit.
    fn check_room(&mut self, size: u64) -> Result<()> {
        let Some(max) = self.max else {
            return Ok(());
        };
        let base = match self.base {
            Some(b) => b,
            None => {
                let b = self.meta.get(TOTAL_SIZE)?.map_or(0, |g| g.value());
                self.base = Some(b);
                b
            }
        };
        let used = (base + self.added).saturating_sub(self.removed);
        if used.saturating_add(size) > max {
            return Err(StoreError::QuotaExceeded {
                limit: max,
                used,
                size,
            });
        }
        Ok(())
    }

    /// Stores a block unless present; answers whether it was written.
    pub(crate) fn insert(&mut self, block: &Block) -> Result<bool> {
        if block::identity_data(block.cid()).is_some() {
            return Ok(false);
        }
        let data = block.data();
        if data.len() > MAX_BLOCK_SIZE {
            return Err(StoreError::BlockTooLarge {
                cid: *block.cid(),
                size: data.len(),
            });
        }
        let mh = block.cid().hash().to_bytes();
        if self.index.get(mh.as_slice())?.is_some() {
            return Ok(false);
        }
        self.check_room(data.len() as u64)?;
        self.insert_new(&mh, data)?;
        Ok(true)
    }

    /// Stores bytes under `mh`, which is not in the index yet (or is being moved).
    fn insert_new(&mut self, mh: &[u8], data: &[u8]) -> Result<()> {
        let size = data.len() as u64;
        let loc = if data.len() <= self.packs.inline_max() {
            self.data.insert(mh, data)?;
            (size, 0, 0)
        } else {
            let (pack, offset) = self.packs.append(mh, data)?;
            let d = self.pack_delta.entry(pack).or_default();
            d.0 += size;
            d.1 += size as i64;
            (size, pack, offset)
        };
        self.index.insert(mh, loc)?;
        self.added += size;
        Ok(())
    }

    /// Moves a pack-stored block into the current pack (GC compaction). Answers false if
    /// its bytes could not be read (they stay where they are, for `verify` to report).
    pub(crate) fn relocate(&mut self, mh: &[u8], loc: Loc) -> Result<bool> {
        let Some(data) = self.read_at(mh, loc)? else {
            return Ok(false);
        };
        let (pack, offset) = self.packs.append(mh, &data)?;
        let d = self.pack_delta.entry(pack).or_default();
        d.0 += loc.size;
        d.1 += loc.size as i64;
        self.index.insert(mh, (loc.size, pack, offset))?;
        self.forget(mh, loc)?;
        Ok(true)
    }

    /// Deletes a block; answers where it was if it was stored.
    pub(crate) fn remove(&mut self, mh: &[u8]) -> Result<Option<Loc>> {
        let Some(loc) = self.index.remove(mh)?.map(|g| Loc::from(g.value())) else {
            return Ok(None);
        };
        self.forget(mh, loc)?;
        self.removed += loc.size;
        Ok(Some(loc))
    }

    /// Releases the bytes at `loc` (the index entry is already gone or replaced).
    fn forget(&mut self, mh: &[u8], loc: Loc) -> Result<()> {
        if loc.pack == 0 {
            self.data.remove(mh)?;
        } else {
            self.pack_delta.entry(loc.pack).or_default().1 -= loc.size as i64;
        }
        Ok(())
    }

    /// Writes the counters and starts flushing the packs in the background, for a
    /// non-durable intermediate commit.
    pub(crate) fn finish_deferred(&mut self) -> Result<()> {
        self.write_counters()?;
        self.packs.flush_in_background()
    }

    /// Writes the counters and syncs the packs; call before committing.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.write_counters()?;
        self.packs.sync()
    }

    fn write_counters(&mut self) -> Result<()> {
        self.base = None;
        if self.added != self.removed {
            let total = self.meta.get(TOTAL_SIZE)?.map_or(0, |g| g.value());
            let total = (total + self.added).saturating_sub(self.removed);
            self.meta.insert(TOTAL_SIZE, total)?;
            if self.added > 0 {
                self.total_written = Some(total);
            }
        }
        for (pack, (written, live)) in self.pack_delta.drain() {
            let (w0, l0) = self.pack_table.get(pack)?.map_or((0, 0), |g| g.value());
            let live = (l0 as i64 + live).max(0) as u64;
            self.pack_table.insert(pack, (w0 + written, live))?;
        }
        self.added = 0;
        self.removed = 0;
        Ok(())
    }
}

impl BlockTables for WriteTables<'_> {
    fn location(&self, mh: &[u8]) -> Result<Option<Loc>> {
        Ok(self.index.get(mh)?.map(|g| Loc::from(g.value())))
    }

    fn read_at(&self, mh: &[u8], loc: Loc) -> Result<Option<Bytes>> {
        read_loc(&self.data, self.packs, mh, loc)
    }
}

pub(crate) fn set_durability(txn: &mut WriteTransaction, durability: Durability) -> Result<()> {
    Ok(txn.set_durability(durability)?)
}
