//! Pack files on disk: the [`super::Packs`] of a store opened from a directory.
//!
//! Durability protocol: bytes are appended first; [`FilePacks::sync`] (`fdatasync`) runs
//! before any redb commit that makes them reachable, so a committed index entry never
//! points at bytes that are not on disk. A crash can only leave unreferenced bytes at a
//! pack's end; after a restart appends go to a new pack, and GC compaction reclaims such
//! space.
//!
//! Record format (the index points at the data; the header lets a pack be read on its
//! own): `varint(len(multihash)) ‖ multihash ‖ u32 LE len(data) ‖ data`.

use super::PACK_TARGET_SIZE;
use crate::store::{Result, StoreError};
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The pack files of an on-disk store.
pub(crate) struct FilePacks {
    dir: PathBuf,
    writer: Mutex<WriterState>,
    readers: Mutex<HashMap<u32, Arc<File>>>,
    /// A background `fdatasync` started by [`FilePacks::flush_in_background`].
    flush: Mutex<Option<std::thread::JoinHandle<std::io::Result<()>>>>,
}

struct WriterState {
    /// The pack being appended to, opened lazily.
    current: Option<Current>,
    /// The id the next new pack gets.
    next_id: u32,
    /// Packs rolled over but not yet synced.
    unsynced: Vec<Arc<File>>,
}

struct Current {
    id: u32,
    file: Arc<File>,
    len: u64,
    dirty: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Pack {
        path: path.to_path_buf(),
        source,
    }
}

impl FilePacks {
    /// Opens (creating) the pack directory. Appends always go to a new pack.
    pub(crate) fn open(dir: &Path) -> Result<FilePacks> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut max = 0;
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            if let Some(id) = parse_name(&entry.file_name().to_string_lossy()) {
                max = max.max(id);
            }
        }
        Ok(FilePacks {
            dir: dir.to_path_buf(),
            writer: Mutex::new(WriterState {
                current: None,
                next_id: max + 1,
                unsynced: Vec::new(),
            }),
            readers: Mutex::new(HashMap::new()),
            flush: Mutex::new(None),
        })
    }

    fn path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("{id:08}.pack"))
    }

    fn writer(&self) -> MutexGuard<'_, WriterState> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lowest pack id that may still receive appends: the current pack's, or the
    /// next new pack's when none is open.
    pub(crate) fn first_active_id(&self) -> u32 {
        let w = self.writer();
        w.current.as_ref().map_or(w.next_id, |c| c.id)
    }

    /// Appends one block; answers (pack id, offset of the data).
    pub(crate) fn append(&self, mh: &[u8], data: &[u8]) -> Result<(u32, u64)> {
        let mut w = self.writer();
        if w.current
            .as_ref()
            .is_some_and(|c| c.len >= PACK_TARGET_SIZE)
            && let Some(old) = w.current.take()
            && old.dirty
        {
            w.unsynced.push(old.file);
        }
        if w.current.is_none() {
            let id = w.next_id;
            let path = self.path(id);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            w.next_id += 1;
            w.current = Some(Current {
                id,
                file: Arc::new(file),
                len: 0,
                dirty: false,
            });
        }
        let Some(cur) = w.current.as_mut() else {
            return Err(StoreError::BadRecord {
                what: "pack writer",
            });
        };
        let mut header = Vec::with_capacity(mh.len() + 14);
        let mut len = mh.len();
        while len >= 0x80 {
            header.push((len as u8) | 0x80);
            len >>= 7;
        }
        header.push(len as u8);
        header.extend_from_slice(mh);
        let data_len =
            u32::try_from(data.len()).map_err(|_| StoreError::BadRecord { what: "block size" })?;
        header.extend_from_slice(&data_len.to_le_bytes());
        let offset = cur.len + header.len() as u64;
        let path = self.path(cur.id);
        let mut f: &File = &cur.file;
        let res = f.write_all(&header).and_then(|()| f.write_all(data));
        if let Err(e) = res {
            // Give back what the failed write took (a full disk needs every byte); the
            // pack's end is uncertain all the same: never append to it again.
            let _ = cur.file.set_len(cur.len);
            w.current = None;
            return Err(StoreError::Pack { path, source: e });
        }
        cur.len = offset + data.len() as u64;
        cur.dirty = true;
        Ok((cur.id, offset))
    }

    /// Starts writing appended bytes to disk on another thread, so the disk works while
    /// the importer keeps hashing; [`FilePacks::sync`] later finds little left to do. Does not
    /// make anything durable by itself.
    pub(crate) fn flush_in_background(&self) -> Result<()> {
        self.join_flush()?;
        let files: Vec<Arc<File>> = {
            let w = self.writer();
            w.unsynced
                .iter()
                .cloned()
                .chain(
                    w.current
                        .as_ref()
                        .filter(|c| c.dirty)
                        .map(|c| c.file.clone()),
                )
                .collect()
        };
        if files.is_empty() {
            return Ok(());
        }
        let handle = std::thread::Builder::new()
            .name("pack-flush".into())
            .spawn(move || files.iter().try_for_each(|f| f.sync_data()))
            .map_err(io_err(&self.dir))?;
        *self.flush.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(())
    }

    fn join_flush(&self) -> Result<()> {
        let handle = self
            .flush
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match handle.map(|h| h.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(StoreError::Pack {
                path: self.dir.clone(),
                source: e,
            }),
            Some(Err(_)) => Err(StoreError::Pack {
                path: self.dir.clone(),
                source: std::io::Error::other("pack flush thread panicked"),
            }),
        }
    }

    /// Makes every appended byte durable (`fdatasync`). Runs before every redb commit of
    /// the store, so a durable index entry never points at bytes that are not.
    pub(crate) fn sync(&self) -> Result<()> {
        self.join_flush()?;
        let (files, current) = {
            let mut w = self.writer();
            let files = std::mem::take(&mut w.unsynced);
            let current = w.current.as_mut().filter(|c| c.dirty).map(|c| {
                c.dirty = false;
                (c.id, c.file.clone())
            });
            (files, current)
        };
        for f in files {
            f.sync_data().map_err(io_err(&self.dir))?;
        }
        if let Some((id, file)) = current
            && let Err(e) = file.sync_data()
        {
            // Mark dirty again so the next commit retries the sync.
            if let Some(c) = self.writer().current.as_mut().filter(|c| c.id == id) {
                c.dirty = true;
            }
            return Err(StoreError::Pack {
                path: self.path(id),
                source: e,
            });
        }
        Ok(())
    }

    fn reader(&self, id: u32) -> Result<Option<Arc<File>>> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = readers.get(&id) {
            return Ok(Some(f.clone()));
        }
        let path = self.path(id);
        match File::open(&path) {
            Ok(f) => {
                let f = Arc::new(f);
                readers.insert(id, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Pack { path, source: e }),
        }
    }

    /// Reads `len` bytes at `offset` of pack `id`; `None` if the pack or the range is gone.
    pub(crate) fn read(&self, id: u32, offset: u64, len: usize) -> Result<Option<Bytes>> {
        let Some(file) = self.reader(id)? else {
            return Ok(None);
        };
        let mut buf = vec![0u8; len];
        match read_exact_at(&file, &mut buf, offset) {
            Ok(()) => Ok(Some(Bytes::from(buf))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(StoreError::Pack {
                path: self.path(id),
                source: e,
            }),
        }
    }

    /// Deletes a pack no index entry points at any more. Readers that already hold it
    /// open keep reading (Unix semantics).
    pub(crate) fn remove(&self, id: u32) -> Result<()> {
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        let path = self.path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Pack { path, source: e }),
        }
    }

    /// Frees the disk space of deleted blocks' records in pack `id` (the file keeps its
    /// size; the ranges read as zeros). Call only once the deletion is durable. Where the
    /// file system cannot punch holes this does nothing (GC compaction still reclaims the
    /// space by rewriting the pack).
    ///
    /// Whole records are punched, headers included, and records that follow each other
    /// are punched as one range: a hole frees only whole file-system pages, so punching
    /// them one by one would keep the page at every boundary between two of them.
    pub(crate) fn punch(&self, id: u32, freed: &[super::Freed]) -> Result<()> {
        let ranges = records(freed);
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{FallocateFlags, fallocate};
            let path = self.path(id);
            let file = match OpenOptions::new().write(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(StoreError::Pack { path, source: e }),
            };
            let mode = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
            for (offset, len) in ranges {
                match fallocate(&file, mode, offset, len) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::OPNOTSUPP) => return Ok(()),
                    Err(e) => {
                        return Err(StoreError::Pack {
                            path,
                            source: e.into(),
                        });
                    }
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (id, ranges);
        Ok(())
    }

    /// Total bytes of all pack files on disk.
    pub(crate) fn disk_size(&self) -> Result<u64> {
        let mut total = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if parse_name(&entry.file_name().to_string_lossy()).is_some() {
                total += entry.metadata().map_err(io_err(&self.dir))?.len();
            }
        }
        Ok(total)
    }

    /// Size of pack `id` on disk (0 if it is gone).
    pub(crate) fn file_size(&self, id: u32) -> Result<u64> {
        let path = self.path(id);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::Pack { path, source: e }),
        }
    }

    /// Ids of the pack files on disk.
    pub(crate) fn ids(&self) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if let Some(id) = parse_name(&entry.file_name().to_string_lossy()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Bytes of a record's header for a multihash of `mh_len` bytes (see the module docs).
pub(crate) fn header_len(mh_len: usize) -> u64 {
    let mut varint = 1;
    let mut n = mh_len >> 7;
    while n > 0 {
        varint += 1;
        n >>= 7;
    }
    (varint + mh_len + 4) as u64
}

/// The `(start, len)` ranges of freed records, sorted, with adjacent ones merged.
fn records(freed: &[super::Freed]) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = freed
        .iter()
        .map(|f| (f.offset.saturating_sub(f.header), f.offset + f.len))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
        .into_iter()
        .map(|(start, end)| (start, end - start))
        .collect()
}

fn parse_name(name: &str) -> Option<u32> {
    name.strip_suffix(".pack")?
        .parse()
        .ok()
        .filter(|id| *id > 0)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
