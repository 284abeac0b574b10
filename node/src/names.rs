//! IPNS for the node: publishing names signed by keystore keys, resolving names through
//! the DHT (with a TTL cache), and republishing the node's own names while it runs.
//!
//! The node's own names live in `$IPFSD_PATH/ipns.json`: per name, the key that signs it,
//! the latest record and the lifetime and TTL it was published with. That file is the
//! authority for the next sequence number and what the republisher re-signs; the DHT
//! record store holds a copy so the node answers for its names. Publishing offline (no
//! daemon, or `daemon --offline`) writes only the file; a daemon started later puts those
//! records into its DHT store and republishes them.
//!
//! Resolving: `/ipns/<name>[/path]` is looked up (cache, then the DHT, or the own records
//! when offline), checked with [`ipns::validate`] (signature, expiry, V1/V2 agreement), and
//! followed through `/ipns/` values up to [`MAX_DEPTH`] hops when recursive.

use crate::keystore::{KeyError, Keystore};
use crate::net::{NetError, Network};
use ipns::{Name, Record};
use libp2p::kad::store::RecordStore;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, mpsc};

/// The file holding the node's own published records.
pub const STATE_FILE: &str = "ipns.json";
/// Most `/ipns/` hops a recursive resolution follows (Kubo's limit).
pub const MAX_DEPTH: usize = 32;
/// Shortest time between two republications of one name.
const MIN_REPUBLISH: Duration = Duration::from_secs(1);
/// Longest wait for the DHT's copy of a name never published from here (its sequence).
const PREVIOUS_LOOKUP: Duration = Duration::from_secs(10);
/// How long after the daemon starts its own records are put to the DHT once more
/// (offline publications and copies that peers may have dropped), peers being connected.
const FIRST_ANNOUNCE: Duration = Duration::from_secs(5);
/// Longest time the republisher sleeps between looks at the state.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Errors of publishing and resolving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The record could not be made or is invalid.
    #[error(transparent)]
    Record(#[from] ipns::Error),
    /// The value to publish is not a path.
    #[error("invalid value {value:?}: expected /ipfs/<cid>[/path], /ipns/<name>[/path] or a CID")]
    BadValue {
        /// What was given.
        value: String,
    },
    /// The name is not an IPNS name this node can resolve.
    #[error("cannot resolve {input:?}: {reason}")]
    BadName {
        /// What was given.
        input: String,
        /// Why.
        reason: String,
    },
    /// `--sequence` not above the current one.
    #[error("sequence {given} is not above the current sequence {current} of {name}")]
    Sequence {
        /// What was asked for.
        given: u64,
        /// What the name has now.
        current: u64,
        /// The name.
        name: String,
    },
    /// Publishing needs the network, or the explicit offline choice.
    #[error("can't publish while offline: pass --allow-offline to store the record locally")]
    Offline,
    /// Nothing found for the name.
    #[error("could not resolve name {name}: {reason}")]
    NotFound {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A chain of `/ipns/` values longer than [`MAX_DEPTH`].
    #[error("could not resolve name {name}: more than {MAX_DEPTH} /ipns/ hops")]
    TooDeep {
        /// Where resolution started.
        name: String,
    },
    /// The DHT failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The state file could not be read or written.
    #[error("{path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl NameError {
    /// Whether the request itself was wrong (an HTTP 400), as opposed to a failure.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            NameError::Key(_)
                | NameError::BadValue { .. }
                | NameError::BadName { .. }
                | NameError::Sequence { .. }
                | NameError::Offline
        )
    }

    /// Whether the name has no (valid) record to be found.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            NameError::NotFound { .. } | NameError::Net(NetError::NotFound { .. })
        )
    }
}

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The key's name (`self` for the node's own) or its IPNS name.
    pub key: String,
    /// How long the record stays valid.
    pub lifetime: Duration,
    /// How long resolvers may cache it.
    pub ttl: Duration,
    /// The sequence number to use (must exceed the current one); `None`: the next.
    pub sequence: Option<u64>,
    /// Store the record locally when the network is absent or the DHT put fails.
    pub allow_offline: bool,
}

/// What a publication produced.
#[derive(Debug, Clone)]
pub struct Published {
    /// The name.
    pub name: Name,
    /// The value it now points at.
    pub value: String,
    /// The record's sequence number.
    pub sequence: u64,
    /// When the record expires.
    pub validity: SystemTime,
    /// Whether the record reached the DHT (false: stored locally only).
    pub online: bool,
}

/// How to resolve.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Follow `/ipns/` values to an `/ipfs/` path (else one hop).
    pub recursive: bool,
    /// Skip the cache.
    pub nocache: bool,
}

/// One of the node's own names, as stored in [`STATE_FILE`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Own {
    /// The key's name in the keystore when it last signed (for whoever reads the file:
    /// the republisher finds the key by the name itself, so renames do not matter).
    key: String,
    /// The latest record, base64.
    record: String,
    lifetime_ms: u64,
    ttl_ms: u64,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    /// By name (`k51…`).
    names: BTreeMap<String, Own>,
}

#[derive(Debug, Clone)]
struct Cached {
    value: String,
    until: Instant,
}

/// The node's naming: publisher, resolver, cache and republisher (cheap to clone).
#[derive(Debug, Clone)]
pub struct Names {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keystore: Keystore,
    net: Option<Network>,
    /// Where the own names are kept (`None`: in memory only, for an in-memory node).
    state_path: Option<PathBuf>,
    state: Mutex<State>,
    /// One publication at a time, so sequence numbers never repeat.
    publishing: tokio::sync::Mutex<()>,
    cache: Mutex<HashMap<Name, Cached>>,
    cache_size: usize,
    /// Wakes the republisher when a name was published.
    changed: Notify,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Own {
    fn record(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        b64().decode(&self.record).ok()
    }
}

/// `/ipfs/<cid>[/path]`, `/ipns/<name>[/path]` or a bare CID, as the value to publish.
pub fn normalize_value(value: &str) -> Result<String, NameError> {
    let bad = || NameError::BadValue {
        value: value.to_string(),
    };
    if value.starts_with("/ipns/") {
        Name::from_path(value).map_err(|_| bad())?;
        return Ok(value.to_string());
    }
    let (cid, path) = crate::path::parse(value).map_err(|_| bad())?;
    Ok(if path.is_empty() {
        format!("/ipfs/{cid}")
    } else {
        format!("/ipfs/{cid}/{path}")
    })
}

/// Splits `/ipns/<name>[/rest]` or a bare name; DNSLink names are refused (no DNS here).
fn split_name(input: &str) -> Result<(Name, String), NameError> {
    let path = if input.starts_with("/ipns/") {
        input.to_string()
    } else {
        format!("/ipns/{input}")
    };
    match Name::from_path(&path) {
        Ok((name, rest)) => Ok((name, rest.to_string())),
        Err(e) => {
            let label = path["/ipns/".len()..].split('/').next().unwrap_or("");
            let reason = if label.contains('.') {
                "DNSLink names are not supported (this node has no DNS resolver)".to_string()
            } else {
                e.to_string()
            };
            Err(NameError::BadName {
                input: input.to_string(),
                reason,
            })
        }
    }
}

impl Names {
    /// Naming for the repository at `repo` with `keystore`, publishing through `net`
    /// (`None`: offline). `cache_size` bounds the resolve cache. With `repo` `None` the
    /// node's own names are kept in memory only.
    pub fn open(
        repo: Option<&Path>,
        keystore: Keystore,
        net: Option<Network>,
        cache_size: usize,
    ) -> Result<Names, NameError> {
        let state = match repo {
            Some(repo) => Self::load_state(&repo.join(STATE_FILE))?,
            None => State::default(),
        };
        Ok(Names {
            inner: Arc::new(Inner {
                keystore,
                net,
                state_path: repo.map(|r| r.join(STATE_FILE)),
                state: Mutex::new(state),
                publishing: tokio::sync::Mutex::new(()),
                cache: Mutex::new(HashMap::new()),
                cache_size,
                changed: Notify::new(),
            }),
        })
    }

    fn load_state(state_path: &Path) -> Result<State, NameError> {
        Ok(match std::fs::read(state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| NameError::State {
                path: state_path.to_path_buf(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(NameError::State {
                    path: state_path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        })
    }

    /// The keystore.
    pub fn keystore(&self) -> &Keystore {
        &self.inner.keystore
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&self, state: &State) -> Result<(), NameError> {
        let Some(state_path) = &self.inner.state_path else {
            return Ok(()); // in memory: the state itself is the record
        };
        let err = |e: std::io::Error| NameError::State {
            path: state_path.clone(),
            reason: e.to_string(),
        };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| NameError::State {
            path: state_path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = state_path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(err)?;
        std::io::Write::write_all(&mut f, &bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, state_path).map_err(err)
    }

    /// The highest sequence known for `name`: the own record, or a newer copy in the DHT
    /// store (the same key used on another node). When this node has never published the
    /// name, the DHT is asked too (briefly), so a repository that lost its state, or a key
    /// imported from elsewhere, continues the name's sequence instead of being refused as
    /// older.
    async fn current_sequence(&self, name: &Name) -> Option<u64> {
        let own = self
            .own_record(name)
            .and_then(|r| Record::decode(&r).ok())
            .map(|r| r.sequence());
        let Some(net) = &self.inner.net else {
            return own;
        };
        let key = libp2p::kad::RecordKey::new(&name.routing_key());
        let mut stored = net
            .records()
            .get(&key)
            .and_then(|r| Record::decode(&r.value).ok())
            .map(|r| r.sequence());
        if own.is_none() && stored.is_none() {
            let found = tokio::time::timeout(PREVIOUS_LOOKUP, net.get_value(name.routing_key()));
            if let Ok(Ok(bytes)) = found.await {
                stored = Record::decode(&bytes).ok().map(|r| r.sequence());
            }
        }
        own.max(stored)
    }

    /// Signs a record pointing the key's name at `value` and publishes it.
    pub async fn publish(&self, value: &str, o: &PublishOptions) -> Result<Published, NameError> {
        let value = normalize_value(value)?;
        let (info, key) = self.inner.keystore.find(&o.key)?;
        if self.inner.net.is_none() && !o.allow_offline {
            return Err(NameError::Offline);
        }
        let _one = self.inner.publishing.lock().await;
        let name = Name::new(info.peer);
        let current = self.current_sequence(&name).await;
        let sequence = match (o.sequence, current) {
            (Some(given), Some(current)) if given <= current => {
                return Err(NameError::Sequence {
                    given,
                    current,
                    name: name.to_string(),
                });
            }
            (Some(given), _) => given,
            (None, Some(current)) => current.saturating_add(1),
            (None, None) => 0,
        };
        // (A lifetime past year 9999 is refused by the record's RFC 3339 validity.)
        let validity = SystemTime::now()
            .checked_add(o.lifetime)
            .ok_or(ipns::Error::TimeOutOfRange)?;
        let record = Record::create(&key, value.as_bytes(), sequence, validity, o.ttl)?;
        self.store_own(&name, &info.name, &record, o.lifetime, o.ttl)?;
        self.remember(&name, &value, o.ttl, validity);
        let online = self.put(&name, &record, o.allow_offline).await?;
        self.inner.changed.notify_one();
        Ok(Published {
            name,
            value,
            sequence,
            validity,
            online,
        })
    }

    fn store_own(
        &self,
        name: &Name,
        key: &str,
        record: &Record,
        lifetime: Duration,
        ttl: Duration,
    ) -> Result<(), NameError> {
        use base64::Engine;
        let mut state = self.state();
        state.names.insert(
            name.to_string(),
            Own {
                key: key.to_string(),
                record: b64().encode(record.as_bytes()),
                lifetime_ms: millis(lifetime),
                ttl_ms: millis(ttl),
            },
        );
        self.save(&state)
    }

    /// Puts the record to the DHT (which keeps a copy in this node's store); answers
    /// whether it reached other peers.
    async fn put(
        &self,
        name: &Name,
        record: &Record,
        allow_offline: bool,
    ) -> Result<bool, NameError> {
        let Some(net) = &self.inner.net else {
            return Ok(false);
        };
        match net
            .put_value(name.routing_key(), record.as_bytes().to_vec())
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if allow_offline => {
                tracing::info!(%name, error = %e, "record stored locally only");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn remember(&self, name: &Name, value: &str, ttl: Duration, validity: SystemTime) {
        let left = validity
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let keep = ttl.min(left);
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keep.is_zero() || self.inner.cache_size == 0 {
            cache.remove(name);
            return;
        }
        let now = Instant::now();
        if cache.len() >= self.inner.cache_size && !cache.contains_key(name) {
            cache.retain(|_, c| c.until > now);
            if cache.len() >= self.inner.cache_size {
                // Still full: drop the entry that expires first.
                if let Some(first) = cache.iter().min_by_key(|(_, c)| c.until).map(|(n, _)| *n) {
                    cache.remove(&first);
                }
            }
        }
        cache.insert(
            *name,
            Cached {
                value: value.to_string(),
                until: now + keep,
            },
        );
    }

    fn cached(&self, name: &Name) -> Option<String> {
        let cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(name)
            .filter(|c| c.until > Instant::now())
            .map(|c| c.value.clone())
    }

    /// Resolves `input` (`/ipns/<name>[/path]`, a bare name, or an `/ipfs/` path, which
    /// is answered as it is). `updates` receives each better value of the lookups as they
    /// find it, joined with the rest of the path.
    pub async fn resolve(
        &self,
        input: &str,
        o: ResolveOptions,
        updates: Option<mpsc::Sender<String>>,
    ) -> Result<String, NameError> {
        if input.starts_with("/ipfs/") {
            return Ok(input.to_string());
        }
        let (first, rest) = split_name(input)?;
        let mut current = format!("{}{rest}", first.to_path());
        for _ in 0..MAX_DEPTH {
            let (name, rest) = split_name(&current)?;
            let value = self
                .resolve_once(&name, o.nocache, &rest, updates.as_ref())
                .await?;
            current = format!("{value}{rest}");
            if !o.recursive || !current.starts_with("/ipns/") {
                return Ok(current);
            }
        }
        Err(NameError::TooDeep {
            name: first.to_string(),
        })
    }

    /// The value of `name`'s best valid record.
    async fn resolve_once(
        &self,
        name: &Name,
        nocache: bool,
        rest: &str,
        updates: Option<&mpsc::Sender<String>>,
    ) -> Result<String, NameError> {
        if !nocache && let Some(v) = self.cached(name) {
            if let Some(u) = updates {
                let _ = u.send(format!("{v}{rest}")).await;
            }
            return Ok(v);
        }
        let not_found = |e: NetError| match e {
            NetError::NotFound { .. } => NameError::NotFound {
                name: name.to_string(),
                reason: "no peer holds a valid record for it".into(),
            },
            e => e.into(),
        };
        let bytes = match &self.inner.net {
            Some(net) => match updates {
                None => net.get_value(name.routing_key()).await.map_err(not_found)?,
                Some(u) => {
                    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
                    let forward = {
                        let u = u.clone();
                        let rest = rest.to_string();
                        async move {
                            // The lookup sends only records it verified: decoding will do.
                            while let Some(b) = rx.recv().await {
                                if let Ok(r) = Record::decode(&b)
                                    && let Ok(v) = std::str::from_utf8(r.value())
                                {
                                    let _ = u.send(format!("{v}{rest}")).await;
                                }
                            }
                        }
                    };
                    let (got, ()) =
                        tokio::join!(net.get_value_updates(name.routing_key(), tx), forward);
                    got.map_err(not_found)?
                }
            },
            None => self.own_record(name).ok_or_else(|| NameError::NotFound {
                name: name.to_string(),
                reason: "offline, and not one of this node's names".into(),
            })?,
        };
        // The lookup verified what it returned, but the best record can run out of validity
        // between then and now (or an own record offline): that name is not resolvable, a
        // 404 like no record at all, not a server error.
        let record = match ipns::validate(name, &bytes, SystemTime::now()) {
            Err(ipns::Error::Expired { validity, .. }) => {
                return Err(NameError::NotFound {
                    name: name.to_string(),
                    reason: format!(
                        "no peer holds a valid record for it (the newest expired at {})",
                        ipns::rfc3339::format(validity).unwrap_or_else(|_| "?".into())
                    ),
                });
            }
            r => r?,
        };
        let value = std::str::from_utf8(record.value())
            .map_err(|_| NameError::NotFound {
                name: name.to_string(),
                reason: "the record's value is not UTF-8".into(),
            })?
            .to_string();
        self.remember(name, &value, record.ttl(), record.validity());
        Ok(value)
    }

    fn own_record(&self, name: &Name) -> Option<Vec<u8>> {
        self.state()
            .names
            .get(&name.to_string())
            .and_then(Own::record)
    }

    /// The own records that are still valid, by name.
    fn valid_own_records(&self) -> Vec<(Name, Vec<u8>)> {
        let now = SystemTime::now();
        self.state()
            .names
            .iter()
            .filter_map(|(n, o)| Some((n.parse::<Name>().ok()?, o.record()?)))
            .filter(|(name, bytes)| ipns::validate(name, bytes, now).is_ok())
            .collect()
    }

    /// Puts the own records into the DHT store, so this node answers for its names from
    /// the start (a daemon calls this once the network runs). Expired ones are left to the
    /// republisher, which signs new ones.
    pub fn load_own_records(&self) {
        let Some(net) = &self.inner.net else { return };
        for (name, bytes) in self.valid_own_records() {
            let key = libp2p::kad::RecordKey::new(&name.routing_key());
            let mut store = net.records().clone();
            if let Err(e) = store.put(libp2p::kad::Record::new(key, bytes)) {
                tracing::debug!(%name, error = %e, "own record not loaded");
            }
        }
    }

    /// When each own name is next due: half its lifetime after it was signed, or
    /// `period` after, whichever is sooner.
    fn due(&self, period: Duration) -> Vec<(Name, SystemTime)> {
        let state = self.state();
        state
            .names
            .iter()
            .filter_map(|(n, o)| {
                let name: Name = n.parse().ok()?;
                let record = Record::decode(&o.record()?).ok()?;
                let lifetime = Duration::from_millis(o.lifetime_ms);
                let signed = record.validity().checked_sub(lifetime)?;
                let every = (lifetime / 2).min(period).max(MIN_REPUBLISH);
                Some((name, signed + every))
            })
            .collect()
    }

    /// Re-signs `name`'s record with the same value, the next sequence and a fresh
    /// validity, and puts it to the DHT. The key is found by the name itself, so a
    /// renamed key keeps signing; a name whose key was removed is forgotten (no longer
    /// republished).
    pub async fn republish(&self, name: &Name) -> Result<Published, NameError> {
        let own = self
            .state()
            .names
            .get(&name.to_string())
            .cloned()
            .ok_or_else(|| NameError::NotFound {
                name: name.to_string(),
                reason: "not one of this node's names".into(),
            })?;
        let record = Record::decode(&own.record().unwrap_or_default())?;
        let value = std::str::from_utf8(record.value())
            .map_err(|_| NameError::BadValue {
                value: String::from_utf8_lossy(record.value()).into_owned(),
            })?
            .to_string();
        let o = PublishOptions {
            key: name.to_string(),
            lifetime: Duration::from_millis(own.lifetime_ms),
            ttl: Duration::from_millis(own.ttl_ms),
            sequence: None,
            allow_offline: true,
        };
        let published = self.publish(&value, &o).await;
        if let Err(NameError::Key(KeyError::NotFound(_))) = &published {
            let mut state = self.state();
            state.names.remove(&name.to_string());
            self.save(&state)?;
        }
        published
    }

    /// Puts each own record that is still valid to the DHT as it is (best effort).
    async fn announce_own(&self) {
        let Some(net) = &self.inner.net else { return };
        for (name, bytes) in self.valid_own_records() {
            if let Err(e) = net.put_value(name.routing_key(), bytes).await {
                tracing::debug!(%name, error = %e, "own record not announced");
            }
        }
    }

    /// Runs the republisher on `tasks` until `stop` is cancelled (a republication in
    /// flight is abandoned): each own name is re-signed and put again before its record
    /// expires (see `Names::due`), at most every `period`.
    pub fn spawn_republisher(
        &self,
        period: Duration,
        stop: tokio_util::sync::CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) -> tokio::task::JoinHandle<Option<()>> {
        let names = self.clone();
        let cancelled = stop.clone();
        tasks.spawn(cancelled.run_until_cancelled_owned(async move {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(FIRST_ANNOUNCE) => names.announce_own().await,
            }
            loop {
                let now = SystemTime::now();
                let mut next = now + MAX_SLEEP;
                for (name, due) in names.due(period) {
                    if due <= now {
                        match names.republish(&name).await {
                            Ok(p) => {
                                tracing::info!(%name, sequence = p.sequence, online = p.online, "republished")
                            }
                            Err(NameError::Key(e)) => {
                                tracing::warn!(%name, error = %e, "key gone: the name is no longer republished");
                            }
                            Err(e) => tracing::warn!(%name, error = %e, "republish failed"),
                        }
                        // Retried after MIN_REPUBLISH if it failed (due stays in the past).
                        next = next.min(SystemTime::now() + MIN_REPUBLISH);
                    } else {
                        next = next.min(due);
                    }
                }
                let wait = next
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .max(Duration::from_millis(50));
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = names.inner.changed.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (tempfile::TempDir, Names) {
        let dir = tempfile::tempdir().expect("tmp");
        let ks = Keystore::new(dir.path(), libp2p_identity::Keypair::generate_ed25519());
        let n = Names::open(Some(dir.path()), ks, None, 16).expect("open");
        (dir, n)
    }

    fn opts(key: &str) -> PublishOptions {
        PublishOptions {
            key: key.into(),
            lifetime: Duration::from_secs(3600),
            ttl: Duration::from_secs(60),
            sequence: None,
            allow_offline: true,
        }
    }

    const CID: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    #[test]
    fn values_are_normalized() {
        assert_eq!(normalize_value(CID).expect("cid"), format!("/ipfs/{CID}"));
        assert_eq!(
            normalize_value(&format!("/ipfs/{CID}/a/b")).expect("path"),
            format!("/ipfs/{CID}/a/b")
        );
        let name = Name::new(libp2p::PeerId::random()).to_path();
        assert_eq!(normalize_value(&name).expect("ipns"), name);
        for bad in ["", "/ipfs/", "hello", "/ipns/", "/ipns/example.com/x"] {
            assert!(
                matches!(normalize_value(bad), Err(NameError::BadValue { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            split_name("/ipns/example.com"),
            Err(NameError::BadName { reason, .. }) if reason.contains("DNSLink")
        ));
    }

    #[tokio::test]
    async fn offline_publish_sequences_resolve_and_persist() {
        let (dir, n) = names();
        let mut o = opts("self");
        o.allow_offline = false;
        assert!(matches!(n.publish(CID, &o).await, Err(NameError::Offline)));
        let a = n.publish(CID, &opts("self")).await.expect("publish");
        assert_eq!(a.sequence, 0);
        assert!(!a.online);
        let b = n
            .publish(&format!("/ipfs/{CID}/x"), &opts("self"))
            .await
            .expect("again");
        assert_eq!(b.sequence, 1);
        let mut o = opts("self");
        o.sequence = Some(1);
        assert!(matches!(
            n.publish(CID, &o).await,
            Err(NameError::Sequence { current: 1, .. })
        ));
        o.sequence = Some(10);
        assert_eq!(n.publish(CID, &o).await.expect("seq 10").sequence, 10);
        let mut forever = opts("self");
        forever.lifetime = Duration::from_secs(u64::MAX / 2);
        assert!(matches!(
            n.publish(CID, &forever).await,
            Err(NameError::Record(_))
        ));
        let resolved = n
            .resolve(
                &a.name.to_path(),
                ResolveOptions {
                    recursive: true,
                    nocache: true,
                },
                None,
            )
            .await
            .expect("resolve");
        assert_eq!(resolved, format!("/ipfs/{CID}"));
        // A path under the name is kept.
        let deep = n
            .resolve(
                &format!("{}/sub/file", a.name),
                ResolveOptions::default(),
                None,
            )
            .await
            .expect("resolve");
        assert_eq!(deep, format!("/ipfs/{CID}/sub/file"));
        // The state survives a reopen: the next sequence follows 10.
        let ks = n.keystore().clone();
        drop(n);
        let n = Names::open(Some(dir.path()), ks, None, 16).expect("reopen");
        assert_eq!(
            n.publish(CID, &opts("self")).await.expect("after").sequence,
            11
        );
        let unknown = Name::new(libp2p::PeerId::random());
        assert!(
            n.resolve(&unknown.to_path(), ResolveOptions::default(), None)
                .await
                .expect_err("unknown")
                .is_not_found()
        );
    }

    #[tokio::test]
    async fn an_expired_record_is_not_found_not_an_error() {
        let (_dir, n) = names();
        let mut o = opts("self");
        o.lifetime = Duration::from_millis(50);
        let p = n.publish(CID, &o).await.expect("publish");
        // The record's own validity is the condition waited for.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let err = n
            .resolve(
                &p.name.to_path(),
                ResolveOptions {
                    recursive: true,
                    nocache: true,
                },
                None,
            )
            .await
            .expect_err("expired");
        assert!(err.is_not_found(), "{err:?}");
    }

    #[tokio::test]
    async fn chains_resolve_recursively_with_a_depth_limit() {
        let (_dir, n) = names();
        let ks = n.keystore();
        let mut prev = format!("/ipfs/{CID}");
        let mut names = Vec::new();
        for i in 0..3 {
            let key = format!("k{i}");
            ks.generate(&key, "ed25519").expect("gen");
            let p = n
                .publish(&format!("{prev}/d{i}"), &opts(&key))
                .await
                .expect("publish");
            prev = p.name.to_path();
            names.push(p.name);
        }
        let top = names[2].to_path();
        let once = n
            .resolve(&top, ResolveOptions::default(), None)
            .await
            .expect("one hop");
        assert_eq!(once, format!("{}/d2", names[1].to_path()));
        let all = n
            .resolve(
                &top,
                ResolveOptions {
                    recursive: true,
                    nocache: false,
                },
                None,
            )
            .await
            .expect("all hops");
        assert_eq!(all, format!("/ipfs/{CID}/d0/d1/d2"));
        // A loop never ends: the depth limit stops it.
        ks.generate("loop", "ed25519").expect("gen");
        let me = Name::new(ks.get("loop").expect("key").public().to_peer_id());
        n.publish(&me.to_path(), &opts("loop"))
            .await
            .expect("self loop");
        assert!(matches!(
            n.resolve(
                &me.to_path(),
                ResolveOptions {
                    recursive: true,
                    nocache: true
                },
                None
            )
            .await,
            Err(NameError::TooDeep { .. })
        ));
    }

    #[tokio::test]
    async fn republish_is_due_at_half_the_lifetime_and_advances_the_sequence() {
        let (_dir, n) = names();
        let mut o = opts("self");
        o.lifetime = Duration::from_secs(10);
        let p = n.publish(CID, &o).await.expect("publish");
        let due = n.due(Duration::from_secs(3600));
        assert_eq!(due.len(), 1);
        let at = due[0]
            .1
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        assert!(
            at <= Duration::from_secs(5) && at >= Duration::from_secs(4),
            "{at:?}"
        );
        let short = n.due(Duration::from_secs(2))[0].1;
        assert!(short < due[0].1, "the period caps the interval");
        let again = n.republish(&p.name).await.expect("republish");
        assert_eq!(again.sequence, p.sequence + 1);
        assert_eq!(again.value, p.value);
        assert!(again.validity > p.validity);
    }

    #[tokio::test]
    async fn republish_follows_renamed_keys_and_forgets_removed_ones() {
        let (_dir, n) = names();
        n.keystore().generate("a", "ed25519").expect("gen");
        let p = n.publish(CID, &opts("a")).await.expect("publish");
        n.keystore().rename("a", "b", false).expect("rename");
        assert_eq!(n.republish(&p.name).await.expect("renamed").sequence, 1);
        n.keystore().remove("b").expect("rm");
        assert!(matches!(
            n.republish(&p.name).await,
            Err(NameError::Key(KeyError::NotFound(_)))
        ));
        assert!(
            n.due(Duration::from_secs(60)).is_empty(),
            "no longer republished"
        );
        assert!(matches!(
            n.republish(&p.name).await,
            Err(NameError::NotFound { .. })
        ));
    }
}
