//! What BitSwap needs from the node that embeds it: provider lookups and disconnects
//! ([`Routing`]), connection events ([`PeerEvent`] through a bounded [`PeerEvents`]
//! channel) and, at start, the [`Parts`] (stream control, inbound streams, key, block
//! store). Data flows from the node into the engine only; nothing here holds state.

use std::sync::Arc;

use dag::Cid;
use futures::future::BoxFuture;
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::inbound;
use crate::store::Blockstore;

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
    /// ([`crate::exchange::PROTOCOL`]). Only the smaller peer ID opens an exchange, so without this
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

/// The receiving side, handed to [`crate::Bitswap::start`].
#[derive(Debug)]
pub struct PeerEventsRx(pub(crate) mpsc::Receiver<PeerEvent>);

impl PeerEventsRx {
    /// The next event (`None` once every sender is gone), for a node that watches the
    /// events itself and passes them on to BitSwap through another [`PeerEvents`].
    pub async fn recv(&mut self) -> Option<PeerEvent> {
        self.0.recv().await
    }
}

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

impl std::fmt::Debug for dyn Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routing")
    }
}

/// What [`crate::Bitswap::start`] needs from the node.
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
    /// Where every BitSwap task is spawned (the node's tracker), so the node can count
    /// them and wait for them at shutdown.
    pub tasks: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts").finish_non_exhaustive()
    }
}
