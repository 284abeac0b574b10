//! The store's boundary against a failing disk and a damaged file.
//!
//! Data flow: every public operation of [`Store`] runs through [`Store::run`], and every
//! transaction starts through [`Inner::begin_read`] / [`Inner::begin_write`]:
//! - **Panics.** redb can panic on a damaged page. `run` catches the panic
//!   (`catch_unwind`) and answers [`StoreError::Damaged`]; a panic hook installed once
//!   keeps such caught panics out of stderr (they are logged as warnings instead).
//! - **A poisoned database.** After one failed write (ENOSPC, EIO) redb fails every later
//!   operation with "Previous I/O error". Starting a transaction on such a database drops
//!   it and opens the file again (redb repairs it to its last commit), then retries once:
//!   only the operation that met the failure fails, the next one works.
//! - **A full disk.** At open the store writes a reserve file ([`RESERVE_SIZE`] bytes of
//!   real data, `blocks.reserve`). An operation that fails with ENOSPC is answered
//!   [`StoreError::DiskFull`] and the reserve is deleted, so deletes (`pin rm`, `repo gc`,
//!   whose copy-on-write commits need some room, and reopening, whose repair does) can run.
//!   While the reserve is out, writes that add data first try to write it back: they
//!   fail with `DiskFull` without touching redb until enough space is free again (twice
//!   the reserve, so that putting it back leaves room for everything else).
//!
//! An in-memory store ([`Store::in_memory`]) has a boundary too (panics become errors),
//! but no reserve and no reopening: its backend does not fail writes, and reopening it
//! would give a new, empty database.

use super::{Inner, Result, Store, StoreError};
use redb::{Database, DatabaseError, ReadTransaction, TransactionError, WriteTransaction};
use std::cell::Cell;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError, RwLock};

/// Size of the reserve file. Measured (`the_store_recovers_from_enospc_in_redb_...` on a
/// 24 MiB tmpfs filled with 8 KiB inline blocks, and the CLI's `disk_full` test on 64 MiB):
/// with no reserve released, GC on the full disk fails with ENOSPC; with 1 or 4 MiB the
/// reopened database's repair runs out of room and it is poisoned again; 8 MiB is enough
/// for the repair and a GC sweep in batches of 64.
pub const RESERVE_SIZE: u64 = 8 << 20;

/// The open database, replaced when a failed write poisons it.
pub(crate) struct Db {
    slot: RwLock<Slot>,
}

struct Slot {
    db: Option<Database>,
    /// Bumped at each reopen, so concurrent failures reopen once.
    generation: u64,
}

impl Db {
    pub(crate) fn new(db: Database) -> Db {
        Db {
            slot: RwLock::new(Slot {
                db: Some(db),
                generation: 0,
            }),
        }
    }
}

/// Opens (creating) the database file; a panic of redb on a damaged file is an error.
pub(crate) fn open_db(path: &Path, cache_size: usize) -> Result<Database> {
    let opened = guard(path, || {
        Ok(Database::builder().set_cache_size(cache_size).create(path))
    })?;
    opened.map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: path.to_path_buf(),
        },
        e => StoreError::Open {
            path: path.to_path_buf(),
            source: e.into(),
        },
    })
}

/// Whether a transaction could not start because an earlier I/O error poisoned the
/// database (or it was closed by a reopen in another thread).
fn poisoned(e: &TransactionError) -> bool {
    matches!(
        e,
        TransactionError::Storage(
            redb::StorageError::PreviousIo | redb::StorageError::DatabaseClosed
        )
    )
}

impl Inner {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction> {
        use redb::ReadableDatabase;
        self.with_db(|db| db.begin_read())
    }

    pub(crate) fn begin_write(&self) -> Result<WriteTransaction> {
        self.with_db(|db| db.begin_write())
    }

    fn with_db<T>(
        &self,
        f: impl Fn(&Database) -> std::result::Result<T, TransactionError>,
    ) -> Result<T> {
        let mut generation = None;
        for _ in 0..2 {
            {
                let slot = self.db.slot.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(db) = &slot.db {
                    match f(db) {
                        Err(e) if poisoned(&e) && generation.is_none() => {}
                        other => return Ok(other?),
                    }
                }
                generation = Some(slot.generation);
            }
            self.reopen(generation.unwrap_or_default())?;
        }
        Err(StoreError::Db {
            source: redb::Error::PreviousIo,
        })
    }

    /// Closes the database and opens it again (unless another thread already did since
    /// `seen`).
    pub(super) fn reopen(&self, seen: u64) -> Result<()> {
        if self.memory.is_some() {
            // An in-memory database cannot be opened again (there is no file: it would be
            // a new, empty one). Its backend never fails a write, so this is not reached;
            // if it were, the operation fails as its transaction did.
            return Err(StoreError::Db {
                source: redb::Error::PreviousIo,
            });
        }
        let mut slot = self.db.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.generation != seen && slot.db.is_some() {
            return Ok(());
        }
        tracing::warn!(path = %self.path.display(), "block store failed a write earlier: reopening it");
        // Closing first: the file admits one open handle. A write transaction still alive
        // elsewhere defers the close; the open below then fails and the next operation
        // tries again.
        drop(slot.db.take());
        slot.generation += 1;
        match open_db(&self.path, super::CACHE_SIZE) {
            Ok(db) => {
                slot.db = Some(db);
                Ok(())
            }
            // Our own write transaction still alive elsewhere keeps the file open: this
            // operation fails as the failed write did; the next one tries again.
            Err(StoreError::Locked { .. }) => Err(StoreError::Db {
                source: redb::Error::PreviousIo,
            }),
            Err(e) => Err(e),
        }
    }
}

impl Inner {
    /// Shrinks the database file to what it holds (redb reuses freed pages but never gives
    /// them back to the file system by itself). Best effort: it needs no transaction to be
    /// live, and is skipped otherwise. Answers whether it ran.
    pub(crate) fn compact_db(&self) -> bool {
        let mut slot = self.db.slot.write().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.db.as_mut() else {
            return false;
        };
        let path = self.path.clone();
        let outcome = guard(&path, || {
            let mut rounds = 0;
            // Each call moves some pages; bounded, it converges in a few.
            while rounds < 16
                && db
                    .compact()
                    .map_err(|e| StoreError::Db { source: e.into() })?
            {
                rounds += 1;
            }
            Ok(())
        });
        match outcome {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "block store compaction skipped");
                false
            }
        }
    }
}

thread_local! {
    /// Set while this thread runs a store operation: panics are caught, not printed.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into [`StoreError::Damaged`].
pub(crate) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                tracing::warn!(%info, "block store operation panicked (answered as an error: damaged store?)");
            } else {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    result.unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        Err(StoreError::Damaged {
            path: path.to_path_buf(),
            detail,
        })
    })
}

/// Whether an error is the disk being full (or over quota).
fn disk_full(e: &StoreError) -> bool {
    let io = match e {
        StoreError::Pack { source, .. } => Some(source),
        StoreError::Db {
            source: redb::Error::Io(source),
        }
        | StoreError::Open {
            source: redb::Error::Io(source),
            ..
        } => Some(source),
        _ => None,
    };
    io.is_some_and(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    })
}

/// The reserve file (see the module docs).
pub(crate) struct Reserve {
    /// `None`: no reserve (an in-memory store).
    path: Option<PathBuf>,
    /// The file is not (fully) there.
    released: AtomicBool,
    /// One writer of the file at a time.
    writing: Mutex<()>,
}

impl Reserve {
    /// The reserve beside the database file at `db`; writes it if missing (if that fails
    /// the disk is full, and the store starts without its reserve).
    pub(crate) fn open(db: &Path) -> Reserve {
        let path = db.with_extension("reserve");
        let complete = std::fs::metadata(&path).is_ok_and(|m| m.len() == RESERVE_SIZE);
        let reserve = Reserve {
            path: Some(path),
            released: AtomicBool::new(true),
            writing: Mutex::new(()),
        };
        if complete {
            reserve.released.store(false, Ordering::Release);
        } else {
            reserve.restore();
        }
        reserve
    }

    /// No reserve: for an in-memory store, which never reports a full disk.
    pub(crate) fn none() -> Reserve {
        Reserve {
            path: None,
            released: AtomicBool::new(false),
            writing: Mutex::new(()),
        }
    }

    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Deletes the reserve, giving its space to the store.
    pub(crate) fn release(&self) {
        let Some(path) = &self.path else {
            return;
        };
        let _one = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.released.swap(true, Ordering::AcqRel) {
            tracing::warn!(path = %path.display(), "disk full: releasing the block store's reserve space");
        }
        let _ = std::fs::remove_file(path);
    }

    /// Writes the reserve back if it is out; answers whether it is in place. Fails (and
    /// leaves no partial file) when the disk has not that much room.
    pub(crate) fn restore(&self) -> bool {
        let Some(path) = &self.path else {
            return true;
        };
        if !self.is_released() {
            return true;
        }
        let _one = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.is_released() {
            return true;
        }
        // Put back only with as much room again to spare: a reserve that takes the last
        // free bytes would leave the daemon unable to write its `api` file, other
        // databases unable to commit.
        if free_space(path).is_some_and(|free| free < 2 * RESERVE_SIZE) {
            return false;
        }
        match write_reserve(path) {
            Ok(()) => {
                self.released.store(false, Ordering::Release);
                tracing::info!(path = %path.display(), "block store reserve space in place");
                true
            }
            Err(e) => {
                let _ = std::fs::remove_file(path);
                tracing::debug!(error = %e, "block store reserve cannot be written");
                false
            }
        }
    }
}

/// Bytes available to this user on the file system holding `path` (`None`: unknown).
fn free_space(path: &Path) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let dir = path.parent()?;
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

fn write_reserve(path: &Path) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    let chunk = vec![0u8; 1 << 20];
    let mut left = RESERVE_SIZE;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_data()
}

impl Store {
    /// Runs one public operation at the store boundary (see the module docs): panics
    /// become [`StoreError::Damaged`], a full disk [`StoreError::DiskFull`] (releasing the
    /// reserve).
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        guard(&self.inner.path, f).map_err(|e| self.inner.classify(e))
    }

    /// Like [`Store::run`] for an operation that adds data: refused with
    /// [`StoreError::DiskFull`] while the reserve cannot be put back.
    pub(crate) fn run_growing<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.inner.room()?;
        self.run(f)
    }
}

impl Inner {
    /// Turns a disk-full failure into [`StoreError::DiskFull`], releasing the reserve.
    pub(crate) fn classify(&self, e: StoreError) -> StoreError {
        if disk_full(&e) {
            self.reserve.release();
            StoreError::DiskFull {
                path: self.path.clone(),
            }
        } else {
            e
        }
    }

    /// Checks there is room to add data: the reserve is in place, or can be put back.
    pub(crate) fn room(&self) -> Result<()> {
        if self.reserve.restore() {
            Ok(())
        } else {
            Err(StoreError::DiskFull {
                path: self.path.clone(),
            })
        }
    }
}
