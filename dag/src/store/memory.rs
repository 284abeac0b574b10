//! The in-memory store: [`Store::in_memory`], for tests and short-lived apps that need no
//! directory.
//!
//! What it holds: everything, in RAM, until GC or the last handle's drop frees it. redb
//! runs on its in-memory backend and holds the index, the pins and the counters; the bytes
//! of every block, small ones included, sit in memory packs
//! ([`super::pack::MemoryPacks`]), one exact-size allocation per block. Small blocks are
//! not inlined in redb as on disk: there a B-tree page read is what makes them cheap,
//! while in RAM redb's pages cost ~2.8× the bytes they hold (measured: 100 MB of 2 KiB
//! blocks took 285 MB of redb memory, 4.5 MB once only the index was in it) and a GC gives
//! nothing back without a slow compaction of the whole database.
//!
//! Every operation behaves as on disk: the same transactions, pins, writers (an atomic
//! writer's blocks are simply all in RAM until it finishes), leases, import/GC lock,
//! verification, and GC with pack compaction. What does not apply is skipped: there is no
//! lock file (each `in_memory()` is a new, independent store), no reserve file, no fsync,
//! and no reopening after a failed write (memory does not fail the way a disk does).
//!
//! Memory: a collected block's bytes are dropped as soon as its deletion commits; redb
//! reuses the index pages GC frees (and gives back free space at its end on commit).
//! Bytes of aborted writes are reclaimed by GC compaction (see [`super::pack`]).
//! [`Store::stat`]'s `file_size` reports the bytes held: redb's memory plus the blocks.

#[cfg(doc)]
use super::RepoStat;
use super::{CACHE_SIZE, GcLock, Inner, Result, Store, StoreError, boundary, pack::Packs};
use redb::StorageBackend;
use redb::backends::InMemoryBackend;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What [`Store::path`] answers for an in-memory store (and what its errors name).
pub const MEMORY_PATH: &str = ":memory:";

/// redb page cache of an in-memory store: reading its backend is a copy from RAM, so a
/// small cache is enough.
const MEMORY_CACHE_SIZE: usize = CACHE_SIZE / 4;

impl Store {
    /// A new, empty store held in memory: nothing touches the disk, and everything is
    /// gone when the last handle is dropped. Two calls give two independent stores.
    ///
    /// It holds everything in RAM: redb (on its in-memory backend) holds the index, pins
    /// and counters; every block's bytes are held once, in exact-size buffers. It behaves
    /// as a store on disk (transactions, pins, writers, leases, GC, `verify`, `stat`), with
    /// no lock, reserve file or fsync. GC frees what it collects: a collected block's
    /// bytes are dropped as soon as its deletion commits. [`Store::path`] answers
    /// [`MEMORY_PATH`] and [`Store::is_in_memory`] true; [`RepoStat::file_size`] is the
    /// bytes held.
    ///
    /// ```
    /// use dag::{Block, Store, Version, block::RAW, store::PinMode};
    ///
    /// let store = Store::in_memory()?;
    /// let block = Block::encode(Version::V1, RAW, &b"hello"[..]);
    /// store.put(block.clone())?;
    /// store.pin_add(block.cid(), PinMode::Direct)?;
    /// assert_eq!(store.get(block.cid())?.as_deref(), Some(&b"hello"[..]));
    /// # Ok::<(), dag::StoreError>(())
    /// ```
    pub fn in_memory() -> Result<Store> {
        let backend = MemoryDb::default();
        let path = PathBuf::from(MEMORY_PATH);
        let db = boundary::guard(&path, || {
            redb::Database::builder()
                .set_cache_size(MEMORY_CACHE_SIZE)
                .create_with_backend(backend.clone())
                .map_err(|e| StoreError::Open {
                    path: path.clone(),
                    source: e.into(),
                })
        })?;
        let store = Store {
            inner: Arc::new(Inner {
                db: boundary::Db::new(db),
                packs: Packs::in_memory(),
                path,
                memory: Some(backend),
                lock: GcLock::default(),
                reserve: boundary::Reserve::none(),
                hash_on_read: std::sync::atomic::AtomicBool::new(false),
                quota: Default::default(),
                snapshots: Default::default(),
            }),
        };
        store.run(|| store.create_tables())?;
        Ok(store)
    }

    /// Whether this store is held in memory ([`Store::in_memory`]); its [`Store::path`] is
    /// then [`MEMORY_PATH`], not a file.
    pub fn is_in_memory(&self) -> bool {
        self.inner.memory.is_some()
    }
}

impl Inner {
    /// Bytes the database takes: its file's size, or the RAM of an in-memory one.
    pub(crate) fn db_size(&self) -> Result<u64> {
        match &self.memory {
            Some(backend) => backend
                .len()
                .map_err(|e| StoreError::Db { source: e.into() }),
            None => std::fs::metadata(Path::new(&self.path))
                .map(|m| m.len())
                .map_err(|e| StoreError::Db { source: e.into() }),
        }
    }
}

/// redb's in-memory backend, shared with the store so that `stat` can read its size.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryDb(Arc<InMemoryBackend>);

impl StorageBackend for MemoryDb {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}
