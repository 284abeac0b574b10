//! A fetch session's peer selection, as a pure state machine (time passed in).
//!
//! Data flow: a fetch (one block, or a DAG walked by [`crate::Bitswap::fetch_dag`]) wants CIDs through
//! its session; the session decides whom to ask and how, and answers with [`Action`]s the
//! engine carries out (messages to peers, provider lookups). Presences, blocks, new or lost
//! peers and clock ticks come back in. Policy:
//! - peers that showed they have this content (a HAVE or a block in this session) get
//!   want-blocks directly, spread by fewest blocks in flight, at most [`PER_PEER_INFLIGHT`]
//!   each;
//! - while no such peer is known for a CID, every session peer gets a want-have
//!   (with send-dont-have), and a want-block goes to the one that answers first;
//! - a peer that answers DONT_HAVE is not asked for that CID again; a peer silent for
//!   [`PEER_TIMEOUT`] while it owes blocks loses them to the others;
//! - when nobody is left to ask (or nothing arrived within [`PROVIDER_DELAY`]), the session
//!   asks for a provider lookup (at most every [`PROVIDER_INTERVAL`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use dag::Cid;
use libp2p::PeerId;

use crate::protocol::{Presence, Want, WantType};

/// Most peers a session talks to.
pub const MAX_SESSION_PEERS: usize = 32;
/// Most want-blocks outstanding at one peer per session.
pub const PER_PEER_INFLIGHT: usize = 32;
/// A peer owing at least this many blocks gives its last one to a peer that has run out
/// (see `Session::end_game`).
pub const END_GAME_OWED: usize = 3;
/// A peer owing blocks that says nothing for this long loses them to others.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a session waits for its connected peers before asking the DHT.
pub const PROVIDER_DELAY: Duration = Duration::from_millis(500);
/// Least time between two provider lookups of one session.
pub const PROVIDER_INTERVAL: Duration = Duration::from_secs(10);
/// Without progress for this long, unanswered want-haves are sent again.
pub const REBROADCAST: Duration = Duration::from_secs(2);

/// What the engine should do for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a wantlist entry (or cancel) to a peer.
    Send {
        /// The peer.
        peer: PeerId,
        /// The entry.
        want: Want,
    },
    /// Look up providers of a CID and add the ones reached to the session.
    FindProviders {
        /// The CID.
        cid: Cid,
    },
}

#[derive(Debug, Default)]
struct PeerInfo {
    /// Want-blocks outstanding.
    inflight: usize,
    /// Showed it has this session's content.
    good: bool,
    last_heard: Option<Instant>,
    /// Timed out: only asked again after it delivers something.
    slow: bool,
}

#[derive(Debug, Default)]
struct WantInfo {
    /// The peer asked for the block, and when.
    asked_block: Option<(PeerId, Instant)>,
    /// Peers asked whether they have it.
    asked_have: HashSet<PeerId>,
    /// Peers that said they don't have it (or timed out on it).
    dont_have: HashSet<PeerId>,
    /// Peers that said HAVE.
    have: Vec<PeerId>,
    /// In `Session::waiting`.
    queued: bool,
}

/// One session's state.
#[derive(Debug)]
pub struct Session {
    peers: Vec<PeerId>,
    info: HashMap<PeerId, PeerInfo>,
    wants: HashMap<Cid, WantInfo>,
    /// Wants with no want-block out, oldest first.
    waiting: VecDeque<Cid>,
    started: Instant,
    last_progress: Instant,
    last_lookup: Option<Instant>,
    last_rebroadcast: Option<Instant>,
    blocks: u64,
}

fn entry(cid: Cid, want_type: WantType, cancel: bool) -> Want {
    Want {
        cid,
        priority: 1,
        cancel,
        want_type,
        send_dont_have: !cancel,
    }
}

impl Session {
    /// A session over the peers connected now.
    pub fn new(peers: impl IntoIterator<Item = PeerId>, now: Instant) -> Session {
        let mut s = Session {
            peers: Vec::new(),
            info: HashMap::new(),
            wants: HashMap::new(),
            waiting: VecDeque::new(),
            started: now,
            last_progress: now,
            last_lookup: None,
            last_rebroadcast: None,
            blocks: 0,
        };
        for p in peers.into_iter().take(MAX_SESSION_PEERS) {
            s.peers.push(p);
            s.info.insert(p, PeerInfo::default());
        }
        s
    }

    /// CIDs wanted and not yet received.
    pub fn wanted(&self) -> impl Iterator<Item = &Cid> {
        self.wants.keys()
    }

    /// True while `cid` is wanted.
    pub fn wants(&self, cid: &Cid) -> bool {
        self.wants.contains_key(cid)
    }

    /// What this session has asked `peer` for and still wants (for a full wantlist).
    pub fn asked_of(&self, peer: &PeerId) -> Vec<Want> {
        self.wants
            .iter()
            .filter_map(|(cid, w)| {
                if w.asked_block.is_some_and(|(p, _)| p == *peer) {
                    Some(entry(*cid, WantType::Block, false))
                } else if w.asked_have.contains(peer) && !w.dont_have.contains(peer) {
                    Some(entry(*cid, WantType::Have, false))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The session's peers.
    pub fn peers(&self) -> &[PeerId] {
        &self.peers
    }

    /// Blocks received.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Wants more CIDs.
    pub fn want(
        &mut self,
        cids: impl IntoIterator<Item = Cid>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        for cid in cids {
            if self.wants.contains_key(&cid) {
                continue;
            }
            self.wants.insert(cid, WantInfo::default());
            self.dispatch(cid, now, out);
        }
    }

    /// Stops wanting CIDs (cancels go to every peer asked).
    pub fn cancel(&mut self, cids: impl IntoIterator<Item = Cid>, out: &mut Vec<Action>) {
        for cid in cids {
            if let Some(w) = self.wants.remove(&cid) {
                self.cancel_asked(cid, &w, None, out);
            }
        }
        self.waiting.retain(|c| self.wants.contains_key(c));
    }

    /// Cancels everything (the session ends).
    pub fn cancel_all(&mut self, out: &mut Vec<Action>) {
        let cids: Vec<Cid> = self.wants.keys().copied().collect();
        self.cancel(cids, out);
    }

    fn cancel_asked(
        &mut self,
        cid: Cid,
        w: &WantInfo,
        except: Option<PeerId>,
        out: &mut Vec<Action>,
    ) {
        let mut told = HashSet::new();
        if let Some((p, _)) = w.asked_block {
            if let Some(i) = self.info.get_mut(&p) {
                i.inflight = i.inflight.saturating_sub(1);
            }
            told.insert(p);
        }
        told.extend(w.asked_have.iter().copied());
        for p in told {
            if Some(p) != except && !w.dont_have.contains(&p) {
                out.push(Action::Send {
                    peer: p,
                    want: entry(cid, WantType::Block, true),
                });
            }
        }
    }

    /// A peer joins (newly connected, or found as a provider).
    pub fn add_peer(&mut self, peer: PeerId, now: Instant, out: &mut Vec<Action>) {
        if self.info.contains_key(&peer) || self.peers.len() >= MAX_SESSION_PEERS {
            return;
        }
        self.peers.push(peer);
        self.info.insert(peer, PeerInfo::default());
        let waiting: Vec<Cid> = self.waiting.iter().copied().collect();
        for cid in waiting {
            if let Some(w) = self.wants.get_mut(&cid)
                && w.asked_have.insert(peer)
            {
                out.push(Action::Send {
                    peer,
                    want: entry(cid, WantType::Have, false),
                });
            }
        }
        let _ = now;
    }

    /// A peer left: its outstanding wants go to others.
    pub fn remove_peer(&mut self, peer: &PeerId, now: Instant, out: &mut Vec<Action>) {
        if self.info.remove(peer).is_none() {
            return;
        }
        self.peers.retain(|p| p != peer);
        let mut redo = Vec::new();
        for (cid, w) in &mut self.wants {
            w.asked_have.remove(peer);
            w.have.retain(|p| p != peer);
            if matches!(w.asked_block, Some((p, _)) if p == *peer) {
                w.asked_block = None;
                redo.push(*cid);
            }
        }
        for cid in redo {
            self.dispatch(cid, now, out);
        }
    }

    /// A block arrived from `peer`; answers whether this session wanted it.
    pub fn on_block(
        &mut self,
        peer: PeerId,
        cid: &Cid,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(w) = self.wants.remove(cid) else {
            return false;
        };
        self.blocks += 1;
        self.last_progress = now;
        if let Some(i) = self.info.get_mut(&peer) {
            i.good = true;
            i.slow = false;
            i.last_heard = Some(now);
        }
        self.cancel_asked(*cid, &w, Some(peer), out);
        if w.queued {
            self.waiting.retain(|c| c != cid);
        }
        self.refill(now, out);
        self.end_game(peer, now, out);
        true
    }

    /// The end of a fetch: `peer` has just delivered the last block it owed, nothing waits
    /// for a peer, and another peer still owes [`END_GAME_OWED`] or more. The block asked
    /// last of the one owing most moves to `peer` (cancelled where it was): each peer may
    /// owe up to [`PER_PEER_INFLIGHT`] blocks, several seconds of a slow link, so without
    /// this a seeder that started slower alone decided when the fetch ended, while the
    /// others sat idle. The block asked last is the one least likely to be on its way.
    fn end_game(&mut self, peer: PeerId, now: Instant, out: &mut Vec<Action>) {
        if !self.waiting.is_empty()
            || !self
                .info
                .get(&peer)
                .is_some_and(|i| i.inflight == 0 && i.good && !i.slow)
        {
            return;
        }
        let Some((busy, owed)) = self
            .info
            .iter()
            .filter(|(p, _)| **p != peer)
            .map(|(p, i)| (*p, i.inflight))
            .max_by_key(|(_, n)| *n)
        else {
            return;
        };
        if owed < END_GAME_OWED {
            return;
        }
        let Some(cid) = self
            .wants
            .iter()
            .filter_map(|(c, w)| match w.asked_block {
                Some((p, t)) if p == busy && !w.dont_have.contains(&peer) => Some((t, *c)),
                _ => None,
            })
            .max()
            .map(|(_, c)| c)
        else {
            return;
        };
        if let Some(w) = self.wants.get_mut(&cid) {
            w.asked_block = Some((peer, now));
        }
        if let Some(i) = self.info.get_mut(&busy) {
            i.inflight = i.inflight.saturating_sub(1);
        }
        if let Some(i) = self.info.get_mut(&peer) {
            i.inflight += 1;
            i.last_heard = Some(now);
        }
        out.push(Action::Send {
            peer: busy,
            want: entry(cid, WantType::Block, true),
        });
        out.push(Action::Send {
            peer,
            want: entry(cid, WantType::Block, false),
        });
    }

    /// A HAVE or DONT_HAVE arrived.
    pub fn on_presence(
        &mut self,
        peer: PeerId,
        cid: &Cid,
        presence: Presence,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if let Some(i) = self.info.get_mut(&peer) {
            i.last_heard = Some(now);
        }
        let Some(w) = self.wants.get_mut(cid) else {
            return;
        };
        match presence {
            Presence::Have => {
                if !w.have.contains(&peer) {
                    w.have.push(peer);
                }
                if let Some(i) = self.info.get_mut(&peer) {
                    i.good = true;
                    i.slow = false;
                }
                if w.asked_block.is_none() {
                    self.dispatch(*cid, now, out);
                }
            }
            Presence::DontHave => {
                w.dont_have.insert(peer);
                w.have.retain(|p| *p != peer);
                if matches!(w.asked_block, Some((p, _)) if p == peer) {
                    w.asked_block = None;
                    if let Some(i) = self.info.get_mut(&peer) {
                        i.inflight = i.inflight.saturating_sub(1);
                    }
                    self.dispatch(*cid, now, out);
                }
            }
        }
    }

    /// Timeouts and provider lookups; call a few times a second.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        // Peers silent while owing blocks.
        let mut silent = Vec::new();
        for (p, i) in &mut self.info {
            let since = i.last_heard.unwrap_or(self.started);
            if i.inflight > 0 && now.saturating_duration_since(since) >= PEER_TIMEOUT && !i.slow {
                i.slow = true;
                i.good = false;
                silent.push(*p);
            }
        }
        for p in silent {
            // Its want-blocks are cancelled and the CIDs asked for again from everyone
            // (it too, with a want-have: a peer may have dropped the entry, as Helia can).
            let mut redo = Vec::new();
            for (cid, w) in &mut self.wants {
                if matches!(w.asked_block, Some((q, _)) if q == p) {
                    w.asked_block = None;
                    w.have.retain(|q| *q != p);
                    w.asked_have.clear();
                    out.push(Action::Send {
                        peer: p,
                        want: entry(*cid, WantType::Block, true),
                    });
                    redo.push(*cid);
                }
            }
            if let Some(i) = self.info.get_mut(&p) {
                i.inflight = 0;
            }
            for cid in redo {
                self.dispatch(cid, now, out);
            }
        }
        self.refill(now, out);
        // Want-haves nobody answered (a peer may have dropped them): ask again.
        let quiet = now.saturating_duration_since(self.last_progress) >= REBROADCAST;
        let due = self
            .last_rebroadcast
            .is_none_or(|t| now.saturating_duration_since(t) >= REBROADCAST);
        if quiet && due && !self.waiting.is_empty() {
            self.last_rebroadcast = Some(now);
            let waiting: Vec<Cid> = self.waiting.drain(..).collect();
            for cid in waiting {
                if let Some(w) = self.wants.get_mut(&cid) {
                    w.asked_have.clear();
                    w.queued = false;
                }
                self.dispatch(cid, now, out);
            }
        }
        // Provider lookup when stuck.
        if let Some(cid) = self.stuck_want(now) {
            let due = match self.last_lookup {
                None => true,
                Some(t) => now.saturating_duration_since(t) >= PROVIDER_INTERVAL,
            };
            if due {
                self.last_lookup = Some(now);
                out.push(Action::FindProviders { cid });
            }
        }
    }

    /// How many peers the session asks.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Wanted CIDs that no session peer can supply (every one said DONT_HAVE, or there are
    /// no peers): after a provider lookup that found nobody new, these are not to be had.
    pub fn unobtainable(&self) -> Vec<Cid> {
        self.waiting
            .iter()
            .filter(|c| {
                self.wants
                    .get(*c)
                    .is_some_and(|w| self.peers.iter().all(|p| w.dont_have.contains(p)))
            })
            .copied()
            .collect()
    }

    /// A want nobody is fetching, if the session has made no progress for a while or has
    /// nobody left to ask.
    fn stuck_want(&self, now: Instant) -> Option<Cid> {
        let cid = *self.waiting.front()?;
        let w = self.wants.get(&cid)?;
        let nobody = self.peers.iter().all(|p| w.dont_have.contains(p));
        let quiet = now.saturating_duration_since(self.last_progress) >= PROVIDER_DELAY;
        (nobody || quiet).then_some(cid)
    }

    /// Re-dispatches waiting wants (slots may have freed), oldest first, while some peer
    /// has room for a want-block: a waiting want has already been put to every peer as a
    /// want-have, so without room there is nothing new to send. Each pass is linear in the
    /// waiting wants: a balanced file's walk keeps hundreds of them, and this runs on every
    /// block received.
    fn refill(&mut self, now: Instant, out: &mut Vec<Action>) {
        let n = self.waiting.len();
        for _ in 0..n {
            if !self.any_room() {
                break;
            }
            let Some(cid) = self.waiting.pop_front() else {
                break;
            };
            let Some(w) = self.wants.get_mut(&cid) else {
                continue;
            };
            w.queued = false;
            if w.asked_block.is_none() {
                self.dispatch(cid, now, out);
            }
        }
    }

    /// Whether any session peer could take another want-block.
    fn any_room(&self) -> bool {
        self.info.values().any(|i| i.inflight < PER_PEER_INFLIGHT)
    }

    /// Asks the best peer for the block, or everyone whether they have it.
    fn dispatch(&mut self, cid: Cid, now: Instant, out: &mut Vec<Action>) {
        let Some(w) = self.wants.get_mut(&cid) else {
            return;
        };
        let mut best: Option<(usize, PeerId)> = None;
        for p in &self.peers {
            if w.dont_have.contains(p) {
                continue;
            }
            let Some(i) = self.info.get(p) else { continue };
            let candidate = (i.good && !i.slow) || w.have.contains(p);
            if !candidate || i.inflight >= PER_PEER_INFLIGHT {
                continue;
            }
            if best.is_none_or(|(n, _)| i.inflight < n) {
                best = Some((i.inflight, *p));
            }
        }
        if let Some((_, p)) = best {
            w.asked_block = Some((p, now));
            if let Some(i) = self.info.get_mut(&p) {
                i.inflight += 1;
                if i.last_heard.is_none_or(|t| t < now) && i.inflight == 1 {
                    // The silence clock starts when a peer starts owing.
                    i.last_heard = Some(now);
                }
            }
            out.push(Action::Send {
                peer: p,
                want: entry(cid, WantType::Block, false),
            });
            return;
        }
        // Nobody known to have it with room: ask everyone not yet asked.
        for p in &self.peers {
            if !w.dont_have.contains(p) && !w.have.contains(p) && w.asked_have.insert(*p) {
                out.push(Action::Send {
                    peer: *p,
                    want: entry(cid, WantType::Have, false),
                });
            }
        }
        if !w.queued {
            w.queued = true;
            self.waiting.push_back(cid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        dag::Block::encode(dag::Version::V1, dag::block::RAW, vec![n; 8])
            .cid()
            .to_owned()
    }

    fn sends(out: &[Action]) -> Vec<(PeerId, WantType, bool)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { peer, want } => Some((*peer, want.want_type, want.cancel)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn first_want_asks_everyone_then_the_first_that_has() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = Session::new([a, b], t);
        let mut out = Vec::new();
        s.want([cid(1)], t, &mut out);
        assert_eq!(
            sends(&out),
            vec![(a, WantType::Have, false), (b, WantType::Have, false)]
        );
        out.clear();
        s.on_presence(b, &cid(1), Presence::Have, t, &mut out);
        assert_eq!(sends(&out), vec![(b, WantType::Block, false)]);
        out.clear();
        assert!(s.on_block(b, &cid(1), t, &mut out));
        // a was asked for a HAVE: it gets a cancel.
        assert_eq!(sends(&out), vec![(a, WantType::Block, true)]);
        // b is now known good: the next want goes straight to it as a want-block.
        out.clear();
        s.want([cid(2)], t, &mut out);
        assert_eq!(sends(&out), vec![(b, WantType::Block, false)]);
    }

    /// A session over `a` and `b`, both known to have the content (they said HAVE).
    fn both_have(a: PeerId, b: PeerId, t: Instant) -> Session {
        let mut s = Session::new([a, b], t);
        let mut out = Vec::new();
        s.want([cid(0)], t, &mut out);
        s.on_presence(a, &cid(0), Presence::Have, t, &mut out);
        s.on_presence(b, &cid(0), Presence::Have, t, &mut out);
        s
    }

    /// [`both_have`], once `a` delivered the first block: both good, neither owing.
    fn both_good(a: PeerId, b: PeerId, t: Instant) -> Session {
        let mut s = both_have(a, b, t);
        s.on_block(a, &cid(0), t, &mut Vec::new());
        s
    }

    #[test]
    fn wants_spread_over_good_peers_and_dont_have_moves_on() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_have(a, b, t);
        let mut out = Vec::new();
        s.want((1..=10).map(cid), t, &mut out);
        let to_a = sends(&out).iter().filter(|x| x.0 == a).count();
        let to_b = sends(&out).iter().filter(|x| x.0 == b).count();
        assert!(to_a >= 4 && to_b >= 4, "spread: {to_a} / {to_b}");
        // a says it doesn't have one of its blocks: it moves to b.
        let (mine, _) = out
            .iter()
            .find_map(|x| match x {
                Action::Send { peer, want } if *peer == a => Some((want.cid, ())),
                _ => None,
            })
            .unwrap();
        out.clear();
        s.on_presence(a, &mine, Presence::DontHave, t, &mut out);
        assert_eq!(sends(&out), vec![(b, WantType::Block, false)]);
    }

    #[test]
    fn silent_peer_loses_its_wants_and_stuck_session_looks_up_providers() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_good(a, b, t);
        let mut out = Vec::new();
        s.want([cid(1)], t, &mut out);
        let asked = sends(&out)[0].0;
        out.clear();
        s.tick(t + PEER_TIMEOUT + Duration::from_millis(1), &mut out);
        let other = if asked == a { b } else { a };
        assert!(
            sends(&out).contains(&(other, WantType::Block, false)),
            "{out:?}"
        );

        // Nobody has it: a provider lookup, not repeated before the interval.
        let mut s = Session::new([a], t);
        out.clear();
        s.want([cid(9)], t, &mut out);
        s.on_presence(a, &cid(9), Presence::DontHave, t, &mut out);
        out.clear();
        s.tick(t + Duration::from_millis(10), &mut out);
        assert_eq!(out, vec![Action::FindProviders { cid: cid(9) }]);
        out.clear();
        s.tick(t + Duration::from_secs(1), &mut out);
        assert!(out.is_empty());
        s.tick(t + PROVIDER_INTERVAL + Duration::from_secs(1), &mut out);
        assert_eq!(out, vec![Action::FindProviders { cid: cid(9) }]);
        // A provider joins: it is asked.
        out.clear();
        let c = PeerId::random();
        s.add_peer(c, t, &mut out);
        assert_eq!(sends(&out), vec![(c, WantType::Have, false)]);
    }

    /// A peer that delivered all it owed takes over the block asked last of a peer still
    /// owing several (cancelled there); one owing fewer than `END_GAME_OWED` keeps them.
    #[test]
    fn the_end_game_moves_the_last_asked_block_to_an_idle_peer() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_good(a, b, t);
        let mut out = Vec::new();
        // Eight wants, four each (fewest in flight first), asked one millisecond apart.
        for n in 1..=8u8 {
            s.want([cid(n)], t + Duration::from_millis(u64::from(n)), &mut out);
        }
        let asked: Vec<(PeerId, Cid)> = out
            .iter()
            .filter_map(|x| match x {
                Action::Send { peer, want } if want.want_type == WantType::Block => {
                    Some((*peer, want.cid))
                }
                _ => None,
            })
            .collect();
        let of = |p: PeerId| -> Vec<Cid> {
            asked
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, c)| *c)
                .collect()
        };
        let (of_a, of_b) = (of(a), of(b));
        assert_eq!((of_a.len(), of_b.len()), (4, 4), "{out:?}");
        // `a` delivers all four: after the fourth, `b` (owing four) gives up its last.
        let later = t + Duration::from_millis(100);
        for c in &of_a[..3] {
            out.clear();
            s.on_block(a, c, later, &mut out);
            assert!(
                !sends(&out).contains(&(a, WantType::Block, false)),
                "{out:?}"
            );
        }
        out.clear();
        s.on_block(a, &of_a[3], later, &mut out);
        let moved = *of_b.last().expect("b's last");
        let moves: Vec<&Action> = out
            .iter()
            .filter(|x| matches!(x, Action::Send { want, .. } if want.cid == moved))
            .collect();
        assert_eq!(moves.len(), 2, "{out:?}");
        assert!(sends(&out).contains(&(b, WantType::Block, true)), "{out:?}");
        assert!(
            sends(&out).contains(&(a, WantType::Block, false)),
            "{out:?}"
        );
        // `b` now owes three: when `a` delivers the moved block, `b` gives up another.
        out.clear();
        s.on_block(a, &moved, later, &mut out);
        assert!(
            sends(&out).contains(&(a, WantType::Block, false)),
            "{out:?}"
        );
        // Two owed are not worth moving.
        out.clear();
        let next = *of_b.iter().rev().nth(1).expect("b's second to last");
        s.on_block(a, &next, later, &mut out);
        assert!(
            !sends(&out).contains(&(a, WantType::Block, false)),
            "{out:?}"
        );
    }

    #[test]
    fn per_peer_inflight_is_bounded() {
        let a = PeerId::random();
        let t = Instant::now();
        let mut s = Session::new([a], t);
        let mut out = Vec::new();
        s.want([cid(0)], t, &mut out);
        s.on_presence(a, &cid(0), Presence::Have, t, &mut out);
        out.clear();
        let many: Vec<Cid> = (0..100u32)
            .map(|n| {
                dag::Block::encode(dag::Version::V1, dag::block::RAW, n.to_be_bytes().to_vec())
                    .cid()
                    .to_owned()
            })
            .collect();
        s.want(many, t, &mut out);
        let blocks = sends(&out)
            .iter()
            .filter(|x| x.1 == WantType::Block)
            .count();
        // The first block is still owed: one slot fewer.
        assert_eq!(blocks, PER_PEER_INFLIGHT - 1);
    }
}
