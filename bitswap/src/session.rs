//! A fetch session's peer selection, as a pure state machine (time passed in).
//!
//! Data flow: a fetch (one block, or a DAG walked by [`crate::Bitswap::fetch_dag`]) wants CIDs through
//! its session; the session decides whom to ask and how, and answers with [`Action`]s the
//! engine carries out (messages to peers, provider lookups). Presences, blocks, new or lost
//! peers and clock ticks come back in. Policy:
//! - peers that showed they have this content (a HAVE or a block in this session) get
//!   want-blocks directly, spread by blocks in flight against each one's limit: what the
//!   peer delivers in [`RATE_WINDOW`] (or two of its round trips, if longer), between
//!   [`MIN_INFLIGHT`] and [`PER_PEER_INFLIGHT`], starting from [`INITIAL_INFLIGHT`] and
//!   growing by one per block delivered while the delay does not grow; a peer alone in
//!   the session may owe [`PER_PEER_INFLIGHT`] (see `Session::limit`);
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
/// Fewest want-blocks a peer known to have the content may owe.
pub const MIN_INFLIGHT: usize = 4;
/// Want-blocks a peer may owe before it has delivered anything.
pub const INITIAL_INFLIGHT: usize = 4;
/// A block that took longer than a peer's shortest ask-to-arrival time times this
/// (numerator, denominator) queued behind others at that peer (see `PeerInfo::limit`).
pub const QUEUEING_FACTOR: (u32, u32) = (3, 2);
/// A peer may owe what it delivers in this long (or in two of its round trips).
pub const RATE_WINDOW: Duration = Duration::from_millis(300);
/// A peer's delivery rate is measured over this long.
pub const RATE_SPAN: Duration = Duration::from_secs(1);
/// Arrival times kept per peer: a peer delivering this many in [`RATE_SPAN`] reaches
/// [`PER_PEER_INFLIGHT`] (`128 × 0.3 s / 1 s` ≥ 32).
const ARRIVALS_KEPT: usize = 4 * PER_PEER_INFLIGHT;
/// The end game moves a block only from a peer that needs longer than this (and than
/// three round trips of the peer taking it) for what it owes.
pub const END_GAME_BAR: Duration = Duration::from_millis(500);
/// A peer owing at least this many blocks, and for long enough, gives its last one to a
/// peer that has run out (see `Session::end_game`).
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
    /// When its last blocks arrived (newest last; at most [`ARRIVALS_KEPT`]).
    arrivals: VecDeque<Instant>,
    /// Blocks delivered, and when the first arrived.
    delivered: usize,
    first_arrival: Option<Instant>,
    /// Blocks delivered within [`QUEUEING_FACTOR`] × `min_latency` of their asking:
    /// the slow start grows by these only (a block that took longer waited in a queue, so
    /// more owed would only lengthen it).
    unqueued: usize,
    /// Shortest time from asking to the answer: a presence's round trip, or a block's
    /// (one round trip and the block's transmission, when the peer had nothing else to
    /// send first). Presences matter on a fresh connection: its first blocks wait for the
    /// transport's slow start (230 ms for the 124 ms of a 256 KiB block at 25 Mbit/s and
    /// 40 ms), and a longer shortest time would let the peer owe more than its link holds.
    min_latency: Option<Duration>,
}

impl PeerInfo {
    /// A block it was asked for at `asked` arrived at `now`.
    fn arrived(&mut self, asked: Option<Instant>, now: Instant) {
        self.delivered += 1;
        self.first_arrival.get_or_insert(now);
        if self.arrivals.len() >= ARRIVALS_KEPT {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        if let Some(t) = asked {
            let took = now.saturating_duration_since(t);
            let min = self.answered(took);
            let (num, den) = QUEUEING_FACTOR;
            if took * den <= min * num {
                self.unqueued += 1;
            }
        }
    }

    /// An answer (a block or a presence) came `took` after its asking; answers the
    /// shortest such time.
    fn answered(&mut self, took: Duration) -> Duration {
        let min = self.min_latency.map_or(took, |m| m.min(took));
        self.min_latency = Some(min);
        min
    }

    /// How far ahead it is kept busy: [`RATE_WINDOW`], or two round trips if longer.
    fn window(&self) -> Duration {
        self.min_latency
            .map_or(RATE_WINDOW, |l| RATE_WINDOW.max(l * 2))
    }

    /// How many want-blocks it may owe: what it delivers in a window, at its rate over the
    /// last [`RATE_SPAN`] (blocks come in bursts: a lost packet holds back what follows it
    /// on a stream, which then arrives at once).
    ///
    /// Deep enough to keep its link busy: the window is at least two round trips, so a
    /// peer held back by this limit delivers more per window than the limit, and the limit
    /// grows. Shallow enough that a peer slowed down (a congestion event, a busy host) does
    /// not hold seconds of blocks the others could have sent: on a 25 Mbit/s link the 32
    /// of [`PER_PEER_INFLIGHT`] are 2.7 s, and a seeder writes all it is asked for to its
    /// transport at once, out of reach of a cancel.
    ///
    /// Until a window has passed since its first block, the limit grows from
    /// [`INITIAL_INFLIGHT`] by one per block delivered without queueing (a slow start that
    /// ends when the delay grows, as HyStart ends TCP's): a block asked while the peer's
    /// link is full waits behind the ones owed before it, so once blocks take longer than
    /// [`QUEUEING_FACTOR`] × the shortest time, more owed adds only queue. Growing on every
    /// block instead made four seeders on 25 Mbit/s links owe 10–14 blocks (2.6–3.7 MB) a
    /// second into a fetch, past what their links' queues held: packets were dropped and
    /// each stream stalled until its loss was repaired. A peer alone in its session has no
    /// such limit (see `Session::limit`).
    fn limit(&self, now: Instant) -> usize {
        let window = self.window();
        let n = match self.first_arrival {
            None => INITIAL_INFLIGHT,
            Some(t) => {
                let since = now.saturating_duration_since(t);
                if since < window {
                    INITIAL_INFLIGHT + self.unqueued
                } else {
                    let span = since.min(RATE_SPAN);
                    let count = self
                        .arrivals
                        .iter()
                        .rev()
                        .take_while(|a| now.saturating_duration_since(**a) < span)
                        .count();
                    // Whole blocks, rounded up; the float is exact enough for a count.
                    (count as f64 * window.as_secs_f64() / span.as_secs_f64()).ceil() as usize
                }
            }
        };
        n.clamp(MIN_INFLIGHT, PER_PEER_INFLIGHT)
    }

    /// Expected time to deliver what it owes, at its average pace since its first block
    /// (the current silence included); `None` before its second block.
    fn time_to_clear(&self, now: Instant) -> Option<Duration> {
        let t = self.first_arrival?;
        if self.delivered < 2 {
            return None;
        }
        let per_block =
            now.saturating_duration_since(t) / u32::try_from(self.delivered).unwrap_or(u32::MAX);
        Some(per_block * u32::try_from(self.inflight).unwrap_or(u32::MAX))
    }
}

#[derive(Debug, Default)]
struct WantInfo {
    /// The peer asked for the block, and when.
    asked_block: Option<(PeerId, Instant)>,
    /// Peers asked whether they have it, and when.
    asked_have: HashMap<PeerId, Instant>,
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

    /// Peers known, from before this session, to hold content like this session's (they
    /// delivered or announced the root of the DAG it walks): they are asked for blocks at
    /// once, as peers that showed it here. One that has not answers DONT_HAVE and is
    /// passed over, as any other.
    pub fn trust(&mut self, peers: impl IntoIterator<Item = PeerId>) {
        for p in peers {
            if let Some(i) = self.info.get_mut(&p) {
                i.good = true;
            }
        }
    }

    /// The shortest answer times earlier sessions saw from these peers (a session that
    /// trusts a peer sends it no want-have, so it would otherwise time only blocks, and a
    /// first block slowed by the peer's disk or a fresh stream let it owe more than its
    /// link holds).
    pub fn answered_before(&mut self, times: impl IntoIterator<Item = (PeerId, Duration)>) {
        for (p, d) in times {
            if let Some(i) = self.info.get_mut(&p) {
                i.answered(d);
            }
        }
    }

    /// Each peer's shortest answer time in this session, for the sessions after it.
    pub fn answer_times(&self) -> impl Iterator<Item = (PeerId, Duration)> + '_ {
        self.info
            .iter()
            .filter_map(|(p, i)| i.min_latency.map(|d| (*p, d)))
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
                } else if w.asked_have.contains_key(peer) && !w.dont_have.contains(peer) {
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
        told.extend(w.asked_have.keys().copied());
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
                && w.asked_have.insert(peer, now).is_none()
            {
                out.push(Action::Send {
                    peer,
                    want: entry(cid, WantType::Have, false),
                });
            }
        }
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

    /// A block from `peer` that nobody wanted any more (it was cancelled, or arrived from
    /// another peer first): it still shows the pace of `peer`'s link.
    pub fn on_unwanted_block(&mut self, peer: &PeerId, now: Instant) {
        if let Some(i) = self.info.get_mut(peer) {
            i.arrived(None, now);
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
            let asked = w.asked_block.and_then(|(p, t)| (p == peer).then_some(t));
            i.arrived(asked, now);
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
    /// for a peer, and another peer still owes [`END_GAME_OWED`] or more and, at its
    /// average pace, needs longer than [`END_GAME_BAR`] and three of `peer`'s round trips
    /// for them. The block asked last of the one that needs longest moves to `peer`
    /// (cancelled where it was). Without this a seeder slowed down near the end alone
    /// decided when the fetch ended, while the others sat idle. The block asked last is the
    /// one least likely to be on its way; but a seeder writes what it is asked for to its
    /// transport at once, so a moved block mostly arrives twice: hence the bar, which
    /// leaves alone the last few blocks of a peer going at its usual pace.
    fn end_game(&mut self, peer: PeerId, now: Instant, out: &mut Vec<Action>) {
        let Some(me) = self.info.get(&peer) else {
            return;
        };
        if !self.waiting.is_empty() || me.inflight != 0 || !me.good || me.slow {
            return;
        }
        let bar = me.min_latency.map(|l| END_GAME_BAR.max(l * 3));
        let Some((busy, _)) = self
            .info
            .iter()
            .filter(|(p, i)| **p != peer && i.inflight >= END_GAME_OWED)
            .filter_map(|(p, i)| match (i.time_to_clear(now), bar) {
                (Some(t), Some(bar)) => (t > bar).then_some((*p, t)),
                // Not measured yet (a second block not in, or `peer` has delivered only
                // blocks asked of others): by the count alone, as before measurements.
                _ => Some((*p, Duration::from_secs(i.inflight as u64))),
            })
            .max_by_key(|(_, t)| *t)
        else {
            return;
        };
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
        let asked = self
            .wants
            .get(cid)
            .and_then(|w| w.asked_have.get(&peer).copied());
        if let Some(i) = self.info.get_mut(&peer) {
            i.last_heard = Some(now);
            if let Some(t) = asked {
                i.answered(now.saturating_duration_since(t));
            }
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
            if !self.any_room(now) {
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
    fn any_room(&self, now: Instant) -> bool {
        let shared = self.shared();
        self.info
            .values()
            .any(|i| i.inflight < Self::limit(i, shared, now))
    }

    /// Whether the session has more than one peer (one that has not yet shown it has the
    /// content counts: the first to answer would otherwise take everything).
    fn shared(&self) -> bool {
        self.peers.len() > 1
    }

    /// Want-blocks a peer may owe: its own limit (`PeerInfo::limit`) while others could
    /// take over, [`PER_PEER_INFLIGHT`] while it is alone: the limit keeps work movable
    /// between peers, and a peer alone on a long link needs its whole window at once (at
    /// 200 ms a fresh connection filled 63% of a 100 Mbit/s link with the limit, 74%
    /// without: a count of past deliveries lags behind a congestion window that doubles
    /// each round trip).
    fn limit(i: &PeerInfo, shared: bool, now: Instant) -> usize {
        if shared {
            i.limit(now)
        } else {
            PER_PEER_INFLIGHT
        }
    }

    /// Asks the best peer for the block, or everyone whether they have it.
    fn dispatch(&mut self, cid: Cid, now: Instant, out: &mut Vec<Action>) {
        let shared = self.shared();
        let Some(w) = self.wants.get_mut(&cid) else {
            return;
        };
        // The peer with the most room for one more, as a share of its limit.
        let mut best: Option<(usize, usize, PeerId)> = None;
        for p in &self.peers {
            if w.dont_have.contains(p) {
                continue;
            }
            let Some(i) = self.info.get(p) else { continue };
            let candidate = (i.good && !i.slow) || w.have.contains(p);
            let limit = Self::limit(i, shared, now);
            if !candidate || i.inflight >= limit {
                continue;
            }
            if best.is_none_or(|(n, l, _)| (i.inflight + 1) * l < (n + 1) * limit) {
                best = Some((i.inflight, limit, *p));
            }
        }
        if let Some((_, _, p)) = best {
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
            if !w.dont_have.contains(p)
                && !w.have.contains(p)
                && w.asked_have.insert(*p, now).is_none()
            {
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

    /// A peer trusted from before (it held the DAG's root) is asked for blocks at once;
    /// the others only whether they have them. Untrusted, the first want of a new session
    /// goes to everyone as a want-have, a round trip before any block is asked for.
    #[test]
    fn a_trusted_peer_gets_want_blocks_at_once() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = Session::new([a, b], t);
        s.trust([a, PeerId::random()]);
        let mut out = Vec::new();
        s.want([cid(1), cid(2)], t, &mut out);
        assert_eq!(
            sends(&out),
            vec![(a, WantType::Block, false), (a, WantType::Block, false)]
        );
        let mut s = Session::new([a, b], t);
        out.clear();
        s.want([cid(1)], t, &mut out);
        assert!(
            sends(&out).iter().all(|(_, w, _)| *w == WantType::Have),
            "{out:?}"
        );
    }

    /// [`both_have`], once each delivered a block: both good, neither owing, the same limit.
    fn both_good(a: PeerId, b: PeerId, t: Instant) -> Session {
        let mut s = both_have(a, b, t);
        let mut out = Vec::new();
        // `a` owes cid(0): the next want goes to `b`.
        s.want([cid(255)], t, &mut out);
        assert_eq!(sends(&out), vec![(b, WantType::Block, false)]);
        s.on_block(b, &cid(255), t, &mut out);
        s.on_block(a, &cid(0), t, &mut out);
        s
    }

    #[test]
    fn wants_spread_over_good_peers_and_dont_have_moves_on() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_have(a, b, t);
        let mut out = Vec::new();
        // `a` owes cid(0): room for 3 + 4, and one for `b` to take over below.
        s.want((1..=6).map(cid), t, &mut out);
        let to_a = sends(&out).iter().filter(|x| x.0 == a).count();
        let to_b = sends(&out).iter().filter(|x| x.0 == b).count();
        assert!(to_a >= 3 && to_b >= 3, "spread: {to_a} / {to_b}");
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

    fn many(n: u32) -> Vec<Cid> {
        (0..n)
            .map(|n| {
                dag::Block::encode(dag::Version::V1, dag::block::RAW, n.to_be_bytes().to_vec())
                    .cid()
                    .to_owned()
            })
            .collect()
    }

    /// The want-blocks in `out`, by peer.
    fn asked(out: &[Action]) -> Vec<(PeerId, Cid)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { peer, want }
                    if want.want_type == WantType::Block && !want.cancel =>
                {
                    Some((*peer, want.cid))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_peer_owes_at_most_the_initial_limit_unless_alone() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_have(a, b, t);
        let mut out = Vec::new();
        s.want(many(100), t, &mut out);
        let to = |p: PeerId| asked(&out).iter().filter(|(q, _)| *q == p).count();
        // `a` still owes the first block: one slot fewer.
        assert_eq!((to(a), to(b)), (INITIAL_INFLIGHT - 1, INITIAL_INFLIGHT));

        // Alone, a peer may owe the most at once: nobody could take work over.
        let mut s = Session::new([a], t);
        out.clear();
        s.want([cid(0)], t, &mut out);
        s.on_presence(a, &cid(0), Presence::Have, t, &mut out);
        out.clear();
        s.want(many(100), t, &mut out);
        assert_eq!(asked(&out).len(), PER_PEER_INFLIGHT - 1);
    }

    /// Peer `a` delivering the oldest block it owes every `pace`, for `secs` seconds
    /// (plenty wanted), beside a peer `b` that has the content and says nothing more;
    /// answers how many `a` owes at the end.
    fn owed_at_pace(pace: Duration, secs: u32) -> usize {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = both_have(a, b, t);
        let mut out = Vec::new();
        let of_a = |out: &[Action]| -> Vec<Cid> {
            asked(out)
                .into_iter()
                .filter(|(p, _)| *p == a)
                .map(|(_, c)| c)
                .collect()
        };
        let mut owed: VecDeque<Cid> = [cid(0)].into();
        s.want(many(5000), t, &mut out);
        owed.extend(of_a(&out));
        let mut now = t;
        while now < t + Duration::from_secs(secs.into()) {
            now += pace;
            let c = owed.pop_front().expect("owes blocks");
            out.clear();
            assert!(s.on_block(a, &c, now, &mut out));
            owed.extend(of_a(&out));
            assert!(owed.len() <= PER_PEER_INFLIGHT);
        }
        owed.len()
    }

    /// Peer `a` behind a link of round trip `rtt` that sends one block per `per_block`,
    /// first come first served, beside a peer `b` that has the content and says nothing
    /// more (plenty wanted): answers the most `a` owed during its first second (its slow
    /// start) and after it. The first block takes `warmup` longer (a fresh connection's
    /// congestion window starts small).
    ///
    /// With `known`, both are trusted from an earlier session (no want-have round) that
    /// saw `a` answer in that time.
    fn most_owed_on_link(
        rtt: Duration,
        per_block: Duration,
        warmup: Duration,
        secs: u32,
        known: Option<Duration>,
    ) -> (usize, usize) {
        let (a, b) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        let mut s = Session::new([a, b], start);
        let mut out = Vec::new();
        let t = if let Some(d) = known {
            s.trust([a, b]);
            s.answered_before([(a, d)]);
            s.want([cid(0)], start, &mut out);
            start
        } else {
            // Both answer the first want-have a round trip later.
            let t = start + rtt;
            s.want([cid(0)], start, &mut out);
            s.on_presence(a, &cid(0), Presence::Have, t, &mut out);
            s.on_presence(b, &cid(0), Presence::Have, t, &mut out);
            t
        };
        out.clear();
        // What `a` owes, oldest first, with when each was asked.
        let mut owed: VecDeque<(Cid, Instant)> = [(cid(0), t)].into();
        let note = |out: &mut Vec<Action>, owed: &mut VecDeque<(Cid, Instant)>, now| {
            owed.extend(
                asked(out)
                    .into_iter()
                    .filter(|(p, _)| *p == a)
                    .map(|(_, c)| (c, now)),
            );
            out.clear();
        };
        s.want(many(5000), t, &mut out);
        note(&mut out, &mut owed, t);
        let (mut early, mut late, mut last) = (owed.len(), 0, t + warmup);
        while last < t + Duration::from_secs(secs.into()) {
            let (c, at) = owed.pop_front().expect("owes blocks");
            // Out when the link is free and the want has crossed it, in after half a round
            // trip more.
            last = (at + rtt / 2).max(last) + per_block;
            let now = last + rtt / 2;
            assert!(s.on_block(a, &c, now, &mut out));
            note(&mut out, &mut owed, now);
            if now < t + Duration::from_secs(1) {
                early = early.max(owed.len());
            } else {
                late = late.max(owed.len());
            }
        }
        (early, late)
    }

    /// The slow start ends when the delay grows: on a 25 Mbit/s link at 40 ms (a 256 KiB
    /// block every 84 ms) a shared peer never owes more than 5 blocks (growing by one per
    /// block delivered it owed 10–14 in the lab, past its link's queue); where the link is
    /// not what limits (a block every 2 ms at 200 ms) it grows well past its start.
    #[test]
    fn the_slow_start_stops_when_blocks_queue() {
        let ms = Duration::from_millis;
        let (early, late) = most_owed_on_link(ms(40), ms(84), Duration::ZERO, 4, None);
        assert!(
            early <= INITIAL_INFLIGHT + 1 && late <= INITIAL_INFLIGHT + 1,
            "{early} {late}"
        );
        let (early, _) = most_owed_on_link(ms(200), ms(2), Duration::ZERO, 2, None);
        assert!(early >= 4 * INITIAL_INFLIGHT, "{early}");
    }

    /// On a fresh connection the first block is late (230 ms where the link takes 124):
    /// the round trip of the peer's first presence, not that block, tells how long the
    /// link's round trip is, and the peer owes no more than on a warm connection (6 blocks,
    /// 1.5 MiB, when its limit followed that block: as much as the lab link's queue holds).
    #[test]
    fn a_presence_round_trip_bounds_a_fresh_connection() {
        let ms = Duration::from_millis;
        let (early, late) = most_owed_on_link(ms(40), ms(84), ms(110), 4, None);
        assert!(
            early <= INITIAL_INFLIGHT + 1 && late <= INITIAL_INFLIGHT,
            "{early} {late}"
        );
        // Trusted, with no want-have round: the time an earlier session saw does the same.
        let (early, late) = most_owed_on_link(ms(40), ms(84), ms(110), 4, Some(ms(40)));
        assert!(
            early <= INITIAL_INFLIGHT + 1 && late <= INITIAL_INFLIGHT,
            "{early} {late}"
        );
    }

    /// After its slow start, a peer that shares the session may owe what it delivers in
    /// `RATE_WINDOW` (here longer than two round trips): a fast one up to
    /// `PER_PEER_INFLIGHT`, a slow one `MIN_INFLIGHT`, one in between in proportion.
    #[test]
    fn the_limit_follows_the_delivery_rate() {
        // 1000 blocks/s: 300 in the window, capped.
        assert_eq!(owed_at_pace(Duration::from_millis(1), 3), PER_PEER_INFLIGHT);
        // 50 blocks/s: 15 in the window.
        let mid = owed_at_pace(Duration::from_millis(20), 3);
        assert!((14..=16).contains(&mid), "{mid}");
        // 5 blocks/s: 1.5 in the window, raised to the floor.
        assert_eq!(owed_at_pace(Duration::from_millis(200), 4), MIN_INFLIGHT);
    }

    /// Two good peers, `a` and `b`, each delivering its oldest owed block every `pace_a` /
    /// `pace_b` for two seconds with plenty wanted; then `a` delivers all it owes at once.
    /// Answers the block `b` gave up to `a`, if any.
    fn end_game_after(pace_a: Duration, pace_b: Duration, keep: usize) -> Option<Cid> {
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        let mut s = Session::new([a, b], t);
        let mut out = Vec::new();
        s.want([cid(0)], t, &mut out);
        s.on_presence(a, &cid(0), Presence::Have, t, &mut out);
        s.on_presence(b, &cid(0), Presence::Have, t, &mut out);
        let mut owed: HashMap<PeerId, VecDeque<Cid>> = HashMap::new();
        let note = |out: &mut Vec<Action>, owed: &mut HashMap<PeerId, VecDeque<Cid>>| {
            for (p, c) in asked(out) {
                owed.entry(p).or_default().push_back(c);
            }
            out.clear();
        };
        note(&mut out, &mut owed);
        // Plenty wanted: both stay busy; what still waits at the end is cancelled below.
        s.want(many(400), t, &mut out);
        note(&mut out, &mut owed);
        let (mut next_a, mut next_b) = (t + pace_a, t + pace_b);
        let end = t + Duration::from_secs(2);
        loop {
            let (p, at) = if next_a <= next_b {
                (a, next_a)
            } else {
                (b, next_b)
            };
            if at >= end {
                break;
            }
            if let Some(c) = owed.get_mut(&p).and_then(VecDeque::pop_front) {
                s.on_block(p, &c, at, &mut out);
                note(&mut out, &mut owed);
            }
            if p == a {
                next_a += pace_a
            } else {
                next_b += pace_b
            }
        }
        // Nothing more is wanted: what is not owed yet is dropped.
        let extra: Vec<Cid> = s.waiting.iter().copied().collect();
        s.cancel(extra, &mut out);
        out.clear();
        // `b` owes `keep` blocks (the others arrive now); `a` delivers everything.
        while owed.get(&b).map_or(0, VecDeque::len) > keep {
            if let Some(c) = owed.get_mut(&b).and_then(VecDeque::pop_front) {
                s.on_block(b, &c, end, &mut out);
            }
        }
        out.clear();
        let mut moved = None;
        while let Some(c) = owed.get_mut(&a).and_then(VecDeque::pop_front) {
            s.on_block(a, &c, end, &mut out);
            for (p, c) in asked(&out) {
                assert_eq!(p, a);
                moved = Some(c);
            }
            if moved.is_some() {
                assert!(out.iter().any(
                    |x| matches!(x, Action::Send { peer, want } if *peer == b && want.cancel)
                ));
                break;
            }
            out.clear();
        }
        moved
    }

    /// A peer going at its usual pace keeps its last few blocks (moving them would bring
    /// them twice); one that has been delivering far slower than the end game's bar loses
    /// its last-asked one.
    #[test]
    fn the_end_game_leaves_a_steady_peer_alone_and_relieves_a_slow_one() {
        let ms = Duration::from_millis;
        // b: a block every 50 ms, owing 4: 200 ms of work, under the bar.
        assert_eq!(end_game_after(ms(20), ms(50), 4), None);
        // b: a block every 400 ms, owing 4: 1.6 s of work.
        assert!(end_game_after(ms(20), ms(400), 4).is_some());
    }
}
