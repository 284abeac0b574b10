//! The engine: the one task that owns BitSwap's state — peers (their wantlists, our
//! writer to them, bytes queued), ledgers, sessions and the upload scheduler.
//!
//! Data flow: commands from the [`crate::Bitswap`] handle, checked messages and write
//! completions from the stream tasks ([`crate::net`]), results of blocking work (block
//! reads, presence checks) and connection events all arrive as messages; the engine
//! answers by queueing [`Outbound`] messages to peer writers, sending fetched blocks to the
//! store writer and to the sessions that want them, and starting bounded blocking reads
//! for the peers the scheduler picks. It never blocks: disk work runs on the blocking
//! pool or the store thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dag::{Block, Cid};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p_stream::Control;
use tokio::sync::{mpsc, oneshot};

use crate::exchange::{self, Outcome};
use crate::ledger::{Ledger, LedgerDb, LedgerView};
use crate::net::{self, Event};
use crate::protocol::{INLINE_HAVE_MAX, Outbound, Presence, Want, WantType};
use crate::session::{Action, Session};
use crate::store::{self, Item};
use crate::strategy::{Scheduler, Strategy};
use crate::{Command, Config, Error, LedgerReport, Parts, PeerEvent, Routing, SessionId, Stat};

/// Block bytes read for one peer per scheduling turn.
const LOAD_BYTES: u64 = 1 << 20;
/// Wantlist entries taken per turn (at most; the read stops at [`LOAD_BYTES`]).
const LOAD_ENTRIES: usize = 64;
/// Want-blocks kept per peer (more are ignored).
const MAX_THEIR_WANTS: usize = 8192;
/// Want-haves checked per blocking call.
const PRESENCE_CHUNK: usize = 1024;
/// CIDs remembered per peer as asked-for (a block outside them is unsolicited).
const MAX_ASKED: usize = 1 << 16;
/// Messages queued per peer writer.
const WRITER_QUEUE: usize = 16;
/// Blocks buffered per session receiver.
const SESSION_QUEUE: usize = 1024;
/// How often sessions tick and ledgers are considered for saving.
const TICK: Duration = Duration::from_millis(100);
/// Ledgers are saved at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
enum Internal {
    Loaded {
        peer: PeerId,
        blocks: Vec<Block>,
        missing: Vec<Cid>,
        leftover: Vec<Cid>,
    },
    Presences {
        peer: PeerId,
        reply: Outbound,
    },
    Providers {
        session: SessionId,
        peers: Vec<PeerId>,
    },
    Exchanged {
        peer: PeerId,
        ours: LedgerView,
        outcome: Outcome,
    },
    Saved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    None,
    Opening,
    Ready,
    Unsupported,
}

#[derive(Debug)]
struct Peer {
    writer: Writer,
    out: Option<mpsc::Sender<Outbound>>,
    /// Wants and cancels not yet handed to the writer.
    ctrl: Outbound,
    /// Block/presence messages not yet handed to the writer.
    queue: VecDeque<Outbound>,
    /// Block bytes loaded and not yet written.
    queued: u64,
    loading: bool,
    /// Their want-blocks, in arrival order (entries may be stale: check `theirs`).
    order: VecDeque<Cid>,
    /// Their want-blocks: CID → send DONT_HAVE.
    theirs: HashMap<Cid, bool>,
    /// Our wantlist as the peer has it (entries cancelled or answered leave).
    sent: HashMap<Cid, WantType>,
    /// CIDs we asked them for (bounded, oldest forgotten first).
    asked: HashSet<Cid>,
    asked_order: VecDeque<Cid>,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            writer: Writer::None,
            out: None,
            ctrl: Outbound::default(),
            queue: VecDeque::new(),
            queued: 0,
            loading: false,
            order: VecDeque::new(),
            theirs: HashMap::new(),
            sent: HashMap::new(),
            asked: HashSet::new(),
            asked_order: VecDeque::new(),
        }
    }

    fn remember_asked(&mut self, cid: Cid) {
        if self.asked.insert(cid) {
            self.asked_order.push_back(cid);
            if self.asked_order.len() > MAX_ASKED
                && let Some(old) = self.asked_order.pop_front()
            {
                self.asked.remove(&old);
            }
        }
    }

    fn has_work(&self) -> bool {
        !self.order.is_empty()
    }
}

struct SessionEntry {
    session: Session,
    tx: mpsc::Sender<crate::Delivery>,
}

#[derive(Debug, Default)]
struct Counters {
    blocks_received: u64,
    data_received: u64,
    blocks_sent: u64,
    data_sent: u64,
    dup_blocks: u64,
    dup_data: u64,
    messages: u64,
    misbehaving: u64,
    agreed: u64,
    resets: u64,
}

struct Engine {
    config: Arc<Config>,
    control: Control,
    keypair: Keypair,
    local: PeerId,
    store: Arc<dyn crate::Blockstore>,
    routing: Arc<dyn Routing>,
    store_tx: mpsc::Sender<Item>,
    pending: store::Pending,
    events_tx: mpsc::Sender<Event>,
    internal_tx: mpsc::Sender<Internal>,
    peers: HashMap<PeerId, Peer>,
    connected: HashSet<PeerId>,
    ledgers: HashMap<PeerId, Ledger>,
    settled: HashMap<PeerId, LedgerView>,
    exchanges: HashMap<PeerId, bool>,
    dirty: HashSet<PeerId>,
    ledger_db: Option<Arc<LedgerDb>>,
    saving: bool,
    last_save: Instant,
    scheduler: Scheduler,
    sessions: HashMap<SessionId, SessionEntry>,
    interest: HashMap<Cid, Vec<SessionId>>,
    next_session: SessionId,
    /// Block bytes loaded or queued for writing, all peers; plus loads in flight.
    upload_queued: u64,
    loads: u64,
    /// With an upload rate: when the bytes read so far may all have been sent.
    rate_clock: Instant,
    stat: Counters,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
}

pub(crate) async fn spawn(
    config: Arc<Config>,
    parts: Parts,
    pending: store::Pending,
) -> Result<(mpsc::Sender<Command>, tokio::task::JoinHandle<()>), Error> {
    let Parts {
        control,
        incoming,
        keypair,
        store,
        routing,
        peer_events,
    } = parts;
    let (ledger_db, loaded) = match config.ledger_path.clone() {
        Some(path) => {
            let (db, rows) = tokio::task::spawn_blocking(move || {
                let db = LedgerDb::open(&path)?;
                let rows = db.load_all()?;
                Ok::<_, crate::LedgerError>((db, rows))
            })
            .await
            .map_err(|_| Error::Stopped)??;
            (Some(Arc::new(db)), rows)
        }
        None => (None, Vec::new()),
    };
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (internal_tx, internal_rx) = mpsc::channel(1024);
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let acceptor = net::spawn_acceptor(incoming, events_tx.clone());
    let store_tx = store::spawn(store.clone(), pending.clone()).map_err(|_| Error::Stopped)?;
    let rng = match config.seed {
        Some(seed) => fastrand::Rng::with_seed(seed),
        None => fastrand::Rng::new(),
    };
    let local = keypair.public().to_peer_id();
    let mut settled = HashMap::new();
    let mut ledgers = HashMap::new();
    for (peer, l) in loaded {
        settled.insert(peer, l.view());
        ledgers.insert(peer, l);
    }
    let engine = Engine {
        scheduler: Scheduler::new(config.strategy, rng),
        config,
        control,
        keypair,
        local,
        store,
        routing,
        store_tx,
        pending,
        events_tx,
        internal_tx,
        peers: HashMap::new(),
        connected: HashSet::new(),
        ledgers,
        settled,
        exchanges: HashMap::new(),
        dirty: HashSet::new(),
        ledger_db,
        saving: false,
        last_save: Instant::now(),
        sessions: HashMap::new(),
        interest: HashMap::new(),
        next_session: 1,
        upload_queued: 0,
        loads: 0,
        rate_clock: Instant::now(),
        stat: Counters::default(),
    };
    let join = tokio::spawn(async move {
        engine
            .run(cmd_rx, events_rx, internal_rx, peer_events.0)
            .await;
        acceptor.abort();
    });
    Ok((cmd_tx, join))
}

impl Engine {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<Event>,
        mut internal: mpsc::Receiver<Internal>,
        mut peer_events: mpsc::Receiver<PeerEvent>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Stop) => break,
                    Some(cmd) => self.on_command(cmd).await,
                },
                Some(ev) = events.recv() => self.on_event(ev).await,
                Some(ev) = internal.recv() => self.on_internal(ev).await,
                Some(ev) = peer_events.recv() => self.on_peer_event(ev),
                _ = tick.tick() => self.on_tick(),
            }
        }
        // Final ledger save and store flush.
        for (peer, l) in &self.ledgers {
            if self.dirty.contains(peer) {
                tracing::trace!(%peer, sent = l.bytes_sent, "saving ledger");
            }
        }
        if let Some(db) = self.ledger_db.clone() {
            let rows: Vec<(PeerId, Ledger)> = self.ledgers.iter().map(|(p, l)| (*p, *l)).collect();
            let _ = tokio::task::spawn_blocking(move || db.save(&rows)).await;
        }
        let (reply, rx) = oneshot::channel();
        if self.store_tx.send(Item::Flush(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    // ---------------------------------------------------------------- commands

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::OpenSession { reply } => {
                let id = self.next_session;
                self.next_session += 1;
                let (tx, rx) = mpsc::channel(SESSION_QUEUE);
                let peers: Vec<PeerId> = self.bitswap_peers();
                self.sessions.insert(
                    id,
                    SessionEntry {
                        session: Session::new(peers, Instant::now()),
                        tx,
                    },
                );
                let _ = reply.send((id, rx));
            }
            Command::Want { session, cids } => {
                // A CID another session already fetches is only watched (its block reaches
                // every interested session): two sessions asking would fetch it twice.
                let mut fresh = Vec::new();
                for cid in cids {
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
            Command::CloseSession { session } => {
                tracing::trace!(session, "session closed");
                if let Some(mut s) = self.sessions.remove(&session) {
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
            Command::Flush { reply } => {
                let _ = self.store_tx.send(Item::Flush(reply)).await;
            }
            Command::Stat { reply } => {
                let _ = reply.send(self.stat());
            }
            Command::Ledger { peer, reply } => {
                let _ = reply.send(self.ledgers.get(&peer).map(|l| self.report(peer, l)));
            }
            Command::Ledgers { reply } => {
                let mut all: Vec<LedgerReport> = self
                    .ledgers
                    .iter()
                    .map(|(p, l)| self.report(*p, l))
                    .collect();
                all.sort_by_key(|r| r.peer.to_bytes());
                let _ = reply.send(all);
            }
            Command::Wantlist { peer, reply } => {
                let list = match peer {
                    None => self.interest.keys().copied().collect(),
                    Some(p) => self
                        .peers
                        .get(&p)
                        .map(|s| {
                            s.order
                                .iter()
                                .filter(|c| s.theirs.contains_key(c))
                                .copied()
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                let _ = reply.send(list);
            }
            Command::Stop => {}
        }
    }

    fn report(&self, peer: PeerId, l: &Ledger) -> LedgerReport {
        LedgerReport {
            peer,
            ledger: *l,
            debt_ratio: l.debt_ratio(),
            send_probability: l.send_probability(),
            exchanges: self.exchanges.get(&peer).copied(),
        }
    }

    fn stat(&self) -> Stat {
        let mut wantlist: Vec<Cid> = self.interest.keys().copied().collect();
        wantlist.sort_by_key(|c| c.to_bytes());
        let mut peers: Vec<PeerId> = self.connected.iter().copied().collect();
        peers.sort_by_key(|p| p.to_bytes());
        Stat {
            blocks_received: self.stat.blocks_received,
            data_received: self.stat.data_received,
            blocks_sent: self.stat.blocks_sent,
            data_sent: self.stat.data_sent,
            dup_blks_received: self.stat.dup_blocks,
            dup_data_received: self.stat.dup_data,
            messages_received: self.stat.messages,
            misbehaving_peers: self.stat.misbehaving,
            ledger_agreed: self.stat.agreed,
            ledger_resets: self.stat.resets,
            wantlist,
            peers,
            serving: self.peers.values().filter(|p| p.has_work()).count(),
            sessions: self.sessions.len(),
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

    // ---------------------------------------------------------------- sessions → peers

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
                    tokio::spawn(async move {
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

    /// Hands queued messages to the peer's writer (starting it if needed).
    fn flush_peer(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        match p.writer {
            Writer::Unsupported => {
                p.ctrl = Outbound::default();
                p.queue.clear();
                return;
            }
            Writer::None => {
                let (tx, rx) = mpsc::channel(WRITER_QUEUE);
                p.out = Some(tx);
                p.writer = Writer::Opening;
                net::spawn_writer(peer, self.control.clone(), rx, self.events_tx.clone());
                return;
            }
            Writer::Opening => return,
            Writer::Ready => {}
        }
        let Some(out) = p.out.clone() else { return };
        loop {
            let msg = if let Some(mut m) = p.queue.pop_front() {
                m.wants.append(&mut p.ctrl.wants);
                m.full |= std::mem::take(&mut p.ctrl.full);
                m
            } else if !p.ctrl.is_empty() {
                std::mem::take(&mut p.ctrl)
            } else {
                return;
            };
            match out.try_send(msg) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(mut m))
                | Err(mpsc::error::TrySendError::Closed(mut m)) => {
                    // Wants (and the full flag) go back to the control part, ahead of
                    // anything queued since.
                    m.wants.append(&mut p.ctrl.wants);
                    p.ctrl.wants = std::mem::take(&mut m.wants);
                    p.ctrl.full |= std::mem::take(&mut m.full);
                    if !(m.blocks.is_empty() && m.presences.is_empty()) {
                        p.queue.push_front(m);
                    }
                    return;
                }
            }
        }
    }

    // ---------------------------------------------------------------- stream events

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Message { peer, msg } => self.on_message(peer, msg).await,
            Event::LedgerStream { peer, stream } => {
                if self.config.ledger_exchange {
                    self.on_ledger_stream(peer, stream);
                }
            }
            Event::Misbehaved { peer, error } => self.misbehaved(peer, &error.to_string()),
            Event::WriterReady { peer, version } => {
                // A new stream starts with our full wantlist for this peer (it replaces
                // whatever the peer remembered from an earlier stream).
                let mut wants: Vec<Want> = Vec::new();
                for s in self.sessions.values() {
                    for w in s.session.asked_of(&peer) {
                        if !wants.iter().any(|x| x.cid == w.cid) {
                            wants.push(w);
                        }
                    }
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.writer = Writer::Ready;
                    p.sent = wants.iter().map(|w| (w.cid, w.want_type)).collect();
                    p.ctrl.wants = wants;
                    p.ctrl.full = true;
                    tracing::debug!(%peer, ?version, "bitswap stream open");
                }
                self.flush_peer(peer);
            }
            Event::WriterFailed { peer, unsupported } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    self.upload_queued = self.upload_queued.saturating_sub(p.queued);
                    p.queued = 0;
                    p.out = None;
                    p.queue.clear();
                    p.ctrl = Outbound::default();
                    p.writer = if unsupported {
                        Writer::Unsupported
                    } else {
                        Writer::None
                    };
                }
                // Sessions stop counting on this peer.
                self.for_sessions(|s, now, out| s.remove_peer(&peer, now, out));
                self.schedule();
            }
            Event::Sent { peer, sizes } => {
                let now = unix_now();
                let total: u64 = sizes.iter().sum();
                if !sizes.is_empty() {
                    let l = self.ledgers.entry(peer).or_default();
                    for s in &sizes {
                        l.record_sent(*s, now);
                    }
                    self.dirty.insert(peer);
                    self.stat.blocks_sent += sizes.len() as u64;
                    self.stat.data_sent += total;
                }
                // A forgotten peer's bytes already left the total.
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.queued = p.queued.saturating_sub(total);
                    self.upload_queued = self.upload_queued.saturating_sub(total);
                }
                self.flush_peer(peer);
                self.schedule();
            }
        }
    }

    fn misbehaved(&mut self, peer: PeerId, why: &str) {
        tracing::info!(%peer, reason = why, "disconnecting peer for a bitswap protocol violation");
        self.stat.misbehaving += 1;
        let routing = self.routing.clone();
        tokio::spawn(async move { routing.disconnect(peer).await });
        self.forget_peer(peer);
    }

    async fn on_message(&mut self, peer: PeerId, msg: crate::protocol::Inbound) {
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
            let len = block.data().len() as u64;
            self.stat.blocks_received += 1;
            self.stat.data_received += len;
            self.ledgers.entry(peer).or_default().record_recv(len, unix);
            self.dirty.insert(peer);
            let Some(ids) = self.interest.remove(block.cid()) else {
                self.stat.dup_blocks += 1;
                self.stat.dup_data += len;
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
            for id in ids {
                let mut actions = Vec::new();
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.session.on_block(peer, block.cid(), now, &mut actions);
                    if s.tx
                        .try_send(crate::Delivery::Block(block.clone()))
                        .is_err()
                    {
                        tracing::debug!(session = id, "session receiver full or closed");
                    }
                }
                self.apply(id, actions);
            }
        }
        self.flush_peer(peer);
        if msg.wants.is_empty() && !msg.full {
            return;
        }
        let p = self.peers.entry(peer).or_insert_with(Peer::new);
        if msg.full {
            p.theirs.clear();
            p.order.clear();
        }
        let mut haves = Vec::new();
        for w in msg.wants {
            if w.cancel {
                p.theirs.remove(&w.cid);
                continue;
            }
            match w.want_type {
                WantType::Block => {
                    if p.theirs.len() < MAX_THEIR_WANTS
                        && p.theirs.insert(w.cid, w.send_dont_have).is_none()
                    {
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
        for chunk in haves.chunks(PRESENCE_CHUNK) {
            self.check_presences(peer, chunk.to_vec());
        }
        self.schedule();
    }

    /// Answers want-haves: HAVE, the block itself when small, or DONT_HAVE if asked.
    fn check_presences(&self, peer: PeerId, wants: Vec<Want>) {
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let reply = tokio::task::spawn_blocking(move || {
                let mut out = Outbound::default();
                for w in wants {
                    match store.size(&w.cid) {
                        Ok(Some(n)) if n as usize <= INLINE_HAVE_MAX => match store.get(&w.cid) {
                            Ok(Some(data)) => out.blocks.push(Block::trusted(w.cid, data)),
                            _ => out.presences.push((w.cid, Presence::Have)),
                        },
                        Ok(Some(_)) => out.presences.push((w.cid, Presence::Have)),
                        _ if w.send_dont_have => out.presences.push((w.cid, Presence::DontHave)),
                        _ => {}
                    }
                }
                out
            })
            .await;
            if let Ok(reply) = reply
                && !reply.is_empty()
            {
                let _ = tx.send(Internal::Presences { peer, reply }).await;
            }
        });
    }

    // ---------------------------------------------------------------- serving

    /// One scheduling round over the active peers (with wants pending, being read or being
    /// written): admitted peers with pending wants get a block read started; deferred ones
    /// only when the strategy is work-conserving and no peer was admitted, i.e. when the
    /// upload would otherwise sit idle.
    fn schedule(&mut self) {
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
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let res = tokio::task::spawn_blocking(move || {
                let mut blocks = Vec::new();
                let mut missing = Vec::new();
                let mut bytes = 0u64;
                let mut rest = cids.into_iter();
                for cid in rest.by_ref() {
                    match store.get(&cid) {
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

    async fn on_internal(&mut self, ev: Internal) {
        match ev {
            Internal::Loaded {
                peer,
                blocks,
                missing,
                leftover,
            } => {
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
                let mut out = Outbound::default();
                for b in blocks {
                    if p.theirs.remove(b.cid()).is_some() {
                        out.blocks.push(b);
                    }
                }
                for c in missing {
                    if p.theirs.remove(&c) == Some(true) {
                        out.presences.push((c, Presence::DontHave));
                    }
                }
                let bytes = out.block_bytes();
                if let Some(rate) = self.config.upload_rate.filter(|r| *r > 0) {
                    let now = Instant::now();
                    self.rate_clock = self.rate_clock.max(now)
                        + Duration::from_secs_f64(bytes as f64 / rate as f64);
                }
                if !out.is_empty() {
                    p.queued += bytes;
                    self.upload_queued += bytes;
                    p.queue.push_back(out);
                }
                self.flush_peer(peer);
                self.schedule();
            }
            Internal::Presences { peer, reply } => {
                let bytes = reply.block_bytes();
                let p = self.peers.entry(peer).or_insert_with(Peer::new);
                p.queued += bytes;
                self.upload_queued += bytes;
                p.queue.push_back(reply);
                self.flush_peer(peer);
            }
            Internal::Providers { session, peers } => {
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
                        let _ = s.tx.try_send(crate::Delivery::NotFound(cid));
                    }
                }
                self.apply(session, actions);
            }
            Internal::Exchanged {
                peer,
                ours,
                outcome,
            } => match outcome {
                Outcome::Theirs(theirs) => {
                    self.exchanges.insert(peer, true);
                    if exchange::agree(&ours, &theirs) {
                        self.stat.agreed += 1;
                    } else {
                        tracing::info!(%peer, ?ours, ?theirs, "ledger views disagree; resetting the ledger");
                        self.stat.resets += 1;
                        let l = self.ledgers.entry(peer).or_default();
                        l.reset();
                        if l.flagged() {
                            tracing::warn!(%peer, resets = l.resets, "peer keeps losing its ledger");
                        }
                        self.settled.insert(peer, LedgerView::default());
                        self.dirty.insert(peer);
                    }
                }
                Outcome::Unsupported => {
                    self.exchanges.insert(peer, false);
                }
                Outcome::Failed => {}
            },
            Internal::Saved => {
                self.saving = false;
            }
        }
    }

    // ---------------------------------------------------------------- connections

    /// Runs `f` on every session and carries out what they answer.
    fn for_sessions(&mut self, mut f: impl FnMut(&mut Session, Instant, &mut Vec<Action>)) {
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

    fn add_to_sessions(&mut self, peer: PeerId) {
        self.for_sessions(|s, now, out| s.add_peer(peer, now, out));
    }

    fn on_peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Connected(peer) => {
                if peer == self.local {
                    return;
                }
                if self.connected.insert(peer) {
                    self.add_to_sessions(peer);
                }
                if self.config.ledger_exchange && self.local < peer {
                    let ours = self.settled_view(peer);
                    let control = self.control.clone();
                    let keypair = self.keypair.clone();
                    let tx = self.internal_tx.clone();
                    tokio::spawn(async move {
                        let outcome = exchange::initiate(control, keypair, peer, ours).await;
                        let _ = tx
                            .send(Internal::Exchanged {
                                peer,
                                ours,
                                outcome,
                            })
                            .await;
                    });
                }
            }
            PeerEvent::Identified {
                peer,
                ledger_exchange: false,
            } if self.config.ledger_exchange && peer != self.local => {
                // Known not to speak it (unless an exchange already went through).
                self.exchanges.entry(peer).or_insert(false);
            }
            PeerEvent::Identified { .. } => {}
            PeerEvent::Disconnected(peer) => {
                self.forget_peer(peer);
                if let Some(l) = self.ledgers.get(&peer) {
                    self.settled.insert(peer, l.view());
                }
            }
        }
    }

    fn settled_view(&self, peer: PeerId) -> LedgerView {
        self.settled.get(&peer).copied().unwrap_or_default()
    }

    fn on_ledger_stream(&mut self, peer: PeerId, mut stream: libp2p::Stream) {
        let ours = self.settled_view(peer);
        let keypair = self.keypair.clone();
        let local = self.local;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let Some(theirs) = exchange::read_request(&mut stream, &peer, &local).await else {
                return;
            };
            exchange::reply(stream, &keypair, &peer, &ours).await;
            let _ = tx
                .send(Internal::Exchanged {
                    peer,
                    ours,
                    outcome: Outcome::Theirs(theirs),
                })
                .await;
        });
    }

    fn forget_peer(&mut self, peer: PeerId) {
        self.connected.remove(&peer);
        if let Some(p) = self.peers.remove(&peer) {
            self.upload_queued = self.upload_queued.saturating_sub(p.queued);
        }
        self.scheduler.forget(&peer);
        self.for_sessions(|s, now, out| s.remove_peer(&peer, now, out));
    }

    // ---------------------------------------------------------------- ticks

    fn on_tick(&mut self) {
        self.for_sessions(|s, now, out| s.tick(now, out));
        let now = Instant::now();
        self.schedule();
        if !self.saving
            && !self.dirty.is_empty()
            && now.duration_since(self.last_save) >= SAVE_EVERY
        {
            if let Some(db) = self.ledger_db.clone() {
                let rows: Vec<(PeerId, Ledger)> = self
                    .dirty
                    .drain()
                    .filter_map(|p| self.ledgers.get(&p).map(|l| (p, *l)))
                    .collect();
                self.saving = true;
                self.last_save = now;
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let res = tokio::task::spawn_blocking(move || db.save(&rows)).await;
                    if let Ok(Err(e)) = res {
                        tracing::warn!(error = %e, "saving bitswap ledgers failed");
                    }
                    let _ = tx.send(Internal::Saved).await;
                });
            } else {
                self.dirty.clear();
            }
        }
    }
}
