//! IPLD codecs: which block formats ipfsd understands, the links inside each, and the
//! conversion of blocks to and from the IPLD data model.
//!
//! Data flow: every walk over a DAG (pins, GC, `refs`, `pin verify`, the BitSwap fetch walk,
//! CAR export and scopes, the reprovider) asks [`links`] for a block's children, so a codec
//! added here is followed everywhere at once. Blocks that arrive from outside pass
//! [`validate`] (through [`crate::Block::verified`]) after their hash checks out, so a
//! non-canonical dag-cbor block never enters the store. `dag get/put`, `dag resolve` and the
//! gateway's `?format=` go through [`decode`] and [`encode`] (the `ipld-core` data model,
//! with `serde_ipld_dagcbor` and `serde_ipld_dagjson` doing the byte work).
//!
//! A codec not listed in [`Codec`] is a leaf: its blocks are stored and served, and walks
//! that meet one say so ([`Codec::follows_links`] is false) rather than skip it silently.

mod dagjson;
mod ipld;
mod jsnum;
mod path;

pub use ipld::{EncodeError, decode, encode};
pub use ipld_core::ipld::Ipld;
pub use path::{PathError, Resolved, resolve_in_node};

use crate::{Cid, DecodeError};

/// A multicodec a block can be in, as far as ipfsd is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// dag-pb (0x70): protobuf nodes with named links (UnixFS).
    DagPb,
    /// raw (0x55): bytes, no links.
    Raw,
    /// dag-cbor (0x71): canonical CBOR with CIDs as tag 42.
    DagCbor,
    /// dag-json (0x0129): JSON with `{"/": …}` links and bytes.
    DagJson,
    /// json (0x0200): plain JSON, no links.
    Json,
    /// cbor (0x51): plain CBOR, no links.
    Cbor,
    /// libp2p-key (0x72): a public key (IPNS names), no links.
    Libp2pKey,
    /// Anything else: stored and served, treated as a leaf.
    Unknown(u64),
}

/// The codecs `cid codecs` lists, with their names in the multicodec table.
const NAMED: [(Codec, &str); 7] = [
    (Codec::Raw, "raw"),
    (Codec::DagPb, "dag-pb"),
    (Codec::DagCbor, "dag-cbor"),
    (Codec::DagJson, "dag-json"),
    (Codec::Json, "json"),
    (Codec::Cbor, "cbor"),
    (Codec::Libp2pKey, "libp2p-key"),
];

impl Codec {
    /// The codec with multicodec code `code`.
    pub fn from_code(code: u64) -> Self {
        match code {
            0x70 => Codec::DagPb,
            0x55 => Codec::Raw,
            0x71 => Codec::DagCbor,
            0x0129 => Codec::DagJson,
            0x0200 => Codec::Json,
            0x51 => Codec::Cbor,
            0x72 => Codec::Libp2pKey,
            other => Codec::Unknown(other),
        }
    }

    /// The codec of a CID.
    pub fn of(cid: &Cid) -> Self {
        Codec::from_code(cid.codec())
    }

    /// The codec named `name` in the multicodec table (`dag-cbor`, `raw`, …; `protobuf`
    /// is Kubo's old name for dag-pb).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        if name == "protobuf" {
            return Some(Codec::DagPb);
        }
        NAMED.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    /// The multicodec code.
    pub fn code(self) -> u64 {
        match self {
            Codec::DagPb => 0x70,
            Codec::Raw => 0x55,
            Codec::DagCbor => 0x71,
            Codec::DagJson => 0x0129,
            Codec::Json => 0x0200,
            Codec::Cbor => 0x51,
            Codec::Libp2pKey => 0x72,
            Codec::Unknown(code) => code,
        }
    }

    /// The multicodec table's name, `None` for an unknown codec.
    pub fn name(self) -> Option<&'static str> {
        NAMED.iter().find(|(c, _)| *c == self).map(|(_, n)| *n)
    }

    /// Every named codec, in the order `cid codecs` lists them.
    pub fn all() -> impl Iterator<Item = (Codec, &'static str)> {
        NAMED.iter().copied()
    }

    /// Whether ipfsd knows where this codec's links are. `false` only for
    /// [`Codec::Unknown`], whose blocks walks treat as leaves and report.
    pub fn follows_links(self) -> bool {
        !matches!(self, Codec::Unknown(_))
    }

    /// Whether blocks of this codec can hold links ipfsd follows (dag-pb, dag-cbor,
    /// dag-json): a walk must read such a block's bytes to find its children, while the
    /// others are leaves it only needs to find present.
    pub fn has_links(self) -> bool {
        matches!(self, Codec::DagPb | Codec::DagCbor | Codec::DagJson)
    }

    /// Whether blocks of this codec can be decoded into the IPLD data model ([`decode`]).
    pub fn is_decodable(self) -> bool {
        !matches!(self, Codec::Unknown(_) | Codec::Libp2pKey)
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:x}", self.code()),
        }
    }
}

/// The CIDs a block links to, in the order they appear in it. Raw, json, cbor, libp2p-key
/// and unknown codecs have none (check [`Codec::follows_links`] to tell "none" from
/// "not understood").
///
/// The bytes must already have been checked against `cid`: links are only ever taken from
/// verified bytes.
pub fn links(cid: &Cid, data: &[u8]) -> Result<Vec<Cid>, DecodeError> {
    match Codec::of(cid) {
        Codec::DagPb => Ok(crate::pb::Node::decode_links(data)?
            .into_iter()
            .map(|l| l.cid)
            .collect()),
        Codec::DagCbor | Codec::DagJson => {
            let value = decode(Codec::of(cid), data)?;
            Ok(ipld::collect_links(&value))
        }
        _ => Ok(Vec::new()),
    }
}

/// Checks that `data` is a well-formed block of `cid`'s codec: a dag-pb node, strict
/// (canonical) dag-cbor, or valid dag-json. Other codecs are opaque and pass.
///
/// Called on every block that arrives from outside (peers, CAR files, `block put`), after
/// its hash has been checked.
///
/// A dag-cbor block must also be the one encoding of its value: it must re-encode to
/// exactly its own bytes. The decoder alone lets some non-canonical forms through (a CID
/// byte string with bytes after the CID inside tag 42 decodes to the same link as the CID
/// alone, found by the `dag_cbor` fuzz target), and two blocks for one value would mean
/// two CIDs for it. A dag-json block's value must survive its canonical encoding (the
/// decoder reads `{"/": {"bytes": …}, "b": 1}` as a map with a "/" key, whose dag-json
/// encoding it then refuses; found by the `dag_json` fuzz target).
pub fn validate(cid: &Cid, data: &[u8]) -> Result<(), DecodeError> {
    match Codec::of(cid) {
        Codec::DagPb => crate::pb::Node::decode_links(data).map(drop),
        Codec::DagCbor => {
            let value = decode(Codec::DagCbor, data)?;
            match encode(Codec::DagCbor, &value) {
                Ok(again) if again == data => Ok(()),
                _ => Err(DecodeError::Codec {
                    codec: "dag-cbor",
                    reason: "not in canonical form (its value encodes to other bytes)".into(),
                }),
            }
        }
        Codec::DagJson => {
            let value = decode(Codec::DagJson, data)?;
            let again = encode(Codec::DagJson, &value)
                .ok()
                .and_then(|bytes| decode(Codec::DagJson, &bytes).ok());
            if again.as_ref() == Some(&value) {
                Ok(())
            } else {
                Err(DecodeError::Codec {
                    codec: "dag-json",
                    reason: "its value has no dag-json encoding that reads back the same (a \"/\" key beside others?)".into(),
                })
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
