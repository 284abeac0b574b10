//! Serving: answering peers' wantlists.
//!
//! Data flow: a peer's want-blocks arrive through [`Engine::take_wants`] and queue up in
//! its [`Peer`] entry (`order`/`theirs`); its want-haves are answered right away by
//! [`Engine::check_presences`] on the blocking pool. Each scheduling round
//! ([`Engine::schedule`], on every message, write completion and tick) asks the
//! [`crate::strategy::Scheduler`] which peers to serve (debt ratios from the ledgers) and
//! starts a bounded block read for each ([`Engine::start_load`]), within the total and
//! per-peer upload windows and the upload rate. The blocks read come back as
//! [`Internal::Loaded`] ([`Engine::on_loaded`]) and go to the peer's send queue, which
//! `flush_peer` hands to its writer.

use std::time::{Duration, Instant};

use dag::{Block, Cid};
use libp2p::PeerId;

use super::{Engine, Internal, Peer, Writer};
use crate::ledger::Ledger;
use crate::protocol::{INLINE_HAVE_MAX, Outbound, Presence, Want, WantType};
use crate::strategy::Strategy;

/// Block bytes read for one peer per scheduling turn.
const LOAD_BYTES: u64 = 1 << 20;
/// Block bytes per message sent (one block when a block is larger). The receiver can use a
/// block only once its whole message has arrived: a turn's 1 MiB of blocks in one message
/// arrives in one piece, 330 ms after its first byte on a 25 Mbit/s link, and the blocks
/// before the last wait for it.
const MESSAGE_BYTES: u64 = 256 << 10;
/// Wantlist entries taken per turn (at most; the read stops at [`LOAD_BYTES`]).
const LOAD_ENTRIES: usize = 64;
/// Want-blocks kept per peer (more are ignored).
const MAX_THEIR_WANTS: usize = 8192;
/// Want-haves for blocks we lack kept per peer (more are answered, not kept): about
/// 100 bytes each.
const MAX_THEIR_HAVES: usize = 1024;
/// Kept wants looked up in the store per recheck (the rest wait for the next one).
const RECHECK_MAX: usize = 16384;
/// Want-haves checked per blocking call.
const PRESENCE_CHUNK: usize = 1024;

impl Engine {
    /// Takes in a peer's wants (after its presences and blocks were handled).
    pub(super) fn take_wants(&mut self, peer: PeerId, wants: Vec<Want>, full: bool) {
        if wants.is_empty() && !full {
            return;
        }
        let p = self.peers.entry(peer).or_insert_with(Peer::new);
        if full {
            p.theirs.clear();
            p.order.clear();
            p.lacking.clear();
            p.their_haves.clear();
        }
        let mut haves = Vec::new();
        let mut freed = 0;
        for w in wants {
            if w.cancel {
                p.theirs.remove(&w.cid);
                p.lacking.remove(&w.cid);
                p.their_haves.remove(&w.cid);
                freed += p.cancel_loaded(&w.cid);
                continue;
            }
            match w.want_type {
                WantType::Block => {
                    p.their_haves.remove(&w.cid);
                    if p.theirs.len() < MAX_THEIR_WANTS
                        && p.theirs.insert(w.cid, w.send_dont_have).is_none()
                    {
                        p.order.push_back(w.cid);
                    } else if p.lacking.remove(&w.cid) {
                        // Asked again for one we lacked: look again.
                        p.theirs.insert(w.cid, w.send_dont_have);
                        p.order.push_back(w.cid);
                    }
                }
                WantType::Have => haves.push(w),
            }
        }
        // Stale entries of cancelled wants are dropped lazily; keep the queue bounded.
        if p.order.len() > 2 * MAX_THEIR_WANTS {
            let theirs = &p.theirs;
            p.order.retain(|c| theirs.contains_key(c));
        }
        self.upload_queued = self.upload_queued.saturating_sub(freed);
        for chunk in haves.chunks(PRESENCE_CHUNK) {
            self.check_presences(peer, chunk.to_vec());
        }
        self.schedule();
    }

    /// Answers want-haves: HAVE, the block itself when small, or DONT_HAVE if asked.
    fn check_presences(&self, peer: PeerId, wants: Vec<Want>) {
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let reply = tokio::task::spawn_blocking(move || {
                let mut out = Outbound::default();
                let mut lacking = Vec::new();
                for w in wants {
                    match store.size(&w.cid) {
                        Ok(Some(n)) if n as usize <= INLINE_HAVE_MAX => match store.get(&w.cid) {
                            Ok(Some(data)) => out.blocks.push(Block::trusted(w.cid, data)),
                            _ => out.presences.push((w.cid, Presence::Have)),
                        },
                        Ok(Some(_)) => out.presences.push((w.cid, Presence::Have)),
                        _ => {
                            if w.send_dont_have {
                                out.presences.push((w.cid, Presence::DontHave));
                            }
                            lacking.push(w.cid);
                        }
                    }
                }
                (out, lacking)
            })
            .await;
            if let Ok((reply, lacking)) = reply
                && (!reply.is_empty() || !lacking.is_empty())
            {
                let _ = tx
                    .send(Internal::Presences {
                        peer,
                        reply,
                        lacking,
                    })
                    .await;
            }
        });
    }

    /// One scheduling round over the active peers (with wants pending, being read or being
    /// written): admitted peers with pending wants get a block read started; deferred ones
    /// only when the strategy is work-conserving and no peer was admitted, i.e. when the
    /// upload would otherwise sit idle.
    pub(super) fn schedule(&mut self) {
        if self.upload_queued + self.loads * LOAD_BYTES >= self.config.upload_window {
            return;
        }
        let candidates: Vec<(PeerId, f64)> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.writer != Writer::Unsupported && (p.has_work() || p.loading || p.queued > 0)
            })
            .map(|(id, _)| (*id, self.ledgers.get(id).map_or(0.0, Ledger::debt_ratio)))
            .collect();
        if !candidates
            .iter()
            .any(|(p, _)| self.peers.get(p).is_some_and(Peer::has_work))
        {
            return;
        }
        let round = self.scheduler.round(&candidates, Instant::now());
        tracing::trace!(?candidates, ?round, "scheduling round");
        let admitted_any = !round.admitted.is_empty();
        for peer in round.admitted {
            self.start_load(peer);
        }
        if !admitted_any && self.config.strategy == Strategy::Sigmoid {
            for peer in round.deferred {
                self.start_load(peer);
            }
        }
    }

    /// When reads held back by the upload rate may start again, if any are.
    pub(super) fn rate_due(&self) -> Option<Instant> {
        (self.config.upload_rate.is_some()
            && self.rate_clock > Instant::now()
            && self.peers.values().any(Peer::has_work))
        .then_some(self.rate_clock)
    }

    fn start_load(&mut self, peer: PeerId) {
        if self.upload_queued + self.loads * LOAD_BYTES >= self.config.upload_window {
            return;
        }
        // Rate limit: no new read while earlier ones are "ahead" of the allowed rate (the
        // 100 ms tick schedules again).
        if self.config.upload_rate.is_some() && self.rate_clock > Instant::now() {
            return;
        }
        let window = self.config.peer_upload_window;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.loading || p.queued >= window {
            return;
        }
        let mut cids = Vec::new();
        while cids.len() < LOAD_ENTRIES {
            let Some(c) = p.order.pop_front() else { break };
            if p.theirs.contains_key(&c) {
                cids.push(c);
            }
        }
        if cids.is_empty() {
            return;
        }
        p.loading = true;
        self.loads += 1;
        let store = self.store.clone();
        // A block just fetched may not be written yet ([`Engine::on_new_block`] serves it).
        let pending = self.pending.clone();
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let res = tokio::task::spawn_blocking(move || {
                let mut blocks = Vec::new();
                let mut missing = Vec::new();
                let mut bytes = 0u64;
                let mut rest = cids.into_iter();
                for cid in rest.by_ref() {
                    let found = match pending.get(&cid) {
                        Some(data) => Ok(Some(data)),
                        None => store.get(&cid),
                    };
                    match found {
                        Ok(Some(data)) => {
                            bytes += data.len() as u64;
                            blocks.push(Block::trusted(cid, data));
                        }
                        Ok(None) => missing.push(cid),
                        Err(e) => {
                            tracing::warn!(%cid, error = %e, "reading a block to serve failed");
                            missing.push(cid);
                        }
                    }
                    if bytes >= LOAD_BYTES {
                        break;
                    }
                }
                (blocks, missing, rest.collect::<Vec<_>>())
            })
            .await;
            let (blocks, missing, leftover) = res.unwrap_or_default();
            let _ = tx
                .send(Internal::Loaded {
                    peer,
                    blocks,
                    missing,
                    leftover,
                })
                .await;
        });
    }

    /// Blocks read for a peer: into its send queue.
    pub(super) fn on_loaded(
        &mut self,
        peer: PeerId,
        blocks: Vec<Block>,
        missing: Vec<Cid>,
        leftover: Vec<Cid>,
    ) {
        self.loads = self.loads.saturating_sub(1);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.loading = false;
        for c in leftover.into_iter().rev() {
            if p.theirs.contains_key(&c) {
                p.order.push_front(c);
            }
        }
        let mut msgs = Vec::new();
        let (mut cur, mut cur_bytes, mut bytes) = (Outbound::default(), 0, 0);
        for b in blocks {
            if p.theirs.remove(b.cid()).is_some() {
                p.block_handed(*b.cid());
                let len = b.data().len() as u64;
                if !cur.blocks.is_empty() && cur_bytes + len > MESSAGE_BYTES {
                    msgs.push(std::mem::take(&mut cur));
                    cur_bytes = 0;
                }
                cur.blocks.push(b);
                cur_bytes += len;
                bytes += len;
            }
        }
        // Kept, as Kubo and Helia keep them: the block goes out if it arrives later
        // ([`Engine::on_new_block`]), unless the peer cancels first.
        for c in missing {
            if let Some(&dont_have) = p.theirs.get(&c) {
                if dont_have {
                    cur.presences.push((c, Presence::DontHave));
                }
                p.lacking.insert(c);
            }
        }
        if !cur.is_empty() {
            msgs.push(cur);
        }
        if let Some(rate) = self.config.upload_rate.filter(|r| *r > 0) {
            let now = Instant::now();
            self.rate_clock =
                self.rate_clock.max(now) + Duration::from_secs_f64(bytes as f64 / rate as f64);
        }
        p.queued += bytes;
        self.upload_queued += bytes;
        p.queue.extend(msgs);
        self.flush_peer(peer);
        self.schedule();
    }

    /// Answers to want-haves: into the peer's send queue.
    pub(super) fn on_presences(&mut self, peer: PeerId, reply: Outbound, lacking: Vec<Cid>) {
        // Kept only while the peer is known (one that left meanwhile gets no entry back).
        if let Some(p) = self.peers.get_mut(&peer) {
            for c in lacking {
                if p.their_haves.len() >= MAX_THEIR_HAVES {
                    break;
                }
                p.their_haves.insert(c);
            }
        }
        if reply.is_empty() {
            return;
        }
        let p = self.peers.entry(peer).or_insert_with(Peer::new);
        let bytes = reply.block_bytes();
        p.queued += bytes;
        self.upload_queued += bytes;
        p.queue.push_back(reply);
        self.flush_peer(peer);
    }

    /// Looks up every peer's kept wants in the store (at most [`RECHECK_MAX`] at once, on
    /// the blocking pool); those found are answered as [`Engine::on_new_block`] answers.
    pub(super) fn recheck_kept(&mut self) {
        if self.rechecking {
            self.recheck_again = true;
            return;
        }
        let cids: std::collections::HashSet<Cid> = self
            .peers
            .values()
            .flat_map(|p| p.lacking.iter().chain(&p.their_haves))
            .copied()
            .take(RECHECK_MAX)
            .collect();
        if cids.is_empty() {
            return;
        }
        self.rechecking = true;
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let found = tokio::task::spawn_blocking(move || {
                cids.into_iter()
                    .filter(|c| matches!(store.size(c), Ok(Some(_))))
                    .collect()
            })
            .await
            .unwrap_or_default();
            let _ = tx.send(Internal::Rechecked { found }).await;
        });
    }

    /// A block we lacked is here (fetched by a session, or stored locally): peers that
    /// asked for it get it (a want-block, served through the scheduler) or a HAVE (a
    /// want-have), as Kubo's and Helia's engines answer the wants they keep.
    pub(super) fn on_new_block(&mut self, cid: Cid, from: PeerId) {
        let (mut told, mut queued) = (Vec::new(), false);
        for (id, p) in &mut self.peers {
            if *id == from || (p.lacking.is_empty() && p.their_haves.is_empty()) {
                continue;
            }
            if p.lacking.remove(&cid) {
                p.order.push_front(cid);
                queued = true;
            } else if p.their_haves.remove(&cid) {
                p.queue.push_back(Outbound {
                    presences: vec![(cid, Presence::Have)],
                    ..Default::default()
                });
                told.push(*id);
            }
        }
        for id in told {
            self.flush_peer(id);
        }
        if queued {
            self.schedule();
        }
    }
}
