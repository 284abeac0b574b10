//! What the node announces to the DHT and when.
//!
//! - On `add` and `pin add`, [`keys_for_new_dag`] picks the keys per the strategy and the
//!   caller queues them with [`Network::provide_background`] (the add does not wait).
//! - The reprovider ([`spawn_reprovider`]) wakes every `Provide.Interval` (first run
//!   shortly after start), enumerates the keys per the strategy on the blocking pool, and
//!   announces them in batches, each batch awaited, so memory stays bounded however large
//!   the store is. `routing reprovide` triggers a run now; `stats provide` shows progress.
//!   A run announces by [`Mode`] (`Provide.Sweep`): `Sweep` (module `sweep`, the default) looks
//!   up each region of the keyspace once and streams `ADD_PROVIDER` for a batch's keys to
//!   the region's closest peers (module `wire`); `PerKey` queues every key for libp2p-kad's
//!   `start_providing` (a lookup each), as `add` does.
//!
//! Strategies (Kubo's `Provide.Strategy`): `all` — every stored block; `pinned` — every
//! block of the pinned DAGs; `roots` — only the pin roots.
//!
//! Health: after each batch the run reports its progress ([`RunReport`]: keys done, keys
//! expected, time so far, the interval); [`health`] turns that into an estimate of the run's
//! duration (its rate so far) and `FallingBehind` when the estimate, or the last run's
//! duration, exceeds `Provide.Interval` (`stats provide`, `ipfsd_reprovide_falling_behind`).

pub(crate) mod sweep;
mod wire;

use super::{Dht, NetError, Network, provider_key};
use dag::store::PinMode;
use dag::{Cid, Store};
use libp2p::kad::RecordKey;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use sweep::SweepCounts;

/// Keys announced per awaited batch by a per-key reprovider.
const BATCH: usize = 256;
/// Keys per batch of a sweeping reprovider (about 5 MiB of keys and digests).
const SWEEP_BATCH: usize = 1 << 15;

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
    /// Announcements through the provide queue finished since start (`add`, `routing
    /// provide`, per-key reprovide runs; a sweeping run counts in `reprovide_sweep`).
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
    /// `Provide.Interval` (`None`: reproviding only when triggered), as
    /// `ReprovideIntervalSeconds`.
    #[serde(rename = "ReprovideIntervalSeconds", serialize_with = "seconds")]
    pub reprovide_interval: Option<Duration>,
    /// Keys the running run is expected to announce (the store's block count for `all`,
    /// the last run's count otherwise; `None` when unknown).
    pub reprovide_expected_keys: Option<u64>,
    /// How long the running run will take at its rate so far (time so far × expected /
    /// done), or how long the last run took when none runs, as `ReprovideEstimateSeconds`.
    #[serde(rename = "ReprovideEstimateSeconds", serialize_with = "seconds")]
    pub reprovide_estimate: Option<Duration>,
    /// The running run will not finish within the interval at its rate so far, or the last
    /// run took longer than the interval: announcements expire before they are renewed.
    pub falling_behind: bool,
    /// The running (or last) sweeping run's counters: lookups, their `FIND_NODE`
    /// requests, `ADD_PROVIDER` messages, failed streams and keys that reached no peer.
    pub reprovide_sweep: SweepCounts,
    /// The running run's latest report and when it came (the base of [`Self::refresh`]).
    #[serde(skip)]
    pub(crate) running: Option<(RunReport, std::time::Instant)>,
}

fn seconds<S: serde::Serializer>(d: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl ProvideStats {
    /// Folds a run's progress report, received at `at`, in: progress counters, and the
    /// health fields from [`health`].
    pub fn apply(&mut self, r: &RunReport, at: std::time::Instant) {
        self.reprovide_done = r.done;
        self.reprovide_interval = r.interval;
        self.reprovide_sweep = r.sweep;
        if r.finished {
            self.reproviding = false;
            self.reprovide_runs += 1;
            self.last_reprovide_keys = r.done;
            self.last_reprovide_seconds = r.elapsed.as_secs_f64();
            self.last_reprovide_at = Some(at);
            self.reprovide_expected_keys = None;
            self.running = None;
        } else {
            self.reproviding = true;
            self.reprovide_expected_keys = r.expected;
            self.running = Some((*r, at));
        }
        self.refresh(at);
    }

    /// Recomputes the health fields at `now`: a running run's time so far grows between
    /// its reports (a run stuck before its first batch still turns `falling_behind` on
    /// once it has taken longer than the interval).
    pub fn refresh(&mut self, now: std::time::Instant) {
        let last =
            (self.reprovide_runs > 0).then(|| Duration::from_secs_f64(self.last_reprovide_seconds));
        let running = self.running.map(|(r, at)| RunReport {
            elapsed: r.elapsed + now.saturating_duration_since(at),
            ..r
        });
        let h = health(running.as_ref(), last, self.reprovide_interval);
        self.reprovide_estimate = h.estimate;
        self.falling_behind = h.behind;
    }
}

/// One progress report of a reprovide run (sent after each batch, and at its end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunReport {
    /// Keys announced so far.
    pub done: u64,
    /// Keys the run is expected to announce, when known.
    pub expected: Option<u64>,
    /// Time since the run started.
    pub elapsed: Duration,
    /// `Provide.Interval`.
    pub interval: Option<Duration>,
    /// The run has ended.
    pub finished: bool,
    /// A sweeping run's counters so far.
    pub sweep: SweepCounts,
}

/// A reprovider's health: how long its run takes, and whether that fits the interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Health {
    /// The running run's estimated duration, or the last run's actual one.
    pub estimate: Option<Duration>,
    /// The estimate exceeds the interval.
    pub behind: bool,
}

/// The health of a running run (`running`), or else of the last finished one (`last`):
/// a running run is estimated from its rate so far (`elapsed × expected / done`; with no
/// key done yet, or no expected count, only the time so far is known, a lower bound).
/// Pure: time is passed in.
pub fn health(
    running: Option<&RunReport>,
    last: Option<Duration>,
    interval: Option<Duration>,
) -> Health {
    let estimate = match running {
        Some(r) if !r.finished => {
            let expected = r.expected.unwrap_or(0).max(r.done);
            if r.done > 0 && expected > 0 {
                let ratio = expected as f64 / r.done as f64;
                Some(Duration::from_secs_f64(
                    (r.elapsed.as_secs_f64() * ratio)
                        .min(crate::config::MAX_PERIOD.as_secs_f64() * 2.0),
                ))
            } else {
                Some(r.elapsed)
            }
        }
        Some(r) => Some(r.elapsed),
        None => last,
    };
    let behind = matches!((estimate, interval), (Some(e), Some(i)) if e > i);
    Health { estimate, behind }
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

/// How a run announces its keys (`Provide.Sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One lookup per region of the keyspace, `ADD_PROVIDER` for all its keys (module `sweep`).
    #[default]
    Sweep,
    /// One libp2p-kad `start_providing` (a lookup and its `ADD_PROVIDER`s) per key, through
    /// the provide queue.
    PerKey,
}

impl Mode {
    /// Keys per batch: a sweep reuses a stream per peer for all of a batch's keys in a
    /// region, so its batches are larger.
    fn batch(self) -> usize {
        match self {
            Mode::Sweep => SWEEP_BATCH,
            Mode::PerKey => BATCH,
        }
    }
}

/// What a reprovide run needs of the network: announce a batch, report progress. The
/// [`Network`] does it for real ([`PerKey`], [`Sweeping`]); tests inject a slow one.
pub(crate) trait Announcer: Send {
    /// Announces `keys` and waits until each announcement has finished.
    fn announce(
        &mut self,
        keys: Vec<RecordKey>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;
    /// The run's sweep counters so far (zero for a per-key run).
    fn counts(&self) -> SweepCounts {
        SweepCounts::default()
    }
    /// Records the run's progress (`stats provide`).
    fn report(&self, report: RunReport) -> impl Future<Output = Result<(), NetError>> + Send;
}

/// Per-key announcements through the provide queue.
pub(crate) struct PerKey<'a>(pub &'a Network);

impl Announcer for PerKey<'_> {
    fn announce(
        &mut self,
        keys: Vec<RecordKey>,
    ) -> impl Future<Output = Result<(), NetError>> + Send {
        self.0.provide(keys)
    }

    fn report(&self, report: RunReport) -> impl Future<Output = Result<(), NetError>> + Send {
        self.0.reprovide_report(report)
    }
}

/// A sweeping run ([`sweep::Sweep`]) over the network's DHTs.
pub(crate) struct Sweeping<'a> {
    net: &'a Network,
    sweep: sweep::Sweep,
    /// Our `Peer` message (ID and external addresses), from the latest lookup.
    provider: Vec<u8>,
}

impl<'a> Sweeping<'a> {
    pub(crate) fn new(net: &'a Network) -> Sweeping<'a> {
        let (dhts, k) = net.dhts();
        Sweeping {
            net,
            sweep: sweep::Sweep::new(k, dhts.to_vec()),
            provider: wire::provider_peer(&net.local_peer_id(), &[]),
        }
    }
}

/// [`sweep::SweepDht`] on the real network: lookups through the network task, streams
/// through `libp2p-stream`.
struct Wire<'a> {
    net: &'a Network,
    provider: &'a std::sync::Mutex<Vec<u8>>,
}

impl sweep::SweepDht for Wire<'_> {
    async fn closest(&self, dht: Dht, target: Vec<u8>) -> Result<sweep::Closest, NetError> {
        let (closest, addrs) = self.net.closest_peers(dht, target).await?;
        if let Ok(mut p) = self.provider.lock() {
            *p = wire::provider_peer(&self.net.local_peer_id(), &addrs);
        }
        Ok(closest)
    }

    fn add_providers(
        &self,
        dht: Dht,
        peer: libp2p::PeerId,
        keys: Vec<RecordKey>,
    ) -> impl Future<Output = Result<(), NetError>> + Send {
        let mut control = self.net.stream_control();
        let provider = self.provider.lock().map(|p| p.clone()).unwrap_or_default();
        async move {
            wire::send(&mut control, dht.protocol(), peer, &provider, &keys)
                .await
                .map_err(|e| NetError::Dht {
                    op: "provide",
                    reason: e.to_string(),
                })
        }
    }
}

impl Announcer for Sweeping<'_> {
    async fn announce(&mut self, keys: Vec<RecordKey>) -> Result<(), NetError> {
        // Our own provider records, so this node answers for its keys (what
        // `start_providing` does), on the blocking pool: one short lock per key.
        let records = self.net.records().clone();
        let local = self.net.local_peer_id();
        let mine = keys.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut records = records;
            for key in mine {
                let r = libp2p::kad::ProviderRecord::new(key, local, Vec::new());
                if let Err(e) = libp2p::kad::store::RecordStore::add_provider(&mut records, r) {
                    tracing::debug!(error = %e, "own provider record not stored");
                    break;
                }
            }
        })
        .await;
        let provider = std::sync::Mutex::new(std::mem::take(&mut self.provider));
        let wire = Wire {
            net: self.net,
            provider: &provider,
        };
        let result = self.sweep.provide(&wire, keys).await;
        self.provider = provider.into_inner().unwrap_or_default();
        result.map(drop)
    }

    fn counts(&self) -> SweepCounts {
        self.sweep.counts
    }

    fn report(&self, report: RunReport) -> impl Future<Output = Result<(), NetError>> + Send {
        self.net.reprovide_report(report)
    }
}

/// Runs the reprovider on `tasks` until the network stops: a first run after `first_delay`, then
/// one every `interval` (`None`: only when triggered).
pub fn spawn_reprovider(
    net: Network,
    store: Store,
    strategy: Strategy,
    mode: Mode,
    first_delay: Duration,
    interval: Option<Duration>,
    tasks: &tokio_util::task::TaskTracker,
) -> Reprovider {
    let kick = Arc::new(Notify::new());
    let wake = kick.clone();
    let task = tasks.spawn(async move {
        let mut next = interval.map(|_| after(first_delay));
        let mut previous = None;
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
            let run = match mode {
                Mode::Sweep => {
                    let mut a = Sweeping::new(&net);
                    run_once(&mut a, &store, strategy, mode.batch(), interval, previous).await
                }
                Mode::PerKey => {
                    let mut a = PerKey(&net);
                    run_once(&mut a, &store, strategy, mode.batch(), interval, previous).await
                }
            };
            match run {
                Ok(n) => {
                    previous = Some(n);
                    tracing::info!(keys = n, "reprovide finished");
                }
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

/// The keys a run of `strategy` is expected to announce: the store's block count for `all`
/// (one cheap read), else what the previous run announced.
fn expected_keys(store: &Store, strategy: Strategy, previous: Option<u64>) -> Option<u64> {
    match strategy {
        Strategy::All => store.stat().ok().map(|s| s.num_blocks).or(previous),
        Strategy::Pinned | Strategy::Roots => previous,
    }
}

/// One reprovide run: enumerates keys on the blocking pool, announces them batch by batch,
/// reporting progress after each batch. `previous`: the key count of the last run (for the
/// estimate).
async fn run_once(
    net: &mut impl Announcer,
    store: &Store,
    strategy: Strategy,
    batch_size: usize,
    interval: Option<Duration>,
    previous: Option<u64>,
) -> Result<u64, NetError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordKey>>(2);
    let lister_store = store.clone();
    let counter = store.clone();
    let expected = tokio::task::spawn_blocking(move || expected_keys(&counter, strategy, previous))
        .await
        .ok()
        .flatten();
    let lister = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(batch_size);
        let listed = for_each_key(&lister_store, strategy, |k| {
            batch.push(k);
            if batch.len() == batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                return tx.blocking_send(full).is_ok();
            }
            true
        });
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        listed
    });
    let started = tokio::time::Instant::now();
    let report = |done, finished, sweep| RunReport {
        done,
        expected,
        elapsed: started.elapsed(),
        interval,
        finished,
        sweep,
    };
    net.report(report(0, false, net.counts())).await?;
    let mut done = 0u64;
    while let Some(keys) = rx.recv().await {
        let n = keys.len() as u64;
        // Failures (no peers reached) are counted (by the task, or the sweep); the run
        // goes on.
        match net.announce(keys).await {
            Ok(()) | Err(NetError::Dht { .. }) => {}
            Err(e) => return Err(e),
        }
        done += n;
        net.report(report(done, false, net.counts())).await?;
    }
    net.report(report(done, true, net.counts())).await?;
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

    fn running(done: u64, expected: Option<u64>, elapsed_s: u64) -> RunReport {
        RunReport {
            done,
            expected,
            elapsed: Duration::from_secs(elapsed_s),
            interval: None,
            finished: false,
            sweep: SweepCounts::default(),
        }
    }

    #[test]
    fn the_estimate_follows_the_rate_so_far() {
        let day = Some(Duration::from_secs(86_400));
        // 10 of 1000 keys in 60 s: 6000 s at that rate, within a day.
        let h = health(Some(&running(10, Some(1000), 60)), None, day);
        assert_eq!(h.estimate, Some(Duration::from_secs(6000)));
        assert!(!h.behind);
        // 10 of 10^6 keys in 60 s: 6·10^6 s, past a day.
        let h = health(Some(&running(10, Some(1_000_000), 60)), None, day);
        assert_eq!(h.estimate, Some(Duration::from_secs(6_000_000)));
        assert!(h.behind);
        // No key done yet: only the time so far is known.
        let h = health(Some(&running(0, Some(1000), 90_000)), None, day);
        assert_eq!(h.estimate, Some(Duration::from_secs(90_000)));
        assert!(h.behind);
        // Unknown count: done stands for it (a lower bound).
        let h = health(Some(&running(5, None, 60)), None, day);
        assert_eq!(h.estimate, Some(Duration::from_secs(60)));
        // Between runs the last run's duration counts; no interval, never behind.
        assert!(health(None, Some(Duration::from_secs(90_000)), day).behind);
        assert!(!health(None, Some(Duration::from_secs(80_000)), day).behind);
        assert!(!health(None, Some(Duration::from_secs(90_000)), None).behind);
        assert_eq!(health(None, None, day), Health::default());
    }

    #[test]
    fn a_run_stuck_before_its_first_batch_falls_behind_as_time_passes() {
        let t0 = std::time::Instant::now();
        let mut s = ProvideStats::default();
        let report = RunReport {
            interval: Some(Duration::from_secs(5)),
            ..running(0, Some(1000), 0)
        };
        s.apply(&report, t0);
        assert_eq!(s.reprovide_estimate, Some(Duration::ZERO));
        assert!(!s.falling_behind);
        s.refresh(t0 + Duration::from_secs(4));
        assert_eq!(s.reprovide_estimate, Some(Duration::from_secs(4)));
        assert!(!s.falling_behind);
        s.refresh(t0 + Duration::from_secs(6));
        assert!(s.falling_behind);
        // Once keys are done, the rate counts: 100 of 1000 in 6 s, 60 s in all.
        s.apply(
            &RunReport {
                done: 100,
                elapsed: Duration::from_secs(6),
                ..report
            },
            t0 + Duration::from_secs(6),
        );
        assert_eq!(s.reprovide_estimate, Some(Duration::from_secs(60)));
        assert!(s.falling_behind && s.reproviding);
    }

    /// A DHT that takes one (virtual) second per batch; it folds the run's reports into a
    /// `ProvideStats` the way the network task does, keeping each snapshot.
    struct SlowDht {
        stats: std::sync::Mutex<(ProvideStats, Vec<ProvideStats>)>,
    }

    impl Announcer for SlowDht {
        fn announce(
            &mut self,
            _keys: Vec<RecordKey>,
        ) -> impl Future<Output = Result<(), NetError>> + Send {
            // `advance`, not `sleep`: the paused clock does not move by itself while the
            // key lister (a blocking task) waits for room in its channel.
            futures::FutureExt::map(tokio::time::advance(Duration::from_secs(1)), Ok)
        }

        fn report(&self, report: RunReport) -> impl Future<Output = Result<(), NetError>> + Send {
            if let Ok(mut g) = self.stats.lock() {
                g.0.apply(&report, std::time::Instant::now());
                let snapshot = g.0.clone();
                g.1.push(snapshot);
            }
            std::future::ready(Ok(()))
        }
    }

    /// Runs a reprovide of `blocks` raw blocks (one virtual second per batch of
    /// [`BATCH`]) with `interval`; returns every stats snapshot, in order.
    async fn slow_run(blocks: usize, interval: Duration) -> Vec<ProvideStats> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("blocks")).unwrap();
        let raw: Vec<dag::Block> = (0..blocks)
            .map(|i| {
                let data = format!("block {i}").into_bytes();
                dag::Block::encode(dag::Version::V1, dag::block::RAW, data)
            })
            .collect();
        store.put_many(raw).unwrap();
        let mut dht = SlowDht {
            stats: std::sync::Mutex::new(Default::default()),
        };
        let n = run_once(&mut dht, &store, Strategy::All, BATCH, Some(interval), None)
            .await
            .unwrap();
        assert_eq!(n, blocks as u64);
        dht.stats.into_inner().unwrap().1
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_slower_than_the_interval_says_it_is_falling_behind() {
        // 10 batches at one virtual second each: 10 s against an interval of 5 s.
        let snaps = slow_run(10 * BATCH, Duration::from_secs(5)).await;
        let first = &snaps[1];
        assert!(first.reproviding && first.reprovide_done == BATCH as u64);
        assert_eq!(first.reprovide_expected_keys, Some(10 * BATCH as u64));
        assert_eq!(first.reprovide_estimate, Some(Duration::from_secs(10)));
        assert!(
            first.falling_behind,
            "behind from the first batch on: {first:?}"
        );
        let last = snaps.last().unwrap();
        assert!(!last.reproviding && last.reprovide_runs == 1);
        assert_eq!(last.reprovide_estimate, Some(Duration::from_secs(10)));
        assert!(last.falling_behind);
        let json = serde_json::to_value(last).unwrap();
        assert_eq!(json["FallingBehind"], true);
        assert_eq!(json["ReprovideEstimateSeconds"], 10.0);
        assert_eq!(json["ReprovideIntervalSeconds"], 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_within_the_interval_is_not_falling_behind() {
        let snaps = slow_run(10 * BATCH, Duration::from_secs(60)).await;
        assert!(snaps.iter().all(|s| !s.falling_behind));
        let last = snaps.last().unwrap();
        assert_eq!(last.reprovide_estimate, Some(Duration::from_secs(10)));
        assert_eq!(serde_json::to_value(last).unwrap()["FallingBehind"], false);
    }
}
