//! Fetching: the sessions' side of the engine.
//!
//! Data flow: [`super::Command`]s open, feed and close sessions ([`Engine::open_session`],
//! [`Engine::want`], [`Engine::close_session`]); a CID several sessions want is fetched
//! once (`interest`). What a session decides comes back as [`Action`]s, which
//! [`Engine::apply`] turns into wants queued for peers' writers or provider lookups through
//! [`crate::Routing`] (answered as [`Internal::Providers`]). A peer's message
//! ([`Engine::on_message`]) steers the sessions with its presences, delivers its blocks to
//! the store writer and to every session that wants them (a block never asked for gets
//! the peer disconnected), and hands its wants to serving.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use dag::Cid;
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use super::SessionId;
use super::{Engine, Internal, Peer, SessionEntry, Writer, unix_now};
use crate::protocol::{Presence, Want, WantType};
use crate::session::{Action, Session};
use crate::store::Item;

/// Blocks buffered per session receiver.
const SESSION_QUEUE: usize = 1024;
/// CIDs whose recent holders are remembered.
const HOLDERS_KEPT: usize = 4096;
/// Holders remembered per CID.
const HOLDERS_PER_CID: usize = 8;

/// Peers seen holding CIDs lately (they delivered the block, or said HAVE), for the last
/// [`HOLDERS_KEPT`] CIDs. A `cat` fetches a file's root in one session and walks its links
/// in another; without this the second asked every peer whether it had the first links,
/// a round trip before any block was asked for.
#[derive(Debug, Default)]
pub(super) struct Holders {
    by_cid: HashMap<Cid, Vec<PeerId>>,
    order: VecDeque<Cid>,
}

impl Holders {
    /// `peer` holds `cid`.
    pub(super) fn record(&mut self, cid: Cid, peer: PeerId) {
        let list = self.by_cid.entry(cid).or_insert_with(|| {
            self.order.push_back(cid);
            Vec::new()
        });
        if !list.contains(&peer) && list.len() < HOLDERS_PER_CID {
            list.push(peer);
        }
        while self.order.len() > HOLDERS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.by_cid.remove(&old);
            }
        }
    }

    /// The peers seen holding `cid`.
    pub(super) fn of(&self, cid: &Cid) -> &[PeerId] {
        self.by_cid.get(cid).map_or(&[], Vec::as_slice)
    }
}

impl Engine {
    /// Opens a session with the connected peers that may speak BitSwap.
    /// Peers that recently held one of `hints` start out known to have the content.
    pub(super) fn open_session(
        &mut self,
        hints: &[Cid],
        reply: oneshot::Sender<(SessionId, mpsc::Receiver<super::Delivery>)>,
    ) {
        let id = self.next_session;
        self.next_session += 1;
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let peers: Vec<PeerId> = self.bitswap_peers();
        let mut session = Session::new(peers, Instant::now());
        session.trust(hints.iter().flat_map(|c| self.holders.of(c)).copied());
        session.answered_before(self.latency.iter().map(|(p, d)| (*p, *d)));
        self.sessions.insert(id, SessionEntry { session, tx });
        let _ = reply.send((id, rx));
    }

    /// A session wants `cids`.
    pub(super) fn want(&mut self, session: SessionId, cids: Vec<Cid>) {
        // A CID another session already fetches is only watched (its block reaches
        // every interested session): two sessions asking would fetch it twice.
        let mut fresh = Vec::new();
        for cid in cids {
            // A block that arrived since the caller looked (it checks pending blocks, then
            // the store, then asks) is answered here: asked again, it was fetched twice.
            // (Should its receiver be full, the block is wanted as before.)
            if !self.interest.contains_key(&cid)
                && let Some(data) = self.pending.get(&cid)
                && let Some(s) = self.sessions.get(&session)
                && s.tx
                    .try_send(super::Delivery::Block(dag::Block::trusted(cid, data)))
                    .is_ok()
            {
                continue;
            }
            let list = self.interest.entry(cid).or_default();
            if list.contains(&session) {
                continue;
            }
            if list.is_empty() {
                fresh.push(cid);
            }
            list.push(session);
        }
        tracing::trace!(session, fresh = fresh.len(), "session wants");
        let mut actions = Vec::new();
        if let Some(s) = self.sessions.get_mut(&session) {
            s.session.want(fresh, Instant::now(), &mut actions);
        }
        self.apply(session, actions);
    }

    /// Closes a session: cancels what only it wanted, hands what others watched to them.
    pub(super) fn close_session(&mut self, session: SessionId) {
        tracing::trace!(session, "session closed");
        if let Some(mut s) = self.sessions.remove(&session) {
            for (peer, d) in s.session.answer_times() {
                if self.connected.contains(&peer) {
                    let kept = self.latency.entry(peer).or_insert(d);
                    *kept = (*kept).min(d);
                }
            }
            let mut actions = Vec::new();
            let wanted: Vec<Cid> = s.session.wanted().copied().collect();
            s.session.cancel_all(&mut actions);
            let mut orphaned = Vec::new();
            for cid in wanted {
                self.drop_interest(&cid, session);
                if let Some(first) = self.interest.get(&cid).and_then(|l| l.first()) {
                    orphaned.push((*first, cid));
                }
            }
            // CIDs it only watched.
            self.interest.retain(|_, l| {
                l.retain(|x| *x != session);
                !l.is_empty()
            });
            // Cancels only for CIDs no other session still wants.
            actions.retain(|a| match a {
                Action::Send { want, .. } => !self.interest.contains_key(&want.cid),
                _ => false,
            });
            self.apply(session, actions);
            // Sessions that only watched those CIDs now fetch them themselves.
            let now = Instant::now();
            for (other, cid) in orphaned {
                let mut actions = Vec::new();
                if let Some(o) = self.sessions.get_mut(&other) {
                    o.session.want([cid], now, &mut actions);
                }
                self.apply(other, actions);
            }
        }
    }

    /// Connected peers that may speak BitSwap.
    fn bitswap_peers(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self
            .connected
            .iter()
            .filter(|p| {
                self.peers
                    .get(p)
                    .is_none_or(|s| s.writer != Writer::Unsupported)
            })
            .copied()
            .collect();
        fastrand::shuffle(&mut v);
        v
    }

    fn drop_interest(&mut self, cid: &Cid, session: SessionId) {
        if let Some(list) = self.interest.get_mut(cid) {
            list.retain(|s| *s != session);
            if list.is_empty() {
                self.interest.remove(cid);
            }
        }
    }

    fn apply(&mut self, session: SessionId, actions: Vec<Action>) {
        let mut touched = HashSet::new();
        for a in actions {
            match a {
                Action::Send { peer, want } => {
                    tracing::trace!(%peer, ?want, "want");
                    let p = self.peers.entry(peer).or_insert_with(Peer::new);
                    if p.writer == Writer::Unsupported {
                        continue;
                    }
                    if want.cancel {
                        if p.sent.remove(&want.cid).is_none() {
                            continue;
                        }
                    } else {
                        // Never repeat an entry, nor downgrade a want-block to a want-have
                        // (a peer would replace the entry and stop sending the block).
                        match (p.sent.get(&want.cid), want.want_type) {
                            (Some(WantType::Block), _) | (Some(WantType::Have), WantType::Have) => {
                                continue;
                            }
                            _ => {}
                        }
                        p.sent.insert(want.cid, want.want_type);
                        p.remember_asked(want.cid);
                    }
                    p.ctrl.wants.push(want);
                    touched.insert(peer);
                }
                Action::FindProviders { cid } => {
                    let routing = self.routing.clone();
                    let tx = self.internal_tx.clone();
                    self.tasks.spawn(async move {
                        let peers = routing.find_providers(cid, 8).await;
                        let _ = tx.send(Internal::Providers { session, peers }).await;
                    });
                }
            }
        }
        for peer in touched {
            self.flush_peer(peer);
        }
    }

    pub(super) async fn on_message(
        &mut self,
        peer: PeerId,
        version: crate::protocol::Version,
        msg: crate::protocol::Inbound,
    ) {
        self.stat.messages += 1;
        tracing::trace!(
            %peer,
            wants = msg.wants.len(),
            full = msg.full,
            blocks = msg.blocks.len(),
            presences = ?msg.presences,
            "message"
        );
        if self.connected.insert(peer) {
            self.add_to_sessions(peer);
        }
        let now = Instant::now();
        // Presences first (they steer the sessions), then blocks, then their wants.
        for (cid, presence) in &msg.presences {
            if *presence == Presence::DontHave {
                tracing::debug!(%peer, %cid, "dont-have received");
            }
            // Only a HAVE that answers a want-have counts: an unsolicited one must not
            // make a peer trusted with another session's walk.
            if *presence == Presence::Have
                && self
                    .peers
                    .get(&peer)
                    .is_some_and(|p| p.sent.contains_key(cid))
            {
                self.holders.record(*cid, peer);
            }
            if let Some(p) = self.peers.get_mut(&peer) {
                // A want-have is answered either way; a DONT_HAVE ends a want-block too.
                if *presence == Presence::DontHave || p.sent.get(cid) == Some(&WantType::Have) {
                    p.sent.remove(cid);
                }
            }
            let ids = self.interest.get(cid).cloned().unwrap_or_default();
            for id in ids {
                let mut actions = Vec::new();
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.session
                        .on_presence(peer, cid, *presence, now, &mut actions);
                }
                self.apply(id, actions);
            }
        }
        let unix = unix_now();
        for block in msg.blocks {
            let solicited = self
                .peers
                .get(&peer)
                .is_some_and(|p| p.asked.contains(block.cid()));
            if !solicited {
                self.misbehaved(
                    peer,
                    "sent a block that was never asked for (or that does not match its CID)",
                );
                return;
            }
            // The sender's entry is answered: cancel it there too (some peers, Helia among
            // them, otherwise keep it and ignore a later want for the same CID).
            if let Some(p) = self.peers.get_mut(&peer)
                && p.sent.remove(block.cid()).is_some()
            {
                p.ctrl.wants.push(Want {
                    cid: *block.cid(),
                    priority: 1,
                    cancel: true,
                    want_type: WantType::Block,
                    send_dont_have: false,
                });
            }
            self.holders.record(*block.cid(), peer);
            let len = block.data().len() as u64;
            self.stat.blocks_received += 1;
            self.stat.data_received += len;
            let flow = &mut self.stat.by_version[version.index()];
            flow.blocks_in += 1;
            flow.bytes_in += len;
            self.ledgers.entry(peer).or_default().record_recv(len, unix);
            self.dirty.insert(peer);
            let Some(ids) = self.interest.remove(block.cid()) else {
                self.stat.dup_blocks += 1;
                self.stat.dup_data += len;
                for s in self.sessions.values_mut() {
                    s.session.on_unwanted_block(&peer, now);
                }
                continue;
            };
            self.pending.insert(*block.cid(), block.data().clone());
            if self
                .store_tx
                .send(Item::Block(block.clone()))
                .await
                .is_err()
            {
                tracing::warn!("bitswap store writer is gone");
            }
            self.on_new_block(*block.cid(), peer);
            for id in ids {
                let mut actions = Vec::new();
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.session.on_block(peer, block.cid(), now, &mut actions);
                    if s.tx
                        .try_send(super::Delivery::Block(block.clone()))
                        .is_err()
                    {
                        tracing::debug!(session = id, "session receiver full or closed");
                    }
                }
                self.apply(id, actions);
            }
        }
        self.flush_peer(peer);
        self.take_wants(peer, msg.wants, msg.full);
    }

    /// Providers found for a session.
    pub(super) fn on_providers(&mut self, session: SessionId, peers: Vec<PeerId>) {
        let now = Instant::now();
        let mut actions = Vec::new();
        for peer in peers {
            if peer == self.local {
                continue;
            }
            self.connected.insert(peer);
            if let Some(s) = self.sessions.get_mut(&session) {
                s.session.add_peer(peer, now, &mut actions);
            }
        }
        // Nobody new and nobody left to ask: those wants fail now rather than wait
        // for the fetch timeout.
        if actions.is_empty()
            && let Some(s) = self.sessions.get(&session)
        {
            for cid in s.session.unobtainable() {
                tracing::debug!(%cid, session, session_peers = s.session.peer_count(), connected = self.connected.len(), "want unobtainable");
                let _ = s.tx.try_send(super::Delivery::NotFound(cid));
            }
        }
        self.apply(session, actions);
    }

    /// Runs `f` on every session and carries out what they answer.
    pub(super) fn for_sessions(
        &mut self,
        mut f: impl FnMut(&mut Session, Instant, &mut Vec<Action>),
    ) {
        let now = Instant::now();
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            let mut actions = Vec::new();
            if let Some(s) = self.sessions.get_mut(&id) {
                f(&mut s.session, now, &mut actions);
            }
            self.apply(id, actions);
        }
    }

    pub(super) fn add_to_sessions(&mut self, peer: PeerId) {
        self.for_sessions(|s, now, out| s.add_peer(peer, now, out));
    }
}
