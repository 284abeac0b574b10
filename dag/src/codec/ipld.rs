//! Blocks ⇄ the IPLD data model ([`Ipld`]), per codec.
//!
//! dag-cbor goes through `serde_ipld_dagcbor`; dag-json is decoded by `serde_ipld_dagjson`
//! and encoded by [`super::dagjson`] (numbers written as `@ipld/dag-json` writes them). The
//! dag-cbor decoder is strict the way the DAG-CBOR spec asks encoders to be (sorted keys,
//! shortest integers, 64-bit floats only, no NaN/Infinity, no indefinite lengths, no tags
//! but 42, no trailing bytes), so non-canonical input is refused here, and both decoders
//! stop at a nesting limit (256 for CBOR, 128 for JSON) so hostile input cannot exhaust the
//! stack. dag-pb maps to its spec's data-model form (`Data`, `Links` of `Hash`/`Name`/
//! `Tsize`); plain json and cbor are read as link-free data.

use super::Codec;
use crate::{Cid, DecodeError, pb};
use bytes::Bytes;
use ipld_core::ipld::Ipld;
use std::collections::BTreeMap;

/// A value could not be written in the asked codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The codec cannot be written from the data model.
    #[error("cannot encode to {codec}")]
    Unsupported {
        /// The codec asked for.
        codec: Codec,
    },
    /// The value does not fit the codec (a link in plain JSON, a float NaN, a dag-pb
    /// node of the wrong shape, an integer out of range).
    #[error("value cannot be encoded as {codec}: {reason}")]
    Invalid {
        /// The codec asked for.
        codec: Codec,
        /// What about the value does not fit.
        reason: String,
    },
}

fn invalid(codec: Codec, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Codec {
        codec: codec.name().unwrap_or("unknown"),
        reason: reason.to_string(),
    }
}

/// Decodes a block of `codec` into the data model.
pub fn decode(codec: Codec, data: &[u8]) -> Result<Ipld, DecodeError> {
    match codec {
        Codec::DagCbor | Codec::Cbor => {
            serde_ipld_dagcbor::from_slice(data).map_err(|e| invalid(codec, e))
        }
        Codec::DagJson => {
            super::jsnum::decode_big_negatives(data, |d| serde_ipld_dagjson::from_slice::<Ipld>(d))
                .map_err(|e| invalid(codec, e))
        }
        Codec::Json => {
            let v: serde_json::Value =
                serde_json::from_slice(data).map_err(|e| invalid(codec, e))?;
            Ok(from_json(v))
        }
        Codec::Raw => Ok(Ipld::Bytes(data.to_vec())),
        Codec::DagPb => Ok(pb_to_ipld(pb::Node::decode(data)?)),
        Codec::Libp2pKey | Codec::Unknown(_) => {
            Err(invalid(codec, "no IPLD decoder for this codec"))
        }
    }
}

/// Encodes a data-model value as a block of `codec`.
pub fn encode(codec: Codec, value: &Ipld) -> Result<Vec<u8>, EncodeError> {
    let fail = |reason: String| EncodeError::Invalid { codec, reason };
    match codec {
        Codec::DagCbor => serde_ipld_dagcbor::to_vec(value).map_err(|e| fail(e.to_string())),
        Codec::Cbor => {
            if !collect_links(value).is_empty() {
                return Err(fail("plain cbor cannot hold links".into()));
            }
            serde_ipld_dagcbor::to_vec(value).map_err(|e| fail(e.to_string()))
        }
        Codec::DagJson => super::dagjson::encode(value).map_err(fail),
        Codec::Json => {
            let v = to_json(value).map_err(fail)?;
            serde_json::to_vec(&v).map_err(|e| fail(e.to_string()))
        }
        Codec::Raw => match value {
            Ipld::Bytes(b) => Ok(b.clone()),
            _ => Err(fail("raw blocks are bytes".into())),
        },
        Codec::DagPb => Ok(ipld_to_pb(value).map_err(fail)?.encode()),
        Codec::Libp2pKey | Codec::Unknown(_) => Err(EncodeError::Unsupported { codec }),
    }
}

/// Every link in `value`, depth first in document order, without recursion.
pub(crate) fn collect_links(value: &Ipld) -> Vec<Cid> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Ipld::Link(c) => out.push(*c),
            Ipld::List(items) => stack.extend(items.iter().rev()),
            Ipld::Map(m) => stack.extend(m.values().rev()),
            _ => {}
        }
    }
    out
}

fn pb_to_ipld(node: pb::Node) -> Ipld {
    let mut m = BTreeMap::new();
    if let Some(d) = node.data {
        m.insert("Data".to_string(), Ipld::Bytes(d.to_vec()));
    }
    let links = node
        .links
        .into_iter()
        .map(|l| {
            let mut lm = BTreeMap::new();
            lm.insert("Hash".to_string(), Ipld::Link(l.cid));
            if let Some(n) = l.name {
                lm.insert("Name".to_string(), Ipld::String(n));
            }
            if let Some(t) = l.tsize {
                lm.insert("Tsize".to_string(), Ipld::Integer(i128::from(t)));
            }
            Ipld::Map(lm)
        })
        .collect();
    m.insert("Links".to_string(), Ipld::List(links));
    Ipld::Map(m)
}

/// The dag-pb spec's data-model form back into a node: a map of `Links` (required) and
/// `Data` (optional bytes); each link a map of `Hash` (required link), `Name` (string) and
/// `Tsize` (non-negative integer); nothing else.
fn ipld_to_pb(value: &Ipld) -> Result<pb::Node, String> {
    let Ipld::Map(m) = value else {
        return Err("a dag-pb node is a map".into());
    };
    if let Some(k) = m.keys().find(|k| *k != "Data" && *k != "Links") {
        return Err(format!("unexpected key {k:?} in a dag-pb node"));
    }
    let data = match m.get("Data") {
        None => None,
        Some(Ipld::Bytes(b)) => Some(Bytes::from(b.clone())),
        Some(_) => return Err("Data must be bytes".into()),
    };
    let Some(Ipld::List(items)) = m.get("Links") else {
        return Err("Links must be a list".into());
    };
    let mut links = Vec::with_capacity(items.len());
    for item in items {
        let Ipld::Map(l) = item else {
            return Err("each link is a map".into());
        };
        if let Some(k) = l
            .keys()
            .find(|k| !matches!(k.as_str(), "Hash" | "Name" | "Tsize"))
        {
            return Err(format!("unexpected key {k:?} in a dag-pb link"));
        }
        let Some(Ipld::Link(cid)) = l.get("Hash") else {
            return Err("a link's Hash must be a link".into());
        };
        let name = match l.get("Name") {
            None => None,
            Some(Ipld::String(s)) => Some(s.clone()),
            Some(_) => return Err("Name must be a string".into()),
        };
        let tsize = match l.get("Tsize") {
            None => None,
            Some(Ipld::Integer(t)) => {
                Some(u64::try_from(*t).map_err(|_| "Tsize must fit an unsigned 64-bit int")?)
            }
            Some(_) => return Err("Tsize must be an integer".into()),
        };
        links.push(pb::Link {
            cid: *cid,
            name,
            tsize,
        });
    }
    Ok(pb::Node { links, data })
}

fn from_json(v: serde_json::Value) -> Ipld {
    use serde_json::Value;
    match v {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ipld::Integer(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ipld::Integer(i128::from(u))
            } else {
                Ipld::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Ipld::String(s),
        Value::Array(a) => Ipld::List(a.into_iter().map(from_json).collect()),
        Value::Object(o) => Ipld::Map(o.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

fn to_json(v: &Ipld) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match v {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(i) => {
            if let Ok(i) = i64::try_from(*i) {
                Value::from(i)
            } else if let Ok(u) = u64::try_from(*i) {
                Value::from(u)
            } else {
                return Err(format!("integer {i} out of JSON's 64-bit range"));
            }
        }
        Ipld::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or("NaN and Infinity are not JSON")?,
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::Bytes(_) => return Err("plain json cannot hold bytes".into()),
        Ipld::Link(_) => return Err("plain json cannot hold links".into()),
        Ipld::List(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Ipld::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
