//! The network task: owns the swarm and answers [`Command`]s, one at a time, from one
//! `select!` loop. Nothing here blocks: record-store writes go to the store's own writer
//! thread, and every wait on the network is bounded by the DHT's query timeout.
//!
//! Data flow: [`spawn`] builds the swarm ([`Behaviour`]: transports, identify, ping, the
//! two Kademlia DHTs, raw streams) and hands it to a [`Task`], whose loop takes commands
//! from [`super::Network`] handles and events from the swarm. This file builds the swarm
//! and runs that loop, dispatching each command and event; the state lives in [`Task`]
//! and is worked by:
//! - [`peers`]: the address book (addresses per peer, from identify and the DHTs), live
//!   connections and dials in flight (`connect` replies when the dial settles);
//! - [`dht`]: the DHT operations a command starts (find providers or a peer, get/put a
//!   value, bootstrap) and peers' inbound `PUT_VALUE`/`ADD_PROVIDER`, checked into the store;
//! - [`query`]: each started operation as a pending request with one query per DHT, its
//!   progress events folded in until the last query ends and the caller is answered;
//! - [`provide_queue`]: keys waiting to be announced, started as `query` requests with
//!   bounded concurrency (after each command or event), and the provide statistics.

mod dht;
mod dial;
mod peers;
mod provide_queue;
mod query;

use super::records::Records;
use super::{
    Command, Dht, Info, KAD_LAN, KAD_WAN, NetConfig, NetError, PROTOCOL_VERSION, ProvideStats,
    peer_of, pow,
};
use crate::metrics::Metrics;
use futures::StreamExt;
use libp2p::kad::{self, QueryId, RecordKey};
use libp2p::metrics::Recorder;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, connection_limits, identify, ping, yamux};
use peers::dialable;
use provide_queue::Batch;
use query::Pending;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

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
    /// Peers being dialled at several addresses, QUIC first (`dial.rs`).
    peer_dials: HashMap<PeerId, dial::PeerDial>,
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
    /// Where swarm, DHT, identify and ping events are recorded.
    metrics: Arc<Metrics>,
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
    metrics: Arc<Metrics>,
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
    let bandwidth = metrics.bandwidth().clone();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        // TCP (noise, yamux) and QUIC, every connection's bytes counted (`metrics::bandwidth`).
        .with_other_transport(|key| {
            crate::metrics::bandwidth::transport(key, yamux_config(), bandwidth)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| start_err(e.to_string()))?
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
        peer_dials: HashMap::new(),
        queries: HashMap::new(),
        pending: HashMap::new(),
        next_id: 0,
        provide_queue: VecDeque::new(),
        provide_jobs: 0,
        batches: HashMap::new(),
        stats: ProvideStats::default(),
        records_refused: (0, None),
        peer_events,
        metrics,
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
    // One dial per bootstrap peer with all its addresses, so a peer listed at a QUIC and a
    // TCP address is reached over QUIC (`dial.rs`).
    let mut bootstrap: Vec<(PeerId, Vec<Multiaddr>)> = Vec::new();
    for addr in &config.bootstrap {
        if let Some(peer) = peer_of(addr) {
            task.learn(peer, std::slice::from_ref(addr), true, true);
            match bootstrap.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, addrs)) => addrs.push(addr.clone()),
                None => bootstrap.push((peer, vec![addr.clone()])),
            }
        }
    }
    for (peer, addrs) in bootstrap {
        task.dial_peer(peer, addrs, None);
    }
    Ok((tokio::spawn(task.run(rx)), control, incoming))
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.tick().await;
        loop {
            let dial_timer = self.next_dial_timer();
            tokio::select! {
                _ = tokio::time::sleep_until(dial_timer.unwrap_or_else(tokio::time::Instant::now)),
                    if dial_timer.is_some() => self.on_dial_timer(),
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

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Info { reply } => {
                let _ = reply.send(self.info());
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peers());
            }
            Command::KnownAddrs { reply } => {
                let _ = reply.send(self.known_addrs());
            }
            Command::Connect { addr, reply } => self.connect(addr, reply),
            Command::ConnectPeer { peer, addrs, reply } => self.dial_peer(peer, addrs, Some(reply)),
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::FindProviders { key, limit, events } => {
                self.find_providers(key, limit, events)
            }
            Command::FindPeer { peer, reply } => self.find_peer(peer, reply),
            Command::GetValue {
                key,
                updates,
                reply,
            } => self.get_value(key, updates, reply),
            Command::PutValue { key, value, reply } => self.put_value(key, value, reply),
            Command::Provide { keys, reply } => self.queue_provides(keys, reply),
            Command::ProvideStats { reply } => {
                let _ = reply.send(self.provide_stats());
            }
            Command::Bootstrap { reply } => self.bootstrap(reply),
            Command::ClosestPeers { dht, key, reply } => self.closest_peers(dht, key, reply),
            Command::Reprovide(report) => self.on_reprovide(report),
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

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        self.metrics.libp2p().record(&ev);
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
            } => self.on_connected(peer_id, connection_id, endpoint),
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                num_established,
                ..
            } => {
                tracing::debug!(%peer_id, ?connection_id, ?cause, num_established, "connection closed");
                self.on_closed(peer_id, connection_id);
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let reason = peers::error_chain(&error);
                if !self.peer_dial_failed(peer_id, connection_id, reason) {
                    self.on_dial_failed(connection_id, error);
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
        let recorder = self.metrics.libp2p();
        match &ev {
            BehaviourEvent::Identify(e) => recorder.record(e),
            BehaviourEvent::Ping(e) => recorder.record(e),
            BehaviourEvent::Wan(e) | BehaviourEvent::Lan(e) => recorder.record(e),
            _ => {}
        }
        match ev {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.on_identify(peer_id, info);
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
}
