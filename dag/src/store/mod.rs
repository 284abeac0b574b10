//! The persistent block store: blocks, pins and garbage collection in one redb file.
//!
//! Data flow: importers and the network hand verified [`Block`]s to [`Store::put`],
//! [`Store::put_many`] or, for large imports, to a batched [`Writer`] that runs the redb
//! writes on its own thread; readers call [`Store::get`] (or the [`BlockSource`] impl),
//! which re-hashes every block it serves. Pins ([`PinMode`]) name the DAG roots to keep;
//! [`Store::gc`] deletes exactly the blocks no pin reaches.
//!
//! # Layout
//! Blocks are keyed by their **multihash** (as Kubo does), so one block stored under a
//! CIDv0 and a CIDv1 is stored once. redb holds the index and everything small; the bytes
//! of large blocks live in append-only pack files next to it (module `pack`), so an import
//! writes each byte once, sequentially. Tables:
//! - `index`: multihash → (size, pack id, offset); pack id 0 means "inline in `data`".
//!   Answers `has`/`size`/`stat`/`refs local` and drives GC without touching block bytes.
//! - `data`: multihash → bytes, for blocks of at most [`INLINE_MAX`] bytes (directory and
//!   internal nodes, small files).
//! - `packs`: pack id → (bytes written, bytes still referenced), for GC compaction.
//! - `pins`: [`block::pin_key`] of the pinned CID → [`PinMode`] (and whether it was pinned
//!   as CIDv0); see module `pin`.
//! - `meta`: counters (the sum of block sizes) and markers of one-time migrations.
//!
//! Pack bytes are synced before the redb commit that references them, so an index entry
//! never points at bytes that could be lost.
//! Every change is one redb transaction, so a crash (even SIGKILL) leaves the last
//! committed state: the file reopens, verifies and collects cleanly.
//!
//! # In memory
//! [`Store::in_memory`] is the same store with nothing on disk: redb on its in-memory
//! backend holds the index, pins and counters, and every block's bytes are held in memory
//! packs (none inline, none synced). It holds everything in RAM; GC frees what it collects.
//!
//! # Integrity
//! `get` verifies the hash of every block it returns (sha2-256 runs at ~1.3 GB/s with
//! SHA-NI; see the `store` bench) and answers [`StoreError::Corrupt`] instead of serving
//! bytes that do not match; [`Store::verify`] re-hashes the whole store.
//!
//! # Failing disks and damaged files
//! Every public operation runs at the store's boundary (module `boundary`): a panic of redb on a
//! damaged page becomes [`StoreError::Damaged`], a database poisoned by a failed write is
//! reopened by the next operation, and a full disk is [`StoreError::DiskFull`], with a
//! reserve file given back so that unpinning and GC can free space.
//!
//! # Concurrency
//! `Store` is a cheap `Clone` handle (`Arc` inside), `Send + Sync`, with a synchronous API:
//! async callers run it in `spawn_blocking`. redb is MVCC: readers never wait for writers.
//! GC never deletes blocks of an add that has not pinned its root yet: a batched
//! [`Writer`] (every add) registers each block it stores until its pins commit, and GC
//! skips registered blocks (it does not wait for adds). Atomic writers and `pin add` hold
//! an [`ImportGuard`] (the shared side of an import/GC lock GC holds exclusively) instead.
//! Fetches hold a [`Lease`] (GC keeps the leased DAG but does not wait for it).
//!
//! # Quota
//! [`Store::set_quota`] limits the sum of block sizes: an insert past it is refused with
//! [`StoreError::QuotaExceeded`], and writes above the watermark call a hook (module
//! `quota`).

mod boundary;
mod gc;
mod lease;
mod memory;
mod pack;
mod pin;
mod quota;
mod snapshot;
mod tables;
mod writer;

pub use boundary::RESERVE_SIZE;
pub use gc::{GcReport, Unfollowed};
pub use lease::Lease;
pub use memory::MEMORY_PATH;
pub use pin::{PinKind, PinMode, PinProblem, PinReport};
pub use quota::{Quota, WatermarkHook};
pub use writer::{WriteStats, Writer};

pub(crate) use tables::{BlockTables, Loc, ReadTables, WriteTables, set_durability};

use crate::block::{self, BlockError, RAW};
use crate::{Block, BlockSource, Cid, DecodeError, SourceError};
use bytes::Bytes;
use multihash::Multihash;
use pack::Packs;
use redb::{
    Durability, ReadableTable, ReadableTableMetadata, TableDefinition, TableError, WriteTransaction,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// multihash → (size, pack id or 0 for inline, offset in the pack).
const INDEX: TableDefinition<'_, &[u8], (u64, u32, u64)> = TableDefinition::new("index");
/// multihash → bytes of an inline block.
const DATA: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("data");
/// pack id → (bytes written, bytes referenced).
const PACKS: TableDefinition<'_, u32, (u64, u64)> = TableDefinition::new("packs");
/// CID bytes → pin mode.
const PINS: TableDefinition<'_, &[u8], u8> = TableDefinition::new("pins");
/// Named counters.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const TOTAL_SIZE: &str = "total_size";

/// Blocks up to this size are stored inside redb; larger ones go to pack files. (An
/// in-memory store holds every block's bytes in its memory packs.)
pub const INLINE_MAX: usize = 16 * 1024;
/// Largest block the store accepts (the network limit is 2 MiB).
pub const MAX_BLOCK_SIZE: usize = 32 << 20;
/// redb page cache. Small: it only holds the index and inline blocks; the OS page cache
/// serves pack reads.
const CACHE_SIZE: usize = 16 << 20;

/// Errors of the block store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or handle) has the repository open.
    #[error("repo {} is in use by another process (is a daemon running?)", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The database file could not be opened.
    #[error("cannot open repo {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What redb reported.
        source: redb::Error,
    },
    /// The database failed (I/O error, corruption of the file itself, ...).
    #[error("block store: {source}")]
    Db {
        /// What redb reported.
        #[from]
        source: redb::Error,
    },
    /// A block needed (to pin a DAG, or as asked) is not in the store.
    #[error("block {cid} not found")]
    MissingBlock {
        /// The missing block.
        cid: Cid,
    },
    /// A stored block does not match its hash; it is never served.
    #[error("block {cid} is corrupt in the store (hash mismatch); run `repo verify`")]
    Corrupt {
        /// The corrupt block.
        cid: Cid,
    },
    /// A block uses a hash function this node cannot verify, so it is not served.
    #[error("block {cid} uses unsupported hash function 0x{code:x}")]
    Unverifiable {
        /// The block.
        cid: Cid,
        /// Its multihash code.
        code: u64,
    },
    /// A block is larger than the store accepts.
    #[error("block {cid} is too large ({size} bytes, limit {MAX_BLOCK_SIZE})")]
    BlockTooLarge {
        /// The block.
        cid: Cid,
        /// Its size.
        size: usize,
    },
    /// `pin rm` of a CID that is not pinned.
    #[error("{cid} is not pinned")]
    NotPinned {
        /// The CID.
        cid: Cid,
    },
    /// `pin rm` of a CID only pinned as part of another pin's DAG.
    #[error("{cid} is pinned indirectly under {via}")]
    PinnedIndirectly {
        /// The CID.
        cid: Cid,
        /// The recursive pin whose DAG contains it.
        via: Cid,
    },
    /// A direct pin was asked for a CID that is already pinned recursively.
    #[error("{cid} is already pinned recursively")]
    AlreadyPinnedRecursively {
        /// The CID.
        cid: Cid,
    },
    /// A block cannot be deleted while it is pinned.
    #[error("cannot remove {cid}: pinned {mode} as {root}")]
    Pinned {
        /// The block asked for.
        cid: Cid,
        /// The pin holding it (same multihash, possibly another CID version).
        root: Cid,
        /// The pin's mode.
        mode: PinMode,
    },
    /// A block on a DAG walk could not be decoded.
    #[error("cannot decode block {cid}: {source}")]
    Decode {
        /// The block.
        cid: Cid,
        /// Why.
        source: DecodeError,
    },
    /// GC stopped before deleting anything: a block of a pinned DAG cannot be trusted
    /// (corrupt, unverifiable or undecodable), so what it links to is unknown.
    #[error("gc aborted, nothing deleted: block {cid} in the DAG pinned as {pin}: {source}")]
    GcAborted {
        /// The block that failed.
        cid: Cid,
        /// The recursive pin whose DAG holds it.
        pin: Cid,
        /// What is wrong with it.
        source: Box<StoreError>,
    },
    /// A record in the database is malformed (not written by this version of ipfsd).
    #[error("block store: malformed {what} record")]
    BadRecord {
        /// Which record.
        what: &'static str,
    },
    /// Reading or writing a pack file failed.
    #[error("block store pack {}: {source}", path.display())]
    Pack {
        /// The pack file (or directory).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database file is damaged: redb failed on it (a panic on a damaged page, caught
    /// at the store's boundary).
    #[error("block store {} is damaged: {detail}; run `ipfsd repo verify` and restore from a backup", path.display())]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The disk is full: the write was refused or rolled back (nothing half-written
    /// stays). Deleting still works: unpin and run `repo gc`.
    #[error("disk full: cannot write the block store {}; free space or unpin and run `ipfsd repo gc`", path.display())]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },
    /// Storing a block would take the store past its quota ([`Store::set_quota`]); with
    /// GC at the limit, even after a GC. Nothing of the failed operation is pinned.
    #[error(
        "storage limit exceeded: {size} more bytes would take the block store past its maximum of {limit} bytes (Datastore.StorageMax; {used} bytes stored): unpin something and run `ipfsd repo gc`, or raise the limit"
    )]
    QuotaExceeded {
        /// The limit.
        limit: u64,
        /// Bytes of blocks stored (committed, plus this operation's so far).
        used: u64,
        /// The size of the block that did not fit.
        size: u64,
    },
    /// The batched writer's thread stopped without reporting why (it panicked).
    #[error("block store writer thread stopped unexpectedly")]
    WriterGone,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db { source: e.into() }
            }
        }
    )*};
}
from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError,
    redb::DatabaseError
);

/// Shorthand for results of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Summary of the store for `repo stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RepoStat {
    /// Number of stored blocks.
    pub num_blocks: u64,
    /// Sum of the stored blocks' sizes.
    pub total_size: u64,
    /// Bytes on disk: the database file plus the pack files (for an in-memory store, the
    /// bytes it holds in RAM: redb's memory plus the large blocks).
    pub file_size: u64,
}

/// Result of [`Store::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Blocks checked.
    pub checked: u64,
    /// Blocks whose bytes do not hash to their key (as CIDv1 raw), or whose stored segments
    /// are inconsistent.
    pub corrupt: Vec<Cid>,
    /// Blocks with a hash function this node cannot check (as CIDv1 raw).
    pub unverifiable: Vec<Cid>,
}

impl VerifyReport {
    /// True when every block checked out.
    pub fn is_ok(&self) -> bool {
        self.corrupt.is_empty()
    }
}

/// Handle on the block store. Cheap to clone; all clones share one database (a file, or
/// memory: [`Store::in_memory`]).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: boundary::Db,
    packs: Packs,
    /// The database file, or [`MEMORY_PATH`] for an in-memory store.
    path: PathBuf,
    /// The database of an in-memory store (`None`: on disk).
    memory: Option<memory::MemoryDb>,
    lock: GcLock,
    reserve: boundary::Reserve,
    /// Whether every read re-hashes the block ([`Store::set_hash_on_read`]).
    hash_on_read: AtomicBool,
    /// The storage limit ([`Store::set_quota`]).
    quota: quota::QuotaSlot,
    /// Readers in progress, for which freed pack space waits (module `snapshot`).
    snapshots: snapshot::Snapshots,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path` (a file), creating it if missing.
    ///
    /// Fails with [`StoreError::Locked`] if another process (or another `Store` in this
    /// process) has it open.
    ///
    /// A damaged file gives an error, never a panic. Opening writes nothing to an existing
    /// store (so it works on a full disk); see module `boundary` for the reserve file written
    /// beside the database.
    pub fn open(path: &Path) -> Result<Store> {
        let db = boundary::open_db(path, CACHE_SIZE)?;
        let packs = Packs::open(&path.with_extension("packs"))?;
        let store = Store {
            inner: Arc::new(Inner {
                db: boundary::Db::new(db),
                packs,
                path: path.to_path_buf(),
                memory: None,
                lock: GcLock::default(),
                reserve: boundary::Reserve::open(path),
                hash_on_read: AtomicBool::new(false),
                quota: Default::default(),
                snapshots: Default::default(),
            }),
        };
        store.run(|| store.create_tables())?;
        store.migrate_pins()?;
        Ok(store)
    }

    /// Keys pins written by older versions (CIDv0 bytes) by [`block::pin_key`], once: a
    /// marker in `meta` makes every later open a single read. On a full disk the reserve
    /// given back by the first failure makes room for the retry.
    fn migrate_pins(&self) -> Result<()> {
        let done = self.run(|| {
            let txn = self.inner.begin_read()?;
            Ok(txn.open_table(META)?.get(pin::PIN_KEYS_MIGRATED)?.is_some())
        })?;
        if done {
            return Ok(());
        }
        let migrate = || {
            self.run(|| {
                let txn = self.inner.begin_write()?;
                let n = pin::migrate_pin_keys(&txn)?;
                txn.commit()?;
                if n > 0 {
                    tracing::info!(pins = n, "pins re-keyed by multihash-normalised CID");
                }
                Ok(())
            })
        };
        match migrate() {
            Err(StoreError::DiskFull { .. }) => migrate(),
            other => other,
        }
    }

    /// Creates every table so read transactions can always open them (only when one is
    /// missing: a new store).
    fn create_tables(&self) -> Result<()> {
        let new_store;
        {
            let txn = self.inner.begin_read()?;
            new_store = matches!(txn.open_table(PINS), Err(TableError::TableDoesNotExist(_)));
            let complete = [
                txn.open_table(INDEX).map(drop),
                txn.open_table(DATA).map(drop),
                txn.open_table(PACKS).map(drop),
                txn.open_table(PINS).map(drop),
                txn.open_table(META).map(drop),
            ];
            let mut missing = false;
            for r in complete {
                match r {
                    Ok(()) => {}
                    Err(TableError::TableDoesNotExist(_)) => missing = true,
                    Err(e) => return Err(e.into()),
                }
            }
            if !missing {
                return Ok(());
            }
        }
        let txn = self.inner.begin_write()?;
        {
            txn.open_table(INDEX)?;
            txn.open_table(DATA)?;
            txn.open_table(PACKS)?;
            txn.open_table(PINS)?;
            if new_store {
                // No old-style pins to migrate.
                txn.open_table(META)?.insert(pin::PIN_KEYS_MIGRATED, 1)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// How many handles (clones) of this store are alive. The database closes when the
    /// last one is dropped; a daemon waits for its tasks' handles before it reports stopped.
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The database file's path, or [`MEMORY_PATH`] for an in-memory store (see
    /// [`Store::is_in_memory`]). For messages: an in-memory store has no file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether [`Store::get`] re-hashes every block it reads (Kubo's `Datastore.HashOnRead`;
    /// off by default, as there). Off, a block is hashed once per hop: when it arrives
    /// (BitSwap, `block put`, imports hash what they store) and again only where a walk
    /// takes links from it (GC, pins) or by `verify`, not on every read that serves it:
    /// every peer that receives it checks it anyway. Reads still never serve a hole in
    /// a pack in a block's place (see [`Store::get`]).
    pub fn set_hash_on_read(&self, on: bool) {
        self.inner.hash_on_read.store(on, Ordering::Relaxed);
    }

    /// The bytes of `cid`, or `None` if not stored. Identity CIDs answer their inline data
    /// without touching the database. The bytes are verified against the CID's hash when
    /// [`Store::set_hash_on_read`] is on, and otherwise when they read as zeros, which is
    /// what a hole in a pack file looks like, so a hole is never served in a block's place
    /// (a genuine block of zeros passes). A GC racing the read cannot make one: it frees a
    /// block's bytes only once every read that could still see the block has ended.
    pub fn get(&self, cid: &Cid) -> Result<Option<Bytes>> {
        self.run(|| {
            if let Some(data) = block::identity_data(cid) {
                return Ok(Some(Bytes::copy_from_slice(data)));
            }
            let mh = cid.hash().to_bytes();
            let tables = ReadTables::open(&self.inner)?;
            let Some(loc) = tables.location(&mh)? else {
                return Ok(None);
            };
            // Indexed but its bytes gone or short: the pack was damaged.
            let Some(data) = tables.read_at(&mh, loc)? else {
                return Err(StoreError::Corrupt { cid: *cid });
            };
            if self.inner.hash_on_read.load(Ordering::Relaxed) || data.iter().all(|&b| b == 0) {
                check(cid, &data)?;
            }
            Ok(Some(data))
        })
    }

    /// The block `cid` (see [`Store::get`]).
    pub fn get_block(&self, cid: &Cid) -> Result<Option<Block>> {
        Ok(self.get(cid)?.map(|data| Block::trusted(*cid, data)))
    }

    /// Whether the block is stored (identity CIDs always are).
    pub fn has(&self, cid: &Cid) -> Result<bool> {
        Ok(self.size(cid)?.is_some())
    }

    /// The size of the stored block, if stored.
    pub fn size(&self, cid: &Cid) -> Result<Option<u64>> {
        self.run(|| {
            if let Some(data) = block::identity_data(cid) {
                return Ok(Some(data.len() as u64));
            }
            let txn = self.inner.begin_read()?;
            let index = txn.open_table(INDEX)?;
            Ok(index
                .get(cid.hash().to_bytes().as_slice())?
                .map(|g| g.value().0))
        })
    }

    /// Deletes a block; answers whether it was stored. Refuses blocks that are pinned
    /// directly or recursively (under any CID with the same multihash) with
    /// [`StoreError::Pinned`]; blocks pinned only indirectly are not checked here (that
    /// needs a DAG walk: see [`Store::pin_status`]).
    pub fn delete(&self, cid: &Cid) -> Result<bool> {
        self.run(|| {
            if block::identity_data(cid).is_some() {
                return Ok(false);
            }
            let mh = cid.hash().to_bytes();
            let txn = self.inner.begin_write()?;
            let removed = {
                let pins = txn.open_table(PINS)?;
                for entry in pins.iter()? {
                    let (key, value) = entry?;
                    let (root, mode) = pin::decode_pin(key.value(), value.value())?;
                    if root.hash() == cid.hash() {
                        return Err(StoreError::Pinned {
                            cid: *cid,
                            root,
                            mode,
                        });
                    }
                }
                let mut tables = WriteTables::open(&txn, &self.inner.packs)?;
                let removed = tables.remove(&mh)?;
                tables.finish()?;
                removed
            };
            self.commit(txn)?;
            if let Some(loc) = removed.filter(|l| l.pack != 0) {
                let freed = pack::Freed {
                    offset: loc.offset,
                    len: loc.size,
                    header: pack::header_len(mh.len()),
                };
                self.free(HashMap::from([(loc.pack, vec![freed])]));
            }
            Ok(removed.is_some())
        })
    }

    /// Stores one block durably (skipped if already stored; identity blocks are never
    /// stored).
    pub fn put(&self, block: Block) -> Result<()> {
        self.put_many(std::iter::once(block)).map(|_| ())
    }

    /// Stores blocks in one durable transaction; answers how many were new.
    /// Refused with [`StoreError::QuotaExceeded`] (and nothing stored) when the new
    /// blocks do not fit within the quota.
    pub fn put_many(&self, blocks: impl IntoIterator<Item = Block>) -> Result<u64> {
        self.run_growing(|| {
            let txn = self.inner.begin_write()?;
            let mut added = 0;
            let total;
            {
                let mut tables =
                    WriteTables::open(&txn, &self.inner.packs)?.limit(self.inner.limit());
                for block in blocks {
                    if tables.insert(&block)? {
                        added += 1;
                    }
                }
                tables.finish()?;
                total = tables.total_written();
            }
            self.commit(txn)?;
            self.inner.wrote(total);
            Ok(added)
        })
    }

    /// A batched writer for imports; see [`Writer`]. Intermediate batches are committed
    /// durably as they fill (overlapping the fsync with the caller's hashing), so other
    /// writers interleave; blocks of an abandoned import stay (unpinned, for GC).
    pub fn writer(&self) -> Result<Writer> {
        Writer::start(self.clone(), writer::Mode::Batched)
    }

    /// A writer that commits nothing before [`Writer::finish`]: all blocks land in one
    /// transaction, so an error or a dropped writer leaves the store unchanged (used by
    /// CAR import). Memory stays bounded (redb spills dirty pages to the file), but other
    /// writers wait until it finishes.
    pub fn atomic_writer(&self) -> Result<Writer> {
        Writer::start(self.clone(), writer::Mode::Atomic)
    }

    /// Takes the import side of the import/GC lock: while any guard lives, GC waits (and
    /// while GC runs, this waits). Hold it from an import's first block to its pin commit
    /// when not importing through a batched [`Writer`] (which registers its blocks
    /// instead; atomic writers hold a guard internally).
    pub fn import_guard(&self) -> ImportGuard {
        ImportGuard::new(self.inner.clone())
    }

    /// Counts for `repo stat`.
    pub fn stat(&self) -> Result<RepoStat> {
        self.run(|| {
            let txn = self.inner.begin_read()?;
            let index = txn.open_table(INDEX)?;
            let meta = txn.open_table(META)?;
            let file_size = self.inner.db_size()? + self.inner.packs.disk_size()?;
            Ok(RepoStat {
                num_blocks: index.len()?,
                total_size: meta.get(TOTAL_SIZE)?.map_or(0, |g| g.value()),
                file_size,
            })
        })
    }

    /// Every stored block, as CIDv1 raw (only multihashes are stored), in key order, from
    /// one consistent snapshot. For `refs local`.
    pub fn all_cids(&self) -> Result<AllCids> {
        self.run(|| {
            let txn = self.inner.begin_read()?;
            let index = txn.open_table(INDEX)?;
            Ok(AllCids {
                range: index.range::<&[u8]>(..)?,
                path: self.inner.path.clone(),
            })
        })
    }

    /// Re-hashes every block and reports those that do not match their key.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.run(|| {
            let tables = ReadTables::open(&self.inner)?;
            let mut report = VerifyReport::default();
            for entry in tables.index.iter()? {
                let (key, loc) = entry?;
                let mh = key.value();
                report.checked += 1;
                let cid = raw_cid(mh)?;
                let Some(data) = tables.read_at(mh, Loc::from(loc.value()))? else {
                    report.corrupt.push(cid);
                    continue;
                };
                match block::verify(&cid, &data) {
                    Ok(()) => {}
                    Err(BlockError::UnsupportedHash { .. }) => report.unverifiable.push(cid),
                    Err(_) => report.corrupt.push(cid),
                }
            }
            Ok(report)
        })
    }

    fn write_txn(&self) -> Result<WriteTransaction> {
        self.inner.begin_write()
    }

    /// Commits a write transaction. Every commit of the store goes through here: pack
    /// bytes are synced first, because any commit can make earlier non-durable commits
    /// (and so their index entries) durable.
    fn commit(&self, txn: WriteTransaction) -> Result<()> {
        self.inner.packs.sync()?;
        Ok(txn.commit()?)
    }

    /// Commits without durability (a later [`Store::commit`] makes it durable). Needs no
    /// pack sync: a crash forgets this commit along with whatever it references.
    fn commit_nondurable(&self, mut txn: WriteTransaction) -> Result<()> {
        set_durability(&mut txn, Durability::None)?;
        Ok(txn.commit()?)
    }
}

impl BlockSource for Store {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        match self.get(cid) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(SourceError::NotFound { cid: *cid }),
            Err(e) => Err(SourceError::Store(Box::new(e))),
        }
    }
}

/// Iterator over the stored blocks' CIDs (CIDv1 raw), from [`Store::all_cids`].
pub struct AllCids {
    range: redb::Range<'static, &'static [u8], (u64, u32, u64)>,
    /// The database file, for errors.
    path: PathBuf,
}

impl std::fmt::Debug for AllCids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllCids").finish_non_exhaustive()
    }
}

impl Iterator for AllCids {
    type Item = Result<Cid>;

    fn next(&mut self) -> Option<Self::Item> {
        let range = &mut self.range;
        // redb can panic on a damaged page: that ends the iteration with an error.
        boundary::guard(&self.path, || {
            Ok(range.next().map(|entry| {
                entry
                    .map_err(StoreError::from)
                    .and_then(|(k, _)| raw_cid(k.value()))
            }))
        })
        .unwrap_or_else(|e| Some(Err(e)))
    }
}

/// Checks served bytes against the CID they are served as.
fn check(cid: &Cid, data: &[u8]) -> Result<()> {
    match block::verify(cid, data) {
        Ok(()) => Ok(()),
        Err(BlockError::UnsupportedHash { .. }) => Err(StoreError::Unverifiable {
            cid: *cid,
            code: cid.hash().code(),
        }),
        Err(_) => Err(StoreError::Corrupt { cid: *cid }),
    }
}

/// The CIDv1 raw of a stored multihash (how Kubo names blocks known only by multihash).
fn raw_cid(mh: &[u8]) -> Result<Cid> {
    let mh =
        Multihash::<64>::from_bytes(mh).map_err(|_| StoreError::BadRecord { what: "block key" })?;
    Ok(Cid::new_v1(RAW, mh))
}

/// The import/GC lock: any number of imports, or one GC.
#[derive(Default)]
struct GcLock {
    state: Mutex<LockState>,
    cv: Condvar,
}

#[derive(Default)]
struct LockState {
    imports: usize,
    gc: bool,
    /// GCs waiting: new imports wait behind them so GC is not starved.
    gc_waiting: usize,
    /// Temporary GC roots ([`Lease`]s) and the sweep batch they wait for.
    leases: lease::Leases,
}

impl GcLock {
    fn state(&self) -> MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, LockState>) -> MutexGuard<'a, LockState> {
        self.cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shared side of the import/GC lock (see [`Store::import_guard`]); released on drop.
pub struct ImportGuard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ImportGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportGuard").finish_non_exhaustive()
    }
}

impl ImportGuard {
    fn new(inner: Arc<Inner>) -> Self {
        let lock = &inner.lock;
        let mut state = lock.state();
        while state.gc || state.gc_waiting > 0 {
            state = lock.wait(state);
        }
        state.imports += 1;
        drop(state);
        ImportGuard { inner }
    }
}

impl Drop for ImportGuard {
    fn drop(&mut self) {
        let lock = &self.inner.lock;
        let mut state = lock.state();
        state.imports = state.imports.saturating_sub(1);
        drop(state);
        lock.cv.notify_all();
    }
}

/// The exclusive side of the import/GC lock.
struct GcGuard<'a> {
    lock: &'a GcLock,
}

impl<'a> GcGuard<'a> {
    fn new(lock: &'a GcLock) -> Self {
        let mut state = lock.state();
        state.gc_waiting += 1;
        while state.gc || state.imports > 0 {
            state = lock.wait(state);
        }
        state.gc_waiting -= 1;
        state.gc = true;
        GcGuard { lock }
    }
}

impl Drop for GcGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.lock.state();
        state.gc = false;
        state.leases.gc_ended();
        drop(state);
        self.lock.cv.notify_all();
    }
}

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod ipld_tests;
#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod pin_tests;
#[cfg(test)]
mod quota_tests;
#[cfg(test)]
pub(crate) mod tests;
