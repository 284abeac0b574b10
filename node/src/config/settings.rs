//! The config's typed view: every duration a [`Duration`], every choice an enum, every
//! address parsed — what the node runs with.
//!
//! Data flow: the config file keeps Kubo's strings (`"22h"`, `"sigmoid"`) in the serde
//! structs of [`super`]; [`Config::settings`](super::Config::settings) (in `validate`)
//! parses and bounds-checks them once, when the config loads, into a [`Settings`]. The
//! daemon, the network, BitSwap, IPNS and the API read their values from the `Settings`,
//! never from the strings, so a bad value is one [`ConfigError`](super::ConfigError) at
//! load and never a silent default later.

use std::net::SocketAddr;
use std::time::Duration;

/// The config's values parsed and checked (see [`Config::settings`](super::Config::settings)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The RPC API listener (`Addresses.API`, the `API` section).
    pub api: ApiSettings,
    /// The HTTP gateway (`Addresses.Gateway`, the `Gateway` section).
    pub gateway: GatewaySettings,
    /// The swarm and the DHT (`Addresses.Swarm`, `Bootstrap`, `Swarm`, `Routing`).
    pub net: crate::net::NetConfig,
    /// Announcing content (`Provide`).
    pub provide: ProvideSettings,
    /// BitSwap (`Bitswap`); `ledger_path` is unset: it depends on the repository.
    pub bitswap: bitswap::Config,
    /// IPNS (`Ipns`).
    pub ipns: IpnsSettings,
    /// How `add` builds DAGs by default (`Import`).
    pub import: dag::import::Params,
    /// The block store's limits and GC (`Datastore`).
    pub datastore: DatastoreSettings,
}

/// The block store's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatastoreSettings {
    /// Re-hash every block read (`Datastore.HashOnRead`).
    pub hash_on_read: bool,
    /// Most bytes of blocks stored (`Datastore.StorageMax`).
    pub storage_max: u64,
    /// Percent of `storage_max` at which automatic GC runs (`Datastore.StorageGCWatermark`,
    /// 1 to 100).
    pub gc_watermark: u8,
    /// How often automatic GC runs (`Datastore.GCPeriod`).
    pub gc_period: Duration,
}

impl DatastoreSettings {
    /// The store quota these settings make; `auto_gc` (the daemon's `--enable-gc`) turns
    /// on GC at the limit. The watermark hook is the caller's to add.
    pub fn quota(&self, auto_gc: bool) -> dag::store::Quota {
        dag::store::Quota::new(self.storage_max, self.gc_watermark).gc_at_limit(auto_gc)
    }
}

/// The RPC API listener's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiSettings {
    /// Where it listens (`Addresses.API`).
    pub addr: SocketAddr,
    /// Connections served at once (`API.MaxConnections`, at least 1).
    pub max_connections: usize,
    /// Longest wait for a request's header (`API.HeaderTimeout`).
    pub header_timeout: Duration,
    /// An upload body with no progress for this long fails (`API.UploadIdleTimeout`).
    pub upload_idle_timeout: Duration,
}

/// The HTTP gateway's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewaySettings {
    /// Where it listens (`Addresses.Gateway`); `None` when empty: no gateway.
    pub addr: Option<SocketAddr>,
    /// Connections served at once (`Gateway.MaxConnections`, at least 1).
    pub max_connections: usize,
    /// Longest wait for a request's header (`Gateway.HeaderTimeout`).
    pub header_timeout: Duration,
    /// Longest wait for a block from the network (`Gateway.RetrievalTimeout`).
    pub retrieval_timeout: Duration,
    /// Serve only what the store holds (`Gateway.NoFetch`).
    pub no_fetch: bool,
}

/// What the node announces, and how often.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProvideSettings {
    /// Which blocks are announced (`Provide.Strategy`).
    pub strategy: crate::net::Strategy,
    /// How often everything is announced again (`Provide.Interval`); `None` (`0`):
    /// reproviding is off.
    pub interval: Option<Duration>,
    /// How runs announce (`Provide.Sweep`).
    pub mode: crate::net::provide::Mode,
}

/// IPNS settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IpnsSettings {
    /// Longest time between two signatures of an own name (`Ipns.RepublishPeriod`).
    pub republish_period: Duration,
    /// Lifetime of a published record when none is given (`Ipns.RecordLifetime`).
    pub record_lifetime: Duration,
    /// Names whose resolved value is cached (`Ipns.ResolveCacheSize`).
    pub resolve_cache_size: usize,
}
