//! The S/Kademlia admission rule: peers whose ID falls short of the configured
//! proof-of-work difficulty get no connection at all, so they never enter a routing table
//! and are never served.
//!
//! The check sits in the swarm's connection admission (before any protocol handler
//! exists): an outbound dial to a known weak peer is refused before it starts, and an
//! established connection (inbound, or outbound to an address whose peer was unknown) is
//! denied as soon as the peer ID is authenticated by the security handshake.

use crate::identity::difficulty as difficulty_of;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};
use std::convert::Infallible;
use std::task::{Context, Poll};

/// A peer was refused for its proof of work.
#[derive(Debug, thiserror::Error)]
#[error("peer {peer} has proof-of-work difficulty {difficulty}, below the required {required}")]
#[non_exhaustive]
pub struct TooWeak {
    /// The peer.
    pub peer: PeerId,
    /// Its difficulty (leading zero bits of sha256 of its ID).
    pub difficulty: u32,
    /// The configured minimum.
    pub required: u32,
}

/// The admission behaviour (no protocol of its own).
#[derive(Debug)]
pub struct Gate {
    min: u32,
    refused: u64,
}

impl Gate {
    /// Admits peers with difficulty `>= min` (0 admits everyone).
    pub fn new(min: u32) -> Gate {
        Gate { min, refused: 0 }
    }

    /// Connections refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn check(&mut self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.min == 0 {
            return Ok(());
        }
        let difficulty = difficulty_of(peer);
        if difficulty >= self.min {
            return Ok(());
        }
        self.refused += 1;
        tracing::debug!(%peer, difficulty, required = self.min, "refusing peer below PoW difficulty");
        Err(ConnectionDenied::new(TooWeak {
            peer: *peer,
            difficulty,
            required: self.min,
        }))
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.check(&peer)?;
        }
        Ok(vec![])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        Ok(dummy::ConnectionHandler)
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

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_and_admits_at_or_above() {
        let weak = (0..)
            .map(|_| PeerId::random())
            .find(|p| difficulty_of(p) < 4)
            .unwrap();
        let strong = (0..)
            .map(|_| PeerId::random())
            .find(|p| difficulty_of(p) >= 4)
            .unwrap();
        let mut gate = Gate::new(4);
        assert!(gate.check(&strong).is_ok());
        let denied = gate.check(&weak).unwrap_err();
        let why = denied.downcast::<TooWeak>().unwrap();
        assert_eq!(why.required, 4);
        assert!(why.difficulty < 4);
        assert_eq!(gate.refused(), 1);
        assert!(Gate::new(0).check(&weak).is_ok());
    }
}
