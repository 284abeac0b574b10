//! Bandwidth accounting at the libp2p connection level: every byte read from or written to
//! a stream of a connection, per transport (TCP, QUIC) and per peer, with rates.
//!
//! Data flow: the swarm's transport (`transport`) wraps each connection's muxer once the
//! connection is authenticated (the peer is known then) in a [`Counted`] muxer, whose
//! substreams ([`CountedStream`]) add what they read and write to three atomic counters:
//! the peer's, the transport's, and (through the transport's) the node's total. Nothing
//! locks on the data path. A 1 s ticker ([`Bandwidth::tick`], run by the node) turns the
//! totals into rates (an exponentially weighted moving average, as Kubo's `stats bw`
//! reports). `stats bw`, the metrics endpoint and `Node::bandwidth` read the counters.
//!
//! What is counted: stream payload bytes above the muxer (yamux for TCP, QUIC's own
//! streams), as Kubo counts: DHT, BitSwap, identify and ping traffic, with multistream
//! negotiation; not the noise/yamux frame headers or QUIC/UDP packet overhead (a few
//! bytes per 64 KiB frame). Bounded: the peer table keeps every connected peer and at
//! most [`MAX_PEERS`] entries in all, forgetting the least recently active disconnected
//! peers first.

use crate::net::stopped::StopTolerant;
use futures::{AsyncRead, AsyncWrite};
use libp2p::PeerId;
use libp2p::core::ConnectedPoint;
use libp2p::core::muxing::{StreamMuxer, StreamMuxerBox, StreamMuxerEvent, SubstreamBox};
use libp2p::core::transport::Boxed;
use libp2p::core::upgrade::Version;
use libp2p::multiaddr::Protocol;
use libp2p::{Transport, noise, tcp};
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Peers the bandwidth table remembers at most (connected ones are always kept).
pub const MAX_PEERS: usize = 1024;

/// Weight of the newest one-second sample in a rate: 1 − e^(−1/2), a 2 s time constant.
const RATE_ALPHA: f64 = 0.393_469_340_287_366_6;

/// The transports a connection can use (a bounded label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// TCP with noise and yamux.
    Tcp,
    /// QUIC v1.
    Quic,
}

impl Link {
    /// Both, in label order.
    pub const ALL: [Link; 2] = [Link::Tcp, Link::Quic];

    /// The label value (and `stats bw --proto` name).
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Tcp => "tcp",
            Link::Quic => "quic",
        }
    }

    fn of(endpoint: &ConnectedPoint) -> Link {
        if endpoint
            .get_remote_address()
            .iter()
            .any(|p| matches!(p, Protocol::QuicV1 | Protocol::Quic))
        {
            Link::Quic
        } else {
            Link::Tcp
        }
    }

    fn index(self) -> usize {
        match self {
            Link::Tcp => 0,
            Link::Quic => 1,
        }
    }
}

/// Bytes each way.
#[derive(Debug, Default)]
struct Flow {
    read: AtomicU64,
    written: AtomicU64,
}

impl Flow {
    fn totals(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

/// One transport's counters.
#[derive(Debug, Default)]
struct LinkStats {
    flow: Flow,
    /// Connections open now.
    connections: AtomicI64,
    /// Connections opened, [inbound, outbound].
    connections_opened: [AtomicU64; 2],
    /// Streams open now.
    streams: AtomicI64,
    /// Streams opened, [inbound, outbound].
    streams_opened: [AtomicU64; 2],
}

/// A rate estimate over one-second samples of a running total.
#[derive(Debug, Default, Clone, Copy)]
struct Meter {
    last: (u64, u64),
    rate: (f64, f64),
    primed: bool,
}

impl Meter {
    fn sample(&mut self, now: (u64, u64), seconds: f64) {
        if seconds <= 0.0 {
            return;
        }
        let inst = (
            now.0.saturating_sub(self.last.0) as f64 / seconds,
            now.1.saturating_sub(self.last.1) as f64 / seconds,
        );
        self.rate = if self.primed {
            (
                self.rate.0 + RATE_ALPHA * (inst.0 - self.rate.0),
                self.rate.1 + RATE_ALPHA * (inst.1 - self.rate.1),
            )
        } else {
            inst
        };
        self.primed = true;
        self.last = now;
    }
}

#[derive(Debug)]
struct PeerEntry {
    flow: Arc<Flow>,
    connections: usize,
    meter: Meter,
    /// When the totals last moved (or a connection opened), for forgetting.
    active: Instant,
    seen: (u64, u64),
}

#[derive(Debug, Default)]
struct Shared {
    links: [LinkStats; 2],
    /// Meters of the total and each transport: [total, tcp, quic].
    meters: Mutex<[Meter; 3]>,
    peers: Mutex<HashMap<PeerId, PeerEntry>>,
}

/// Totals and rates of one scope (`stats bw`'s shape).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BwStat {
    /// Bytes received.
    pub total_in: u64,
    /// Bytes sent.
    pub total_out: u64,
    /// Receive rate, bytes/s.
    pub rate_in: f64,
    /// Send rate, bytes/s.
    pub rate_out: f64,
}

/// Connection and stream counts of one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Connections open now.
    pub connections: u64,
    /// Connections opened, inbound.
    pub connections_in: u64,
    /// Connections opened, outbound.
    pub connections_out: u64,
    /// Streams open now.
    pub streams: u64,
    /// Streams opened, inbound.
    pub streams_in: u64,
    /// Streams opened, outbound.
    pub streams_out: u64,
}

/// The node's bandwidth counters: cheap to clone, shared by the transport and readers.
#[derive(Debug, Clone, Default)]
pub struct Bandwidth(Arc<Shared>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Bandwidth {
    /// Everything, all transports and peers.
    pub fn total(&self) -> BwStat {
        let (a, b) = (self.0.links[0].flow.totals(), self.0.links[1].flow.totals());
        let m = lock(&self.0.meters)[0];
        BwStat {
            total_in: a.0 + b.0,
            total_out: a.1 + b.1,
            rate_in: m.rate.0,
            rate_out: m.rate.1,
        }
    }

    /// One transport's traffic.
    pub fn link(&self, link: Link) -> BwStat {
        let (read, written) = self.0.links[link.index()].flow.totals();
        let m = lock(&self.0.meters)[1 + link.index()];
        BwStat {
            total_in: read,
            total_out: written,
            rate_in: m.rate.0,
            rate_out: m.rate.1,
        }
    }

    /// One peer's traffic (`None`: not seen, or forgotten).
    pub fn peer(&self, peer: &PeerId) -> Option<BwStat> {
        let peers = lock(&self.0.peers);
        let e = peers.get(peer)?;
        let (read, written) = e.flow.totals();
        Some(BwStat {
            total_in: read,
            total_out: written,
            rate_in: e.meter.rate.0,
            rate_out: e.meter.rate.1,
        })
    }

    /// Connection and stream counts of one transport.
    pub fn counts(&self, link: Link) -> LinkCounts {
        let l = &self.0.links[link.index()];
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LinkCounts {
            connections: l.connections.load(Ordering::Relaxed).max(0) as u64,
            connections_in: n(&l.connections_opened[0]),
            connections_out: n(&l.connections_opened[1]),
            streams: l.streams.load(Ordering::Relaxed).max(0) as u64,
            streams_in: n(&l.streams_opened[0]),
            streams_out: n(&l.streams_opened[1]),
        }
    }

    /// Peers in the table (connected, and recently disconnected).
    pub fn peers_known(&self) -> usize {
        lock(&self.0.peers).len()
    }

    /// Samples every total once: run every second (`elapsed` since the last call).
    pub fn tick(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let tcp = self.0.links[0].flow.totals();
        let quic = self.0.links[1].flow.totals();
        {
            let mut m = lock(&self.0.meters);
            m[0].sample((tcp.0 + quic.0, tcp.1 + quic.1), secs);
            m[1].sample(tcp, secs);
            m[2].sample(quic, secs);
        }
        let now = Instant::now();
        for e in lock(&self.0.peers).values_mut() {
            let t = e.flow.totals();
            if t != e.seen {
                e.seen = t;
                e.active = now;
            }
            e.meter.sample(t, secs);
        }
    }

    /// The counters a new connection to `peer` over `link` adds to.
    fn open(&self, peer: PeerId, link: Link, outbound: bool) -> Arc<Conn> {
        let l = &self.0.links[link.index()];
        l.connections.fetch_add(1, Ordering::Relaxed);
        l.connections_opened[usize::from(outbound)].fetch_add(1, Ordering::Relaxed);
        let mut peers = lock(&self.0.peers);
        if !peers.contains_key(&peer) && peers.len() >= MAX_PEERS {
            // Forget the disconnected peer idle longest; connected ones stay (their number
            // is bounded by the swarm's connection limit).
            let idle = peers
                .iter()
                .filter(|(_, e)| e.connections == 0)
                .min_by_key(|(_, e)| e.active)
                .map(|(p, _)| *p);
            if let Some(p) = idle {
                peers.remove(&p);
            }
        }
        let e = peers.entry(peer).or_insert_with(|| PeerEntry {
            flow: Arc::default(),
            connections: 0,
            meter: Meter::default(),
            active: Instant::now(),
            seen: (0, 0),
        });
        e.connections += 1;
        e.active = Instant::now();
        Arc::new(Conn {
            bw: self.clone(),
            peer,
            link,
            peer_flow: e.flow.clone(),
        })
    }
}

/// One connection's place in the counters; closing it (dropping the last of its muxer and
/// streams) updates the open counts.
#[derive(Debug)]
struct Conn {
    bw: Bandwidth,
    peer: PeerId,
    link: Link,
    peer_flow: Arc<Flow>,
}

impl Conn {
    fn stats(&self) -> &LinkStats {
        &self.bw.0.links[self.link.index()]
    }

    fn read(&self, n: usize) {
        let n = n as u64;
        self.peer_flow.read.fetch_add(n, Ordering::Relaxed);
        self.stats().flow.read.fetch_add(n, Ordering::Relaxed);
    }

    fn written(&self, n: usize) {
        let n = n as u64;
        self.peer_flow.written.fetch_add(n, Ordering::Relaxed);
        self.stats().flow.written.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stats().connections.fetch_sub(1, Ordering::Relaxed);
        if let Some(e) = lock(&self.bw.0.peers).get_mut(&self.peer) {
            e.connections = e.connections.saturating_sub(1);
            e.active = Instant::now();
        }
    }
}

/// A connection's muxer whose streams count their bytes.
#[derive(Debug)]
pub struct Counted {
    inner: StreamMuxerBox,
    conn: Arc<Conn>,
}

impl Counted {
    fn stream(&self, s: SubstreamBox, outbound: bool) -> CountedStream {
        let stats = self.conn.stats();
        stats.streams.fetch_add(1, Ordering::Relaxed);
        stats.streams_opened[usize::from(outbound)].fetch_add(1, Ordering::Relaxed);
        CountedStream {
            inner: s,
            conn: self.conn.clone(),
        }
    }
}

impl StreamMuxer for Counted {
    type Substream = CountedStream;
    type Error = io::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_inbound(cx) {
            Poll::Ready(Ok(s)) => Poll::Ready(Ok(this.stream(s, false))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_outbound(cx) {
            Poll::Ready(Ok(s)) => Poll::Ready(Ok(this.stream(s, true))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

/// A stream that adds what passes through it to its connection's counters.
#[derive(Debug)]
pub struct CountedStream {
    inner: SubstreamBox,
    conn: Arc<Conn>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.conn.stats().streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.conn.read(n);
        }
        r
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.conn.read(n);
        }
        r
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.conn.written(n);
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.conn.written(n);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// The swarm's transport: TCP (noise, `yamux`) or QUIC v1 (its muxer in a
/// [`StopTolerant`] one), each connection's muxer wrapped in a [`Counted`] one that adds to
/// `bw`.
pub(crate) fn transport(
    key: &libp2p::identity::Keypair,
    yamux: libp2p::yamux::Config,
    bw: Bandwidth,
) -> Result<Boxed<(PeerId, Counted)>, noise::Error> {
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(yamux)
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    // A QUIC stream the peer stopped reading still delivers what the peer sent (Kubo's
    // BitSwap messages): `net::stopped`.
    let quic = libp2p::quic::tokio::Transport::new(libp2p::quic::Config::new(key))
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(StopTolerant(muxer))));
    Ok(tcp
        .or_transport(quic)
        .map(move |either, endpoint| {
            let (peer, inner) = either.into_inner();
            let conn = bw.open(peer, Link::of(&endpoint), endpoint.is_dialer());
            (peer, Counted { inner, conn })
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_totals() {
        let mut m = Meter::default();
        m.sample((1000, 0), 1.0);
        assert_eq!(m.rate, (1000.0, 0.0));
        // Steady traffic keeps the rate; silence decays it towards zero.
        m.sample((2000, 0), 1.0);
        assert!((m.rate.0 - 1000.0).abs() < 1e-9);
        for _ in 0..30 {
            let last = m.last;
            m.sample(last, 1.0);
        }
        assert!(m.rate.0 < 1.0, "{:?}", m.rate);
    }

    #[test]
    fn the_peer_table_is_bounded() {
        let bw = Bandwidth::default();
        let first = PeerId::random();
        drop(bw.open(first, Link::Tcp, true));
        for _ in 0..MAX_PEERS + 10 {
            drop(bw.open(PeerId::random(), Link::Quic, false));
        }
        assert_eq!(bw.peers_known(), MAX_PEERS);
        // The oldest disconnected peer went first; a connected one is never forgotten.
        assert!(bw.peer(&first).is_none());
        let held = bw.open(PeerId::random(), Link::Tcp, true);
        for _ in 0..MAX_PEERS + 10 {
            drop(bw.open(PeerId::random(), Link::Tcp, false));
        }
        assert!(bw.peer(&held.peer).is_some());
        assert_eq!(bw.counts(Link::Tcp).connections, 1);
        assert_eq!(bw.counts(Link::Tcp).connections_out, 2);
    }
}
