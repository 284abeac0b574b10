//! The repository's configuration file (`$IPFSD_PATH/config`, JSON, Kubo-style keys).
//!
//! Every section has defaults, so a config written by an older ipfsd (or one with keys
//! removed by hand) still loads; unknown keys are kept out by `deny_unknown_fields` only
//! where a typo would silently change CIDs (the `Import` section).

use dag::import::{HamtEstimation, Params, Profile};
use dag::{Version, chunker};
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
    /// The HTTP gateway.
    pub gateway: String,
    /// libp2p listen addresses.
    pub swarm: Vec<String>,
}

impl Default for Addresses {
    fn default() -> Self {
        Addresses {
            api: "/ip4/127.0.0.1/tcp/5001".into(),
            gateway: "/ip4/127.0.0.1/tcp/8080".into(),
            swarm: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        }
    }
}

/// RPC API settings (Kubo's `API` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ApiConfig {
    /// Extra response headers; `Access-Control-Allow-Origin` also lists the browser origins
    /// allowed to call the API (requests from any other `Origin` get 403).
    #[serde(rename = "HTTPHeaders")]
    pub http_headers: std::collections::BTreeMap<String, Vec<String>>,
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
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig::from_params(&Profile::UnixfsV0_2015.params(), None)
    }
}

/// A config value that cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("invalid config value {key}: {reason}")]
#[non_exhaustive]
pub struct InvalidValue {
    /// The key, e.g. `Import.UnixFSChunker`.
    pub key: &'static str,
    /// Why.
    pub reason: &'static str,
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
        }
    }

    /// The importer parameters this config describes.
    pub fn params(&self) -> Result<Params, InvalidValue> {
        let cid_version = match self.cid_version {
            0 => Version::V0,
            1 => Version::V1,
            _ => {
                return Err(InvalidValue {
                    key: "Import.CidVersion",
                    reason: "must be 0 or 1",
                });
            }
        };
        let chunk_size = chunker::parse_chunker(&self.chunker).ok_or(InvalidValue {
            key: "Import.UnixFSChunker",
            reason: "must be size-N with 1 <= N <= 2097152",
        })?;
        let hamt_estimation = match self.hamt_size_estimation.as_str() {
            "links" => HamtEstimation::LinkBytes,
            "block" => HamtEstimation::BlockBytes,
            _ => {
                return Err(InvalidValue {
                    key: "Import.UnixFSHAMTDirectorySizeEstimation",
                    reason: "must be \"links\" or \"block\"",
                });
            }
        };
        Ok(Params {
            cid_version,
            raw_leaves: self.raw_leaves.unwrap_or(cid_version == Version::V1),
            chunk_size,
            max_links: self.file_max_links,
            hamt_threshold: self.hamt_threshold,
            hamt_estimation,
            hamt_fanout: self.hamt_fanout,
            hidden: false,
        })
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
        serde_json::from_value(root).map_err(|e| ConfigKeyError::BadValue {
            key: key.to_string(),
            reason: e.to_string(),
        })
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
    /// The value has the wrong type or is out of range.
    #[error("invalid value for config key {key:?}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
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
    fn profile_roundtrips_through_config() {
        let p = Profile::UnixfsV1_2025.params();
        assert_eq!(ImportConfig::from_params(&p, Some(true)).params(), Ok(p));
    }
}
