//! Content from the network: BitSwap wired to the node (its settings from the config, the
//! DHT as its provider source) and [`Source`], the [`dag::BlockSource`] the RPC API reads
//! through — the store first, BitSwap for whatever is missing.
//!
//! Data flow: an API handler resolves and exports through a `Source` on the blocking pool;
//! a missing block is fetched with [`bitswap::Bitswap::get`] (the blocking thread waits on
//! the runtime); once a request has needed the network, [`Source::prefetch`] starts a
//! background [`bitswap::Bitswap::fetch_dag`] of the whole target DAG, so the exporter
//! finds the following blocks already arriving in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use dag::store::Lease;
use dag::{BlockSource, Cid, SourceError, Store};
use futures::future::BoxFuture;
use libp2p::PeerId;

use crate::net::{Network, provider_key};

/// How long a provider lookup for BitSwap may take.
const PROVIDER_LOOKUP: Duration = Duration::from_secs(20);

/// BitSwap's settings (from [`crate::config::Settings`]) with its ledger in `repo`.
pub fn bitswap_config(settings: &bitswap::Config, repo: &std::path::Path) -> bitswap::Config {
    bitswap::Config {
        ledger_path: Some(repo.join(LEDGER_FILE)),
        ..settings.clone()
    }
}

/// The ledger database in the repository.
pub const LEDGER_FILE: &str = "ledger.redb";

/// BitSwap's view of the node's routing: DHT provider lookups and disconnects.
#[derive(Debug, Clone)]
pub struct Routing {
    net: Network,
}

impl Routing {
    /// Routing over `net`.
    pub fn new(net: Network) -> Routing {
        Routing { net }
    }
}

impl bitswap::Routing for Routing {
    fn find_providers(&self, cid: Cid, limit: usize) -> BoxFuture<'static, Vec<PeerId>> {
        let net = self.net.clone();
        Box::pin(async move {
            let local = net.local_peer_id();
            let found = tokio::time::timeout(
                PROVIDER_LOOKUP,
                net.find_providers(provider_key(&cid), limit),
            )
            .await;
            let providers = match found {
                Ok(Ok((p, _))) => p,
                _ => return Vec::new(),
            };
            let connected: std::collections::HashSet<PeerId> = net
                .peers()
                .await
                .map(|v| v.into_iter().map(|c| c.peer).collect())
                .unwrap_or_default();
            // Every provider at once, each at all its addresses (QUIC first): a provider
            // with a dead address first costs no more than the others.
            let dials = providers.into_iter().filter(|p| p.peer != local).map(|p| {
                let net = net.clone();
                let known = connected.contains(&p.peer);
                async move {
                    if known {
                        return Some(p.peer);
                    }
                    let dial = net.connect_peer(p.peer, p.addrs);
                    match tokio::time::timeout(Duration::from_secs(10), dial).await {
                        Ok(Ok(peer)) => Some(peer),
                        _ => None,
                    }
                }
            });
            let out: Vec<PeerId> = futures::future::join_all(dials)
                .await
                .into_iter()
                .flatten()
                .collect();
            tracing::debug!(%cid, providers = out.len(), "bitswap provider lookup");
            out
        })
    }

    fn disconnect(&self, peer: PeerId) -> BoxFuture<'static, ()> {
        let net = self.net.clone();
        Box::pin(async move {
            let _ = net.disconnect(peer).await;
        })
    }
}

/// Blocks from the store, else from BitSwap (when online). Used on blocking threads.
#[derive(Debug, Clone)]
pub struct Source {
    store: Store,
    bitswap: Option<bitswap::Bitswap>,
    runtime: tokio::runtime::Handle,
    fetched: Arc<AtomicBool>,
    /// Longest wait for one block from the network (`None`: BitSwap's own timeouts).
    deadline: Option<Duration>,
    timed_out: Arc<AtomicBool>,
    /// GC leases on the DAGs being prefetched, held while any clone of this source lives
    /// (the request or stream reading them).
    leases: Arc<Mutex<Vec<Lease>>>,
    /// Where background prefetches are spawned (a node's tracker), else the runtime.
    tasks: Option<tokio_util::task::TaskTracker>,
}

impl Source {
    /// A source over `store`, fetching through `bitswap` when given. Call on the runtime.
    pub fn new(store: Store, bitswap: Option<bitswap::Bitswap>) -> Source {
        Source {
            store,
            bitswap,
            runtime: tokio::runtime::Handle::current(),
            fetched: Arc::new(AtomicBool::new(false)),
            deadline: None,
            timed_out: Arc::new(AtomicBool::new(false)),
            leases: Arc::default(),
            tasks: None,
        }
    }

    /// Spawns background prefetches on `tasks` (the node's tracker), so they are counted
    /// and waited for at shutdown.
    pub fn with_tasks(mut self, tasks: tokio_util::task::TaskTracker) -> Source {
        self.tasks = Some(tasks);
        self
    }

    /// Gives up on a block the network has not delivered within `deadline` (it then
    /// reads as not found, and [`Source::timed_out`] says why).
    pub fn with_deadline(mut self, deadline: Duration) -> Source {
        self.deadline = Some(deadline);
        self
    }

    /// The per-block deadline, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Whether a block was given up on because its deadline passed.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether any block so far had to come from the network.
    pub fn fetched(&self) -> bool {
        self.fetched.load(Ordering::Relaxed)
    }

    /// If this source has needed the network, fetches the whole DAG under `root` in the
    /// background (reads through this source then find their blocks arriving). What
    /// arrives is kept from GC (a [`Lease`]) until this source and its clones are dropped.
    pub fn prefetch(&self, root: Cid) {
        if let (true, Some(bs)) = (self.fetched(), self.bitswap.clone()) {
            let lease = self.store.lease(root);
            self.leases
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(lease);
            let fetch = async move {
                if let Err(e) = bs.fetch_dag(root).await {
                    tracing::debug!(%root, error = %e, "prefetch stopped");
                }
            };
            match &self.tasks {
                Some(tasks) => drop(tasks.spawn_on(fetch, &self.runtime)),
                None => drop(self.runtime.spawn(fetch)),
            }
        }
    }

    /// Fetches the whole DAG under `root` (no-op offline); for `pin add`.
    pub async fn fetch_all(&self, root: Cid) -> Result<(), bitswap::Error> {
        match &self.bitswap {
            Some(bs) => bs.fetch_dag(root).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

impl BlockSource for Source {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        // What BitSwap received moments ago is still in memory: a read following a fetch
        // takes it from there rather than from the store it was just written to.
        if let Some(data) = self.bitswap.as_ref().and_then(|bs| bs.received(cid)) {
            return Ok(data);
        }
        match BlockSource::get_block(&self.store, cid) {
            Err(SourceError::NotFound { .. }) => {}
            other => return other,
        }
        let Some(bs) = &self.bitswap else {
            return Err(SourceError::NotFound { cid: *cid });
        };
        self.fetched.store(true, Ordering::Relaxed);
        let got = match self.deadline {
            None => self.runtime.block_on(bs.get(*cid)),
            // The timer is made inside the runtime (this is a blocking thread).
            Some(d) => match self
                .runtime
                .block_on(async { tokio::time::timeout(d, bs.get(*cid)).await })
            {
                Ok(got) => got,
                Err(_) => {
                    self.timed_out.store(true, Ordering::Relaxed);
                    tracing::debug!(%cid, deadline = ?d, "block not fetched in time");
                    return Err(SourceError::NotFound { cid: *cid });
                }
            },
        };
        match got {
            Ok(block) => Ok(block.into_parts().1),
            Err(e) => {
                tracing::debug!(%cid, error = %e, "block not fetched");
                Err(SourceError::NotFound { cid: *cid })
            }
        }
    }
}
