//! The network task: owns the swarm, answers [`Command`]s, tracks DHT queries and runs the
//! provide queue. Nothing here blocks: record-store writes go to the store's own writer
//! thread, and every wait on the network is bounded by the DHT's query timeout.

use super::records::Records;
use super::{
    Command, Info, KAD_LAN, KAD_WAN, LookupStats, NetConfig, NetError, PROTOCOL_VERSION, PeerConn,
    ProvideStats, Provider, ProviderEvent, peer_of, pow, validate,
};
use futures::StreamExt;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{self, GetProvidersOk, GetRecordOk, QueryId, QueryResult, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, connection_limits, identify, noise, ping, tcp, yamux,
};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Announcements running at once.
const MAX_PROVIDE_IN_FLIGHT: usize = 16;
/// Keys waiting to be announced at most; more are dropped (the reprovider covers them).
const MAX_PROVIDE_QUEUE: usize = 1 << 18;
/// Peers whose addresses are remembered at most.
const MAX_ADDR_BOOK: usize = 8192;
/// Addresses remembered per peer at most.
const MAX_ADDRS_PER_PEER: usize = 16;
/// Largest DHT message accepted (a record is at most 10 KiB; responses list 20 peers).
const MAX_DHT_MESSAGE: usize = 64 * 1024;
/// How often expired records are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
pub(crate) struct Behaviour {
    gate: pow::Gate,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    wan: Toggle<kad::Behaviour<Records>>,
    lan: Toggle<kad::Behaviour<Records>>,
    /// Outbound raw streams (BitSwap, ledger exchange).
    streams: libp2p_stream::Behaviour,
    /// Inbound BitSwap and ledger-exchange streams.
    bitswap_in: bitswap::inbound::Behaviour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Dht {
    Wan,
    Lan,
}

/// One caller's request; it may run as a query on each DHT.
enum Request {
    FindProviders {
        events: mpsc::Sender<ProviderEvent>,
        seen: HashSet<PeerId>,
        limit: usize,
        started: Instant,
        stats: LookupStats,
        /// (requests, successes) of the WAN and the LAN query, summed into `stats`.
        counts: [(u32, u32); 2],
    },
    FindPeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<Vec<Multiaddr>, NetError>>,
        found: Vec<Multiaddr>,
    },
    GetValue {
        key: RecordKey,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
        updates: Option<mpsc::Sender<Vec<u8>>>,
        best: Option<Vec<u8>>,
        /// Valid answers so far (an `/ipns/` lookup stops at `IPNS_QUORUM`).
        answers: usize,
        /// Who answered the best value so far (stale should a better one turn up).
        holders: Vec<(Dht, PeerId)>,
        /// Peers that answered something older or invalid, or nothing although among
        /// the closest: they get the best value when the lookup ends.
        stale: Vec<(Dht, PeerId)>,
    },
    PutValue {
        reply: oneshot::Sender<Result<(), NetError>>,
        ok: bool,
        error: Option<String>,
    },
    Provide {
        job: u64,
        ok: bool,
    },
    Bootstrap {
        reply: Option<oneshot::Sender<Result<(), NetError>>>,
        ok: bool,
        error: Option<String>,
    },
}

struct Pending {
    request: Request,
    queries: Vec<(Dht, QueryId)>,
}

struct Batch {
    remaining: usize,
    failed: usize,
    reply: oneshot::Sender<Result<(), NetError>>,
}

struct Task {
    swarm: Swarm<Behaviour>,
    records: Records,
    local: PeerId,
    protocols: Vec<String>,
    listen: Vec<Multiaddr>,
    connections: HashMap<PeerId, Vec<(ConnectionId, Multiaddr, bool)>>,
    latency: HashMap<PeerId, Duration>,
    addr_book: HashMap<PeerId, Vec<Multiaddr>>,
    dials: HashMap<ConnectionId, (Multiaddr, oneshot::Sender<Result<PeerId, NetError>>)>,
    queries: HashMap<(Dht, QueryId), u64>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    provide_queue: VecDeque<(RecordKey, Option<u64>)>,
    provide_jobs: usize,
    batches: HashMap<u64, Batch>,
    stats: ProvideStats,
    /// Values refused from peers, and why the latest was.
    records_refused: (u64, Option<String>),
    /// First-connection / last-disconnection events for BitSwap.
    peer_events: Option<bitswap::PeerEvents>,
}

/// yamux streams allowed per connection. Chosen so that no stream's receive window grows
/// past 1 MiB: rust-yamux grows windows from 256 KiB within a 1 GiB connection budget
/// minus 256 KiB per allowed stream (4093 × 256 KiB leaves 768 KiB to share), and it
/// rejects data frames over 1 MiB, while js-yamux (Helia) sends frames as large as the
/// window it was granted: with the default a fast Helia transfer grew a window past 1 MiB
/// and the connection died with `FrameTooLarge`.
const YAMUX_MAX_STREAMS: usize = 4093;

fn yamux_config() -> yamux::Config {
    let mut c = yamux::Config::default();
    c.set_max_num_streams(YAMUX_MAX_STREAMS);
    c
}

fn kad_behaviour(
    protocol: &'static str,
    local: PeerId,
    records: Records,
    config: &NetConfig,
    mode: kad::Mode,
    republish: bool,
) -> kad::Behaviour<Records> {
    let mut c = kad::Config::new(StreamProtocol::new(protocol));
    let k = NonZeroUsize::new(config.k).unwrap_or(kad::K_VALUE);
    c.set_replication_factor(k)
        .set_kbucket_size(k)
        .disjoint_query_paths(config.disjoint_paths)
        .set_query_timeout(config.query_timeout)
        .set_record_ttl(Some(config.record_ttl))
        .set_provider_record_ttl(Some(config.record_ttl))
        // Our own reprovider announces (it follows the strategy and reports progress).
        .set_provider_publication_interval(None)
        .set_record_filtering(kad::StoreInserts::FilterBoth)
        .set_max_packet_size(MAX_DHT_MESSAGE);
    if !republish {
        // Both DHTs share one store; the WAN one re-publishes values.
        c.set_publication_interval(None)
            .set_replication_interval(None);
    }
    let mut b = kad::Behaviour::with_config(local, records, c);
    b.set_mode(Some(mode));
    b
}

/// Builds the swarm, listens, dials the bootstrap peers and spawns the task.
pub(crate) async fn spawn(
    keypair: libp2p::identity::Keypair,
    config: NetConfig,
    records: Records,
    rx: mpsc::Receiver<Command>,
    peer_events: Option<bitswap::PeerEvents>,
) -> Result<
    (
        tokio::task::JoinHandle<()>,
        libp2p_stream::Control,
        bitswap::inbound::IncomingStreams,
    ),
    NetError,
> {
    let local = keypair.public().to_peer_id();
    let start_err = |reason: String| NetError::Start { reason };
    let mut protocols = vec![
        "/ipfs/id/1.0.0".to_string(),
        "/ipfs/id/push/1.0.0".to_string(),
        "/ipfs/ping/1.0.0".to_string(),
    ];
    if config.dht == Some(kad::Mode::Server) {
        protocols.push(KAD_WAN.into());
        if config.lan_dht {
            protocols.push(KAD_LAN.into());
        }
    }
    protocols.extend(bitswap::protocol::PROTOCOLS.iter().map(|p| p.to_string()));
    protocols.push(bitswap::exchange::PROTOCOL.to_string());
    let cfg = config.clone();
    let store = records.clone();
    let streams = libp2p_stream::Behaviour::new();
    let control = streams.new_control();
    let (bitswap_in, incoming) = bitswap::inbound::Behaviour::new();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux_config,
        )
        .map_err(|e| start_err(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| {
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established(Some(cfg.max_connections))
                .with_max_established_per_peer(Some(cfg.max_connections_per_peer))
                .with_max_pending_incoming(Some(cfg.max_pending))
                .with_max_pending_outgoing(Some(cfg.max_pending));
            let identify = identify::Behaviour::new(
                identify::Config::new(PROTOCOL_VERSION.into(), key.public())
                    .with_agent_version(format!("ipfsd/{}", env!("CARGO_PKG_VERSION")))
                    .with_push_listen_addr_updates(true),
            );
            let wan = cfg
                .dht
                .map(|mode| kad_behaviour(KAD_WAN, local, store.clone(), &cfg, mode, true));
            let lan = cfg
                .dht
                .filter(|_| cfg.lan_dht)
                .map(|mode| kad_behaviour(KAD_LAN, local, store.clone(), &cfg, mode, false));
            Behaviour {
                gate: pow::Gate::new(cfg.min_peer_difficulty),
                limits: connection_limits::Behaviour::new(limits),
                identify,
                ping: ping::Behaviour::new(ping::Config::new()),
                wan: Toggle::from(wan),
                lan: Toggle::from(lan),
                streams,
                bitswap_in,
            }
        })
        .map_err(|e| start_err(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| start_err(format!("listen on {addr}: {e}")))?;
    }
    let mut task = Task {
        swarm,
        records,
        local,
        protocols,
        listen: Vec::new(),
        connections: HashMap::new(),
        latency: HashMap::new(),
        addr_book: HashMap::new(),
        dials: HashMap::new(),
        queries: HashMap::new(),
        pending: HashMap::new(),
        next_id: 0,
        provide_queue: VecDeque::new(),
        provide_jobs: 0,
        batches: HashMap::new(),
        stats: ProvideStats::default(),
        records_refused: (0, None),
        peer_events,
    };
    // Wait until every listener is bound, so `id` reports real ports at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while task.listen.len() < config.listen.len() {
        match tokio::time::timeout_at(deadline, task.swarm.select_next_some()).await {
            Ok(SwarmEvent::ListenerError { error, .. }) => {
                return Err(start_err(format!("listener failed: {error}")));
            }
            Ok(SwarmEvent::ListenerClosed { reason: Err(e), .. }) => {
                return Err(start_err(format!("listener failed: {e}")));
            }
            Ok(ev) => task.on_swarm(ev),
            Err(_) => break,
        }
    }
    for addr in &config.bootstrap {
        if let Some(peer) = peer_of(addr) {
            task.learn(peer, std::slice::from_ref(addr), true, true);
            if let Err(e) = task.swarm.dial(
                DialOpts::peer_id(peer)
                    .addresses(vec![addr.clone()])
                    .build(),
            ) {
                tracing::warn!(%addr, error = %e, "cannot dial bootstrap peer");
            }
        }
    }
    Ok((tokio::spawn(task.run(rx)), control, incoming))
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.tick().await;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Stop) | None => break,
                    Some(cmd) => self.on_command(cmd),
                },
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                _ = sweep.tick() => {
                    let gone = self.records.sweep(Instant::now());
                    if gone > 0 {
                        tracing::debug!(gone, "expired DHT records removed");
                    }
                }
            }
            self.pump_provides();
        }
        let records = self.records.clone();
        drop(self);
        let _ = tokio::task::spawn_blocking(move || records.flush()).await;
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn kad(&mut self, dht: Dht) -> Option<&mut kad::Behaviour<Records>> {
        match dht {
            Dht::Wan => self.swarm.behaviour_mut().wan.as_mut(),
            Dht::Lan => self.swarm.behaviour_mut().lan.as_mut(),
        }
    }

    /// Starts `start` on each running DHT; registers them under a new request.
    fn start_query(
        &mut self,
        request: Request,
        mut start: impl FnMut(&mut kad::Behaviour<Records>) -> Option<QueryId>,
    ) -> Result<u64, Request> {
        let id = self.id();
        let mut queries = Vec::new();
        for dht in [Dht::Wan, Dht::Lan] {
            if let Some(kad) = self.kad(dht)
                && let Some(q) = start(kad)
            {
                queries.push((dht, q));
            }
        }
        if queries.is_empty() {
            return Err(request);
        }
        for q in &queries {
            self.queries.insert(*q, id);
        }
        self.pending.insert(id, Pending { request, queries });
        Ok(id)
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Info { reply } => {
                let _ = reply.send(self.info());
            }
            Command::Peers { reply } => {
                let peers = self
                    .connections
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
                    .collect();
                let _ = reply.send(peers);
            }
            Command::KnownAddrs { reply } => {
                let _ = reply.send(self.known_addrs());
            }
            Command::Connect { addr, reply } => self.connect(addr, reply),
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::FindProviders { key, limit, events } => {
                let request = Request::FindProviders {
                    events,
                    seen: HashSet::new(),
                    limit: limit.max(1),
                    started: Instant::now(),
                    stats: LookupStats::default(),
                    counts: [(0, 0); 2],
                };
                if let Err(Request::FindProviders { events, .. }) =
                    self.start_query(request, |k| Some(k.get_providers(key.clone())))
                {
                    let _ = events.try_send(ProviderEvent::Done(LookupStats::default()));
                }
            }
            Command::FindPeer { peer, reply } => {
                if self.connections.contains_key(&peer) {
                    let _ = reply.send(Ok(self.addresses_of(&peer)));
                    return;
                }
                let request = Request::FindPeer {
                    peer,
                    reply,
                    found: Vec::new(),
                };
                if let Err(Request::FindPeer { reply, .. }) =
                    self.start_query(request, |k| Some(k.get_closest_peers(peer)))
                {
                    let _ = reply.send(Err(NetError::NoDht));
                }
            }
            Command::GetValue {
                key,
                updates,
                reply,
            } => {
                let request = Request::GetValue {
                    key: key.clone(),
                    reply,
                    updates,
                    best: None,
                    answers: 0,
                    holders: Vec::new(),
                    stale: Vec::new(),
                };
                if let Err(Request::GetValue { reply, .. }) =
                    self.start_query(request, |k| Some(k.get_record(key.clone())))
                {
                    let _ = reply.send(Err(NetError::NoDht));
                }
            }
            Command::PutValue { key, value, reply } => {
                let existing = self.records.get(&key).map(|r| r.value.clone());
                if let Err(reason) = validate::value(&key, &value, existing.as_deref()) {
                    let _ = reply.send(Err(NetError::BadRecord {
                        key: validate::printable(&key),
                        reason,
                    }));
                    return;
                }
                let mut record = kad::Record::new(key, value);
                record.publisher = Some(self.local);
                let request = Request::PutValue {
                    reply,
                    ok: false,
                    error: None,
                };
                if let Err(Request::PutValue { reply, .. }) = self.start_query(request, |k| {
                    k.put_record(record.clone(), kad::Quorum::One).ok()
                }) {
                    let _ = reply.send(Err(NetError::NoDht));
                }
            }
            Command::Provide { keys, reply } => self.queue_provides(keys, reply),
            Command::ProvideStats { reply } => {
                let mut s = self.stats.clone();
                s.queued = self.provide_queue.len();
                s.in_flight = self.provide_jobs;
                let _ = reply.send(s);
            }
            Command::Bootstrap { reply } => {
                let request = Request::Bootstrap {
                    reply: Some(reply),
                    ok: false,
                    error: None,
                };
                if let Err(Request::Bootstrap {
                    reply: Some(reply), ..
                }) = self.start_query(request, |k| k.bootstrap().ok())
                {
                    let _ = reply.send(Err(NetError::Dht {
                        op: "bootstrap",
                        reason: "no known peers".into(),
                    }));
                }
            }
            Command::Reprovide { done, finished } => {
                self.stats.reprovide_done = done;
                match finished {
                    None => self.stats.reproviding = true,
                    Some(took) => {
                        self.stats.reproviding = false;
                        self.stats.reprovide_runs += 1;
                        self.stats.last_reprovide_keys = done;
                        self.stats.last_reprovide_seconds = took.as_secs_f64();
                    }
                }
            }
            Command::Stop => {}
        }
    }

    fn info(&mut self) -> Info {
        Info {
            listen: self.listen.clone(),
            protocols: self.protocols.clone(),
            peers: self.connections.len(),
            routing_table: self.routing_table_sizes(),
            pow_refused: self.swarm.behaviour().gate.refused(),
            records_refused: self.records_refused.clone(),
            records: self.records.counts(),
        }
    }

    fn routing_table_sizes(&mut self) -> (usize, usize) {
        let mut count = |dht| {
            self.kad(dht)
                .map_or(0, |k| k.kbuckets().map(|b| b.num_entries()).sum())
        };
        (count(Dht::Wan), count(Dht::Lan))
    }

    fn known_addrs(&mut self) -> BTreeMap<PeerId, Vec<Multiaddr>> {
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

    fn addresses_of(&mut self, peer: &PeerId) -> Vec<Multiaddr> {
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
    fn learn(&mut self, peer: PeerId, addrs: &[Multiaddr], wan: bool, lan: bool) {
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

    fn connect(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, NetError>>) {
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

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "swarm listening");
                if !self.listen.contains(&address) {
                    self.listen.push(address.clone());
                }
                // What we listen on is what we announce (in provider records and to
                // identify): right for loopback and LAN nodes; there is no AutoNAT.
                if dialable(&address) {
                    self.swarm.add_external_address(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen.retain(|a| *a != address);
                self.swarm.remove_external_address(&address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
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
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                num_established,
                ..
            } => {
                tracing::debug!(%peer_id, ?connection_id, ?cause, num_established, "connection closed");
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
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some((addr, reply)) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        addr,
                        reason: error_chain(&error),
                    }));
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                tracing::debug!(%error, "inbound connection failed");
            }
            SwarmEvent::NewExternalAddrOfPeer { peer_id, address } => {
                self.learn(peer_id, std::slice::from_ref(&address), false, false);
            }
            SwarmEvent::Behaviour(ev) => self.on_behaviour(ev),
            _ => {}
        }
    }

    fn on_behaviour(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
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
            BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            }) => {
                self.latency.insert(peer, rtt);
            }
            BehaviourEvent::Wan(ev) => self.on_kad(Dht::Wan, ev),
            BehaviourEvent::Lan(ev) => self.on_kad(Dht::Lan, ev),
            _ => {}
        }
    }

    fn on_kad(&mut self, dht: Dht, ev: kad::Event) {
        match ev {
            kad::Event::InboundRequest { request } => self.on_inbound(request),
            kad::Event::OutboundQueryProgressed {
                id,
                result,
                stats,
                step,
                ..
            } => {
                let Some(&req) = self.queries.get(&(dht, id)) else {
                    return;
                };
                self.on_progress(req, dht, id, result, &stats);
                if step.last {
                    self.queries.remove(&(dht, id));
                    let finished = match self.pending.get_mut(&req) {
                        Some(p) => {
                            p.queries.retain(|q| *q != (dht, id));
                            p.queries.is_empty()
                        }
                        None => false,
                    };
                    if finished && let Some(p) = self.pending.remove(&req) {
                        self.finish(p.request);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_inbound(&mut self, request: kad::InboundRequest) {
        match request {
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let existing = self.records.get(&record.key).map(|r| r.value.clone());
                match validate::value(&record.key, &record.value, existing.as_deref()) {
                    Ok(()) => {
                        let mut store = self.records.clone();
                        if let Err(e) = store.put(record) {
                            tracing::debug!(%source, error = %e, "record not stored");
                        }
                    }
                    Err(reason) => {
                        tracing::debug!(%source, key = %validate::printable(&record.key), %reason, "record refused");
                        self.records_refused.0 += 1;
                        self.records_refused.1 =
                            Some(format!("{}: {reason}", validate::printable(&record.key)));
                    }
                }
            }
            kad::InboundRequest::AddProvider {
                record: Some(record),
            } => {
                if validate::provider_key(&record.key) {
                    let mut record = record;
                    record.addresses.retain(dialable);
                    record.addresses.truncate(MAX_ADDRS_PER_PEER);
                    let mut store = self.records.clone();
                    if let Err(e) = store.add_provider(record) {
                        tracing::debug!(error = %e, "provider record not stored");
                    }
                } else {
                    tracing::debug!(provider = %record.provider, "provider record with a key that is not a multihash refused");
                }
            }
            _ => {}
        }
    }

    fn on_progress(
        &mut self,
        req: u64,
        dht: Dht,
        id: QueryId,
        result: QueryResult,
        stats: &kad::QueryStats,
    ) {
        // Addresses are looked up before the request is borrowed.
        let found_providers: Vec<Provider> = match &result {
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                let ps: Vec<PeerId> = providers.iter().copied().collect();
                ps.into_iter()
                    .map(|peer| Provider {
                        addrs: self.addresses_of(&peer),
                        peer,
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let Some(pending) = self.pending.get_mut(&req) else {
            return;
        };
        let mut stop = false;
        match (&mut pending.request, result) {
            (
                Request::FindProviders {
                    events,
                    seen,
                    limit,
                    started,
                    stats: s,
                    counts,
                },
                _,
            ) => {
                counts[dht as usize] = (stats.num_requests(), stats.num_successes());
                s.requests = counts.iter().map(|c| c.0).sum();
                s.successes = counts.iter().map(|c| c.1).sum();
                for p in found_providers {
                    if seen.len() < *limit && seen.insert(p.peer) {
                        s.first.get_or_insert_with(|| started.elapsed());
                        if events.try_send(ProviderEvent::Found(p)).is_err() {
                            stop = true;
                        }
                    }
                }
                if seen.len() >= *limit || events.is_closed() {
                    stop = true;
                }
            }
            (Request::FindPeer { peer, found, .. }, QueryResult::GetClosestPeers(r)) => {
                let peers = match r {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                if let Some(info) = peers.into_iter().find(|p| p.peer_id == *peer) {
                    for a in info.addrs.into_iter().map(without_p2p) {
                        if !found.contains(&a) {
                            found.push(a);
                        }
                    }
                    stop = !found.is_empty();
                }
            }
            (
                Request::GetValue {
                    key,
                    best,
                    updates,
                    answers,
                    holders,
                    stale,
                    ..
                },
                QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(peer_record))),
            ) => {
                let value = peer_record.record.value;
                // `None`: this node's own store.
                let from = peer_record.peer.map(|p| (dht, p));
                match validate::compare(key, &value, best.as_deref()) {
                    Ok(order) => {
                        *answers += 1;
                        match order {
                            std::cmp::Ordering::Greater => {
                                stale.append(holders);
                                holders.extend(from);
                                if let Some(u) = updates {
                                    let _ = u.try_send(value.clone());
                                }
                                *best = Some(value);
                            }
                            std::cmp::Ordering::Equal => holders.extend(from),
                            std::cmp::Ordering::Less => stale.extend(from),
                        }
                        // A non-IPNS value is immutable: the first valid one will do.
                        stop = !validate::is_ipns(key) || *answers >= super::IPNS_QUORUM;
                    }
                    Err(reason) => {
                        tracing::debug!(peer = ?from, key = %validate::printable(key), %reason, "invalid value in a lookup");
                        stale.extend(from);
                    }
                }
            }
            (
                Request::GetValue { stale, .. },
                QueryResult::GetRecord(Ok(GetRecordOk::FinishedWithNoAdditionalRecord {
                    cache_candidates,
                })),
            ) => stale.extend(cache_candidates.into_values().map(|p| (dht, p))),
            (Request::PutValue { ok, error, .. }, QueryResult::PutRecord(r)) => match r {
                Ok(_) => *ok = true,
                Err(e) => *error = Some(e.to_string()),
            },
            (Request::Provide { ok, .. }, QueryResult::StartProviding(Ok(_))) => *ok = true,
            (Request::Bootstrap { ok, error, .. }, QueryResult::Bootstrap(r)) => match r {
                Ok(_) => *ok = true,
                Err(e) => *error = Some(e.to_string()),
            },
            _ => {}
        }
        if stop {
            let queries = pending.queries.clone();
            for (dht, q) in queries {
                if let Some(k) = self.kad(dht)
                    && let Some(mut query) = k.query_mut(&q)
                {
                    query.finish();
                }
            }
        }
        let _ = id;
    }

    /// After an `/ipns/` lookup: sends the best record to the peers that answered an older
    /// one (or none, among the closest), and replaces an older copy in this node's store.
    fn correct_stale(
        &mut self,
        key: &RecordKey,
        value: &[u8],
        holders: &[(Dht, PeerId)],
        mut stale: Vec<(Dht, PeerId)>,
    ) {
        let local_old = self.records.get(key).map(|r| r.value.clone());
        if let Some(old) = local_old
            && validate::compare(key, value, Some(&old)) == Ok(std::cmp::Ordering::Greater)
        {
            let mut store = self.records.clone();
            if let Err(e) = store.put(kad::Record::new(key.clone(), value.to_vec())) {
                tracing::debug!(error = %e, "newer record not stored");
            }
        }
        stale.sort_unstable();
        stale.dedup();
        stale.retain(|p| !holders.contains(p) && p.1 != self.local);
        for dht in [Dht::Wan, Dht::Lan] {
            let peers: Vec<PeerId> = stale.iter().filter(|p| p.0 == dht).map(|p| p.1).collect();
            if peers.is_empty() {
                continue;
            }
            tracing::debug!(key = %validate::printable(key), peers = peers.len(), "sending the newest record to peers holding older ones");
            if let Some(kad) = self.kad(dht) {
                let record = kad::Record::new(key.clone(), value.to_vec());
                kad.put_record_to(record, peers.into_iter(), kad::Quorum::One);
            }
        }
    }

    fn finish(&mut self, request: Request) {
        match request {
            Request::FindProviders {
                events,
                started,
                mut stats,
                ..
            } => {
                stats.duration = started.elapsed();
                let _ = events.try_send(ProviderEvent::Done(stats));
            }
            Request::FindPeer { peer, reply, found } => {
                let result = if found.is_empty() {
                    let known = if self.connections.contains_key(&peer) {
                        self.addresses_of(&peer)
                    } else {
                        Vec::new()
                    };
                    if known.is_empty() {
                        Err(NetError::NotFound {
                            what: format!("peer {peer}"),
                        })
                    } else {
                        Ok(known)
                    }
                } else {
                    Ok(found)
                };
                let _ = reply.send(result);
            }
            Request::GetValue {
                key,
                reply,
                best,
                holders,
                stale,
                ..
            } => {
                if let Some(value) = &best
                    && validate::is_ipns(&key)
                {
                    self.correct_stale(&key, value, &holders, stale);
                }
                let _ = reply.send(best.ok_or_else(|| NetError::NotFound {
                    what: format!("value for {}", validate::printable(&key)),
                }));
            }
            Request::PutValue { reply, ok, error } => {
                let _ = reply.send(if ok {
                    Ok(())
                } else {
                    Err(NetError::Dht {
                        op: "put",
                        reason: error.unwrap_or_else(|| "no peer stored the record".into()),
                    })
                });
            }
            Request::Provide { job, ok } => self.provide_done(job, ok),
            Request::Bootstrap { reply, ok, error } => {
                if let Some(reply) = reply {
                    let _ = reply.send(if ok {
                        Ok(())
                    } else {
                        Err(NetError::Dht {
                            op: "bootstrap",
                            reason: error.unwrap_or_else(|| "no peer answered".into()),
                        })
                    });
                }
            }
        }
    }

    fn queue_provides(
        &mut self,
        keys: Vec<RecordKey>,
        reply: Option<oneshot::Sender<Result<(), NetError>>>,
    ) {
        let batch = reply.map(|reply| {
            let id = self.id();
            self.batches.insert(
                id,
                Batch {
                    remaining: keys.len(),
                    failed: 0,
                    reply,
                },
            );
            id
        });
        if let Some(b) = batch
            && keys.is_empty()
            && let Some(batch) = self.batches.remove(&b)
        {
            let _ = batch.reply.send(Ok(()));
            return;
        }
        for key in keys {
            if batch.is_none() && self.provide_queue.len() >= MAX_PROVIDE_QUEUE {
                self.stats.dropped += 1;
                continue;
            }
            self.provide_queue.push_back((key, batch));
        }
    }

    fn pump_provides(&mut self) {
        while self.provide_jobs < MAX_PROVIDE_IN_FLIGHT {
            let Some((key, batch)) = self.provide_queue.pop_front() else {
                return;
            };
            let job = batch.unwrap_or(0);
            let request = Request::Provide { job, ok: false };
            match self.start_query(request, |k| k.start_providing(key.clone()).ok()) {
                Ok(_) => self.provide_jobs += 1,
                Err(_) => {
                    // No DHT: keep the record locally so we answer for it, count a failure.
                    self.stats.failed_provides += 1;
                    self.batch_step(job, false);
                }
            }
        }
    }

    fn provide_done(&mut self, job: u64, ok: bool) {
        self.provide_jobs = self.provide_jobs.saturating_sub(1);
        self.stats.total_provides += 1;
        if !ok {
            self.stats.failed_provides += 1;
        }
        self.batch_step(job, ok);
    }

    fn batch_step(&mut self, job: u64, ok: bool) {
        let Some(b) = self.batches.get_mut(&job) else {
            return;
        };
        b.remaining = b.remaining.saturating_sub(1);
        if !ok {
            b.failed += 1;
        }
        if b.remaining == 0
            && let Some(b) = self.batches.remove(&job)
        {
            let result = if b.failed == 0 {
                Ok(())
            } else {
                Err(NetError::Dht {
                    op: "provide",
                    reason: format!("{} announcement(s) reached no peer", b.failed),
                })
            };
            let _ = b.reply.send(result);
        }
    }
}

/// An error and its causes on one line ("Dial error: ...: peer ... has difficulty 3").
fn error_chain(e: &dyn std::error::Error) -> String {
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
fn dialable(a: &Multiaddr) -> bool {
    match a.iter().next() {
        Some(Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => !ip.is_unspecified(),
        Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_)) => {
            true
        }
        _ => false,
    }
}

fn without_p2p(mut a: Multiaddr) -> Multiaddr {
    if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
        a.pop();
    }
    a
}
