//! dag-pb: the protobuf Merkle DAG node format (codec 0x70).
//!
//! Encoding follows the dag-pb spec's canonical form, which is what Kubo and Helia emit:
//! all `Links` first, then `Data`; inside a link, `Hash`, `Name`, `Tsize` in tag order.
//! Decoding is strict about wire types and accepts only the two known messages.

use crate::block::Cid;
use crate::proto::{self, DecodeError, Reader, Value};
use bytes::Bytes;

/// A link from a dag-pb node to another block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target's CID.
    pub cid: Cid,
    /// The link name (directory entry name; empty for file chunks). `None` omits the field.
    pub name: Option<String>,
    /// Cumulative size of the target DAG (its block plus everything below it).
    pub tsize: Option<u64>,
}

impl Link {
    /// A link with a name and a cumulative size, as UnixFS writes them.
    pub fn new(cid: Cid, name: impl Into<String>, tsize: u64) -> Self {
        Link {
            cid,
            name: Some(name.into()),
            tsize: Some(tsize),
        }
    }

    /// The name, or "" when absent.
    pub fn name_str(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A dag-pb node: links and an optional opaque payload (UnixFS metadata for IPFS files).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Outgoing links, in stored order.
    pub links: Vec<Link>,
    /// The payload; `None` omits the field.
    pub data: Option<Bytes>,
}

impl Node {
    /// Serializes the node in canonical dag-pb form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut link_buf = Vec::with_capacity(128);
        for link in &self.links {
            link_buf.clear();
            encode_link(link, &mut link_buf);
            proto::put_bytes(&mut out, 2, &link_buf);
        }
        if let Some(data) = &self.data {
            proto::put_bytes(&mut out, 1, data);
        }
        out
    }

    /// Exact length of [`Node::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let links: usize = self
            .links
            .iter()
            .map(|l| proto::bytes_field_len(link_len(l)))
            .sum();
        links
            + self
                .data
                .as_ref()
                .map_or(0, |d| proto::bytes_field_len(d.len()))
    }

    /// Parses a dag-pb node.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(buf, Bytes::copy_from_slice)
    }

    /// [`Node::decode`] of a block already in `Bytes`: the data is a slice of it, not a
    /// copy (the exporter reads every leaf of a file this way).
    pub fn decode_shared(bytes: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, |b| bytes.slice_ref(b))
    }

    /// [`Node::decode`] for callers that only want the links or only the check: the data
    /// field is parsed and checked the same way, then dropped rather than copied (every
    /// block received and every fetch walk step goes through here).
    pub(crate) fn decode_links(buf: &[u8]) -> Result<Vec<Link>, DecodeError> {
        Self::decode_with(buf, |_| Bytes::new()).map(|n| n.links)
    }

    fn decode_with(buf: &[u8], keep: impl Fn(&[u8]) -> Bytes) -> Result<Self, DecodeError> {
        let mut node = Node::default();
        let mut r = Reader::new(buf, "dag-pb node");
        let mut seen_data = false;
        while let Some((field, value)) = r.next()? {
            match (field, value) {
                (2, Value::Bytes(b)) => {
                    if seen_data {
                        return Err(DecodeError::Invalid {
                            what: "dag-pb node",
                            reason: "Links after Data",
                        });
                    }
                    node.links.push(decode_link(b)?);
                }
                (1, Value::Bytes(b)) if !seen_data => {
                    seen_data = true;
                    node.data = Some(keep(b));
                }
                (f, _) => return Err(r.invalid(f)),
            }
        }
        Ok(node)
    }
}

fn link_len(link: &Link) -> usize {
    let cid_len = link.cid.encoded_len();
    proto::bytes_field_len(cid_len)
        + link
            .name
            .as_ref()
            .map_or(0, |n| proto::bytes_field_len(n.len()))
        + link.tsize.map_or(0, |t| 1 + proto::varint_len(t))
}

fn encode_link(link: &Link, out: &mut Vec<u8>) {
    proto::put_bytes(out, 1, &link.cid.to_bytes());
    if let Some(name) = &link.name {
        proto::put_bytes(out, 2, name.as_bytes());
    }
    if let Some(t) = link.tsize {
        proto::put_uint(out, 3, t);
    }
}

fn decode_link(buf: &[u8]) -> Result<Link, DecodeError> {
    let mut r = Reader::new(buf, "dag-pb link");
    let (mut cid, mut name, mut tsize) = (None, None, None);
    let mut last = 0;
    while let Some((field, value)) = r.next()? {
        if field <= last {
            return Err(DecodeError::Invalid {
                what: "dag-pb link",
                reason: "fields out of order or repeated",
            });
        }
        last = field;
        match (field, value) {
            (1, Value::Bytes(b)) => {
                cid = Some(Cid::try_from(b).map_err(|_| DecodeError::Invalid {
                    what: "dag-pb link",
                    reason: "invalid CID in Hash",
                })?);
            }
            (2, Value::Bytes(b)) => {
                name = Some(
                    String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Invalid {
                        what: "dag-pb link",
                        reason: "Name is not UTF-8",
                    })?,
                );
            }
            (3, Value::Varint(v)) => tsize = Some(v),
            (f, _) => return Err(r.invalid(f)),
        }
    }
    let cid = cid.ok_or(DecodeError::Invalid {
        what: "dag-pb link",
        reason: "missing Hash",
    })?;
    Ok(Link { cid, name, tsize })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{DAG_PB, Version, cid_of};
    use proptest::prelude::*;

    #[test]
    fn empty_directory_vector() {
        let node = Node {
            links: vec![],
            data: Some(Bytes::from_static(&[0x08, 0x01])),
        };
        let enc = node.encode();
        assert_eq!(enc, [0x0a, 0x02, 0x08, 0x01]);
        assert_eq!(
            cid_of(Version::V0, DAG_PB, &enc).to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(Node::decode(&[0xff]).is_err());
        assert!(Node::decode(&[0x12, 0x05, 0x0a]).is_err());
        assert!(
            Node::decode(&[0x0a, 0x01, 0x00, 0x12, 0x00]).is_err(),
            "link after data"
        );
    }

    fn arb_cid() -> impl Strategy<Value = Cid> {
        (any::<[u8; 8]>(), any::<bool>()).prop_map(|(seed, v0)| {
            cid_of(if v0 { Version::V0 } else { Version::V1 }, DAG_PB, &seed)
        })
    }

    proptest! {
        #[test]
        fn roundtrip(links in prop::collection::vec((arb_cid(), prop::option::of("[a-z.]{0,12}"), prop::option::of(any::<u64>())), 0..6),
                     data in prop::option::of(prop::collection::vec(any::<u8>(), 0..64))) {
            let node = Node {
                links: links.into_iter().map(|(cid, name, tsize)| Link { cid, name, tsize }).collect(),
                data: data.map(Bytes::from),
            };
            let enc = node.encode();
            prop_assert_eq!(enc.len(), node.encoded_len());
            prop_assert_eq!(Node::decode(&enc).ok(), Some(node.clone()));
            prop_assert_eq!(Node::decode_links(&enc).ok(), Some(node.links.clone()));
            prop_assert_eq!(Node::decode_shared(&Bytes::from(enc)).ok(), Some(node));
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let copied = Node::decode(&bytes);
            // The links-only parse accepts and refuses exactly what the full one does.
            prop_assert_eq!(
                Node::decode_links(&bytes).ok(),
                copied.as_ref().ok().map(|n| n.links.clone())
            );
            let shared = Node::decode_shared(&Bytes::from(bytes));
            prop_assert_eq!(copied.ok(), shared.ok());
        }
    }
}
