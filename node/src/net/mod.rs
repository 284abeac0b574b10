//! The node's libp2p side: the swarm (TCP + QUIC, noise, yamux, identify, ping, connection
//! limits, the S/Kademlia admission gate) and the Kademlia DHT, run by one task.
//!
//! Data flow: [`Network::start`] builds the swarm and spawns the `task` module's event loop, which
//! owns the swarm and all query state. Everything else holds a cloneable [`Network`]
//! handle and sends it commands over a bounded channel, each carrying a `oneshot` (or, for
//! streamed answers, a bounded `mpsc`) for the reply. The DHT runs twice, as in Kubo: the
//! WAN DHT on `/ipfs/kad/1.0.0` and the LAN DHT on `/ipfs/lan/kad/1.0.0` (Kubo keeps its
//! loopback and private-address peers there). Both read and write one record store,
//! [`records::Records`], persisted in `datastore.redb`. Lookups run on both and merge.
//!
//! Providing: keys (multihashes, as Kubo keys provider records) queue in the task and are
//! announced with bounded concurrency; see [`provide`] for the strategy and reprovider.

pub mod pow;
pub mod provide;
pub mod records;
pub(crate) mod stopped;
mod task;
pub mod validate;

use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub use provide::{Health, ProvideStats, RunReport, Strategy, SweepCounts};
pub use records::{Counts, Limits, Records};

/// The WAN DHT protocol.
pub const KAD_WAN: &str = "/ipfs/kad/1.0.0";
/// The LAN DHT protocol (Kubo's dual DHT).
pub const KAD_LAN: &str = "/ipfs/lan/kad/1.0.0";
/// Identify's protocol version string, as Kubo sends it.
pub const PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// Valid answers an `/ipns/` lookup waits for before it stops asking.
pub const IPNS_QUORUM: usize = 16;
/// Commands queued to the network task at most.
const COMMAND_QUEUE: usize = 256;

/// One of the node's two DHTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dht {
    /// The WAN DHT ([`KAD_WAN`]).
    Wan,
    /// The LAN DHT ([`KAD_LAN`]).
    Lan,
}

impl Dht {
    /// Its protocol.
    pub fn protocol(self) -> libp2p::StreamProtocol {
        libp2p::StreamProtocol::new(match self {
            Dht::Wan => KAD_WAN,
            Dht::Lan => KAD_LAN,
        })
    }
}

/// Network settings (read from the config by [`crate::Config::settings`]).
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (`/p2p/` addresses).
    pub bootstrap: Vec<Multiaddr>,
    /// Answer DHT queries (server) or only ask (client); `None` = no DHT.
    pub dht: Option<libp2p::kad::Mode>,
    /// Run the LAN DHT too.
    pub lan_dht: bool,
    /// S/Kademlia disjoint lookup paths.
    pub disjoint_paths: bool,
    /// k.
    pub k: usize,
    /// One query's time limit.
    pub query_timeout: Duration,
    /// Minimum peer PoW difficulty (0 = none).
    pub min_peer_difficulty: u32,
    /// Connection limits.
    pub max_connections: u32,
    /// Per-peer connection limit.
    pub max_connections_per_peer: u32,
    /// Pending handshakes limit (each way).
    pub max_pending: u32,
    /// Idle connection timeout.
    pub idle_timeout: Duration,
    /// Lifetime of provider records and values.
    pub record_ttl: Duration,
    /// Store limits.
    pub limits: Limits,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: vec![
                "/ip4/127.0.0.1/tcp/0"
                    .parse()
                    .unwrap_or_else(|_| Multiaddr::empty()),
            ],
            bootstrap: Vec::new(),
            dht: Some(libp2p::kad::Mode::Server),
            lan_dht: true,
            disjoint_paths: true,
            k: 20,
            query_timeout: Duration::from_secs(30),
            min_peer_difficulty: 0,
            max_connections: 512,
            max_connections_per_peer: 4,
            max_pending: 128,
            idle_timeout: Duration::from_secs(60),
            record_ttl: Duration::from_secs(48 * 3600),
            limits: Limits::default(),
        }
    }
}

/// The peer ID at the end of a `/p2p/` multiaddr.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last()? {
        libp2p::multiaddr::Protocol::P2p(p) => Some(p),
        _ => None,
    }
}

/// A network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The network task has stopped.
    #[error("the node's network is not running")]
    Stopped,
    /// Listening or building the swarm failed.
    #[error("cannot start the network: {reason}")]
    Start {
        /// Why.
        reason: String,
    },
    /// Dialling failed.
    #[error("cannot connect to {addr}: {reason}")]
    Dial {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// The DHT is off (`Routing.Type` is `none`).
    #[error("the DHT is turned off (Routing.Type = none)")]
    NoDht,
    /// Nothing found.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A DHT operation failed.
    #[error("DHT {op} failed: {reason}")]
    Dht {
        /// The operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// A record was refused by our own validator.
    #[error("invalid record for {key}: {reason}")]
    BadRecord {
        /// The key, printable.
        key: String,
        /// Why.
        reason: String,
    },
    /// The answer did not come in time.
    #[error("{op} timed out")]
    Timeout {
        /// The operation.
        op: &'static str,
    },
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConn {
    /// The peer.
    pub peer: PeerId,
    /// The remote address of (one of) its connections.
    pub addr: Multiaddr,
    /// Whether we dialled it.
    pub outbound: bool,
    /// Round-trip time from ping, when measured.
    pub latency: Option<Duration>,
}

/// What the node says about itself.
#[derive(Debug, Clone, Default)]
pub struct Info {
    /// Addresses being listened on.
    pub listen: Vec<Multiaddr>,
    /// Protocols served.
    pub protocols: Vec<String>,
    /// Connected peers.
    pub peers: usize,
    /// Entries in the WAN and LAN routing tables.
    pub routing_table: (usize, usize),
    /// Connections refused for insufficient proof of work.
    pub pow_refused: u64,
    /// DHT values (`PUT_VALUE`s from peers) refused, and the reason for the latest.
    pub records_refused: (u64, Option<String>),
    /// The record store's counts.
    pub records: Counts,
}

/// A provider found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The provider.
    pub peer: PeerId,
    /// Its known addresses.
    pub addrs: Vec<Multiaddr>,
}

/// How a lookup went (for `findprovs` and the DHT benchmark).
#[derive(Debug, Clone, Default)]
pub struct LookupStats {
    /// Requests sent to peers.
    pub requests: u32,
    /// Requests answered.
    pub successes: u32,
    /// Wall time until the lookup finished.
    pub duration: Duration,
    /// Time until the first provider arrived.
    pub first: Option<Duration>,
}

/// Streamed answers of [`Network::find_providers_stream`].
#[derive(Debug, Clone)]
pub enum ProviderEvent {
    /// One provider.
    Found(Provider),
    /// The lookup ended.
    Done(LookupStats),
}

#[derive(Debug)]
pub(crate) enum Command {
    Info {
        reply: oneshot::Sender<Info>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerConn>>,
    },
    KnownAddrs {
        reply: oneshot::Sender<BTreeMap<PeerId, Vec<Multiaddr>>>,
    },
    Connect {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    ConnectPeer {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    FindProviders {
        key: RecordKey,
        limit: usize,
        events: mpsc::Sender<ProviderEvent>,
    },
    FindPeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<Vec<Multiaddr>, NetError>>,
    },
    GetValue {
        key: RecordKey,
        /// Each better value as the lookup finds it (`name resolve --stream`).
        updates: Option<mpsc::Sender<Vec<u8>>>,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    },
    PutValue {
        key: RecordKey,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Provide {
        keys: Vec<RecordKey>,
        /// `None`: queue and forget (announced in the background).
        reply: Option<oneshot::Sender<Result<(), NetError>>>,
    },
    ProvideStats {
        reply: oneshot::Sender<ProvideStats>,
    },
    /// A lookup of the peers closest to `key` on one DHT (the sweeping reprovider), with
    /// this node's external addresses.
    ClosestPeers {
        dht: Dht,
        key: Vec<u8>,
        reply: oneshot::Sender<Result<(provide::sweep::Closest, Vec<Multiaddr>), NetError>>,
    },
    Bootstrap {
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// A reprovide run's progress.
    Reprovide(RunReport),
    Stop,
}

/// A handle on the running network task (cheap to clone).
#[derive(Clone)]
pub struct Network {
    tx: mpsc::Sender<Command>,
    local: PeerId,
    records: Records,
    streams: libp2p_stream::Control,
    incoming: Arc<std::sync::Mutex<Option<bitswap::inbound::IncomingStreams>>>,
    /// The DHTs running (for the sweeping reprovider).
    dhts: Vec<Dht>,
    /// The DHTs' replication factor.
    k: usize,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// The running network task, to wait for after [`Network::stop`].
#[derive(Debug)]
pub struct NetTask(tokio::task::JoinHandle<()>);

impl NetTask {
    /// Waits until the task has stopped and its records are on disk.
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

impl Network {
    /// Builds the swarm, starts listening and spawns the network task (its metrics in a
    /// registry of its own).
    pub async fn start(
        keypair: libp2p::identity::Keypair,
        config: NetConfig,
        records: Records,
        peer_events: Option<bitswap::PeerEvents>,
    ) -> Result<(Network, NetTask), NetError> {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        Self::start_metered(keypair, config, records, peer_events, metrics).await
    }

    /// [`Network::start`], recording swarm events and traffic in `metrics`.
    pub async fn start_metered(
        keypair: libp2p::identity::Keypair,
        config: NetConfig,
        records: Records,
        peer_events: Option<bitswap::PeerEvents>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<(Network, NetTask), NetError> {
        let local = keypair.public().to_peer_id();
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let dhts = match config.dht {
            None => Vec::new(),
            Some(_) if config.lan_dht => vec![Dht::Wan, Dht::Lan],
            Some(_) => vec![Dht::Wan],
        };
        let k = config.k;
        let (join, streams, incoming) =
            task::spawn(keypair, config, records.clone(), rx, peer_events, metrics).await?;
        Ok((
            Network {
                tx,
                local,
                records,
                streams,
                incoming: Arc::new(std::sync::Mutex::new(Some(incoming))),
                dhts,
                k,
            },
            NetTask(join),
        ))
    }

    /// Opens raw protocol streams (BitSwap, ledger exchange).
    pub fn stream_control(&self) -> libp2p_stream::Control {
        self.streams.clone()
    }

    /// The inbound BitSwap streams; only the first caller gets them.
    pub fn take_bitswap_streams(&self) -> Option<bitswap::inbound::IncomingStreams> {
        self.incoming.lock().ok().and_then(|mut g| g.take())
    }

    /// This node's peer ID.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The record store.
    pub fn records(&self) -> &Records {
        &self.records
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Stops the network task (connections close, records are flushed).
    pub async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    /// Listen addresses, protocols and counters.
    pub async fn info(&self) -> Result<Info, NetError> {
        self.ask(|reply| Command::Info { reply }).await
    }

    /// Connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerConn>, NetError> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Every peer the node knows addresses for (routing tables and identify).
    pub async fn known_addrs(&self) -> Result<BTreeMap<PeerId, Vec<Multiaddr>>, NetError> {
        self.ask(|reply| Command::KnownAddrs { reply }).await
    }

    /// Dials `addr` and waits for the connection (or its failure).
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        self.ask(|reply| Command::Connect { addr, reply }).await?
    }

    /// Connects to `peer` at any of `addrs` (none: the addresses the node knows for it),
    /// QUIC first, the others after a head start; waits for the connection or the failure of
    /// every address.
    pub async fn connect_peer(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<PeerId, NetError> {
        self.ask(|reply| Command::ConnectPeer { peer, addrs, reply })
            .await?
    }

    /// Closes every connection to `peer`; false if there were none.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::Disconnect { peer, reply }).await
    }

    /// Looks up providers of `key`, streaming them as they arrive (at most `limit`).
    pub async fn find_providers_stream(
        &self,
        key: RecordKey,
        limit: usize,
    ) -> Result<mpsc::Receiver<ProviderEvent>, NetError> {
        let (events, rx) = mpsc::channel(64);
        self.tx
            .send(Command::FindProviders { key, limit, events })
            .await
            .map_err(|_| NetError::Stopped)?;
        Ok(rx)
    }

    /// Looks up providers of `key`: all of them (at most `limit`), with the lookup's stats.
    pub async fn find_providers(
        &self,
        key: RecordKey,
        limit: usize,
    ) -> Result<(Vec<Provider>, LookupStats), NetError> {
        let mut rx = self.find_providers_stream(key, limit).await?;
        let mut found = Vec::new();
        while let Some(ev) = rx.recv().await {
            match ev {
                ProviderEvent::Found(p) => found.push(p),
                ProviderEvent::Done(stats) => return Ok((found, stats)),
            }
        }
        Err(NetError::Stopped)
    }

    /// Finds a peer's addresses.
    pub async fn find_peer(&self, peer: PeerId) -> Result<Vec<Multiaddr>, NetError> {
        self.ask(|reply| Command::FindPeer { peer, reply }).await?
    }

    /// Gets a value (`/ipns/…` or `/pk/…`) from the DHT; it is validated first. An
    /// `/ipns/` lookup collects up to [`IPNS_QUORUM`] valid answers and returns the best
    /// record; peers that answered an older one (or none, among the closest) are sent the
    /// best one afterwards.
    pub async fn get_value(&self, key: Vec<u8>) -> Result<Vec<u8>, NetError> {
        let key = RecordKey::new(&key);
        self.ask(|reply| Command::GetValue {
            key,
            updates: None,
            reply,
        })
        .await?
    }

    /// [`Network::get_value`], also sending each better value to `updates` as it is
    /// found (a full channel drops an intermediate one; the final answer is returned).
    pub async fn get_value_updates(
        &self,
        key: Vec<u8>,
        updates: mpsc::Sender<Vec<u8>>,
    ) -> Result<Vec<u8>, NetError> {
        let key = RecordKey::new(&key);
        self.ask(|reply| Command::GetValue {
            key,
            updates: Some(updates),
            reply,
        })
        .await?
    }

    /// Validates and stores a value, locally and on the closest peers.
    pub async fn put_value(&self, key: Vec<u8>, value: Vec<u8>) -> Result<(), NetError> {
        let key = RecordKey::new(&key);
        self.ask(|reply| Command::PutValue { key, value, reply })
            .await?
    }

    /// Announces `keys` (multihashes) and waits until each announcement has finished.
    pub async fn provide(&self, keys: Vec<RecordKey>) -> Result<(), NetError> {
        self.ask(|reply| Command::Provide {
            keys,
            reply: Some(reply),
        })
        .await?
    }

    /// Queues `keys` for announcement in the background; never waits for the network
    /// (if the queue is full the keys wait for the next reprovide).
    pub fn provide_background(&self, keys: Vec<RecordKey>) {
        if keys.is_empty() {
            return;
        }
        if self
            .tx
            .try_send(Command::Provide { keys, reply: None })
            .is_err()
        {
            tracing::debug!("network busy: announcement left to the reprovider");
        }
    }

    /// Counters of the provide queue and the reprovider.
    pub async fn provide_stats(&self) -> Result<ProvideStats, NetError> {
        self.ask(|reply| Command::ProvideStats { reply }).await
    }

    pub(crate) async fn reprovide_report(&self, report: RunReport) -> Result<(), NetError> {
        self.tx
            .send(Command::Reprovide(report))
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// The peers closest to `key` (a lookup on `dht`), and this node's external addresses.
    pub(crate) async fn closest_peers(
        &self,
        dht: Dht,
        key: Vec<u8>,
    ) -> Result<(provide::sweep::Closest, Vec<Multiaddr>), NetError> {
        self.ask(|reply| Command::ClosestPeers { dht, key, reply })
            .await?
    }

    /// The DHTs running, and their replication factor.
    pub(crate) fn dhts(&self) -> (&[Dht], usize) {
        (&self.dhts, self.k)
    }

    /// Runs a routing-table refresh now.
    pub async fn bootstrap(&self) -> Result<(), NetError> {
        self.ask(|reply| Command::Bootstrap { reply }).await?
    }
}

/// The DHT key of a multihash (provider records are keyed by the multihash, not the CID).
pub fn provider_key(cid: &dag::Cid) -> RecordKey {
    RecordKey::new(&cid.hash().to_bytes())
}
