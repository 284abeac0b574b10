//! The repository's configuration file (`$IPFSD_PATH/config`, JSON, Kubo-style keys).
//!
//! Every section has defaults, so a config written by an older ipfsd (or one with keys
//! removed by hand) still loads; unknown keys are kept out by `deny_unknown_fields` only
//! where a typo would silently change CIDs (the `Import` section).
//!
//! Data flow: the serde structs here hold the file's values as written (Kubo's strings:
//! `"22h"`, `"sigmoid"`), so a config round-trips unchanged; [`Config::settings`] parses
//! them once, when the config loads, into the typed [`Settings`] the node runs with, or
//! refuses the first bad value with a [`ConfigError`] naming its key.

mod settings;
mod size;
mod validate;

pub use settings::{
    ApiSettings, DatastoreSettings, GatewaySettings, IpnsSettings, ProvideSettings, Settings,
};
pub use size::{ByteSize, parse_size};
pub use validate::{
    ConfigError, ConfigFileError, MAX_FETCH_WINDOW, MAX_HEADER_TIMEOUT, MAX_LIFETIME, MAX_PERIOD,
    MAX_RESOLVE_CACHE, MAX_TIMEOUT, MIN_UPLOAD_WINDOW,
};

use dag::import::{HamtEstimation, Params, Profile};
use dag::{HashFn, Version, chunker};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    /// The node's identity (the key itself is in the repository's `identity` file).
    pub identity: IdentityConfig,
    /// Where the node listens.
    pub addresses: Addresses,
    /// RPC API settings.
    #[serde(rename = "API")]
    pub api: ApiConfig,
    /// Defaults for `add` (each can be overridden per command).
    pub import: ImportConfig,
    /// Peers dialled at start (multiaddrs ending in `/p2p/<id>`). Empty by default: joining
    /// the public network is an explicit choice (`ipfsd config profile apply public`).
    pub bootstrap: Vec<String>,
    /// Connection settings.
    pub swarm: SwarmConfig,
    /// DHT settings.
    pub routing: RoutingConfig,
    /// What the node announces to the DHT, and how often.
    pub provide: ProvideConfig,
    /// Block exchange settings.
    pub bitswap: BitswapConfig,
    /// HTTP gateway settings.
    pub gateway: GatewayConfig,
    /// IPNS settings.
    pub ipns: IpnsConfig,
    /// Block store settings.
    pub datastore: DatastoreConfig,
}

/// Block store settings (Kubo's `Datastore` section, the keys that apply here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DatastoreConfig {
    /// Re-hash every block read from the store (off, as Kubo's default): off, a block is
    /// hashed when it arrives and by `repo verify`, GC and pin walks, not on each read that
    /// serves it (see `dag::Store::set_hash_on_read`).
    pub hash_on_read: bool,
    /// Most bytes of blocks the store holds (`"10GB"`, Kubo's default; a number is
    /// bytes). An add past it fails; with `daemon --enable-gc`, after a GC.
    pub storage_max: ByteSize,
    /// Percent of `StorageMax` at which the daemon with `--enable-gc` collects garbage
    /// (`90`).
    #[serde(rename = "StorageGCWatermark")]
    pub storage_gc_watermark: i64,
    /// How often the daemon with `--enable-gc` collects garbage (`1h`).
    #[serde(rename = "GCPeriod")]
    pub gc_period: String,
}

impl Default for DatastoreConfig {
    fn default() -> Self {
        DatastoreConfig {
            hash_on_read: false,
            storage_max: ByteSize::Text("10GB".into()),
            storage_gc_watermark: 90,
            gc_period: "1h".into(),
        }
    }
}

/// IPNS settings (Kubo's `Ipns` section, the keys that apply here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpnsConfig {
    /// Longest time between two signatures of an own name while the daemon runs (`4h`);
    /// a record is also re-signed once half its lifetime has passed.
    pub republish_period: String,
    /// Lifetime of a published record when `name publish` is given none (`24h`).
    pub record_lifetime: String,
    /// Names whose resolved value is cached (each for its record's TTL).
    pub resolve_cache_size: usize,
}

impl Default for IpnsConfig {
    fn default() -> Self {
        IpnsConfig {
            republish_period: "4h".into(),
            record_lifetime: "24h".into(),
            resolve_cache_size: 128,
        }
    }
}

/// HTTP gateway settings (Kubo's `Gateway` section, the keys that apply here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GatewayConfig {
    /// Longest wait for a block from the network before a request answers 504 (`30s`).
    pub retrieval_timeout: String,
    /// Serve only what the store holds: never fetch from the network.
    pub no_fetch: bool,
    /// Connections served at once (`1024`); more are refused with 503. Kept at most half
    /// the process's file descriptor limit, so the API and the swarm keep theirs.
    pub max_connections: usize,
    /// Longest wait for a request's header, and between requests on a kept-alive
    /// connection (`30s`); the connection is then closed.
    pub header_timeout: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            retrieval_timeout: "30s".into(),
            no_fetch: false,
            max_connections: 1024,
            header_timeout: "30s".into(),
        }
    }
}

/// The public IPFS bootstrap peers (Kubo's defaults), used only by the `public` profile.
pub const PUBLIC_BOOTSTRAP: &[&str] = &[
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
    "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
];

/// Connection settings (Kubo's `Swarm` section, simplified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmConfig {
    /// Established connections at most (inbound and outbound together).
    pub max_connections: u32,
    /// Established connections per peer at most.
    pub max_connections_per_peer: u32,
    /// Handshakes in progress at most, each way.
    pub max_pending: u32,
    /// A connection with no open stream closes after this long (e.g. `60s`).
    pub idle_timeout: String,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            max_connections: 512,
            max_connections_per_peer: 4,
            max_pending: 128,
            idle_timeout: "60s".into(),
        }
    }
}

/// DHT settings (Kubo's `Routing` section, plus the S/Kademlia knobs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RoutingConfig {
    /// `dhtserver` (answer DHT queries; the default), `dhtclient` (query only) or `none`
    /// (no DHT at all).
    #[serde(rename = "Type")]
    pub kind: String,
    /// The issue's `min_peer_difficulty`: peers whose ID has fewer leading zero bits in
    /// sha256(peer ID) are refused (no connection, no routing-table entry, not served).
    /// 0 (the default) admits Kubo and Helia peers, whose IDs carry no proof of work.
    pub min_peer_difficulty: u32,
    /// S/Kademlia disjoint lookup paths.
    pub disjoint_paths: bool,
    /// Also run the LAN DHT (`/ipfs/lan/kad/1.0.0`), which Kubo uses for peers on private
    /// and loopback addresses.
    #[serde(rename = "LanDHT")]
    pub lan_dht: bool,
    /// Bucket size and replication factor.
    pub k: u32,
    /// One DHT query gives up after this long (e.g. `30s`).
    pub query_timeout: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            kind: "dhtserver".into(),
            min_peer_difficulty: 0,
            disjoint_paths: true,
            lan_dht: true,
            k: 20,
            query_timeout: "30s".into(),
        }
    }
}

/// Announcing content (Kubo's `Provide`/`Reprovider` sections).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProvideConfig {
    /// `all` (every block), `pinned` (every block of pinned DAGs) or `roots` (pin roots).
    pub strategy: String,
    /// How often everything is announced again (`22h`; `0` turns reproviding off).
    pub interval: String,
    /// Reprovide by sweeping the keyspace: one DHT lookup per region of it, then
    /// `ADD_PROVIDER` for all of the region's keys (like Kubo's `Provide.DHT.SweepEnabled`);
    /// `false`: one lookup per key.
    pub sweep: bool,
}

impl Default for ProvideConfig {
    fn default() -> Self {
        ProvideConfig {
            strategy: "all".into(),
            interval: "22h".into(),
            sweep: true,
        }
    }
}

/// BitSwap settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BitswapConfig {
    /// Whom to serve: `sigmoid` (the whitepaper's debt-ratio sigmoid, work-conserving),
    /// `strict` (refused peers wait out `StrictCooldown` even on an idle link) or
    /// `altruistic` (serve everyone, like Kubo).
    pub strategy: String,
    /// How long `strict` ignores a refused peer (`10s`).
    pub strict_cooldown: String,
    /// Compare ledgers with ipfsd peers on connect (`/ipfsd/ledger/1.0.0`).
    pub ledger_exchange: bool,
    /// Block bytes queued for upload, all peers together (bytes).
    pub upload_window: u64,
    /// Upload limit, block bytes per second (`0`: unlimited).
    pub upload_rate: u64,
    /// Blocks a DAG fetch keeps wanted at once.
    pub fetch_window: usize,
    /// A fetch gives up when no block arrives for this long (`60s`).
    pub fetch_timeout: String,
}

impl Default for BitswapConfig {
    fn default() -> Self {
        BitswapConfig {
            strategy: "sigmoid".into(),
            strict_cooldown: "10s".into(),
            ledger_exchange: true,
            upload_window: 16 << 20,
            upload_rate: 0,
            fetch_window: 128,
            fetch_timeout: "60s".into(),
        }
    }
}

/// A bootstrap address was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootstrapError {
    /// Not a multiaddr.
    #[error("invalid multiaddr {addr:?}")]
    BadAddr {
        /// The address.
        addr: String,
    },
    /// No `/p2p/<peer id>` at the end.
    #[error("{addr}: a bootstrap address must end in /p2p/<peer id>")]
    NoPeerId {
        /// The address.
        addr: String,
    },
}

impl Config {
    /// Adds bootstrap addresses (and, with `public`, the public IPFS peers); answers
    /// those that were not already listed. Nothing changes if one is invalid.
    pub fn bootstrap_add(
        &mut self,
        addrs: &[String],
        public: bool,
    ) -> Result<Vec<String>, BootstrapError> {
        let mut all: Vec<String> = addrs.to_vec();
        if public {
            all.extend(PUBLIC_BOOTSTRAP.iter().map(|a| a.to_string()));
        }
        for a in &all {
            let ma: multiaddr::Multiaddr = a
                .parse()
                .map_err(|_| BootstrapError::BadAddr { addr: a.clone() })?;
            if !matches!(ma.iter().last(), Some(multiaddr::Protocol::P2p(_))) {
                return Err(BootstrapError::NoPeerId { addr: a.clone() });
            }
        }
        let mut added = Vec::new();
        for a in all {
            if !self.bootstrap.contains(&a) {
                self.bootstrap.push(a.clone());
                added.push(a);
            }
        }
        Ok(added)
    }

    /// Removes bootstrap entries given as full addresses or as peer IDs (every address of
    /// that peer), or all of them; answers those removed.
    pub fn bootstrap_rm(&mut self, peers: &[String], all: bool) -> Vec<String> {
        if all {
            return std::mem::take(&mut self.bootstrap);
        }
        let mut removed = Vec::new();
        self.bootstrap.retain(|a| {
            let hit = peers
                .iter()
                .any(|p| a == p || a.ends_with(&format!("/p2p/{p}")));
            if hit {
                removed.push(a.clone());
            }
            !hit
        });
        removed
    }
}

/// Parses a duration like `30s`, `22h`, `500ms`, `5m` or `0`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// A named set of config changes (`ipfsd config profile apply NAME`).
pub fn apply_profile(config: &Config, name: &str) -> Option<Config> {
    let mut c = config.clone();
    match name {
        // Join the public IPFS network: its bootstrap peers, listening on all interfaces.
        "public" => {
            c.bootstrap = PUBLIC_BOOTSTRAP.iter().map(|s| s.to_string()).collect();
            c.addresses.swarm = vec![
                "/ip4/0.0.0.0/tcp/4001".into(),
                "/ip4/0.0.0.0/udp/4001/quic-v1".into(),
            ];
        }
        // Loopback only, no bootstrap peers: the default.
        "local" => {
            c.bootstrap = Vec::new();
            c.addresses.swarm = Addresses::default().swarm;
        }
        _ => return None,
    }
    Some(c)
}

/// The identity section: the peer ID, for reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdentityConfig {
    /// The node's peer ID.
    #[serde(rename = "PeerID")]
    pub peer_id: String,
}

/// Listen addresses, as multiaddrs (Kubo's `Addresses` section). Port 0 picks a free port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Addresses {
    /// The RPC API (`/api/v0`). Loopback by default: the API has full control of the node.
    #[serde(rename = "API")]
    pub api: String,
    /// The HTTP gateway (`/ipfs/<cid>` for browsers and trustless clients); empty: none.
    pub gateway: String,
    /// libp2p listen addresses.
    pub swarm: Vec<String>,
}

impl Default for Addresses {
    fn default() -> Self {
        Addresses {
            api: "/ip4/127.0.0.1/tcp/5001".into(),
            gateway: "/ip4/127.0.0.1/tcp/8080".into(),
            swarm: vec![
                "/ip4/127.0.0.1/tcp/4001".into(),
                "/ip4/127.0.0.1/udp/4001/quic-v1".into(),
            ],
        }
    }
}

/// RPC API settings (Kubo's `API` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ApiConfig {
    /// Extra response headers; `Access-Control-Allow-Origin` also lists the browser origins
    /// allowed to call the API (requests from any other `Origin` get 403).
    #[serde(rename = "HTTPHeaders")]
    pub http_headers: std::collections::BTreeMap<String, Vec<String>>,
    /// Host names, besides `localhost` and the API's own IP, that requests may name in
    /// `Host` (others get 403: DNS rebinding). Empty by default.
    pub allowed_hosts: Vec<String>,
    /// Connections served at once (`256`), with a budget of its own: a full gateway
    /// cannot take the API's. Kept at most an eighth of the file descriptor limit.
    pub max_connections: usize,
    /// Longest wait for a request's header, and between requests on a kept-alive
    /// connection (`30s`).
    pub header_timeout: String,
    /// An upload (`add`, `dag/import`, `block/put`) whose body makes no progress for this
    /// long fails (`30s`), so a stalled client cannot hold the node's resources.
    pub upload_idle_timeout: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            http_headers: Default::default(),
            allowed_hosts: Vec::new(),
            max_connections: 256,
            header_timeout: "30s".into(),
            upload_idle_timeout: "30s".into(),
        }
    }
}

impl ApiConfig {
    /// The browser origins allowed to call the API.
    pub fn allowed_origins(&self) -> &[String] {
        self.http_headers
            .get("Access-Control-Allow-Origin")
            .map_or(&[], Vec::as_slice)
    }
}

/// How `add` builds DAGs when no flag says otherwise. Names follow Kubo's `Import` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct ImportConfig {
    /// CID version for new DAGs (0 or 1).
    pub cid_version: u8,
    /// Raw leaves; `None` means "yes for CIDv1, no for CIDv0", as in Kubo.
    #[serde(rename = "UnixFSRawLeaves")]
    pub raw_leaves: Option<bool>,
    /// Chunker, `size-N`.
    #[serde(rename = "UnixFSChunker")]
    pub chunker: String,
    /// Maximum links per file node.
    #[serde(rename = "UnixFSFileMaxLinks")]
    pub file_max_links: usize,
    /// Directory size (see `hamt_size_estimation`) above which directories are sharded.
    #[serde(rename = "UnixFSHAMTDirectorySizeThreshold")]
    pub hamt_threshold: usize,
    /// `links` (name + CID bytes, Kubo's legacy estimate) or `block` (exact block size).
    #[serde(rename = "UnixFSHAMTDirectorySizeEstimation")]
    pub hamt_size_estimation: String,
    /// HAMT fanout.
    #[serde(rename = "UnixFSHAMTDirectoryMaxFanout")]
    pub hamt_fanout: u64,
    /// Hash function of new blocks, by Kubo's name; anything but sha2-256 makes CIDv1
    /// (and raw leaves, unless `UnixFSRawLeaves` says otherwise), as in Kubo.
    pub hash_function: String,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig::from_params(&Profile::UnixfsV0_2015.params(), None)
    }
}

impl ImportConfig {
    /// The config that corresponds to a set of import parameters.
    pub fn from_params(p: &Params, raw_leaves: Option<bool>) -> Self {
        ImportConfig {
            cid_version: if p.cid_version == Version::V0 { 0 } else { 1 },
            raw_leaves,
            chunker: format!("size-{}", p.chunk_size),
            file_max_links: p.max_links,
            hamt_threshold: p.hamt_threshold,
            hamt_size_estimation: match p.hamt_estimation {
                HamtEstimation::LinkBytes => "links".into(),
                HamtEstimation::BlockBytes => "block".into(),
            },
            hamt_fanout: p.hamt_fanout,
            hash_function: p.hash.name().to_string(),
        }
    }

    /// The importer parameters this config describes (the checks the importer adds are
    /// in [`Config::settings`]).
    pub fn params(&self) -> Result<Params, ConfigError> {
        let cid_version = match self.cid_version {
            0 => Version::V0,
            1 => Version::V1,
            n => return Err(validate::bad("Import.CidVersion", n, "must be 0 or 1")),
        };
        let chunk_size = chunker::parse_chunker(&self.chunker).ok_or_else(|| {
            validate::bad(
                "Import.UnixFSChunker",
                format!("{:?}", self.chunker),
                "must be size-N with 1 <= N <= 2097152",
            )
        })?;
        let hamt_estimation = match self.hamt_size_estimation.as_str() {
            "links" => HamtEstimation::LinkBytes,
            "block" => HamtEstimation::BlockBytes,
            other => {
                return Err(validate::bad(
                    "Import.UnixFSHAMTDirectorySizeEstimation",
                    format!("{other:?}"),
                    "must be links or block",
                ));
            }
        };
        let hash = HashFn::from_name(&self.hash_function).map_err(|_| {
            validate::bad(
                "Import.HashFunction",
                format!("{:?}", self.hash_function),
                "must be one of the hash functions `ipfsd cid hashes` lists",
            )
        })?;
        let mut p = Params {
            cid_version,
            hash: HashFn::Sha2_256,
            raw_leaves: self.raw_leaves.unwrap_or(cid_version == Version::V1),
            chunk_size,
            max_links: self.file_max_links,
            hamt_threshold: self.hamt_threshold,
            hamt_estimation,
            hamt_fanout: self.hamt_fanout,
            hidden: false,
        };
        p.set_hash(hash, false, self.raw_leaves.is_some())
            .map_err(|_| {
                validate::bad(
                    "Import.HashFunction",
                    format!("{:?}", self.hash_function),
                    "CIDv0 only supports sha2-256",
                )
            })?;
        Ok(p)
    }
}

impl Config {
    /// The config as a JSON value (for `ipfsd config KEY`).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The value at a dotted key (`Addresses.API`), if present.
    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        let mut v = self.to_value();
        for part in key.split('.') {
            v = v.get_mut(part)?.take();
        }
        Some(v)
    }

    /// A copy with `key` set to `value` (a JSON value, or a bare string), checked against
    /// the typed config so a misspelled key or a wrongly typed value is refused.
    pub fn with(&self, key: &str, value: serde_json::Value) -> Result<Config, ConfigKeyError> {
        let mut root = self.to_value();
        let mut v = &mut root;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let obj = v
                .as_object_mut()
                .ok_or_else(|| ConfigKeyError::UnknownKey {
                    key: key.to_string(),
                })?;
            if i + 1 == parts.len() {
                if !obj.contains_key(*part) && !is_free_map(&parts[..i]) {
                    return Err(ConfigKeyError::UnknownKey {
                        key: key.to_string(),
                    });
                }
                obj.insert((*part).to_string(), value.clone());
                break;
            }
            v = obj
                .get_mut(*part)
                .ok_or_else(|| ConfigKeyError::UnknownKey {
                    key: key.to_string(),
                })?;
        }
        let updated: Config =
            serde_json::from_value(root).map_err(|e| ConfigKeyError::BadValue {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
        updated.validate()?;
        Ok(updated)
    }
}

/// Sections whose keys are free-form (header names).
fn is_free_map(path: &[&str]) -> bool {
    path == ["API", "HTTPHeaders"]
}

/// `ipfsd config KEY VALUE` was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigKeyError {
    /// No such key.
    #[error("config key {key:?} does not exist")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// The value has the wrong type.
    #[error("invalid value for config key {key:?}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The value is malformed or out of range: the error loading the config would give.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_get_and_set() {
        let c = Config::default();
        assert_eq!(
            c.get("Addresses.API"),
            Some(serde_json::json!("/ip4/127.0.0.1/tcp/5001"))
        );
        assert_eq!(c.get("Nope.Key"), None);
        let c2 = c
            .with("Addresses.API", serde_json::json!("/ip4/127.0.0.1/tcp/0"))
            .expect("set");
        assert_eq!(c2.addresses.api, "/ip4/127.0.0.1/tcp/0");
        assert!(matches!(
            c.with("Addresses.Nope", serde_json::json!(1)),
            Err(ConfigKeyError::UnknownKey { .. })
        ));
        assert!(matches!(
            c.with("Import.CidVersion", serde_json::json!("x")),
            Err(ConfigKeyError::BadValue { .. })
        ));
        assert!(matches!(
            c.with("Import.CidVersion", serde_json::json!(2)),
            Err(ConfigKeyError::Invalid(ConfigError::Value {
                key: "Import.CidVersion",
                ..
            }))
        ));
        let c3 = c
            .with(
                "API.HTTPHeaders.Access-Control-Allow-Origin",
                serde_json::json!(["http://localhost:3000"]),
            )
            .expect("free-form header key");
        assert_eq!(
            c3.api.allowed_origins(),
            ["http://localhost:3000".to_string()]
        );
    }

    #[test]
    fn bootstrap_edits() {
        let mut c = Config::default();
        let peer =
            "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        assert_eq!(
            c.bootstrap_add(&[peer.into()], false),
            Ok(vec![peer.to_string()])
        );
        assert_eq!(c.bootstrap_add(&[peer.into()], false), Ok(vec![]));
        assert!(matches!(
            c.bootstrap_add(&["/ip4/127.0.0.1/tcp/1".into(), "x".into()], false),
            Err(BootstrapError::NoPeerId { .. })
        ));
        assert_eq!(c.bootstrap.len(), 1, "nothing added when one is invalid");
        let id = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        assert_eq!(c.bootstrap_rm(&[id.into()], false), vec![peer.to_string()]);
        c.bootstrap_add(&[], true).expect("public list is valid");
        assert_eq!(c.bootstrap_rm(&[], true).len(), PUBLIC_BOOTSTRAP.len());
    }

    #[test]
    fn durations_parse() {
        use std::time::Duration;
        assert_eq!(parse_duration("22h"), Some(Duration::from_secs(22 * 3600)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "h", "10", "10d", "-1s", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn default_is_loopback_without_bootstrap() {
        let c = Config::default();
        assert!(c.bootstrap.is_empty());
        assert!(
            c.addresses
                .swarm
                .iter()
                .all(|a| a.starts_with("/ip4/127.0.0.1/"))
        );
        let public = apply_profile(&c, "public").unwrap();
        assert!(!public.bootstrap.is_empty());
        assert_eq!(apply_profile(&public, "local").unwrap(), c);
    }

    #[test]
    fn defaults_are_kubo_defaults() {
        assert_eq!(Config::default().import.params(), Ok(Params::default()));
    }

    #[test]
    fn partial_files_load_with_defaults() {
        let c: Config = serde_json::from_str(r#"{"Import": {"CidVersion": 1}}"#).expect("parses");
        let p = c.import.params().expect("valid");
        assert_eq!(p.cid_version, Version::V1);
        assert!(p.raw_leaves, "CIDv1 implies raw leaves unless set");
        assert!(serde_json::from_str::<Config>(r#"{"Import": {"CidVersoin": 1}}"#).is_err());
    }

    #[test]
    fn hash_function_makes_cidv1_with_raw_leaves() {
        let c: Config =
            serde_json::from_str(r#"{"Import": {"HashFunction": "blake3"}}"#).expect("parses");
        let p = c.import.params().expect("valid");
        assert_eq!(p.hash, HashFn::Blake3);
        assert_eq!(p.cid_version, Version::V1);
        assert!(p.raw_leaves);
        let c: Config = serde_json::from_str(
            r#"{"Import": {"HashFunction": "sha2-512", "UnixFSRawLeaves": false}}"#,
        )
        .expect("parses");
        assert!(!c.import.params().expect("valid").raw_leaves);
        let c: Config =
            serde_json::from_str(r#"{"Import": {"HashFunction": "md5"}}"#).expect("parses");
        assert!(c.import.params().is_err());
    }

    #[test]
    fn profile_roundtrips_through_config() {
        let p = Profile::UnixfsV1_2025.params();
        assert_eq!(ImportConfig::from_params(&p, Some(true)).params(), Ok(p));
    }
}
