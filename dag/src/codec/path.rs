//! IPLD pathing inside one decoded node: map keys and list indexes, stopping at the first
//! link so the caller can load the next block (see `export::resolve_ipld` for the walk
//! across blocks).

use crate::Cid;
use ipld_core::ipld::Ipld;

/// Where a path led inside one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved<'a> {
    /// The path ended at this value inside the node (not a link).
    Value(&'a Ipld),
    /// The path reached a link after `consumed` segments (possibly all of them); the rest
    /// continues in the linked block.
    Link {
        /// The link.
        cid: Cid,
        /// How many segments were used to reach it.
        consumed: usize,
    },
}

/// A path segment does not exist in a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// No map key or list index of this name.
    #[error("no field {segment:?} in the node")]
    NoField {
        /// The segment.
        segment: String,
    },
    /// The path goes on below a value that has no fields (a string, a number, bytes).
    #[error("cannot descend into a {kind} with {segment:?}")]
    NotContainer {
        /// The segment that could not be taken.
        segment: String,
        /// What the value was.
        kind: &'static str,
    },
}

fn kind(v: &Ipld) -> &'static str {
    match v {
        Ipld::Null => "null",
        Ipld::Bool(_) => "boolean",
        Ipld::Integer(_) => "integer",
        Ipld::Float(_) => "float",
        Ipld::String(_) => "string",
        Ipld::Bytes(_) => "bytes",
        Ipld::List(_) => "list",
        Ipld::Map(_) => "map",
        Ipld::Link(_) => "link",
    }
}

/// Follows `segments` from `node` (map keys, decimal list indexes) until they run out or a
/// link is reached.
pub fn resolve_in_node<'a, S: AsRef<str>>(
    node: &'a Ipld,
    segments: &[S],
) -> Result<Resolved<'a>, PathError> {
    let mut cur = node;
    for (i, seg) in segments.iter().enumerate() {
        let seg = seg.as_ref();
        let next = match cur {
            Ipld::Link(cid) => {
                return Ok(Resolved::Link {
                    cid: *cid,
                    consumed: i,
                });
            }
            Ipld::Map(m) => m.get(seg),
            Ipld::List(items) => seg
                .parse::<usize>()
                .ok()
                .filter(|_| seg == "0" || !seg.starts_with('0'))
                .and_then(|ix| items.get(ix)),
            other => {
                return Err(PathError::NotContainer {
                    segment: seg.to_string(),
                    kind: kind(other),
                });
            }
        };
        cur = next.ok_or_else(|| PathError::NoField {
            segment: seg.to_string(),
        })?;
    }
    Ok(match cur {
        Ipld::Link(cid) => Resolved::Link {
            cid: *cid,
            consumed: segments.len(),
        },
        v => Resolved::Value(v),
    })
}
