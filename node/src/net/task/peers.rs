//! What the network task knows about other peers: the address book (addresses per peer,
//! learnt from identify, the swarm and the bootstrap list, bounded per peer and in all),
//! the live connections (with ping latency), and the dials a `connect` command waits on.
//!
//! Data flow: swarm events come in from the command loop ([`Task::on_connected`],
//! [`Task::on_closed`], [`Task::on_dial_failed`], [`Task::on_identify`]); identify also
//! tells which DHTs a peer speaks, and [`Task::learn`] offers its addresses to those DHTs'
//! routing tables. The first connection and the last disconnection of a peer, and what
//! identify says of it, go on to BitSwap as `PeerEvent`s. The DHT side reads the book back
//! through [`Task::addresses_of`] (provider and peer lookups answer with it).

use super::{Dht, Task};
use crate::net::{KAD_LAN, KAD_WAN, NetError, PeerConn, peer_of};
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError};
use libp2p::{Multiaddr, PeerId, identify};
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// Peers whose addresses are remembered at most.
const MAX_ADDR_BOOK: usize = 8192;
/// Addresses remembered per peer at most.
pub(super) const MAX_ADDRS_PER_PEER: usize = 16;

impl Task {
    pub(super) fn peers(&self) -> Vec<PeerConn> {
        self.connections
            .iter()
            .filter_map(|(peer, conns)| {
                let (_, addr, outbound) = conns.first()?;
                Some(PeerConn {
                    peer: *peer,
                    addr: addr.clone(),
                    outbound: *outbound,
                    latency: self.latency.get(peer).copied(),
                })
            })
            .collect()
    }

    pub(super) fn known_addrs(&mut self) -> BTreeMap<PeerId, Vec<Multiaddr>> {
        let mut out: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
        for dht in [Dht::Wan, Dht::Lan] {
            if let Some(k) = self.kad(dht) {
                for bucket in k.kbuckets() {
                    for e in bucket.iter() {
                        let list = out.entry(*e.node.key.preimage()).or_default();
                        for a in e.node.value.iter().map(|a| without_p2p(a.clone())) {
                            if !list.contains(&a) {
                                list.push(a);
                            }
                        }
                    }
                }
            }
        }
        for (peer, addrs) in &self.addr_book {
            let list = out.entry(*peer).or_default();
            for a in addrs {
                if !list.contains(a) {
                    list.push(a.clone());
                }
            }
        }
        out
    }

    pub(super) fn addresses_of(&mut self, peer: &PeerId) -> Vec<Multiaddr> {
        if *peer == self.local {
            return self.listen.clone();
        }
        let mut out = self.addr_book.get(peer).cloned().unwrap_or_default();
        if let Some(conns) = self.connections.get(peer) {
            for (_, a, outbound) in conns {
                if *outbound && !out.contains(a) {
                    out.push(a.clone());
                }
            }
        }
        if out.is_empty() {
            for dht in [Dht::Wan, Dht::Lan] {
                if let Some(k) = self.kad(dht) {
                    for bucket in k.kbuckets() {
                        for e in bucket.iter() {
                            if e.node.key.preimage() == peer {
                                for a in e.node.value.iter().map(|a| without_p2p(a.clone())) {
                                    if !out.contains(&a) {
                                        out.push(a);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Remembers `addrs` for `peer` and, per `wan`/`lan`, offers them to the DHTs.
    pub(super) fn learn(&mut self, peer: PeerId, addrs: &[Multiaddr], wan: bool, lan: bool) {
        if peer == self.local {
            return;
        }
        let usable: Vec<Multiaddr> = addrs
            .iter()
            .filter(|a| dialable(a))
            .take(MAX_ADDRS_PER_PEER)
            .map(|a| without_p2p(a.clone()))
            .collect();
        if usable.is_empty() {
            return;
        }
        if !self.addr_book.contains_key(&peer) && self.addr_book.len() >= MAX_ADDR_BOOK {
            let victim = self
                .addr_book
                .keys()
                .find(|p| !self.connections.contains_key(p))
                .copied();
            if let Some(v) = victim {
                self.addr_book.remove(&v);
            }
        }
        let list = self.addr_book.entry(peer).or_default();
        for a in &usable {
            if !list.contains(a) {
                if list.len() >= MAX_ADDRS_PER_PEER {
                    list.remove(0);
                }
                list.push(a.clone());
            }
        }
        for (dht, on) in [(Dht::Wan, wan), (Dht::Lan, lan)] {
            if on && let Some(k) = self.kad(dht) {
                for a in &usable {
                    k.add_address(&peer, a.clone());
                }
            }
        }
    }

    pub(super) fn connect(
        &mut self,
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    ) {
        let target = peer_of(&addr);
        if let Some(peer) = target
            && self.connections.contains_key(&peer)
        {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = match target {
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![without_p2p(addr.clone())])
                .condition(PeerCondition::Always)
                .build(),
            None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
        };
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dials.retain(|_, (_, r)| !r.is_closed());
                self.dials.insert(id, (addr, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    addr,
                    reason: error_chain(&e),
                }));
            }
        }
    }

    pub(super) fn on_connected(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        endpoint: ConnectedPoint,
    ) {
        let outbound = endpoint.is_dialer();
        let addr = without_p2p(endpoint.get_remote_address().clone());
        let list = self.connections.entry(peer_id).or_default();
        if list.is_empty()
            && let Some(ev) = &self.peer_events
        {
            ev.send(bitswap::PeerEvent::Connected(peer_id));
        }
        list.push((connection_id, addr, outbound));
        if let Some((_, reply)) = self.dials.remove(&connection_id) {
            let _ = reply.send(Ok(peer_id));
        }
        self.peer_dial_connected(peer_id);
    }

    pub(super) fn on_closed(&mut self, peer_id: PeerId, connection_id: ConnectionId) {
        if let Some(list) = self.connections.get_mut(&peer_id) {
            list.retain(|(c, _, _)| *c != connection_id);
            if list.is_empty() {
                self.connections.remove(&peer_id);
                self.latency.remove(&peer_id);
                if let Some(ev) = &self.peer_events {
                    ev.send(bitswap::PeerEvent::Disconnected(peer_id));
                }
            }
        }
    }

    pub(super) fn on_dial_failed(&mut self, connection_id: ConnectionId, error: DialError) {
        if let Some((addr, reply)) = self.dials.remove(&connection_id) {
            let _ = reply.send(Err(NetError::Dial {
                addr,
                reason: error_chain(&error),
            }));
        }
    }

    pub(super) fn on_identify(&mut self, peer_id: PeerId, info: identify::Info) {
        let wan = info.protocols.iter().any(|p| p.as_ref() == KAD_WAN);
        let lan = info.protocols.iter().any(|p| p.as_ref() == KAD_LAN);
        self.learn(peer_id, &info.listen_addrs, wan, lan);
        if let Some(ev) = &self.peer_events {
            ev.send(bitswap::PeerEvent::Identified {
                peer: peer_id,
                ledger_exchange: info.protocols.contains(&bitswap::exchange::PROTOCOL),
            });
        }
    }
}

/// An error and its causes on one line ("Dial error: ...: peer ... has difficulty 3").
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

/// Whether an address is worth dialling (an IP or DNS transport address, not a wildcard).
pub(super) fn dialable(a: &Multiaddr) -> bool {
    match a.iter().next() {
        Some(Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => !ip.is_unspecified(),
        Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_)) => {
            true
        }
        _ => false,
    }
}

pub(super) fn without_p2p(mut a: Multiaddr) -> Multiaddr {
    if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
        a.pop();
    }
    a
}
