//! ipfsd's Merkle DAG layer: CIDs and blocks, the dag-pb and UnixFS formats, the UnixFS
//! importer (bytes → DAG) and exporter (DAG → bytes), CAR files, and the redb block store
//! with pins and garbage collection.
//!
//! Data flow: `import` chunks and hashes input into [`Block`]s and hands them to a sink
//! (the store's batched writer, or nothing for `--only-hash`); `export` walks a DAG through
//! any [`BlockSource`] (the store now, the network later) and streams bytes back out.
//! Nothing in this crate knows about networking.

pub mod block;
pub mod car;
pub mod cbor;
pub mod chunker;
pub mod codec;
pub mod export;
pub mod hamt;
pub mod hash;
pub mod import;
pub mod pb;
mod proto;
pub mod scope;
pub mod store;
pub mod unixfs;

#[cfg(test)]
pub(crate) mod testutil;

pub use block::{Block, BlockError, Cid, Version};
pub use codec::Codec;
pub use hash::HashFn;
pub use proto::DecodeError;
pub use store::{Store, StoreError};

/// Where the exporter and DAG walkers read blocks from.
///
/// The store implements it; the node will implement it over the network (BitSwap) too.
/// Sources are shared across threads (the exporter reads ahead in parallel).
pub trait BlockSource: Sync {
    /// The bytes of `cid`, or [`SourceError::NotFound`].
    fn get_block(&self, cid: &Cid) -> Result<bytes::Bytes, SourceError>;
}

/// A block could not be had from a [`BlockSource`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source does not hold the block (and could not fetch it).
    #[error("block {cid} not found")]
    NotFound {
        /// The missing block.
        cid: Cid,
    },
    /// The source failed.
    #[error(transparent)]
    Store(#[from] Box<StoreError>),
}
