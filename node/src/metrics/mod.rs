//! The node's metrics: one [`Metrics`] per [`Node`](crate::Node), served in the
//! Prometheus/OpenMetrics text format at `GET /debug/metrics/prometheus` (as Kubo), and
//! the bandwidth counters behind `stats bw`.
//!
//! Data flow. Three kinds of sources, each counted where the work happens:
//! - *Recorded as it happens*: the swarm task hands its events to `libp2p-metrics`
//!   (`libp2p_swarm_*` connections, `libp2p_kad_*` query results and durations,
//!   `libp2p_identify_*`, `libp2p_ping_*`); the transport counts bytes, connections and
//!   streams ([`bandwidth`]); the gateway's middleware ([`Metrics::gateway_layer`]) counts
//!   requests by status and their latency; [`Node::gc`](crate::Node::gc) counts GC runs.
//! - *Sampled at scrape time*: counters subsystems already keep for their own `stat`
//!   commands — BitSwap's [`bitswap::Stat`] (blocks and bytes per protocol version,
//!   wantlist sizes), the provider queue's [`ProvideStats`], the store's size — are
//!   fetched by [`crate::Node::metrics_text`] (each bounded by [`SAMPLE_TIMEOUT`]) and
//!   encoded from that snapshot by a collector, so no counter is kept twice.
//! - The registry itself is built once, when the node starts, and never changes.
//!
//! Label cardinality is bounded by construction: labels are transports (`tcp`, `quic`),
//! directions, BitSwap versions (3), DHT query types, HTTP status codes the gateway
//! produces, libp2p's address protocol stacks; never a CID, a path or a peer ID
//! (per-peer traffic is only in `stats bw --peer`, whose table is bounded too).

pub mod bandwidth;

use crate::net::ProvideStats;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use bandwidth::{Bandwidth, BwStat, Link, LinkCounts};

/// The path the metrics are served at, on the API address.
pub const PATH: &str = "/debug/metrics/prometheus";
/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long a scrape waits for each subsystem's counters.
pub const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the scrape samples from the subsystems.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) bitswap: Option<bitswap::Stat>,
    pub(crate) provide: Option<ProvideStats>,
    /// Blocks, their bytes, the store's file size.
    pub(crate) store: Option<(u64, u64, u64)>,
    /// Connected peers and the routing tables' sizes (WAN, LAN).
    pub(crate) net: Option<(usize, (usize, usize))>,
}

/// The registry and every metric the node records (see the module docs).
pub struct Metrics {
    registry: Registry,
    libp2p: libp2p::metrics::Metrics,
    bandwidth: Bandwidth,
    gateway_requests: Family<[(&'static str, String); 1], Counter>,
    gateway_latency: Histogram,
    gc_runs: Counter,
    gc_removed: Counter,
    sample: Arc<Mutex<Sample>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family registered (and nothing counted yet).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let libp2p = libp2p::metrics::Metrics::new(&mut registry);
        let bandwidth = Bandwidth::default();
        let sample = Arc::new(Mutex::new(Sample::default()));
        let ipfsd = registry.sub_registry_with_prefix("ipfsd");
        let gateway_requests = Family::default();
        ipfsd.register(
            "gateway_requests",
            "HTTP gateway requests answered, by status code",
            gateway_requests.clone(),
        );
        let gateway_latency = Histogram::new(exponential_buckets(0.000_5, 2.0, 17));
        ipfsd.register_with_unit(
            "gateway_request_duration",
            "Time from a gateway request's arrival to its response head",
            Unit::Seconds,
            gateway_latency.clone(),
        );
        let gc_runs = Counter::default();
        ipfsd.register("gc_runs", "Garbage collections run", gc_runs.clone());
        let gc_removed = Counter::default();
        ipfsd.register(
            "gc_removed_blocks",
            "Blocks removed by garbage collection",
            gc_removed.clone(),
        );
        registry.register_collector(Box::new(Sampled(sample.clone())));
        registry.register_collector(Box::new(Traffic(bandwidth.clone())));
        Metrics {
            registry,
            libp2p,
            bandwidth,
            gateway_requests,
            gateway_latency,
            gc_runs,
            gc_removed,
            sample,
        }
    }

    /// The bandwidth counters (`stats bw`).
    pub fn bandwidth(&self) -> &Bandwidth {
        &self.bandwidth
    }

    /// libp2p's own recorders, fed by the swarm task.
    pub(crate) fn libp2p(&self) -> &libp2p::metrics::Metrics {
        &self.libp2p
    }

    /// Counts a garbage collection that removed `removed` blocks.
    pub fn gc_done(&self, removed: u64) {
        self.gc_runs.inc();
        self.gc_removed.inc_by(removed);
    }

    /// Counts one answered gateway request.
    pub fn gateway_request(&self, status: u16, took: Duration) {
        self.gateway_requests
            .get_or_create(&[("status", status.to_string())])
            .inc();
        self.gateway_latency.observe(took.as_secs_f64());
    }

    /// A middleware that counts every request of the router it wraps as a gateway request
    /// (`axum::middleware::from_fn_with_state(metrics, Metrics::gateway_layer)`).
    pub async fn gateway_layer(
        axum::extract::State(metrics): axum::extract::State<Arc<Metrics>>,
        req: Request,
        next: Next,
    ) -> Response {
        let started = Instant::now();
        let resp = next.run(req).await;
        metrics.gateway_request(resp.status().as_u16(), started.elapsed());
        resp
    }

    pub(crate) fn set_sample(&self, sample: Sample) {
        *self.sample.lock().unwrap_or_else(PoisonError::into_inner) = sample;
    }

    /// The registry in the OpenMetrics text format (ending in `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a collector.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Writes one family of constant samples.
fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Vec<(&'static str, &'static str)>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, kind)?;
    for (labels, value) in rows {
        value.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one family of one unlabelled sample.
fn single<M: EncodeMetric>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: M,
) -> Result<(), std::fmt::Error> {
    value.encode(enc.encode_descriptor(name, help, None, value.metric_type())?)
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Encodes the scrape-time snapshot of the subsystems' own counters.
#[derive(Debug)]
struct Sampled(Arc<Mutex<Sample>>);

impl Collector for Sampled {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(b) = &s.bitswap {
            let by_version = |f: fn(&bitswap::VersionStat) -> u64, dir: &'static str| {
                b.by_version
                    .iter()
                    .map(move |v| {
                        (
                            vec![("direction", dir), ("version", v.version.as_str())],
                            counter(f(v)),
                        )
                    })
                    .collect::<Vec<_>>()
            };
            let mut blocks = by_version(|v| v.blocks_received, "in");
            blocks.extend(by_version(|v| v.blocks_sent, "out"));
            family(
                &mut enc,
                "ipfsd_bitswap_blocks",
                "BitSwap blocks received and sent, by protocol version",
                None,
                MetricType::Counter,
                blocks,
            )?;
            let mut bytes = by_version(|v| v.data_received, "in");
            bytes.extend(by_version(|v| v.data_sent, "out"));
            family(
                &mut enc,
                "ipfsd_bitswap_data",
                "Bytes of BitSwap blocks received and sent, by protocol version",
                Some(&Unit::Bytes),
                MetricType::Counter,
                bytes,
            )?;
            single(
                &mut enc,
                "ipfsd_bitswap_duplicate_blocks",
                "Blocks received that no session wanted any more",
                counter(b.dup_blks_received),
            )?;
            family(
                &mut enc,
                "ipfsd_bitswap_wantlist_size",
                "Entries in a wantlist: ours (what this node fetches) and theirs (what peers asked of it)",
                None,
                MetricType::Gauge,
                [
                    (vec![("list", "ours")], gauge(b.wantlist.len() as u64)),
                    (vec![("list", "theirs")], gauge(b.peer_wants as u64)),
                ],
            )?;
            single(
                &mut enc,
                "ipfsd_bitswap_peers",
                "Peers BitSwap knows to be connected",
                gauge(b.peers.len() as u64),
            )?;
            single(
                &mut enc,
                "ipfsd_bitswap_sessions",
                "Fetch sessions running",
                gauge(b.sessions as u64),
            )?;
        }
        if let Some(p) = &s.provide {
            single(
                &mut enc,
                "ipfsd_provide_queue_length",
                "Keys waiting to be announced to the DHT",
                gauge(p.queued as u64),
            )?;
            single(
                &mut enc,
                "ipfsd_provide_in_flight",
                "Announcements under way",
                gauge(p.in_flight as u64),
            )?;
            family(
                &mut enc,
                "ipfsd_provides",
                "Announcements finished, by result",
                None,
                MetricType::Counter,
                [
                    (
                        vec![("result", "ok")],
                        counter(p.total_provides.saturating_sub(p.failed_provides)),
                    ),
                    (vec![("result", "failed")], counter(p.failed_provides)),
                    (vec![("result", "dropped")], counter(p.dropped)),
                ],
            )?;
            single(
                &mut enc,
                "ipfsd_reprovide_runs",
                "Full reprovide runs finished",
                counter(p.reprovide_runs),
            )?;
            single(
                &mut enc,
                "ipfsd_reprovide_falling_behind",
                "1 when the reprovide run in progress will not finish within Provide.Interval at its rate so far, or the last run took longer than the interval",
                gauge(u64::from(p.falling_behind)),
            )?;
            if let Some(estimate) = p.reprovide_estimate {
                let m = enc.encode_descriptor(
                    "ipfsd_reprovide_estimated_duration",
                    "Estimated duration of the reprovide run in progress (from its rate so far), or the last run's duration",
                    Some(&Unit::Seconds),
                    MetricType::Gauge,
                )?;
                ConstGauge::new(estimate.as_secs_f64()).encode(m)?;
            }
            if let Some(ago) = p.last_reprovide_ago {
                let m = enc.encode_descriptor(
                    "ipfsd_reprovide_last_run_age",
                    "Time since the last full reprovide finished (absent before the first)",
                    Some(&Unit::Seconds),
                    MetricType::Gauge,
                )?;
                ConstGauge::new(ago.as_secs_f64()).encode(m)?;
            }
        }
        if let Some((blocks, data, file)) = s.store {
            single(
                &mut enc,
                "ipfsd_store_blocks",
                "Blocks in the store",
                gauge(blocks),
            )?;
            family(
                &mut enc,
                "ipfsd_store_size",
                "Bytes in the store: block data, and the files holding it",
                Some(&Unit::Bytes),
                MetricType::Gauge,
                [
                    (vec![("kind", "data")], gauge(data)),
                    (vec![("kind", "files")], gauge(file)),
                ],
            )?;
        }
        if let Some((peers, (wan, lan))) = s.net {
            single(
                &mut enc,
                "ipfsd_libp2p_peers",
                "Peers connected",
                gauge(peers as u64),
            )?;
            family(
                &mut enc,
                "ipfsd_dht_routing_table_size",
                "Peers in a DHT's routing table",
                None,
                MetricType::Gauge,
                [
                    (vec![("dht", "wan")], gauge(wan as u64)),
                    (vec![("dht", "lan")], gauge(lan as u64)),
                ],
            )?;
        }
        Ok(())
    }
}

/// One figure each way (`in`, `out`) of a transport's counters.
type PerDirection = dyn Fn(&BwStat, &LinkCounts) -> [(&'static str, u64); 2];

/// Encodes the transport's bandwidth, connection and stream counters.
#[derive(Debug)]
struct Traffic(Bandwidth);

impl Collector for Traffic {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let links: Vec<(Link, BwStat, LinkCounts)> = Link::ALL
            .iter()
            .map(|&l| (l, self.0.link(l), self.0.counts(l)))
            .collect();
        let rows = |f: &PerDirection| {
            links
                .iter()
                .flat_map(|(l, bw, c)| {
                    f(bw, c)
                        .map(|(dir, v)| (vec![("direction", dir), ("transport", l.as_str())], v))
                })
                .collect::<Vec<_>>()
        };
        let as_counters = |r: Vec<(Vec<(&'static str, &'static str)>, u64)>| {
            r.into_iter()
                .map(|(l, v)| (l, counter(v)))
                .collect::<Vec<_>>()
        };
        family(
            &mut enc,
            "ipfsd_libp2p_bandwidth",
            "Bytes read and written on libp2p streams, by transport",
            Some(&Unit::Bytes),
            MetricType::Counter,
            as_counters(rows(&|bw, _| [("in", bw.total_in), ("out", bw.total_out)])),
        )?;
        family(
            &mut enc,
            "ipfsd_libp2p_connections_opened",
            "libp2p connections opened, by transport and direction",
            None,
            MetricType::Counter,
            as_counters(rows(&|_, c| {
                [("in", c.connections_in), ("out", c.connections_out)]
            })),
        )?;
        family(
            &mut enc,
            "ipfsd_libp2p_streams_opened",
            "libp2p streams opened, by transport and direction",
            None,
            MetricType::Counter,
            as_counters(rows(&|_, c| [("in", c.streams_in), ("out", c.streams_out)])),
        )?;
        let open = |f: fn(&LinkCounts) -> u64| {
            links
                .iter()
                .map(|(l, _, c)| (vec![("transport", l.as_str())], gauge(f(c))))
                .collect::<Vec<_>>()
        };
        family(
            &mut enc,
            "ipfsd_libp2p_connections_open",
            "libp2p connections open now, by transport",
            None,
            MetricType::Gauge,
            open(|c| c.connections),
        )?;
        family(
            &mut enc,
            "ipfsd_libp2p_streams_open",
            "libp2p streams open now, by transport",
            None,
            MetricType::Gauge,
            open(|c| c.streams),
        )?;
        Ok(())
    }
}
