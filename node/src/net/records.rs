//! The DHT record store: values and provider records, in memory for the Kademlia
//! behaviours and persisted to `$IPFSD_PATH/datastore.redb` so they survive a restart.
//!
//! Data flow: both DHTs (WAN and LAN) hold a clone of one [`Records`] handle; each change
//! goes into the shared in-memory tables (what queries read, under a short mutex, never held
//! across an await) and, as a `Persist` op, into a bounded channel drained by one
//! writer thread that commits whatever has queued up in one redb transaction. At start,
//! [`Records::open`] loads the file, dropping expired entries; [`Records::in_memory`] runs
//! the same way on a redb database held in memory (nothing survives the process). Times on
//! disk are Unix milliseconds; in memory they are `Instant`s, as libp2p-kad wants.
//!
//! Bounds: at most [`Limits::max_records`] values, [`Limits::max_value_bytes`] each,
//! [`Limits::max_providers_per_key`] remote providers per key, and
//! [`Limits::max_provider_keys`] keys with providers. Expired entries are swept by
//! [`Records::sweep`], which the network task calls periodically.

use libp2p::kad::store::{Error as StoreError, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use redb::backends::InMemoryBackend;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A stored value: (expires unix ms or 0, publisher peer id bytes or empty, value).
type ValueRow = (u64, &'static [u8], &'static [u8]);
/// Values by key.
const VALUES: TableDefinition<'_, &[u8], ValueRow> = TableDefinition::new("values");
/// Rows to delete at load: (`true` = values table, key).
type Stale = Vec<(bool, Vec<u8>)>;
/// Providers: key length (u16 BE) ‖ key ‖ provider peer id bytes -> (expires ms, addrs).
const PROVIDERS: TableDefinition<'_, &[u8], (u64, &[u8])> = TableDefinition::new("providers");

/// How many queued changes the writer thread may lag behind.
const PERSIST_QUEUE: usize = 8192;

/// Store limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Values held at most.
    pub max_records: usize,
    /// Largest value accepted, bytes.
    pub max_value_bytes: usize,
    /// Remote providers kept per key (our own record always fits).
    pub max_providers_per_key: usize,
    /// Keys with provider records held at most (ours and others').
    pub max_provider_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records: 65_536,
            max_value_bytes: 10 * 1024,
            max_providers_per_key: 32,
            max_provider_keys: 1 << 20,
        }
    }
}

/// The datastore file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// redb failed.
    #[error("{path}: {source}")]
    Db {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<redb::Error>,
    },
    /// redb failed on the in-memory database of [`Records::in_memory`].
    #[error("in-memory DHT datastore: {source}")]
    Memory {
        /// Why.
        source: Box<redb::Error>,
    },
}

/// A change to write to disk.
#[derive(Debug)]
enum Persist {
    PutValue(Record),
    RemoveValue(RecordKey),
    AddProvider(ProviderRecord),
    RemoveProvider(RecordKey, PeerId),
    Sync(std::sync::mpsc::SyncSender<()>),
}

#[derive(Debug, Default)]
struct Tables {
    values: HashMap<RecordKey, Record>,
    providers: HashMap<RecordKey, Vec<ProviderRecord>>,
    provided: HashSet<RecordKey>,
}

#[derive(Debug)]
struct Shared {
    local: PeerId,
    limits: Limits,
    tables: Mutex<Tables>,
    persist: Option<crossbeam_channel::Sender<Persist>>,
    writer: Option<std::thread::JoinHandle<()>>,
    dropped_writes: std::sync::atomic::AtomicU64,
}

impl Drop for Shared {
    /// The last handle waits for the writer to commit what is queued and close the file,
    /// so the repository can be opened again at once (a daemon restarted in-process).
    fn drop(&mut self) {
        self.persist = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The record store handle shared by the node's Kademlia behaviours (cheap to clone).
#[derive(Debug, Clone)]
pub struct Records {
    shared: Arc<Shared>,
}

/// What [`Records::counts`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    /// Values held.
    pub values: usize,
    /// Keys with at least one provider record.
    pub provider_keys: usize,
    /// Provider records in all.
    pub provider_records: usize,
    /// Keys this node provides.
    pub provided: usize,
}

impl Records {
    /// Tables with nothing behind them: what [`Records::start`] loads into.
    fn unpersisted(local: PeerId, limits: Limits) -> Records {
        Records {
            shared: Arc::new(Shared {
                local,
                limits,
                tables: Mutex::new(Tables::default()),
                persist: None,
                writer: None,
                dropped_writes: Default::default(),
            }),
        }
    }

    /// Opens (or creates) the datastore file, loads what has not expired, and starts the
    /// writer thread. Blocking: call it from a blocking context.
    pub fn open(path: &Path, local: PeerId, limits: Limits) -> Result<Records, RecordsError> {
        let db_err = |e: redb::Error| RecordsError::Db {
            path: path.to_path_buf(),
            source: Box::new(e),
        };
        let db = Database::create(path).map_err(|e| db_err(e.into()))?;
        Records::start(db, Some(path), local, limits).map_err(db_err)
    }

    /// A store in a redb database held in memory (tests, benchmarks, an embedded node
    /// without a repository): the same tables, limits and writer thread as [`Records::open`],
    /// gone when the last handle is dropped.
    pub fn in_memory(local: PeerId, limits: Limits) -> Result<Records, RecordsError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(|e| RecordsError::Memory {
                source: Box::new(e.into()),
            })?;
        Records::start(db, None, local, limits).map_err(|e| RecordsError::Memory {
            source: Box::new(e),
        })
    }

    /// Loads `db` (dropping expired rows) and starts its writer thread; `path` (`None`: in
    /// memory) is only for logs.
    fn start(
        db: Database,
        path: Option<&Path>,
        local: PeerId,
        limits: Limits,
    ) -> Result<Records, redb::Error> {
        let records = Records::unpersisted(local, limits);
        let (loaded, expired) = load(&db, &records)?;
        if !expired.is_empty() {
            let txn = db.begin_write()?;
            {
                let mut values = txn.open_table(VALUES)?;
                let mut providers = txn.open_table(PROVIDERS)?;
                for (is_value, key) in &expired {
                    if *is_value {
                        values.remove(key.as_slice())?;
                    } else {
                        providers.remove(key.as_slice())?;
                    }
                }
            }
            txn.commit()?;
        }
        let place = path.map_or_else(|| "(in memory)".to_string(), |p| p.display().to_string());
        tracing::debug!(loaded, expired = expired.len(), path = %place, "DHT records loaded");
        let (tx, rx) = crossbeam_channel::bounded(PERSIST_QUEUE);
        let thread = std::thread::Builder::new()
            .name("ipfsd-records".into())
            .spawn(move || writer(db, rx, place))
            .map_err(redb::Error::Io)?;
        let tables = std::mem::take(&mut *records.tables());
        Ok(Records {
            shared: Arc::new(Shared {
                local,
                limits,
                tables: Mutex::new(tables),
                persist: Some(tx),
                writer: Some(thread),
                dropped_writes: Default::default(),
            }),
        })
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.shared
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persist(&self, op: Persist) {
        if let Some(tx) = &self.shared.persist
            && tx.try_send(op).is_err()
        {
            // The writer is far behind (or gone): the change stays in memory and is
            // re-announced by its owner; count it so it shows in the logs.
            let n = self
                .shared
                .dropped_writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n + 1,
                    "DHT datastore writer is behind; changes kept in memory only"
                );
            }
        }
    }

    /// Waits until every change made so far is on disk (no-op in memory).
    pub fn flush(&self) {
        if let Some(tx) = &self.shared.persist {
            let (done, wait) = std::sync::mpsc::sync_channel(1);
            if tx.send(Persist::Sync(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    /// Removes expired values and provider records; returns how many went.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut gone_values = Vec::new();
        let mut gone_providers = Vec::new();
        {
            let mut t = self.tables();
            t.values.retain(|k, r| {
                let keep = !r.is_expired(now);
                if !keep {
                    gone_values.push(k.clone());
                }
                keep
            });
            let local = self.shared.local;
            let mut unprovided = Vec::new();
            t.providers.retain(|k, list| {
                list.retain(|p| {
                    let keep = !p.is_expired(now);
                    if !keep {
                        if p.provider == local {
                            unprovided.push(k.clone());
                        }
                        gone_providers.push((k.clone(), p.provider));
                    }
                    keep
                });
                !list.is_empty()
            });
            for k in unprovided {
                t.provided.remove(&k);
            }
        }
        let n = gone_values.len() + gone_providers.len();
        for k in gone_values {
            self.persist(Persist::RemoveValue(k));
        }
        for (k, p) in gone_providers {
            self.persist(Persist::RemoveProvider(k, p));
        }
        n
    }

    /// How much the store holds.
    pub fn counts(&self) -> Counts {
        let t = self.tables();
        Counts {
            values: t.values.len(),
            provider_keys: t.providers.len(),
            provider_records: t.providers.values().map(Vec::len).sum(),
            provided: t.provided.len(),
        }
    }

    /// Whether this node has a live provider record of its own for `key`.
    pub fn is_provided(&self, key: &RecordKey) -> bool {
        self.tables().provided.contains(key)
    }
}

impl RecordStore for Records {
    type RecordsIter<'a> = std::vec::IntoIter<Cow<'a, Record>>;
    type ProvidedIter<'a> = std::vec::IntoIter<Cow<'a, ProviderRecord>>;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.tables().values.get(k).cloned().map(Cow::Owned)
    }

    fn put(&mut self, r: Record) -> Result<(), StoreError> {
        if r.value.len() > self.shared.limits.max_value_bytes {
            return Err(StoreError::ValueTooLarge);
        }
        {
            let mut t = self.tables();
            if !t.values.contains_key(&r.key) && t.values.len() >= self.shared.limits.max_records {
                return Err(StoreError::MaxRecords);
            }
            t.values.insert(r.key.clone(), r.clone());
        }
        self.persist(Persist::PutValue(r));
        Ok(())
    }

    fn remove(&mut self, k: &RecordKey) {
        if self.tables().values.remove(k).is_some() {
            self.persist(Persist::RemoveValue(k.clone()));
        }
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        let t = self.tables();
        let all: Vec<_> = t.values.values().cloned().map(Cow::Owned).collect();
        all.into_iter()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> Result<(), StoreError> {
        let limits = self.shared.limits;
        let local = record.provider == self.shared.local;
        {
            let mut t = self.tables();
            let known_key = t.providers.contains_key(&record.key);
            if !known_key && t.providers.len() >= limits.max_provider_keys {
                return Err(StoreError::MaxProvidedKeys);
            }
            let list = t.providers.entry(record.key.clone()).or_default();
            if let Some(existing) = list.iter_mut().find(|p| p.provider == record.provider) {
                *existing = record.clone();
            } else {
                let remote = list
                    .iter()
                    .filter(|p| p.provider != self.shared.local)
                    .count();
                if !local && remote >= limits.max_providers_per_key {
                    // Full: keep the providers we have; the newcomer's record is dropped
                    // (it lives on the other closest peers).
                    return Ok(());
                }
                list.push(record.clone());
            }
            if local {
                t.provided.insert(record.key.clone());
            }
        }
        self.persist(Persist::AddProvider(record));
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.tables()
            .providers
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        let t = self.tables();
        let local = self.shared.local;
        let mine: Vec<_> = t
            .provided
            .iter()
            .filter_map(|k| t.providers.get(k)?.iter().find(|p| p.provider == local))
            .cloned()
            .map(Cow::Owned)
            .collect();
        mine.into_iter()
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        let removed = {
            let mut t = self.tables();
            let mut removed = false;
            if let Some(list) = t.providers.get_mut(k) {
                let before = list.len();
                list.retain(|r| r.provider != *p);
                removed = list.len() != before;
                if list.is_empty() {
                    t.providers.remove(k);
                }
            }
            if *p == self.shared.local {
                t.provided.remove(k);
            }
            removed
        };
        if removed {
            self.persist(Persist::RemoveProvider(k.clone(), *p));
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An `Instant` as wall-clock Unix milliseconds (0 = never expires).
fn to_disk(expires: Option<Instant>) -> u64 {
    match expires {
        None => 0,
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now());
            unix_ms(SystemTime::now() + left).max(1)
        }
    }
}

/// Unix milliseconds as an `Instant`; `None` inside means "never", `Err` means expired.
fn from_disk(ms: u64) -> Result<Option<Instant>, ()> {
    if ms == 0 {
        return Ok(None);
    }
    let now = unix_ms(SystemTime::now());
    if ms <= now {
        return Err(());
    }
    Ok(Some(Instant::now() + Duration::from_millis(ms - now)))
}

fn provider_key(key: &RecordKey, provider: &PeerId) -> Vec<u8> {
    let k = key.as_ref();
    let p = provider.to_bytes();
    let mut out = Vec::with_capacity(2 + k.len() + p.len());
    out.extend_from_slice(&u16::try_from(k.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(k);
    out.extend_from_slice(&p);
    out
}

fn split_provider_key(raw: &[u8]) -> Option<(RecordKey, PeerId)> {
    let (len, rest) = raw.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    let key = rest.get(..len)?;
    let peer = PeerId::from_bytes(rest.get(len..)?).ok()?;
    Some((RecordKey::new(&key), peer))
}

/// Addresses as `len u16 ‖ bytes` pairs.
fn encode_addrs(addrs: &[Multiaddr]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in addrs {
        let b = a.to_vec();
        if let Ok(len) = u16::try_from(b.len()) {
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&b);
        }
    }
    out
}

fn decode_addrs(mut raw: &[u8]) -> Vec<Multiaddr> {
    let mut out = Vec::new();
    while let Some((len, rest)) = raw.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        let Some(b) = rest.get(..len) else { break };
        if let Ok(a) = Multiaddr::try_from(b.to_vec()) {
            out.push(a);
        }
        raw = &rest[len..];
    }
    out
}

/// Loads the file into `records`; returns how many loaded and the expired or unreadable
/// entries to delete (`true` = values table).
fn load(db: &Database, records: &Records) -> Result<(usize, Stale), redb::Error> {
    let mut loaded = 0;
    let mut stale = Vec::new();
    let txn = db.begin_read()?;
    let mut t = records.tables();
    match txn.open_table(VALUES) {
        Ok(values) => {
            for row in values.iter()? {
                let (k, v) = row?;
                let (expires, publisher, value) = v.value();
                let key = k.value().to_vec();
                let Ok(expires) = from_disk(expires) else {
                    stale.push((true, key));
                    continue;
                };
                let mut r = Record::new(RecordKey::new(&key), value.to_vec());
                r.publisher = PeerId::from_bytes(publisher).ok();
                r.expires = expires;
                t.values.insert(r.key.clone(), r);
                loaded += 1;
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    match txn.open_table(PROVIDERS) {
        Ok(providers) => {
            for row in providers.iter()? {
                let (k, v) = row?;
                let raw = k.value().to_vec();
                let (expires, addrs) = v.value();
                let (Some((key, provider)), Ok(expires)) =
                    (split_provider_key(&raw), from_disk(expires))
                else {
                    stale.push((false, raw));
                    continue;
                };
                if provider == records.shared.local {
                    t.provided.insert(key.clone());
                }
                t.providers
                    .entry(key.clone())
                    .or_default()
                    .push(ProviderRecord {
                        key,
                        provider,
                        expires,
                        addresses: decode_addrs(addrs),
                    });
                loaded += 1;
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok((loaded, stale))
}

/// The writer thread: commits queued changes in batches until every handle is gone.
fn writer(db: Database, rx: crossbeam_channel::Receiver<Persist>, path: String) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if let Err(e) = write_batch(&db, &mut batch) {
            tracing::error!(%path, error = %e, "writing DHT records failed");
        }
        for op in batch {
            if let Persist::Sync(done) = op {
                let _ = done.send(());
            }
        }
    }
}

fn write_batch(db: &Database, batch: &mut [Persist]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut values = txn.open_table(VALUES)?;
        let mut providers = txn.open_table(PROVIDERS)?;
        for op in batch.iter() {
            match op {
                Persist::PutValue(r) => {
                    let publisher = r.publisher.map(|p| p.to_bytes()).unwrap_or_default();
                    values.insert(
                        r.key.as_ref(),
                        (to_disk(r.expires), publisher.as_slice(), r.value.as_slice()),
                    )?;
                }
                Persist::RemoveValue(k) => {
                    values.remove(k.as_ref())?;
                }
                Persist::AddProvider(p) => {
                    let addrs = encode_addrs(&p.addresses);
                    providers.insert(
                        provider_key(&p.key, &p.provider).as_slice(),
                        (to_disk(p.expires), addrs.as_slice()),
                    )?;
                }
                Persist::RemoveProvider(k, p) => {
                    providers.remove(provider_key(k, p).as_slice())?;
                }
                Persist::Sync(_) => {}
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(key: &RecordKey, peer: PeerId, ttl: Duration) -> ProviderRecord {
        ProviderRecord {
            key: key.clone(),
            provider: peer,
            expires: Some(Instant::now() + ttl),
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
        }
    }

    /// A fresh store on each backend: a file in its own directory (dropped after the
    /// store), and memory.
    fn each_backend(
        me: PeerId,
        limits: Limits,
    ) -> Vec<(&'static str, Records, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().unwrap();
        let file = Records::open(&dir.path().join("datastore.redb"), me, limits).unwrap();
        let memory = Records::in_memory(me, limits).unwrap();
        vec![("file", file, Some(dir)), ("memory", memory, None)]
    }

    #[test]
    fn stores_and_gets_on_each_backend() {
        let me = PeerId::random();
        let other = PeerId::random();
        let key = RecordKey::new(b"\x12\x20abcdefabcdefabcdefabcdefabcdefab");
        let name = RecordKey::new(b"/pk/x");
        for (backend, mut s, _dir) in each_backend(me, Limits::default()) {
            let mut v = Record::new(name.clone(), b"value".to_vec());
            v.expires = Some(Instant::now() + Duration::from_secs(3600));
            s.put(v).unwrap();
            s.add_provider(provider(&key, me, Duration::from_secs(3600)))
                .unwrap();
            s.add_provider(provider(&key, other, Duration::from_secs(3600)))
                .unwrap();
            // The writer thread has taken every change.
            s.flush();
            assert_eq!(s.get(&name).unwrap().value, b"value".to_vec(), "{backend}");
            let got = s.providers(&key);
            assert_eq!(got.len(), 2, "{backend}");
            assert!(
                got.iter().any(|p| p.provider == other
                    && p.addresses
                        == vec!["/ip4/127.0.0.1/tcp/4001".parse::<Multiaddr>().unwrap()]),
                "{backend}"
            );
            assert!(s.is_provided(&key), "{backend}");
            assert_eq!(s.provided().count(), 1, "{backend}");
            let all = Counts {
                values: 1,
                provider_keys: 1,
                provider_records: 2,
                provided: 1,
            };
            assert_eq!(s.counts(), all, "{backend}");
            s.remove(&name);
            s.remove_provider(&key, &me);
            s.flush();
            assert!(s.get(&name).is_none(), "{backend}");
            assert!(!s.is_provided(&key), "{backend}");
            let left = Counts {
                values: 0,
                provider_keys: 1,
                provider_records: 1,
                provided: 0,
            };
            assert_eq!(s.counts(), left, "{backend}");
        }
    }

    #[test]
    fn survives_reopen_and_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datastore.redb");
        let me = PeerId::random();
        let other = PeerId::random();
        let key = RecordKey::new(b"\x12\x20abcdefabcdefabcdefabcdefabcdefab");
        let short = RecordKey::new(b"short-lived");
        {
            let mut s = Records::open(&path, me, Limits::default()).unwrap();
            s.add_provider(provider(&key, me, Duration::from_secs(3600)))
                .unwrap();
            s.add_provider(provider(&key, other, Duration::from_secs(3600)))
                .unwrap();
            s.add_provider(provider(&short, other, Duration::from_millis(50)))
                .unwrap();
            let mut v = Record::new(RecordKey::new(b"/pk/x"), b"value".to_vec());
            v.expires = Some(Instant::now() + Duration::from_secs(3600));
            s.put(v).unwrap();
            s.flush();
        }
        // Outlive the 50 ms record.
        std::thread::sleep(Duration::from_millis(60));
        let s = Records::open(&path, me, Limits::default()).unwrap();
        let got = s.providers(&key);
        assert_eq!(got.len(), 2);
        assert!(got.iter().any(|p| p.provider == other
            && p.addresses == vec!["/ip4/127.0.0.1/tcp/4001".parse::<Multiaddr>().unwrap()]));
        assert!(s.providers(&short).is_empty(), "expired record loaded");
        assert_eq!(s.provided().count(), 1);
        assert!(s.is_provided(&key));
        assert_eq!(
            s.get(&RecordKey::new(b"/pk/x")).unwrap().value,
            b"value".to_vec()
        );
        let left = s.get(&RecordKey::new(b"/pk/x")).unwrap().expires.unwrap();
        assert!(left > Instant::now() + Duration::from_secs(3500));
    }

    #[test]
    fn removals_persist_and_sweep_expires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datastore.redb");
        let me = PeerId::random();
        let other = PeerId::random();
        let key = RecordKey::new(b"k");
        {
            let mut s = Records::open(&path, me, Limits::default()).unwrap();
            s.add_provider(provider(&key, other, Duration::from_secs(3600)))
                .unwrap();
            s.add_provider(provider(&key, me, Duration::from_millis(10)))
                .unwrap();
            s.remove_provider(&key, &other);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(s.sweep(Instant::now()), 1);
            assert_eq!(s.counts(), Counts::default());
            s.flush();
        }
        let s = Records::open(&path, me, Limits::default()).unwrap();
        assert_eq!(s.counts(), Counts::default());
    }

    #[test]
    fn limits_hold() {
        let me = PeerId::random();
        let limits = Limits {
            max_records: 2,
            max_value_bytes: 8,
            max_providers_per_key: 2,
            max_provider_keys: 1,
        };
        for (backend, mut s, _dir) in each_backend(me, limits) {
            assert!(matches!(
                s.put(Record::new(RecordKey::new(b"a"), vec![0; 9])),
                Err(StoreError::ValueTooLarge)
            ));
            s.put(Record::new(RecordKey::new(b"a"), vec![0; 8]))
                .unwrap();
            s.put(Record::new(RecordKey::new(b"b"), vec![0; 8]))
                .unwrap();
            assert!(matches!(
                s.put(Record::new(RecordKey::new(b"c"), vec![])),
                Err(StoreError::MaxRecords)
            ));
            let key = RecordKey::new(b"k");
            for _ in 0..5 {
                s.add_provider(provider(&key, PeerId::random(), Duration::from_secs(60)))
                    .unwrap();
            }
            // Full of remote providers, our own record still goes in.
            s.add_provider(provider(&key, me, Duration::from_secs(60)))
                .unwrap();
            assert_eq!(s.providers(&key).len(), 3, "{backend}");
            assert!(matches!(
                s.add_provider(provider(
                    &RecordKey::new(b"k2"),
                    me,
                    Duration::from_secs(60)
                )),
                Err(StoreError::MaxProvidedKeys)
            ));
        }
    }

    #[test]
    fn corrupt_rows_are_dropped_not_fatal() {
        assert!(split_provider_key(b"\x00").is_none());
        assert!(split_provider_key(b"\x00\x05abc").is_none());
        assert!(decode_addrs(b"\x00\x09\x04").is_empty());
    }
}
