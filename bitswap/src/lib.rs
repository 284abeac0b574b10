//! BitSwap for ipfsd: the wire protocol (`/ipfs/bitswap/1.2.0`, 1.1.0, 1.0.0), a per-peer
//! ledger with the IPFS whitepaper's debt-ratio send strategy, and fetch sessions.
//!
//! Data flow:
//! - [`Bitswap::start`] spawns one engine task (the actor that owns every peer's state,
//!   the ledgers, the sessions and the upload scheduler), a task accepting inbound streams,
//!   and a store-writer thread. Callers hold the cloneable [`Bitswap`] handle.
//! - Inbound: each stream a peer opens gets a reader task that frames, decodes and checks
//!   messages (blocks verified against their CIDs, limits applied) and hands them to the
//!   engine; a peer sending garbage is disconnected through [`Routing::disconnect`].
//! - Serving: a peer's want-blocks queue up in the engine; each scheduling round the
//!   [`strategy::Scheduler`] decides whom to serve, the blocks are read on the blocking pool
//!   and written by that peer's writer task (one long-lived outbound stream per peer, which
//!   also carries our wants to it). Bytes in flight are bounded per peer and in total.
//! - Fetching: [`Bitswap::get`] and [`Bitswap::fetch_dag`] open a [`session::Session`]
//!   that picks peers (connected ones first, DHT providers through [`Routing`] when stuck);
//!   received blocks go to the sessions that want them and to the store writer.
//! - Ledgers (bytes and blocks each way per peer) are persisted in redb and compared with
//!   ipfsd peers on connect over `/ipfsd/ledger/1.0.0` ([`exchange`]).
//!
//! Nothing here knows the transport: outbound streams come from a
//! [`libp2p_stream::Control`], inbound ones from [`inbound::Behaviour`] in the node's swarm,
//! and connection events and provider lookups from the embedding node.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dag::{Block, Cid};
use futures::future::BoxFuture;
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

mod engine;
pub mod exchange;
mod fetch;
pub mod inbound;
pub mod ledger;
mod net;
pub mod protocol;
pub mod session;
mod store;
pub mod strategy;

pub use fetch::FetchStats;
pub use ledger::{Ledger, LedgerDb, LedgerError};
pub use store::Blockstore;
pub use strategy::Strategy;

/// What BitSwap needs from the node's routing and connection management.
pub trait Routing: Send + Sync + 'static {
    /// Finds up to `limit` providers of `cid` and connects to them; answers the peers
    /// now connected.
    fn find_providers(&self, cid: Cid, limit: usize) -> BoxFuture<'static, Vec<PeerId>>;
    /// Closes every connection to a misbehaving peer.
    fn disconnect(&self, peer: PeerId) -> BoxFuture<'static, ()>;
}

/// A connection event from the node (first connection opened / last one closed / the
/// peer identified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEvent {
    /// The first connection to the peer is up.
    Connected(PeerId),
    /// The last connection to the peer closed.
    Disconnected(PeerId),
    /// The peer told its protocols (identify): whether it lists the ledger exchange
    /// ([`exchange::PROTOCOL`]). Only the smaller peer ID opens an exchange, so without this
    /// a peer that does not speak it and has the smaller ID would stay "unknown".
    Identified {
        /// The peer.
        peer: PeerId,
        /// Whether its protocols include the ledger exchange.
        ledger_exchange: bool,
    },
}

/// The sending side of the node's connection events (cheap to clone; never blocks).
#[derive(Debug, Clone)]
pub struct PeerEvents(mpsc::Sender<PeerEvent>);

/// The receiving side, handed to [`Bitswap::start`].
#[derive(Debug)]
pub struct PeerEventsRx(mpsc::Receiver<PeerEvent>);

impl PeerEvents {
    /// A bounded channel for connection events.
    pub fn channel() -> (PeerEvents, PeerEventsRx) {
        let (tx, rx) = mpsc::channel(4096);
        (PeerEvents(tx), PeerEventsRx(rx))
    }

    /// Reports an event; dropped (with a warning) if BitSwap is far behind.
    pub fn send(&self, event: PeerEvent) {
        if let Err(mpsc::error::TrySendError::Full(ev)) = self.0.try_send(event) {
            tracing::warn!(?ev, "bitswap connection event queue full; event dropped");
        }
    }
}

impl PeerEventsRx {
    /// The next event (`None` once every sender is gone), for a node that watches the
    /// events itself and passes them on to BitSwap through another [`PeerEvents`].
    pub async fn recv(&mut self) -> Option<PeerEvent> {
        self.0.recv().await
    }
}

/// BitSwap settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Whom to serve first.
    pub strategy: Strategy,
    /// Where ledgers persist (`None`: memory only).
    pub ledger_path: Option<PathBuf>,
    /// Block bytes queued for sending, all peers together.
    pub upload_window: u64,
    /// Block bytes queued for sending to one peer.
    pub peer_upload_window: u64,
    /// Upload limit in block bytes per second, all peers together (`None`: unlimited).
    pub upload_rate: Option<u64>,
    /// Blocks a DAG fetch keeps wanted at once.
    pub fetch_window: usize,
    /// A fetch fails when no block arrives for this long.
    pub fetch_idle_timeout: Duration,
    /// Seed for the scheduler's randomness (`None`: from the OS).
    pub seed: Option<u64>,
    /// Whether to exchange ledgers with ipfsd peers on connect.
    pub ledger_exchange: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategy: Strategy::Sigmoid,
            ledger_path: None,
            upload_window: 16 << 20,
            peer_upload_window: 16 << 20,
            upload_rate: None,
            fetch_window: 128,
            fetch_idle_timeout: Duration::from_secs(60),
            seed: None,
            ledger_exchange: true,
        }
    }
}

/// Why a BitSwap call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// BitSwap has stopped.
    #[error("bitswap has stopped")]
    Stopped,
    /// No connected peer has it and the DHT knows no provider.
    #[error("block {cid} not found: no connected peer has it and the DHT knows no provider")]
    NotFound {
        /// The block.
        cid: Cid,
    },
    /// Nothing arrived in time.
    #[error("timed out fetching {cid}: no peer delivered it")]
    Timeout {
        /// The block waited for.
        cid: Cid,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Box<dag::StoreError>),
    /// A fetched dag-pb block does not decode.
    #[error("block {cid} is not valid dag-pb: {source}")]
    Decode {
        /// The block.
        cid: Cid,
        /// Why.
        source: dag::DecodeError,
    },
    /// The ledger database failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Counters for `bitswap stat`.
#[derive(Debug, Clone, Default)]
pub struct Stat {
    /// Blocks received (wanted or not).
    pub blocks_received: u64,
    /// Bytes of those blocks.
    pub data_received: u64,
    /// Blocks sent.
    pub blocks_sent: u64,
    /// Bytes of those blocks.
    pub data_sent: u64,
    /// Blocks received that no session wanted any more.
    pub dup_blks_received: u64,
    /// Bytes of those.
    pub dup_data_received: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Peers disconnected for protocol violations.
    pub misbehaving_peers: u64,
    /// Ledger exchanges that agreed.
    pub ledger_agreed: u64,
    /// Ledger exchanges that disagreed (both sides reset).
    pub ledger_resets: u64,
    /// CIDs we want now.
    pub wantlist: Vec<Cid>,
    /// Peers BitSwap knows to be connected.
    pub peers: Vec<PeerId>,
    /// Peers with pending wants served by the scheduler.
    pub serving: usize,
    /// Active fetch sessions.
    pub sessions: usize,
}

/// A ledger as reported by `bitswap ledger`.
#[derive(Debug, Clone)]
pub struct LedgerReport {
    /// The peer.
    pub peer: PeerId,
    /// The ledger.
    pub ledger: Ledger,
    /// Its debt ratio.
    pub debt_ratio: f64,
    /// `P(send | r)`.
    pub send_probability: f64,
    /// Whether the peer takes part in ledger exchange (`None`: not known yet).
    pub exchanges: Option<bool>,
}

pub(crate) type SessionId = u64;

/// What a session's fetcher receives.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A wanted block arrived (verified).
    Block(Block),
    /// Nobody connected has this CID and the DHT knows no provider.
    NotFound(Cid),
}

#[derive(Debug)]
pub(crate) enum Command {
    OpenSession {
        reply: oneshot::Sender<(SessionId, mpsc::Receiver<Delivery>)>,
    },
    Want {
        session: SessionId,
        cids: Vec<Cid>,
    },
    CloseSession {
        session: SessionId,
    },
    Flush {
        reply: oneshot::Sender<()>,
    },
    Stat {
        reply: oneshot::Sender<Stat>,
    },
    Ledger {
        peer: PeerId,
        reply: oneshot::Sender<Option<LedgerReport>>,
    },
    Ledgers {
        reply: oneshot::Sender<Vec<LedgerReport>>,
    },
    Wantlist {
        peer: Option<PeerId>,
        reply: oneshot::Sender<Vec<Cid>>,
    },
    Stop,
}

/// The handle on a running BitSwap (cheap to clone).
#[derive(Debug, Clone)]
pub struct Bitswap {
    tx: mpsc::Sender<Command>,
    store: Arc<dyn Blockstore>,
    pending: store::Pending,
    config: Arc<Config>,
}

impl std::fmt::Debug for dyn Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routing")
    }
}

/// The running engine, to wait for after [`Bitswap::stop`].
#[derive(Debug)]
pub struct Task(tokio::task::JoinHandle<()>);

impl Task {
    /// Waits until the engine stopped and its ledgers are saved.
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

/// What [`Bitswap::start`] needs from the node.
pub struct Parts {
    /// Opens streams.
    pub control: libp2p_stream::Control,
    /// Streams peers opened (from the [`inbound::Behaviour`] in the node's swarm).
    pub incoming: inbound::IncomingStreams,
    /// The node's key (signs ledger views).
    pub keypair: libp2p::identity::Keypair,
    /// Blocks.
    pub store: Arc<dyn Blockstore>,
    /// Provider lookups and disconnects.
    pub routing: Arc<dyn Routing>,
    /// Connection events.
    pub peer_events: PeerEventsRx,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts").finish_non_exhaustive()
    }
}

impl Bitswap {
    /// Starts the engine and begins accepting BitSwap streams.
    pub async fn start(config: Config, parts: Parts) -> Result<(Bitswap, Task), Error> {
        let config = Arc::new(config);
        let store = parts.store.clone();
        let pending = store::Pending::default();
        let (tx, join) = engine::spawn(config.clone(), parts, pending.clone()).await?;
        Ok((
            Bitswap {
                tx,
                store,
                pending,
                config,
            },
            Task(join),
        ))
    }

    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(f(reply)).await.map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// One block: from the store, else from peers (verified and stored).
    pub async fn get(&self, cid: Cid) -> Result<Block, Error> {
        fetch::get(self, cid).await
    }

    /// Fetches the whole DAG under `root` into the store (blocks already held are walked,
    /// not fetched). Only dag-pb links are followed.
    pub async fn fetch_dag(&self, root: Cid) -> Result<FetchStats, Error> {
        fetch::dag(self, root).await
    }

    /// Counters.
    pub async fn stat(&self) -> Result<Stat, Error> {
        self.ask(|reply| Command::Stat { reply }).await
    }

    /// One peer's ledger.
    pub async fn ledger(&self, peer: PeerId) -> Result<Option<LedgerReport>, Error> {
        self.ask(|reply| Command::Ledger { peer, reply }).await
    }

    /// Every ledger.
    pub async fn ledgers(&self) -> Result<Vec<LedgerReport>, Error> {
        self.ask(|reply| Command::Ledgers { reply }).await
    }

    /// Our wantlist, or (with `peer`) what that peer wants from us.
    pub async fn wantlist(&self, peer: Option<PeerId>) -> Result<Vec<Cid>, Error> {
        self.ask(|reply| Command::Wantlist { peer, reply }).await
    }

    /// Stops the engine (ledgers are saved; wait on the [`Task`]).
    pub async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    pub(crate) async fn open_session(
        &self,
    ) -> Result<(SessionId, mpsc::Receiver<Delivery>), Error> {
        self.ask(|reply| Command::OpenSession { reply }).await
    }

    pub(crate) async fn want(&self, session: SessionId, cids: Vec<Cid>) -> Result<(), Error> {
        self.tx
            .send(Command::Want { session, cids })
            .await
            .map_err(|_| Error::Stopped)
    }

    pub(crate) async fn close_session(&self, session: SessionId) {
        let _ = self.tx.send(Command::CloseSession { session }).await;
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        self.ask(|reply| Command::Flush { reply }).await
    }

    pub(crate) fn store(&self) -> &Arc<dyn Blockstore> {
        &self.store
    }

    /// A fetched block not yet committed to the store.
    pub(crate) fn pending(&self, cid: &Cid) -> Option<Bytes> {
        self.pending.get(cid)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}
