//! Checking a config before the node uses it: the file must be a JSON object, and every
//! value must parse and lie within bounds, so no configured value can panic or freeze the
//! node later (a duration added to an `Instant`, a zero-sized window, ...).
//!
//! Data flow: [`Config::from_json`] (used by `repo::load_config`) parses the file and
//! calls [`Config::validate`]; `Config::with` (for `config KEY VALUE`) and `Repo::init`
//! validate too. The first bad value is the error, naming its key.

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

fn bad(key: &'static str, value: impl std::fmt::Display, reason: impl Into<String>) -> ConfigError {
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

    /// Checks every value the node will use, with bounds: durations parse and stay below
    /// sane maxima ([`MAX_TIMEOUT`], [`MAX_PERIOD`], [`MAX_LIFETIME`]), counts are in
    /// range, addresses parse, names are known. The first bad value is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let timeouts: [(&'static str, &str, bool); 6] = [
            (
                "API.UploadIdleTimeout",
                &self.api.upload_idle_timeout,
                false,
            ),
            (
                "Gateway.RetrievalTimeout",
                &self.gateway.retrieval_timeout,
                false,
            ),
            ("Routing.QueryTimeout", &self.routing.query_timeout, false),
            ("Swarm.IdleTimeout", &self.swarm.idle_timeout, true),
            (
                "Bitswap.StrictCooldown",
                &self.bitswap.strict_cooldown,
                true,
            ),
            ("Bitswap.FetchTimeout", &self.bitswap.fetch_timeout, false),
        ];
        for (key, value, zero_ok) in timeouts {
            check_duration(key, value, zero_ok, MAX_TIMEOUT)?;
        }
        // The HTTP listeners' header waits (the daemon reads the same bounds).
        check_duration(
            "API.HeaderTimeout",
            &self.api.header_timeout,
            false,
            MAX_HEADER_TIMEOUT,
        )?;
        check_duration(
            "Gateway.HeaderTimeout",
            &self.gateway.header_timeout,
            false,
            MAX_HEADER_TIMEOUT,
        )?;
        check_duration("Provide.Interval", &self.provide.interval, true, MAX_PERIOD)?;
        check_duration(
            "Ipns.RepublishPeriod",
            &self.ipns.republish_period,
            false,
            MAX_PERIOD,
        )?;
        check_duration(
            "Ipns.RecordLifetime",
            &self.ipns.record_lifetime,
            false,
            MAX_LIFETIME,
        )?;
        if self.ipns.resolve_cache_size > MAX_RESOLVE_CACHE {
            return Err(bad(
                "Ipns.ResolveCacheSize",
                self.ipns.resolve_cache_size,
                format!("must be at most {MAX_RESOLVE_CACHE}"),
            ));
        }

        crate::daemon::socket_addr(&self.addresses.api).map_err(|e| {
            bad(
                "Addresses.API",
                format!("{:?}", self.addresses.api),
                e.to_string(),
            )
        })?;
        if !self.addresses.gateway.trim().is_empty() {
            crate::daemon::socket_addr(&self.addresses.gateway).map_err(|e| {
                bad(
                    "Addresses.Gateway",
                    format!("{:?}", self.addresses.gateway),
                    e.to_string(),
                )
            })?;
        }
        let counts = [
            ("Swarm.MaxConnections", self.swarm.max_connections),
            (
                "Swarm.MaxConnectionsPerPeer",
                self.swarm.max_connections_per_peer,
            ),
            ("Swarm.MaxPending", self.swarm.max_pending),
        ];
        for (key, n) in counts {
            if n == 0 {
                return Err(bad(key, n, "must be at least 1"));
            }
        }
        for (key, n) in [
            ("API.MaxConnections", self.api.max_connections),
            ("Gateway.MaxConnections", self.gateway.max_connections),
        ] {
            if n == 0 {
                return Err(bad(key, n, "must be at least 1"));
            }
        }
        if self.routing.min_peer_difficulty > crate::identity::MAX_DIFFICULTY {
            return Err(bad(
                "Routing.MinPeerDifficulty",
                self.routing.min_peer_difficulty,
                format!("must be at most {}", crate::identity::MAX_DIFFICULTY),
            ));
        }
        // The network's and BitSwap's own readings of their sections (addresses, routing
        // type, K, windows, strategies), so what loads is what the daemon can start with.
        crate::net::NetConfig::from_config(self).map_err(|e| match e {
            crate::net::NetConfigError::BadAddr { key, addr } => {
                bad(key, format!("{addr:?}"), "not a valid multiaddr")
            }
            crate::net::NetConfigError::NoPeerId { addr } => bad(
                "Bootstrap",
                format!("{addr:?}"),
                "must end in /p2p/<peer id>",
            ),
            crate::net::NetConfigError::Bad { key, reason } => bad(key, "", reason),
        })?;
        crate::content::bitswap_config(&self.bitswap, std::path::Path::new(""))
            .map_err(|e| bad("Bitswap", "", e.to_string()))?;
        if crate::net::Strategy::parse(&self.provide.strategy).is_none() {
            return Err(bad(
                "Provide.Strategy",
                format!("{:?}", self.provide.strategy),
                "must be all, pinned or roots",
            ));
        }
        let params = self.import.params().map_err(|e| bad(e.key, "", e.reason))?;
        let mut discard = dag::import::Discard::default();
        dag::import::Importer::new(params, &mut discard)
            .map_err(|e| bad("Import", "", e.to_string()))?;
        Ok(())
    }
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
            (r#"{"Bitswap": {"FetchWindow": 0}}"#, "Bitswap"),
            (r#"{"Bitswap": {"Strategy": "x"}}"#, "Bitswap"),
            (r#"{"Provide": {"Strategy": "x"}}"#, "Provide.Strategy"),
            (
                r#"{"Import": {"UnixFSChunker": "size-0"}}"#,
                "Import.UnixFSChunker",
            ),
            (r#"{"Import": {"UnixFSFileMaxLinks": 1}}"#, "Import"),
            (
                r#"{"Import": {"UnixFSHAMTDirectoryMaxFanout": 3}}"#,
                "Import",
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
}
