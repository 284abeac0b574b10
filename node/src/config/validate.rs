//! Checking a config before the node uses it: the file must be a JSON object, and every
//! value must parse and lie within bounds, so no configured value can panic or freeze the
//! node later (a duration added to an `Instant`, a zero-sized window, ...).
//!
//! Data flow: [`Config::from_json`] (used by `repo::load_config`) parses the file and
//! calls [`Config::validate`], which is [`Config::settings`]: the one parse of every
//! value into its typed [`Settings`]. `Config::with` (for `config KEY VALUE`) and
//! `Repo::init` validate too, and the daemon starts from the `Settings`. The first bad
//! value is the error, a [`ConfigError`] naming its key.

use super::settings::{
    ApiSettings, DatastoreSettings, GatewaySettings, IpnsSettings, ProvideSettings, Settings,
};
use super::{Config, parse_duration};

/// Longest network wait a config may set (timeouts, cooldowns): a day.
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Longest period a config may set (reprovide and republish intervals): a year.
pub const MAX_PERIOD: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
/// Longest IPNS record lifetime a config may set: ten years.
pub const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);
/// Longest wait for an HTTP request's header a config may set: an hour.
pub const MAX_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
/// Most resolved names cached.
pub const MAX_RESOLVE_CACHE: usize = 1 << 20;
/// Smallest BitSwap upload window a config may set (bytes): one maximal block.
pub const MIN_UPLOAD_WINDOW: u64 = 1 << 20;
/// Most blocks a DAG fetch may keep wanted at once.
pub const MAX_FETCH_WINDOW: usize = 1024;

/// The config file cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file is JSON, but not an object (`[]`, `null`, a number, ...).
    #[error("the config must be a JSON object, not {found}")]
    NotAnObject {
        /// What it is instead.
        found: &'static str,
    },
    /// A value is out of range or malformed.
    #[error("invalid config value {key} = {value}: {reason}")]
    Value {
        /// The key, e.g. `Provide.Interval`.
        key: &'static str,
        /// The value as written.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// The error for `key`, written as `value`.
pub(super) fn bad(
    key: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Value {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A duration value: parses, and lies within `0` (or `1ms` unless `zero_ok`) and `max`.
fn check_duration(
    key: &'static str,
    value: &str,
    zero_ok: bool,
    max: std::time::Duration,
) -> Result<std::time::Duration, ConfigError> {
    let d = parse_duration(value).ok_or_else(|| {
        bad(
            key,
            format!("{value:?}"),
            "must be a duration like 30s, 5m or 22h",
        )
    })?;
    if d.is_zero() && !zero_ok {
        return Err(bad(key, format!("{value:?}"), "must not be 0"));
    }
    if d > max {
        return Err(bad(
            key,
            format!("{value:?}"),
            format!("must be at most {}h", max.as_secs() / 3600),
        ));
    }
    Ok(d)
}

impl Config {
    /// Parses a config file: a JSON object whose values all pass [`Config::validate`].
    pub fn from_json(text: &[u8]) -> Result<Config, ConfigFileError> {
        let v: serde_json::Value = serde_json::from_slice(text)?;
        let found = match &v {
            serde_json::Value::Object(_) => None,
            serde_json::Value::Null => Some("null"),
            serde_json::Value::Bool(_) => Some("a boolean"),
            serde_json::Value::Number(_) => Some("a number"),
            serde_json::Value::String(_) => Some("a string"),
            serde_json::Value::Array(_) => Some("an array"),
        };
        if let Some(found) = found {
            return Err(ConfigError::NotAnObject { found }.into());
        }
        let c: Config = serde_json::from_value(v)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks every value the node will use (see [`Config::settings`]); the first bad
    /// value is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(drop)
    }

    /// The config's values parsed and checked, with bounds: durations parse and stay
    /// below sane maxima ([`MAX_TIMEOUT`], [`MAX_PERIOD`], [`MAX_LIFETIME`]), counts are
    /// in range, addresses parse, names are known. The first bad value is the error,
    /// naming its key.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        Ok(Settings {
            api: self.api_settings()?,
            gateway: self.gateway_settings()?,
            net: self.net_settings()?,
            provide: ProvideSettings {
                strategy: crate::net::Strategy::parse(&self.provide.strategy).ok_or_else(|| {
                    bad(
                        "Provide.Strategy",
                        format!("{:?}", self.provide.strategy),
                        "must be all, pinned or roots",
                    )
                })?,
                interval: Some(check_duration(
                    "Provide.Interval",
                    &self.provide.interval,
                    true,
                    MAX_PERIOD,
                )?)
                .filter(|d| !d.is_zero()),
                mode: if self.provide.sweep {
                    crate::net::provide::Mode::Sweep
                } else {
                    crate::net::provide::Mode::PerKey
                },
            },
            bitswap: self.bitswap_settings()?,
            ipns: IpnsSettings {
                republish_period: check_duration(
                    "Ipns.RepublishPeriod",
                    &self.ipns.republish_period,
                    false,
                    MAX_PERIOD,
                )?,
                record_lifetime: check_duration(
                    "Ipns.RecordLifetime",
                    &self.ipns.record_lifetime,
                    false,
                    MAX_LIFETIME,
                )?,
                resolve_cache_size: at_most(
                    "Ipns.ResolveCacheSize",
                    self.ipns.resolve_cache_size,
                    MAX_RESOLVE_CACHE,
                )?,
            },
            import: self.import_settings()?,
            datastore: self.datastore_settings()?,
        })
    }

    /// The `Datastore` section parsed: `StorageMax` a size above 0, `StorageGCWatermark`
    /// a percent from 1 to 100, `GCPeriod` a duration from 1s to [`MAX_PERIOD`].
    pub fn datastore_settings(&self) -> Result<DatastoreSettings, ConfigError> {
        let d = &self.datastore;
        let storage_max = d.storage_max.bytes().ok_or_else(|| {
            bad(
                "Datastore.StorageMax",
                &d.storage_max,
                "must be a size like 10GB, 500MiB or a number of bytes",
            )
        })?;
        if storage_max == 0 {
            return Err(bad(
                "Datastore.StorageMax",
                &d.storage_max,
                "must be more than 0",
            ));
        }
        let gc_watermark = u8::try_from(d.storage_gc_watermark)
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| {
                bad(
                    "Datastore.StorageGCWatermark",
                    d.storage_gc_watermark,
                    "must be a percent from 1 to 100",
                )
            })?;
        let gc_period = check_duration("Datastore.GCPeriod", &d.gc_period, false, MAX_PERIOD)?;
        if gc_period < std::time::Duration::from_secs(1) {
            return Err(bad(
                "Datastore.GCPeriod",
                format!("{:?}", d.gc_period),
                "must be at least 1s",
            ));
        }
        Ok(DatastoreSettings {
            hash_on_read: d.hash_on_read,
            storage_max,
            gc_watermark,
            gc_period,
        })
    }

    fn api_settings(&self) -> Result<ApiSettings, ConfigError> {
        Ok(ApiSettings {
            addr: listen_addr("Addresses.API", &self.addresses.api)?,
            max_connections: at_least_one("API.MaxConnections", self.api.max_connections)?,
            header_timeout: check_duration(
                "API.HeaderTimeout",
                &self.api.header_timeout,
                false,
                MAX_HEADER_TIMEOUT,
            )?,
            upload_idle_timeout: check_duration(
                "API.UploadIdleTimeout",
                &self.api.upload_idle_timeout,
                false,
                MAX_TIMEOUT,
            )?,
        })
    }

    fn gateway_settings(&self) -> Result<GatewaySettings, ConfigError> {
        let addr = match self.addresses.gateway.trim() {
            "" => None,
            _ => Some(listen_addr("Addresses.Gateway", &self.addresses.gateway)?),
        };
        Ok(GatewaySettings {
            addr,
            max_connections: at_least_one("Gateway.MaxConnections", self.gateway.max_connections)?,
            header_timeout: check_duration(
                "Gateway.HeaderTimeout",
                &self.gateway.header_timeout,
                false,
                MAX_HEADER_TIMEOUT,
            )?,
            retrieval_timeout: check_duration(
                "Gateway.RetrievalTimeout",
                &self.gateway.retrieval_timeout,
                false,
                MAX_TIMEOUT,
            )?,
            no_fetch: self.gateway.no_fetch,
        })
    }

    /// The `Addresses.Swarm`, `Bootstrap`, `Swarm` and `Routing` values.
    fn net_settings(&self) -> Result<crate::net::NetConfig, ConfigError> {
        let multiaddr = |key: &'static str, a: &String| {
            a.parse::<multiaddr::Multiaddr>()
                .map_err(|_| bad(key, format!("{a:?}"), "not a valid multiaddr"))
        };
        let listen = self
            .addresses
            .swarm
            .iter()
            .map(|a| multiaddr("Addresses.Swarm", a))
            .collect::<Result<Vec<_>, _>>()?;
        let bootstrap = self
            .bootstrap
            .iter()
            .map(|a| {
                let ma = multiaddr("Bootstrap", a)?;
                match ma.iter().last() {
                    Some(multiaddr::Protocol::P2p(_)) => Ok(ma),
                    _ => Err(bad(
                        "Bootstrap",
                        format!("{a:?}"),
                        "must end in /p2p/<peer id>",
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dht = match self.routing.kind.as_str() {
            "dhtserver" | "dht" | "auto" => Some(libp2p::kad::Mode::Server),
            "dhtclient" => Some(libp2p::kad::Mode::Client),
            "none" => None,
            other => {
                return Err(bad(
                    "Routing.Type",
                    format!("{other:?}"),
                    "must be dhtserver, dhtclient or none",
                ));
            }
        };
        let k = match usize::try_from(self.routing.k) {
            Ok(k @ 1..=256) => k,
            _ => {
                return Err(bad(
                    "Routing.K",
                    self.routing.k,
                    "must be between 1 and 256",
                ));
            }
        };
        let max_difficulty = crate::identity::MAX_DIFFICULTY;
        if self.routing.min_peer_difficulty > max_difficulty {
            return Err(bad(
                "Routing.MinPeerDifficulty",
                self.routing.min_peer_difficulty,
                format!("must be at most {max_difficulty}"),
            ));
        }
        let s = &self.swarm;
        Ok(crate::net::NetConfig {
            listen,
            bootstrap,
            dht,
            lan_dht: self.routing.lan_dht,
            disjoint_paths: self.routing.disjoint_paths,
            k,
            query_timeout: check_duration(
                "Routing.QueryTimeout",
                &self.routing.query_timeout,
                false,
                MAX_TIMEOUT,
            )?,
            min_peer_difficulty: self.routing.min_peer_difficulty,
            max_connections: at_least_one("Swarm.MaxConnections", s.max_connections)?,
            max_connections_per_peer: at_least_one(
                "Swarm.MaxConnectionsPerPeer",
                s.max_connections_per_peer,
            )?,
            max_pending: at_least_one("Swarm.MaxPending", s.max_pending)?,
            idle_timeout: check_duration("Swarm.IdleTimeout", &s.idle_timeout, true, MAX_TIMEOUT)?,
            ..crate::net::NetConfig::default()
        })
    }

    /// The `Bitswap` values (the ledger's path is the caller's: it is the repository's).
    fn bitswap_settings(&self) -> Result<bitswap::Config, ConfigError> {
        let c = &self.bitswap;
        let cooldown = check_duration(
            "Bitswap.StrictCooldown",
            &c.strict_cooldown,
            true,
            MAX_TIMEOUT,
        )?;
        let strategy = match c.strategy.as_str() {
            "strict" => bitswap::Strategy::Strict { cooldown },
            other => bitswap::Strategy::parse(other).ok_or_else(|| {
                bad(
                    "Bitswap.Strategy",
                    format!("{other:?}"),
                    "must be sigmoid, strict or altruistic",
                )
            })?,
        };
        if c.upload_window < MIN_UPLOAD_WINDOW {
            return Err(bad(
                "Bitswap.UploadWindow",
                c.upload_window,
                format!("must be at least {MIN_UPLOAD_WINDOW} (1 MiB)"),
            ));
        }
        let fetch_window = at_least_one("Bitswap.FetchWindow", c.fetch_window)?;
        let fetch_window = at_most("Bitswap.FetchWindow", fetch_window, MAX_FETCH_WINDOW)?;
        Ok(bitswap::Config {
            strategy,
            ledger_path: None,
            upload_window: c.upload_window,
            peer_upload_window: c.upload_window,
            upload_rate: (c.upload_rate > 0).then_some(c.upload_rate),
            fetch_window,
            fetch_idle_timeout: check_duration(
                "Bitswap.FetchTimeout",
                &c.fetch_timeout,
                false,
                MAX_TIMEOUT,
            )?,
            seed: None,
            ledger_exchange: c.ledger_exchange,
        })
    }

    /// The `Import` values, checked as the importer checks them.
    fn import_settings(&self) -> Result<dag::import::Params, ConfigError> {
        let c = &self.import;
        let params = c.params()?;
        if c.file_max_links < 2 {
            return Err(bad(
                "Import.UnixFSFileMaxLinks",
                c.file_max_links,
                "must be at least 2",
            ));
        }
        if !dag::hamt::valid_fanout(c.hamt_fanout) {
            return Err(bad(
                "Import.UnixFSHAMTDirectoryMaxFanout",
                c.hamt_fanout,
                "must be a power of two between 8 and 1024",
            ));
        }
        Ok(params)
    }
}

/// A listen address (`/ip4|ip6/<ip>/tcp/<port>`).
fn listen_addr(key: &'static str, addr: &str) -> Result<std::net::SocketAddr, ConfigError> {
    crate::daemon::socket_addr(addr).map_err(|e| bad(key, format!("{addr:?}"), e.to_string()))
}

/// A count that must be at least 1.
fn at_least_one<N: Copy + Default + PartialEq + std::fmt::Display>(
    key: &'static str,
    n: N,
) -> Result<N, ConfigError> {
    if n == N::default() {
        return Err(bad(key, n, "must be at least 1"));
    }
    Ok(n)
}

/// A count with an upper bound.
fn at_most(key: &'static str, n: usize, max: usize) -> Result<usize, ConfigError> {
    if n > max {
        return Err(bad(key, n, format!("must be at most {max}")));
    }
    Ok(n)
}

/// The config file does not parse or has a bad value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// Not JSON, or a value of the wrong type.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A value out of range.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, String> {
        Config::from_json(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_file_must_be_an_object() {
        for (text, found) in [
            ("[]", "an array"),
            ("null", "null"),
            ("1", "a number"),
            ("\"x\"", "a string"),
            ("true", "a boolean"),
        ] {
            let e = load(text).expect_err(text);
            assert!(
                e.contains("must be a JSON object") && e.contains(found),
                "{e}"
            );
        }
        assert_eq!(load("{}"), Ok(Config::default()));
        assert!(load("{").is_err());
    }

    #[test]
    fn datastore_values_parse_once_into_typed_settings() {
        let d = load("{}")
            .expect("defaults")
            .settings()
            .expect("valid")
            .datastore;
        assert_eq!(d.storage_max, 10_000_000_000, "Kubo's default 10GB");
        assert_eq!(d.gc_watermark, 90);
        assert_eq!(d.gc_period, std::time::Duration::from_secs(3600));
        assert!(!d.hash_on_read);
        let c = load(
            r#"{"Datastore": {"StorageMax": "200MB", "StorageGCWatermark": 75, "GCPeriod": "5m"}}"#,
        )
        .expect("valid");
        let d = c.datastore_settings().expect("valid");
        assert_eq!(
            (d.storage_max, d.gc_watermark, d.gc_period),
            (200_000_000, 75, std::time::Duration::from_secs(300))
        );
        let q = d.quota(true);
        assert_eq!(
            (q.max, q.watermark, q.gc_at_limit),
            (200_000_000, 150_000_000, true)
        );
        // A number is bytes, and the file keeps what was written.
        let c = load(r#"{"Datastore": {"StorageMax": 1048576}}"#).expect("valid");
        assert_eq!(c.datastore_settings().expect("valid").storage_max, 1 << 20);
        assert_eq!(
            c.get("Datastore.StorageMax"),
            Some(serde_json::json!(1048576))
        );
        // `config Datastore.StorageMax 1GiB` (a bare string) works.
        let c = Config::default()
            .with("Datastore.StorageMax", serde_json::json!("1GiB"))
            .expect("set");
        assert_eq!(c.datastore_settings().expect("valid").storage_max, 1 << 30);
        for (text, key, why) in [
            (
                r#"{"Datastore": {"StorageMax": "ten GB"}}"#,
                "Datastore.StorageMax",
                "size like",
            ),
            (
                r#"{"Datastore": {"StorageMax": "10XB"}}"#,
                "Datastore.StorageMax",
                "size like",
            ),
            (
                r#"{"Datastore": {"StorageMax": 0}}"#,
                "Datastore.StorageMax",
                "more than 0",
            ),
            (
                r#"{"Datastore": {"StorageMax": "0GB"}}"#,
                "Datastore.StorageMax",
                "more than 0",
            ),
            (
                r#"{"Datastore": {"StorageGCWatermark": 0}}"#,
                "Datastore.StorageGCWatermark",
                "1 to 100",
            ),
            (
                r#"{"Datastore": {"StorageGCWatermark": 101}}"#,
                "Datastore.StorageGCWatermark",
                "1 to 100",
            ),
            (
                r#"{"Datastore": {"StorageGCWatermark": -5}}"#,
                "Datastore.StorageGCWatermark",
                "1 to 100",
            ),
            (
                r#"{"Datastore": {"GCPeriod": "0"}}"#,
                "Datastore.GCPeriod",
                "not be 0",
            ),
            (
                r#"{"Datastore": {"GCPeriod": "10ms"}}"#,
                "Datastore.GCPeriod",
                "at least 1s",
            ),
            (
                r#"{"Datastore": {"GCPeriod": "often"}}"#,
                "Datastore.GCPeriod",
                "duration",
            ),
            (
                r#"{"Datastore": {"GCPeriod": "9000h"}}"#,
                "Datastore.GCPeriod",
                "at most",
            ),
        ] {
            let e = load(text).expect_err(text);
            assert!(e.contains(key) && e.contains(why), "{text}: {e}");
        }
        // A value of the wrong JSON type is refused too (never a silent default).
        assert!(load(r#"{"Datastore": {"StorageMax": true}}"#).is_err());
        assert!(load(r#"{"Datastore": {"StorageGCWatermark": "90"}}"#).is_err());
    }

    #[test]
    fn every_value_is_bounded_and_named_in_the_error() {
        let huge = "18446744073709551615s";
        for (key, value, why) in [
            ("Provide.Interval", huge, "at most"),
            ("Provide.Interval", "366d", "duration"),
            ("Provide.Interval", "9000h", "at most"),
            ("Ipns.RepublishPeriod", huge, "at most"),
            ("Ipns.RepublishPeriod", "0", "not be 0"),
            ("Ipns.RecordLifetime", huge, "at most"),
            ("Gateway.RetrievalTimeout", "25h", "at most"),
            ("Gateway.RetrievalTimeout", "0", "not be 0"),
            ("Routing.QueryTimeout", huge, "at most"),
            ("Swarm.IdleTimeout", "x", "duration"),
            ("Bitswap.FetchTimeout", "0", "not be 0"),
            ("Bitswap.StrictCooldown", huge, "at most"),
            ("API.UploadIdleTimeout", "0", "not be 0"),
            ("API.UploadIdleTimeout", huge, "at most"),
            ("API.HeaderTimeout", "0", "not be 0"),
            ("API.HeaderTimeout", "2h", "at most"),
            ("Gateway.HeaderTimeout", huge, "at most"),
        ] {
            let (section, field) = key.split_once('.').expect("dotted");
            let text = format!(r#"{{"{section}": {{"{field}": "{value}"}}}}"#);
            let e = load(&text).expect_err(&text);
            assert!(e.contains(key) && e.contains(why), "{text}: {e}");
        }
        for (text, key) in [
            (
                r#"{"Swarm": {"MaxConnections": 0}}"#,
                "Swarm.MaxConnections",
            ),
            (r#"{"Swarm": {"MaxPending": 0}}"#, "Swarm.MaxPending"),
            (r#"{"API": {"MaxConnections": 0}}"#, "API.MaxConnections"),
            (
                r#"{"Gateway": {"MaxConnections": 0}}"#,
                "Gateway.MaxConnections",
            ),
            (r#"{"Routing": {"K": 0}}"#, "Routing.K"),
            (r#"{"Routing": {"Type": "x"}}"#, "Routing.Type"),
            (
                r#"{"Routing": {"MinPeerDifficulty": 99}}"#,
                "Routing.MinPeerDifficulty",
            ),
            (
                r#"{"Ipns": {"ResolveCacheSize": 99999999}}"#,
                "Ipns.ResolveCacheSize",
            ),
            (r#"{"Addresses": {"API": "nonsense"}}"#, "Addresses.API"),
            (
                r#"{"Addresses": {"Gateway": "/dns4/x/tcp/1"}}"#,
                "Addresses.Gateway",
            ),
            (r#"{"Addresses": {"Swarm": ["nope"]}}"#, "Addresses.Swarm"),
            (r#"{"Bootstrap": ["/ip4/127.0.0.1/tcp/1"]}"#, "Bootstrap"),
            (r#"{"Bitswap": {"FetchWindow": 0}}"#, "Bitswap.FetchWindow"),
            (
                r#"{"Bitswap": {"FetchWindow": 1025}}"#,
                "Bitswap.FetchWindow",
            ),
            (
                r#"{"Bitswap": {"UploadWindow": 1}}"#,
                "Bitswap.UploadWindow",
            ),
            (r#"{"Bitswap": {"Strategy": "x"}}"#, "Bitswap.Strategy"),
            (
                r#"{"Swarm": {"MaxConnectionsPerPeer": 0}}"#,
                "Swarm.MaxConnectionsPerPeer",
            ),
            (r#"{"Import": {"CidVersion": 2}}"#, "Import.CidVersion"),
            (
                r#"{"Import": {"UnixFSHAMTDirectorySizeEstimation": "x"}}"#,
                "Import.UnixFSHAMTDirectorySizeEstimation",
            ),
            (r#"{"Provide": {"Strategy": "x"}}"#, "Provide.Strategy"),
            (
                r#"{"Import": {"UnixFSChunker": "size-0"}}"#,
                "Import.UnixFSChunker",
            ),
            (
                r#"{"Import": {"UnixFSFileMaxLinks": 1}}"#,
                "Import.UnixFSFileMaxLinks",
            ),
            (
                r#"{"Import": {"UnixFSHAMTDirectoryMaxFanout": 3}}"#,
                "Import.UnixFSHAMTDirectoryMaxFanout",
            ),
        ] {
            let e = load(text).expect_err(text);
            assert!(e.contains(key), "{text}: {e}");
        }
        // The largest values allowed load.
        load(r#"{"Provide": {"Interval": "8760h"}, "Ipns": {"RecordLifetime": "87600h"}}"#)
            .expect("at the bounds");
        // `config KEY VALUE` checks the same.
        let e = Config::default()
            .with("Provide.Interval", serde_json::json!(huge))
            .expect_err("refused");
        assert!(e.to_string().contains("Provide.Interval"), "{e}");
    }

    #[test]
    fn config_set_refuses_with_the_load_message() {
        for (key, value) in [
            ("Provide.Interval", serde_json::json!("5x")),
            ("Bitswap.Strategy", serde_json::json!("greedy")),
            ("Routing.K", serde_json::json!(0)),
            ("Addresses.API", serde_json::json!("/dns4/x/tcp/1")),
        ] {
            let (section, field) = key.split_once('.').expect("dotted");
            let text = serde_json::json!({ section: { field: value.clone() } }).to_string();
            let loaded = load(&text).expect_err(&text);
            let set = Config::default()
                .with(key, value)
                .expect_err(key)
                .to_string();
            assert_eq!(loaded, set, "{key}");
            assert!(set.contains(key), "{set}");
        }
    }

    #[test]
    fn settings_are_the_typed_values() {
        use std::time::Duration;
        let s = Config::default()
            .settings()
            .expect("the defaults are valid");
        assert_eq!(s.provide.interval, Some(Duration::from_secs(22 * 3600)));
        assert_eq!(s.provide.strategy, crate::net::Strategy::All);
        assert_eq!(s.ipns.republish_period, Duration::from_secs(4 * 3600));
        assert_eq!(s.ipns.record_lifetime, Duration::from_secs(24 * 3600));
        assert_eq!(s.api.upload_idle_timeout, Duration::from_secs(30));
        assert_eq!(s.api.addr.to_string(), "127.0.0.1:5001");
        assert_eq!(
            s.gateway.addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(s.gateway.retrieval_timeout, Duration::from_secs(30));
        assert_eq!(s.net.dht, Some(libp2p::kad::Mode::Server));
        assert_eq!(s.net.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.bitswap.strategy, bitswap::Strategy::Sigmoid);
        assert_eq!(s.bitswap.fetch_idle_timeout, Duration::from_secs(60));
        assert_eq!(s.bitswap.upload_rate, None);
        assert_eq!(s.import, dag::import::Params::default());

        let c = load(
            r#"{"Provide": {"Interval": "0", "Strategy": "roots"},
                "Bitswap": {"Strategy": "strict", "StrictCooldown": "3s", "UploadRate": 5},
                "Routing": {"Type": "none"},
                "Addresses": {"Gateway": ""}}"#,
        )
        .expect("valid");
        let s = c.settings().expect("valid");
        assert_eq!(s.provide.interval, None, "0 turns reproviding off");
        assert_eq!(s.provide.strategy, crate::net::Strategy::Roots);
        assert_eq!(
            s.bitswap.strategy,
            bitswap::Strategy::Strict {
                cooldown: Duration::from_secs(3)
            }
        );
        assert_eq!(s.bitswap.upload_rate, Some(5));
        assert_eq!(s.net.dht, None);
        assert!(s.gateway.addr.is_none());
    }
}
