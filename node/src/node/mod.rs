//! [`Node`]: one IPFS node in a process, the service layer every front end goes through.
//!
//! A `Node` is a cheap, cloneable handle over the parts a running node is made of: the
//! block store, the keystore and IPNS state, and (online) the libp2p swarm with its DHT,
//! BitSwap and the reprovider. It is started by [`Node::builder`] on a repository directory
//! or entirely in memory. Its methods hold the rules the RPC API, the gateway and the CLI
//! share, so each lives once: what is added or pinned is announced per
//! `Provide.Strategy`; a name is published only once what it points at resolves, with the
//! configured default lifetime; `/ipns/` paths resolve recursively; content missing from
//! the store is fetched over BitSwap (providers found in the DHT).
//!
//! Data flow: store work runs on tokio's blocking pool (never on the caller's thread, never
//! through `block_on`); streamed answers ([`Node::cat`], [`Node::add`]) come through bounded
//! channels, so a slow reader slows the producer, and dropping the stream stops it.
//!
//! Lifetime: every task the node starts is spawned on its [`TaskTracker`] and watches its
//! [`CancellationToken`]. [`Node::shutdown`] cancels, then waits (bounded) for the tracker
//! to empty; dropping the last handle cancels too, and the tasks end on their own.

mod autogc;
mod builder;
mod content;
mod ops;

pub(crate) use builder::DATASTORE_FILE;
pub use builder::NodeBuilder;
pub use content::{AddEvent, AddInput, AddOptions, AddStream, Content, MAX_LS_ENTRIES};
pub use ops::{BlockApi, DagApi, NameApi, PinApi, Publish, RoutingApi, SwarmApi};

use crate::config::Config;
use crate::config::Settings;
use crate::content::Source;
use crate::identity::Identity;
use crate::names::Names;
use crate::net::Network;
use dag::{Cid, Store};
use libp2p::PeerId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long [`Node::shutdown`] waits for the node's tasks to end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Events buffered per [`Node::events`] subscriber; a subscriber further behind loses the
/// oldest (and is told how many, by [`broadcast::error::RecvError::Lagged`]).
const EVENT_BUFFER: usize = 1024;

/// What went wrong in a [`Node`] operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation needs the network and the node runs offline.
    #[error("this action needs the network, and the node is offline")]
    Offline,
    /// The node has shut down.
    #[error("the node has shut down")]
    Stopped,
    /// An argument is invalid (the message says which and why).
    #[error("{0}")]
    Invalid(String),
    /// A config value is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The repository could not be opened or created.
    #[error(transparent)]
    Repo(#[from] crate::repo::RepoError),
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] dag::StoreError),
    /// An import failed.
    #[error(transparent)]
    Import(#[from] dag::import::ImportError),
    /// Reading content failed (missing block, not a file, ...).
    #[error(transparent)]
    Export(#[from] dag::export::ExportError),
    /// A path is malformed or does not resolve.
    #[error(transparent)]
    Path(#[from] crate::path::ResolveError),
    /// A path or CID is malformed.
    #[error(transparent)]
    BadPath(#[from] crate::path::PathError),
    /// IPLD (dag put/get) failed.
    #[error(transparent)]
    Ipld(#[from] crate::ipld::IpldError),
    /// Publishing or resolving a name failed.
    #[error(transparent)]
    Names(#[from] crate::names::NameError),
    /// A keystore operation failed.
    #[error(transparent)]
    Keys(#[from] crate::keystore::KeyError),
    /// The network failed.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// The DHT datastore could not be opened.
    #[error(transparent)]
    Records(#[from] crate::net::records::RecordsError),
    /// BitSwap failed.
    #[error("bitswap: {0}")]
    Bitswap(#[from] bitswap::Error),
    /// A task of the node failed unexpectedly (a panic, reported rather than propagated).
    #[error("internal task failed: {0}")]
    Task(String),
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Task(e.to_string())
    }
}

/// Something that happened in a node, for [`Node::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The first connection to a peer opened.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
    /// Content was added (and stored, unless only hashed): its root.
    Added {
        /// The root of what was added.
        root: Cid,
    },
    /// A DAG was pinned.
    Pinned {
        /// The pinned root.
        root: Cid,
    },
    /// A whole DAG was fetched from peers (for a pin or a prefetch).
    Fetched {
        /// Its root.
        root: Cid,
        /// Blocks that came from peers.
        blocks: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// A name was published.
    Published {
        /// The IPNS name (`k51…`).
        name: String,
        /// What it points at now.
        value: String,
    },
}

/// A running IPFS node: a store, and (online) the swarm, DHT, BitSwap and IPNS, behind
/// one handle. Clones share one node. Built by [`Node::builder`]; see the crate docs.
#[derive(Debug, Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

/// The networked parts of a node.
#[derive(Debug, Clone)]
pub(crate) struct Online {
    pub(crate) net: Network,
    pub(crate) bitswap: bitswap::Bitswap,
    pub(crate) reprovider: crate::net::provide::Reprovider,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    identity: Identity,
    config: Arc<Config>,
    repo_path: Option<PathBuf>,
    online: Option<Online>,
    names: Names,
    settings: Arc<Settings>,
    tasks: TaskTracker,
    cancel: CancellationToken,
    events: broadcast::Sender<Event>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: every task of the node winds down by itself.
        self.cancel.cancel();
        self.tasks.close();
    }
}

impl Node {
    /// Starts building a node: `Node::builder().in_memory().spawn().await`.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// The node's peer ID.
    pub fn peer_id(&self) -> PeerId {
        self.inner.identity.peer_id()
    }

    /// The node's identity (its key and proof-of-work difficulty).
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The configuration's values, parsed (durations, strategies, import parameters).
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The block store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The repository directory (`None` for an in-memory node).
    pub fn repo_path(&self) -> Option<&Path> {
        self.inner.repo_path.as_deref()
    }

    /// Whether the node has a network (it was not built [`offline`](NodeBuilder::offline)).
    pub fn is_online(&self) -> bool {
        self.inner.online.is_some()
    }

    /// The addresses the swarm listens on, each ending in `/p2p/<peer ID>` (empty offline).
    pub async fn listen_addrs(&self) -> Result<Vec<libp2p::Multiaddr>, Error> {
        let Some(o) = &self.inner.online else {
            return Ok(Vec::new());
        };
        let me = self.peer_id();
        let info = o.net.info().await?;
        Ok(info
            .listen
            .into_iter()
            .map(|a| a.with_p2p(me).unwrap_or_else(|a| a))
            .collect())
    }

    /// A receiver of the node's [`Event`]s from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The tracker every task of this node is spawned on: its `len()` counts the tasks
    /// still running, and once the node is shut down (or dropped) `wait()` returns when
    /// the last has ended.
    pub fn tasks(&self) -> TaskTracker {
        self.inner.tasks.clone()
    }

    /// Stops the node: cancels its tasks (downloads in progress end with an error), stops
    /// BitSwap and the swarm, and waits up to 5 s for every task to end. Other handles
    /// see [`Error::Stopped`] or [`Error::Net`] afterwards.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(CLOSE_TIMEOUT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = self.inner.tasks.len(),
                "node tasks still running after shutdown's grace"
            );
        }
    }

    /// Whether [`Node::shutdown`] was called (or the node is being dropped).
    pub fn is_shut_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Removes every block no pin protects (what is being added or read from the
    /// network is leased and kept); answers what was removed.
    pub async fn gc(&self) -> Result<dag::store::GcReport, Error> {
        let store = self.inner.store.clone();
        let report = self.blocking(move || Ok(store.gc()?)).await?;
        self.inner.metrics.gc_done(report.removed.len() as u64);
        Ok(report)
    }

    /// The node's metrics: the registry served at `/debug/metrics/prometheus`, the
    /// bandwidth counters, the gateway's request counters.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// Bytes moved over libp2p connections, all transports and peers, with rates.
    pub fn bandwidth(&self) -> crate::metrics::BwStat {
        self.inner.metrics.bandwidth().total()
    }

    /// The metrics in the OpenMetrics text format: the subsystems' own counters (BitSwap,
    /// the provider queue, the store, the DHT) are sampled first, each for at most
    /// [`crate::metrics::SAMPLE_TIMEOUT`] (one that does not answer is left out).
    pub async fn metrics_text(&self) -> String {
        use crate::metrics::SAMPLE_TIMEOUT;
        use tokio::time::timeout;
        let mut sample = crate::metrics::Sample::default();
        if let Some(o) = self.online() {
            sample.bitswap = timeout(SAMPLE_TIMEOUT, o.bitswap.stat())
                .await
                .ok()
                .and_then(Result::ok);
            sample.provide = timeout(SAMPLE_TIMEOUT, o.net.provide_stats())
                .await
                .ok()
                .and_then(Result::ok);
            sample.net = timeout(SAMPLE_TIMEOUT, o.net.info())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|i| (i.peers, i.routing_table));
        }
        let store = self.inner.store.clone();
        sample.store = timeout(SAMPLE_TIMEOUT, self.blocking(move || Ok(store.stat()?)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|s| (s.num_blocks, s.total_size, s.file_size));
        self.inner.metrics.set_sample(sample);
        self.inner.metrics.encode()
    }

    /// Pins: add (fetching what is missing), remove, list, verify.
    pub fn pin(&self) -> PinApi<'_> {
        PinApi(self)
    }

    /// IPLD nodes: put and get in any supported codec, resolve paths.
    pub fn dag(&self) -> DagApi<'_> {
        DagApi(self)
    }

    /// Raw blocks.
    pub fn block(&self) -> BlockApi<'_> {
        BlockApi(self)
    }

    /// IPNS: publish and resolve.
    pub fn names(&self) -> NameApi<'_> {
        NameApi(self)
    }

    /// The keystore (the keys names are published with).
    pub fn keys(&self) -> &crate::keystore::Keystore {
        self.inner.names.keystore()
    }

    /// The DHT: providers, peers, announcements.
    pub fn routing(&self) -> RoutingApi<'_> {
        RoutingApi(self)
    }

    /// Connections.
    pub fn swarm(&self) -> SwarmApi<'_> {
        SwarmApi(self)
    }

    // --- Plumbing for the RPC API, the gateway and the CLI (crate-internal). ---

    pub(crate) fn online(&self) -> Option<&Online> {
        self.inner.online.as_ref()
    }

    pub(crate) fn network(&self) -> Result<&Network, Error> {
        self.online().map(|o| &o.net).ok_or(Error::Offline)
    }

    pub(crate) fn bitswap(&self) -> Option<&bitswap::Bitswap> {
        self.online().map(|o| &o.bitswap)
    }

    pub(crate) fn naming(&self) -> &Names {
        &self.inner.names
    }

    pub(crate) fn emit(&self, event: Event) {
        // No subscriber is not an error.
        let _ = self.inner.events.send(event);
    }

    /// Where reads find blocks: the store, then BitSwap when online. Prefetches started
    /// through it run on the node's tracker.
    pub(crate) fn source(&self) -> Source {
        Source::new(self.inner.store.clone(), self.bitswap().cloned())
            .with_tasks(self.inner.tasks.clone())
    }

    /// `path` as an `/ipfs/` path: `/ipns/` names are resolved recursively, a bare CID
    /// becomes `/ipfs/<cid>`.
    pub(crate) async fn ipfs_path(&self, path: &str) -> Result<String, Error> {
        if path.starts_with("/ipns/") {
            let options = crate::names::ResolveOptions {
                recursive: true,
                nocache: false,
            };
            return Ok(self.inner.names.resolve(path, options, None).await?);
        }
        let (cid, rest) = crate::path::parse(path)?;
        Ok(if rest.is_empty() {
            format!("/ipfs/{cid}")
        } else {
            format!("/ipfs/{cid}/{rest}")
        })
    }

    /// The CID `path` (`/ipfs/…`, `/ipns/…` or a CID, with a path below) ends at, fetching
    /// the blocks on the way when needed.
    pub async fn resolve(&self, path: &str) -> Result<Cid, Error> {
        let target = self.ipfs_path(path).await?;
        let source = self.source();
        self.blocking(move || Ok(crate::path::resolve(&source, &target)?))
            .await
    }

    /// Queues announcements (per `Provide.Strategy`) of the DAGs under `roots`, just added
    /// or pinned, and lets BitSwap answer peers that asked for blocks we lacked; never
    /// waits for the network. Offline, nothing happens.
    pub(crate) fn announce(&self, roots: Vec<Cid>, pinned: bool) {
        let Some(o) = self.online() else { return };
        o.bitswap.recheck_kept_wants();
        let net = o.net.clone();
        let store = self.inner.store.clone();
        let strategy = self.inner.settings.provide.strategy;
        self.inner.tasks.spawn_blocking(move || {
            for root in roots {
                net.provide_background(crate::net::provide::keys_for_new_dag(
                    &store, strategy, root, pinned,
                ));
            }
        });
    }

    /// Runs store work on the blocking pool, counted by the node's tracker.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.inner.tasks.spawn_blocking(f).await?
    }
}
