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
    /// Defaults for `add` (each can be overridden per command).
    pub import: ImportConfig,
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

#[cfg(test)]
mod tests {
    use super::*;

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
