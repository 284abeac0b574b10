//! Accepting inbound BitSwap (and ledger-exchange) streams: a tiny network behaviour whose
//! connection handlers negotiate those protocols and hand every stream to one bounded
//! queue that the engine's acceptor drains.
//!
//! Why not `libp2p-stream`'s `accept`: it queues at most one inbound stream per protocol
//! and drops the rest while its consumer is not scheduled. Kubo opens a fresh stream for
//! each message it sends, so bursts of streams are normal; here they queue (up to
//! [`QUEUE`]). Outbound streams still come from a `libp2p_stream::Control`.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{DeniedUpgrade, InboundUpgrade, UpgradeInfo};
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{PeerId, Stream, StreamProtocol};
use tokio::sync::mpsc;

/// Inbound streams queued for the acceptor, all connections together.
pub const QUEUE: usize = 1024;

/// A negotiated inbound stream.
pub type Incoming = (PeerId, Stream, StreamProtocol);

/// The receiving end, handed to [`crate::Bitswap::start`].
#[derive(Debug)]
pub struct IncomingStreams(pub(crate) mpsc::Receiver<Incoming>);

/// The behaviour: add it to the node's swarm.
#[derive(Debug)]
pub struct Behaviour {
    tx: mpsc::Sender<Incoming>,
    protocols: Vec<StreamProtocol>,
}

impl Behaviour {
    /// Accepts BitSwap 1.2.0/1.1.0/1.0.0/legacy and the ledger-exchange protocol.
    pub fn new() -> (Behaviour, IncomingStreams) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut protocols = crate::protocol::PROTOCOLS.to_vec();
        protocols.push(crate::exchange::PROTOCOL);
        (Behaviour { tx, protocols }, IncomingStreams(rx))
    }

    fn handler(&self, peer: PeerId) -> Handler {
        Handler {
            peer,
            tx: self.tx.clone(),
            protocols: self.protocols.clone(),
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn on_swarm_event(&mut self, _: FromSwarm<'_>) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// Per connection: negotiates the accepted protocols, queues each stream.
#[derive(Debug)]
pub struct Handler {
    peer: PeerId,
    tx: mpsc::Sender<Incoming>,
    protocols: Vec<StreamProtocol>,
}

/// The protocols offered inbound.
#[derive(Debug, Clone)]
pub struct Protocols(Vec<StreamProtocol>);

impl UpgradeInfo for Protocols {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Protocols {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Infallible>>;

    fn upgrade_inbound(self, stream: Stream, info: StreamProtocol) -> Self::Future {
        ready(Ok((stream, info)))
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = Protocols;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = Infallible;

    fn listen_protocol(&self) -> SubstreamProtocol<Protocols, ()> {
        SubstreamProtocol::new(Protocols(self.protocols.clone()), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<DeniedUpgrade, Infallible, Infallible>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Infallible) {
        match event {}
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<'_, Protocols, DeniedUpgrade, (), Infallible>,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: (stream, protocol),
            ..
        }) = event
            && self.tx.try_send((self.peer, stream, protocol)).is_err()
        {
            tracing::debug!(peer = %self.peer, "inbound stream queue full; stream dropped");
        }
    }
}
