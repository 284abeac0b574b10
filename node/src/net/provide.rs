//! What the node announces to the DHT and when.
//!
//! - On `add` and `pin add`, [`keys_for_new_dag`] picks the keys per the strategy and the
//!   caller queues them with [`Network::provide_background`] (the add does not wait).
//! - The reprovider ([`spawn_reprovider`]) wakes every `Provide.Interval` (first run
//!   shortly after start), enumerates the keys per the strategy on the blocking pool, and
//!   announces them in batches, each batch awaited, so memory stays bounded however large
//!   the store is. `routing reprovide` triggers a run now; `stats provide` shows progress.
//!
//! Strategies (Kubo's `Provide.Strategy`): `all` — every stored block; `pinned` — every
//! block of the pinned DAGs; `roots` — only the pin roots.

use super::{NetError, Network, provider_key};
use dag::store::PinMode;
use dag::{Cid, Store};
use libp2p::kad::RecordKey;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Keys announced per awaited batch by the reprovider.
const BATCH: usize = 256;

/// Which blocks are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Every block in the store.
    #[default]
    All,
    /// Every block of every pinned DAG.
    Pinned,
    /// Only pin roots.
    Roots,
}

impl Strategy {
    /// Parses `all`, `pinned` or `roots` (empty means `all`).
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "" | "all" => Some(Strategy::All),
            "pinned" => Some(Strategy::Pinned),
            "roots" => Some(Strategy::Roots),
            _ => None,
        }
    }
}

/// Counters of announcements (`stats provide`).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvideStats {
    /// Announcements finished since start.
    pub total_provides: u64,
    /// Announcements that reached no peer.
    pub failed_provides: u64,
    /// Keys waiting in the queue.
    pub queued: usize,
    /// Announcements under way.
    pub in_flight: usize,
    /// Keys dropped because the queue was full (the next reprovide covers them).
    pub dropped: u64,
    /// Whether a reprovide run is going on.
    pub reproviding: bool,
    /// Keys announced by the running (or last) reprovide run so far.
    pub reprovide_done: u64,
    /// Keys the last finished reprovide run announced.
    pub last_reprovide_keys: u64,
    /// How long the last finished reprovide run took, seconds.
    pub last_reprovide_seconds: f64,
    /// Reprovide runs finished.
    pub reprovide_runs: u64,
    /// Time since the last reprovide run finished (`None` before the first), as
    /// `LastReprovideAgoSeconds`.
    #[serde(rename = "LastReprovideAgoSeconds", serialize_with = "seconds")]
    pub last_reprovide_ago: Option<std::time::Duration>,
    /// When the last run finished (the base of `last_reprovide_ago`).
    #[serde(skip)]
    pub(crate) last_reprovide_at: Option<std::time::Instant>,
}

fn seconds<S: serde::Serializer>(d: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// The keys to announce for a DAG just added (or pinned) under `root`.
pub fn keys_for_new_dag(
    store: &Store,
    strategy: Strategy,
    root: Cid,
    pinned: bool,
) -> Vec<RecordKey> {
    match (strategy, pinned) {
        (Strategy::Roots, true) => vec![provider_key(&root)],
        (Strategy::Roots | Strategy::Pinned, false) => Vec::new(),
        (Strategy::All, _) | (Strategy::Pinned, true) => {
            let mut keys = vec![provider_key(&root)];
            let mut seen = HashSet::new();
            let walked = crate::ops::walk_refs(store, root, true, true, &mut seen, |c| {
                keys.push(provider_key(c));
                Ok::<_, std::convert::Infallible>(())
            });
            if let Err(e) = walked {
                tracing::debug!(%root, error = %e, "announcing part of a DAG");
            }
            keys
        }
    }
}

/// Streams every key the strategy covers to `sink`, in order; stops early if it says so.
fn for_each_key(
    store: &Store,
    strategy: Strategy,
    mut sink: impl FnMut(RecordKey) -> bool,
) -> Result<(), dag::StoreError> {
    match strategy {
        Strategy::All => {
            for cid in store.all_cids()? {
                if !sink(provider_key(&cid?)) {
                    break;
                }
            }
        }
        Strategy::Roots => {
            for (cid, _) in store.pins()? {
                if !sink(provider_key(&cid)) {
                    break;
                }
            }
        }
        Strategy::Pinned => {
            let pins = store.pins()?;
            let mut seen = HashSet::new();
            for (cid, _) in &pins {
                if seen.insert(*cid) && !sink(provider_key(cid)) {
                    return Ok(());
                }
            }
            if pins.iter().any(|(_, m)| *m == PinMode::Recursive) {
                for cid in store.indirect_pins()? {
                    if seen.insert(cid) && !sink(provider_key(&cid)) {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A handle to trigger a reprovide run now, or to stop the reprovider.
#[derive(Debug, Clone)]
pub struct Reprovider {
    kick: Arc<Notify>,
    task: tokio::task::AbortHandle,
}

impl Reprovider {
    /// Starts a run now (or right after the current one).
    pub fn trigger(&self) {
        self.kick.notify_one();
    }

    /// Stops the reprovider (a run in progress is abandoned; it holds only reads).
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// Runs the reprovider on `tasks` until the network stops: a first run after `first_delay`, then
/// one every `interval` (`None`: only when triggered).
pub fn spawn_reprovider(
    net: Network,
    store: Store,
    strategy: Strategy,
    first_delay: Duration,
    interval: Option<Duration>,
    tasks: &tokio_util::task::TaskTracker,
) -> Reprovider {
    let kick = Arc::new(Notify::new());
    let wake = kick.clone();
    let task = tasks.spawn(async move {
        let mut next = interval.map(|_| after(first_delay));
        loop {
            let due = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = due => {}
                _ = kick.notified() => {}
            }
            match run_once(&net, &store, strategy).await {
                Ok(n) => tracing::info!(keys = n, "reprovide finished"),
                Err(NetError::Stopped) => break,
                Err(e) => tracing::warn!(error = %e, "reprovide failed"),
            }
            next = interval.map(after);
        }
    });
    Reprovider {
        kick: wake,
        task: task.abort_handle(),
    }
}

/// The instant `d` from now, saturating (a configured interval never overflows it).
fn after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(crate::config::MAX_PERIOD))
        .unwrap_or(now)
}

/// One reprovide run: enumerates keys on the blocking pool, announces them batch by batch.
async fn run_once(net: &Network, store: &Store, strategy: Strategy) -> Result<u64, NetError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordKey>>(2);
    let store = store.clone();
    let lister = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let listed = for_each_key(&store, strategy, |k| {
            batch.push(k);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                return tx.blocking_send(full).is_ok();
            }
            true
        });
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        listed
    });
    net.reprovide_progress(Some(0)).await?;
    let started = std::time::Instant::now();
    let mut done = 0u64;
    while let Some(keys) = rx.recv().await {
        let n = keys.len() as u64;
        // Failures (no peers reached) are counted by the task; the run goes on.
        match net.provide(keys).await {
            Ok(()) | Err(NetError::Dht { .. }) => {}
            Err(e) => return Err(e),
        }
        done += n;
        net.reprovide_progress(Some(done)).await?;
    }
    net.reprovide_finished(done, started.elapsed()).await?;
    match lister.await {
        Ok(Ok(())) => Ok(done),
        Ok(Err(e)) => Err(NetError::Dht {
            op: "reprovide",
            reason: e.to_string(),
        }),
        Err(e) => Err(NetError::Dht {
            op: "reprovide",
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_configured_interval_never_overflows_the_clock() {
        let now = tokio::time::Instant::now();
        assert!(after(Duration::MAX) > now);
        assert!(after(Duration::from_secs(5)) >= now + Duration::from_secs(5));
    }
    use dag::import::{Importer, Params};

    fn add_bytes(store: &Store, data: &[u8], params: &Params) -> Cid {
        let mut w = store.writer().unwrap();
        let added = Importer::new(params.clone(), &mut w)
            .unwrap()
            .add_reader(data, "")
            .unwrap();
        w.finish().unwrap();
        added.cid
    }

    #[test]
    fn strategies_pick_the_right_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("blocks")).unwrap();
        let params = Params {
            chunk_size: 1024,
            ..Params::default()
        };
        let pinned = add_bytes(&store, &vec![7u8; 5000], &params);
        store.pin_add(&pinned, PinMode::Recursive).unwrap();
        let loose = add_bytes(&store, b"loose block", &params);
        let collect = |s| {
            let mut v = Vec::new();
            for_each_key(&store, s, |k| {
                v.push(k);
                true
            })
            .unwrap();
            v
        };
        assert_eq!(collect(Strategy::Roots), vec![provider_key(&pinned)]);
        let pinned_keys = collect(Strategy::Pinned);
        assert!(pinned_keys.len() > 1 && pinned_keys.contains(&provider_key(&pinned)));
        assert!(!pinned_keys.contains(&provider_key(&loose)));
        let all = collect(Strategy::All);
        assert_eq!(all.len(), pinned_keys.len() + 1);
        assert!(all.contains(&provider_key(&loose)));

        let new = keys_for_new_dag(&store, Strategy::All, pinned, true);
        assert_eq!(new.len(), pinned_keys.len());
        assert!(keys_for_new_dag(&store, Strategy::Roots, loose, false).is_empty());
        assert_eq!(
            keys_for_new_dag(&store, Strategy::Roots, pinned, true),
            vec![provider_key(&pinned)]
        );
    }
}
