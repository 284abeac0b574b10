//! [`NodeBuilder`]: where a [`Node`] keeps its data, how it joins the network, and the
//! start sequence (store → network → BitSwap → reprovider → names), every task spawned on
//! the node's tracker.

use super::{EVENT_BUFFER, Error, Event, Inner, Node, Online};
use crate::config::{Config, Settings};
use crate::identity::Identity;
use crate::keystore::Keystore;
use crate::names::Names;
use crate::net::{Network, records::Records};
use crate::repo::Repo;
use dag::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long after start the first reprovide runs.
const FIRST_REPROVIDE: Duration = Duration::from_secs(15);

/// How often the bandwidth rates are sampled.
const BANDWIDTH_TICK: Duration = Duration::from_secs(1);

/// The DHT datastore file in a repository.
pub(crate) const DATASTORE_FILE: &str = "datastore.redb";

/// Where the node's data lives.
#[derive(Debug, Default)]
enum Storage {
    /// Nothing in any directory: gone when the node stops.
    #[default]
    Memory,
    /// A repository directory, created if it does not exist.
    Dir(PathBuf),
    /// A repository opened by the caller.
    Repo(Box<Repo>),
}

/// Builds a [`Node`] (from [`Node::builder`]). By default the node keeps everything in
/// memory, listens on a free loopback TCP port, dials no one, and runs online.
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until spawn().await"]
pub struct NodeBuilder {
    storage: Storage,
    config: Option<Config>,
    listen: Option<Vec<String>>,
    bootstrap: Option<Vec<String>>,
    offline: bool,
    identity: Option<Identity>,
    auto_gc: bool,
}

impl NodeBuilder {
    /// Keeps the node's data in the repository at `path`, creating it (with the
    /// [`config`](NodeBuilder::config) given, else the defaults) when it does not exist.
    pub fn repo(mut self, path: impl Into<PathBuf>) -> Self {
        self.storage = Storage::Dir(path.into());
        self
    }

    /// Runs on a repository already open (its config unless [`config`](NodeBuilder::config)
    /// replaces it for this run).
    pub fn open(mut self, repo: Repo) -> Self {
        self.storage = Storage::Repo(Box::new(repo));
        self
    }

    /// Keeps everything (blocks, keys, names, DHT records) in memory: the default. The
    /// node has a fresh identity unless [`identity`](NodeBuilder::identity) gives one.
    pub fn in_memory(mut self) -> Self {
        self.storage = Storage::Memory;
        self
    }

    /// The configuration to run with (a new repository also saves it). Without it: the
    /// repository's own, or the defaults (in memory: listening on a free loopback port).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The swarm's listen multiaddrs for this run (e.g. `/ip4/127.0.0.1/tcp/0`).
    pub fn listen<S: Into<String>>(mut self, addrs: impl IntoIterator<Item = S>) -> Self {
        self.listen = Some(addrs.into_iter().map(Into::into).collect());
        self
    }

    /// The peers dialled at start (`/ip4/…/tcp/…/p2p/<id>` multiaddrs) for this run.
    pub fn bootstrap<S: Into<String>>(mut self, addrs: impl IntoIterator<Item = S>) -> Self {
        self.bootstrap = Some(addrs.into_iter().map(Into::into).collect());
        self
    }

    /// Runs without the network: no swarm, DHT or BitSwap (like `ipfsd --offline`).
    pub fn offline(mut self) -> Self {
        self.offline = true;
        self
    }

    /// Collects garbage automatically (`ipfsd daemon --enable-gc`): every
    /// `Datastore.GCPeriod`, when writes pass the `Datastore.StorageGCWatermark`, and
    /// before an add fails at `Datastore.StorageMax`. Off by default: an add past the
    /// limit fails at once.
    pub fn auto_gc(mut self, on: bool) -> Self {
        self.auto_gc = on;
        self
    }

    /// The identity of an in-memory node (ignored with a repository, which has its own).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Starts the node. Returns once the store is open and (online) the swarm listens.
    pub async fn spawn(self) -> Result<Node, Error> {
        let NodeBuilder {
            storage,
            config,
            listen,
            bootstrap,
            offline,
            identity,
            auto_gc,
        } = self;
        let (store, identity, repo_path, mut config) =
            open_storage(storage, config, identity).await?;
        if let Some(addrs) = listen {
            config.addresses.swarm = addrs;
        }
        if let Some(peers) = bootstrap {
            config.bootstrap = peers;
        }
        // Every config value parsed once; a bad one fails the start, naming its key.
        let settings = Arc::new(config.settings()?);
        store.set_hash_on_read(settings.datastore.hash_on_read);
        let tasks = TaskTracker::new();
        let cancel = CancellationToken::new();
        // The quota holds for every write through this node (adds from the API, the CLI
        // and the gateway, `block put`, fetches); with auto GC, a task collects garbage.
        let metrics = Arc::new(crate::metrics::Metrics::new());
        if auto_gc {
            super::autogc::spawn(
                store.clone(),
                settings.datastore,
                &tasks,
                cancel.clone(),
                metrics.clone(),
            );
        } else {
            store.set_quota(Some(settings.datastore.quota(false)));
        }
        // A failure from here on stops what already started (the swarm, BitSwap).
        let stop_on_error = cancel.clone().drop_guard();
        let (events, _) = tokio::sync::broadcast::channel(EVENT_BUFFER);
        let online = if offline {
            None
        } else {
            Some(
                start_network(
                    &store,
                    &identity,
                    repo_path.as_deref(),
                    &settings,
                    &tasks,
                    &cancel,
                    &events,
                    &metrics,
                )
                .await?,
            )
        };
        let keystore = match &repo_path {
            Some(path) => Keystore::new(path, identity.keypair().clone()),
            None => Keystore::in_memory(identity.keypair().clone()),
        };
        let names = Names::open(
            repo_path.as_deref(),
            keystore,
            online.as_ref().map(|o| o.net.clone()),
            settings.ipns.resolve_cache_size,
        )?;
        if online.is_some() {
            // Online, the node answers for its names from the start and keeps them alive.
            names.load_own_records();
            names.spawn_republisher(settings.ipns.republish_period, cancel.child_token(), &tasks);
        }
        stop_on_error.disarm();
        tracing::info!(
            peer = %identity.peer_id(),
            repo = ?repo_path,
            online = online.is_some(),
            "node ready"
        );
        Ok(Node {
            inner: Arc::new(Inner {
                store,
                identity,
                config: Arc::new(config),
                repo_path,
                online,
                names,
                settings,
                tasks,
                cancel,
                events,
                metrics,
            }),
        })
    }
}

/// The config of an in-memory node when none is given: the defaults, listening on a
/// free loopback TCP port.
fn in_memory_config() -> Config {
    let mut config = Config::default();
    config.addresses.swarm = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config
}

/// Opens (or creates) the repository, or makes an in-memory store and identity.
async fn open_storage(
    storage: Storage,
    config: Option<Config>,
    identity: Option<Identity>,
) -> Result<(Store, Identity, Option<PathBuf>, Config), Error> {
    match storage {
        Storage::Memory => {
            let config = config.unwrap_or_else(in_memory_config);
            let difficulty = config.routing.min_peer_difficulty;
            let (store, identity) = tokio::task::spawn_blocking(move || {
                let identity =
                    identity.unwrap_or_else(|| Identity::generate_with_difficulty(difficulty));
                Ok::<_, Error>((Store::in_memory()?, identity))
            })
            .await??;
            Ok((store, identity, None, config))
        }
        Storage::Dir(path) => {
            let repo = tokio::task::spawn_blocking(move || {
                if path.join(crate::repo::CONFIG_FILE).exists() {
                    Repo::open(&path)
                } else {
                    // As for an in-memory node: the identity meets the difficulty the
                    // node asks of its peers (none by default).
                    let new = config.clone().unwrap_or_default();
                    let difficulty = new.routing.min_peer_difficulty;
                    Repo::init_with_identity(&path, &new, || {
                        Identity::generate_with_difficulty(difficulty)
                    })
                }
                .map(|repo| (repo, config))
            })
            .await??;
            let (repo, config) = repo;
            let config = config.unwrap_or_else(|| repo.config().clone());
            Ok(repo_parts(repo, config))
        }
        Storage::Repo(repo) => {
            let config = config.unwrap_or_else(|| repo.config().clone());
            Ok(repo_parts(*repo, config))
        }
    }
}

fn repo_parts(repo: Repo, config: Config) -> (Store, Identity, Option<PathBuf>, Config) {
    (
        repo.store().clone(),
        repo.identity().clone(),
        Some(repo.path().to_path_buf()),
        config,
    )
}

/// Opens the DHT datastore, starts the swarm, BitSwap and the reprovider, and the task
/// that stops them all when the node is cancelled.
#[allow(clippy::too_many_arguments)] // one call site, the start sequence's shared state
async fn start_network(
    store: &Store,
    identity: &Identity,
    repo: Option<&std::path::Path>,
    settings: &Settings,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    events: &tokio::sync::broadcast::Sender<Event>,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Result<Online, Error> {
    let net_config = settings.net.clone();
    let local = identity.peer_id();
    let limits = net_config.limits;
    let datastore = repo.map(|r| r.join(DATASTORE_FILE));
    let records = tokio::task::spawn_blocking(move || match datastore {
        Some(path) => Records::open(&path, local, limits),
        None => Records::in_memory(local, limits),
    })
    .await??;
    // In memory, the ledgers are too (no ledger_path).
    let bitswap_config = match repo {
        Some(repo) => crate::content::bitswap_config(&settings.bitswap, repo),
        None => settings.bitswap.clone(),
    };
    // Connection events go to BitSwap through the node, which reports them as events.
    let (peer_tx, mut peer_rx) = bitswap::PeerEvents::channel();
    let (bitswap_tx, bitswap_rx) = bitswap::PeerEvents::channel();
    let (net, net_task) = Network::start_metered(
        identity.keypair().clone(),
        net_config,
        records,
        Some(peer_tx),
        metrics.clone(),
    )
    .await?;
    // The bandwidth rates: one sample of the totals a second, until the node stops.
    let bandwidth = metrics.bandwidth().clone();
    let ticking = cancel.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(BANDWIDTH_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = ticking.cancelled() => return,
                now = tick.tick() => {
                    bandwidth.tick(now - last);
                    last = now;
                }
            }
        }
    });
    let started = async {
        let incoming = net
            .take_bitswap_streams()
            .ok_or_else(|| crate::net::NetError::Start {
                reason: "bitswap streams already taken".into(),
            })?;
        let parts = bitswap::Parts {
            control: net.stream_control(),
            incoming,
            keypair: identity.keypair().clone(),
            store: Arc::new(store.clone()),
            routing: Arc::new(crate::content::Routing::new(net.clone())),
            peer_events: bitswap_rx,
            tasks: tasks.clone(),
        };
        Ok::<_, Error>(bitswap::Bitswap::start(bitswap_config, parts).await?)
    };
    let (bitswap, bitswap_task) = match started.await {
        Ok(started) => started,
        Err(e) => {
            // Nothing supervises the swarm yet: stop it here.
            net.stop().await;
            net_task.wait().await;
            return Err(e);
        }
    };
    let events = events.clone();
    tasks.spawn(async move {
        // Ends when the swarm stops (its sender is dropped).
        while let Some(ev) = peer_rx.recv().await {
            bitswap_tx.send(ev);
            let _ = match ev {
                bitswap::PeerEvent::Connected(p) => events.send(Event::PeerConnected(p)),
                bitswap::PeerEvent::Disconnected(p) => events.send(Event::PeerDisconnected(p)),
                bitswap::PeerEvent::Identified { .. } => Ok(0),
            };
        }
    });
    let interval = settings.provide.interval;
    let reprovider = crate::net::provide::spawn_reprovider(
        net.clone(),
        store.clone(),
        settings.provide.strategy,
        settings.provide.mode,
        interval.map_or(FIRST_REPROVIDE, |i| FIRST_REPROVIDE.min(i)),
        interval,
        tasks,
    );
    let online = Online {
        net,
        bitswap,
        reprovider,
    };
    let parts = online.clone();
    let stop = cancel.clone();
    tasks.spawn(async move {
        stop.cancelled().await;
        parts.reprovider.stop();
        parts.bitswap.stop().await;
        bitswap_task.wait().await;
        parts.net.stop().await;
        net_task.wait().await;
    });
    Ok(online)
}
