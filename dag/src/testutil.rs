//! Block builders shared by the crate's unit tests.

use crate::block::{Block, DAG_PB, RAW, Version};
use crate::pb::{Link, Node};
use bytes::Bytes;

/// A CIDv1 raw block of `data`.
pub(crate) fn raw(data: &[u8]) -> Block {
    Block::encode(Version::V1, RAW, data.to_vec())
}

/// A CIDv0 dag-pb node linking to `links` (all named `name`) and carrying `data`.
pub(crate) fn node_named(links: &[&Block], name: &str, data: &[u8]) -> Block {
    let node = Node {
        links: links
            .iter()
            .map(|b| Link::new(*b.cid(), name, b.data().len() as u64))
            .collect(),
        data: Some(Bytes::copy_from_slice(data)),
    };
    Block::encode(Version::V0, DAG_PB, node.encode())
}

/// An in-memory block source.
pub(crate) struct Mem(pub(crate) std::collections::HashMap<crate::Cid, Bytes>);

impl crate::BlockSource for Mem {
    fn get_block(&self, cid: &crate::Cid) -> Result<Bytes, crate::SourceError> {
        self.0
            .get(cid)
            .cloned()
            .ok_or(crate::SourceError::NotFound { cid: *cid })
    }
}
