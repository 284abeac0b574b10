//! Dialling a peer known at several addresses, QUIC first.
//!
//! Over a long fat link a QUIC connection moves far more than TCP + yamux: quinn's stream
//! and connection windows (10/15 MB in libp2p-quic) cover a 100 Mbit/s × 200 ms path, while
//! a yamux stream gets 256 KiB–1 MiB per round trip (DESIGN.md, "QUIC and TCP in the lab":
//! 100 MB at 200 ms reached 73–86% of the link over QUIC, 57% over TCP). Its handshake is
//! also one round trip. So a peer's QUIC addresses are dialled first and the others only
//! when every QUIC dial failed or none connected within [`QUIC_HEAD_START`] (go-libp2p's
//! dial ranker gives QUIC the same head start). Every peer dial ends within [`DIAL_LIMIT`].

use super::Task;
use super::peers::{dialable, without_p2p};
use crate::net::NetError;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long QUIC addresses are tried alone before the others join.
pub(super) const QUIC_HEAD_START: Duration = Duration::from_millis(250);
/// A peer dial that has neither connected nor failed by then fails.
const DIAL_LIMIT: Duration = Duration::from_secs(20);
/// Peers dialled at once through [`Task::dial_peer`] at most.
const MAX_PEER_DIALS: usize = 1024;

/// One peer being dialled.
pub(super) struct PeerDial {
    waiters: Vec<oneshot::Sender<Result<PeerId, NetError>>>,
    /// Dials under way.
    pending: Vec<ConnectionId>,
    /// Addresses held back until `later_at` (or until every pending dial failed).
    later: Vec<Multiaddr>,
    later_at: Instant,
    deadline: Instant,
    /// The first address tried and the last failure, for the error.
    first: Multiaddr,
    error: Option<String>,
}

fn is_quic(a: &Multiaddr) -> bool {
    a.iter().any(|p| matches!(p, Protocol::QuicV1))
}

/// `addrs` (deduplicated, dialable, without `/p2p`) split into what is dialled at once and
/// what waits: QUIC first when there is any, otherwise everything at once.
pub(super) fn rank(addrs: &[Multiaddr]) -> (Vec<Multiaddr>, Vec<Multiaddr>) {
    let mut all: Vec<Multiaddr> = Vec::new();
    for a in addrs.iter().filter(|a| dialable(a)) {
        let a = without_p2p(a.clone());
        if !all.contains(&a) {
            all.push(a);
        }
    }
    let (quic, other): (Vec<_>, Vec<_>) = all.into_iter().partition(is_quic);
    if quic.is_empty() {
        (other, Vec::new())
    } else {
        (quic, other)
    }
}

impl Task {
    /// Dials `peer` at `addrs` (or, when empty, the addresses the node knows for it), QUIC
    /// first; `reply` (when given) gets the outcome.
    pub(super) fn dial_peer(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: Option<oneshot::Sender<Result<PeerId, NetError>>>,
    ) {
        if self.connections.contains_key(&peer) {
            if let Some(r) = reply {
                let _ = r.send(Ok(peer));
            }
            return;
        }
        if let Some(d) = self.peer_dials.get_mut(&peer) {
            d.waiters.extend(reply);
            d.waiters.retain(|w| !w.is_closed());
            let (quic, other) = rank(&addrs);
            for a in quic.into_iter().chain(other) {
                if !d.later.contains(&a) && d.first != a {
                    d.later.push(a);
                }
            }
            return;
        }
        let addrs = if addrs.is_empty() {
            self.addresses_of(&peer)
        } else {
            addrs
        };
        let (now, later) = rank(&addrs);
        let fail = |reply: Option<oneshot::Sender<_>>, addr: Multiaddr, reason: &str| {
            if let Some(r) = reply {
                let _ = r.send(Err(NetError::Dial {
                    addr,
                    reason: reason.into(),
                }));
            }
        };
        let Some(first) = now.first().cloned() else {
            let addr = Multiaddr::empty().with(Protocol::P2p(peer));
            return fail(reply, addr, "no address known");
        };
        if self.peer_dials.len() >= MAX_PEER_DIALS {
            self.peer_dials
                .retain(|_, d| d.waiters.iter().any(|w| !w.is_closed()));
            if self.peer_dials.len() >= MAX_PEER_DIALS {
                return fail(reply, first, "too many dials under way");
            }
        }
        let start = Instant::now();
        let mut dial = PeerDial {
            waiters: reply.into_iter().collect(),
            pending: Vec::new(),
            later,
            later_at: start + QUIC_HEAD_START,
            deadline: start + DIAL_LIMIT,
            first,
            error: None,
        };
        self.start_dial(peer, &mut dial, now);
        self.settle(peer, dial);
    }

    fn start_dial(&mut self, peer: PeerId, dial: &mut PeerDial, addrs: Vec<Multiaddr>) {
        // `Disconnected`, not `...AndNotDialing`: a dial already under way (Kademlia's, or
        // this peer's QUIC one when the others follow) would make this one fail at once
        // though the peer may connect a moment later.
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::Disconnected)
            .build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => dial.pending.push(id),
            Err(e) => dial.error = Some(e.to_string()),
        }
    }

    /// Keeps `dial` if something is pending or held back; otherwise answers its waiters.
    fn settle(&mut self, peer: PeerId, mut dial: PeerDial) {
        if dial.pending.is_empty() && !dial.later.is_empty() {
            let later = std::mem::take(&mut dial.later);
            self.start_dial(peer, &mut dial, later);
        }
        if dial.pending.is_empty() {
            let reason = dial.error.unwrap_or_else(|| "dial failed".into());
            if dial.waiters.is_empty() {
                // Nobody waits on bootstrap dials: say it here.
                tracing::warn!(%peer, addr = %dial.first, error = %reason, "cannot dial peer");
            }
            for w in dial.waiters {
                let _ = w.send(Err(NetError::Dial {
                    addr: dial.first.clone(),
                    reason: reason.clone(),
                }));
            }
        } else {
            self.peer_dials.insert(peer, dial);
        }
    }

    /// A connection to `peer` is up: its waiters are answered.
    pub(super) fn peer_dial_connected(&mut self, peer: PeerId) {
        if let Some(d) = self.peer_dials.remove(&peer) {
            for w in d.waiters {
                let _ = w.send(Ok(peer));
            }
        }
    }

    /// One of a peer dial's attempts failed; true if it was one.
    pub(super) fn peer_dial_failed(
        &mut self,
        peer: Option<PeerId>,
        id: ConnectionId,
        reason: String,
    ) -> bool {
        // Peer dials always name their peer, so the swarm reports it.
        let Some(peer) = peer.filter(|p| {
            self.peer_dials
                .get(p)
                .is_some_and(|d| d.pending.contains(&id))
        }) else {
            return false;
        };
        let Some(mut d) = self.peer_dials.remove(&peer) else {
            return false;
        };
        d.pending.retain(|c| *c != id);
        d.error = Some(reason);
        self.settle(peer, d);
        true
    }

    /// When the next held-back dial or deadline is due.
    pub(super) fn next_dial_timer(&self) -> Option<Instant> {
        self.peer_dials
            .values()
            .map(|d| {
                if d.later.is_empty() {
                    d.deadline
                } else {
                    d.later_at.min(d.deadline)
                }
            })
            .min()
    }

    /// Starts held-back dials that are due and fails dials past their deadline.
    pub(super) fn on_dial_timer(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .peer_dials
            .iter()
            .filter(|(_, d)| d.deadline <= now || (!d.later.is_empty() && d.later_at <= now))
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some(mut d) = self.peer_dials.remove(&peer) else {
                continue;
            };
            if d.deadline <= now {
                d.pending.clear();
                d.later.clear();
                d.error = Some(format!("no connection within {DIAL_LIMIT:?}"));
            } else {
                let later = std::mem::take(&mut d.later);
                self.start_dial(peer, &mut d, later);
            }
            self.settle(peer, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn quic_goes_first_and_the_rest_waits() {
        let tcp = ma("/ip4/198.18.0.1/tcp/4001");
        let quic = ma("/ip4/198.18.0.1/udp/4001/quic-v1");
        let (now, later) = rank(&[tcp.clone(), quic.clone(), tcp.clone()]);
        assert_eq!(now, vec![quic]);
        assert_eq!(later, vec![tcp.clone()]);
        // Without QUIC everything goes at once; wildcards are never dialled.
        let (now, later) = rank(&[tcp.clone(), ma("/ip4/0.0.0.0/tcp/4001")]);
        assert_eq!(now, vec![tcp]);
        assert!(later.is_empty());
        let (now, later) = rank(&[]);
        assert!(now.is_empty() && later.is_empty());
    }
}
