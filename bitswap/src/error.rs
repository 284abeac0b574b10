//! The crate's error type: what a [`crate::Bitswap`] call answers when it fails.

use dag::Cid;

use crate::ledger::LedgerError;

/// Why a BitSwap call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// BitSwap has stopped.
    #[error("bitswap has stopped")]
    Stopped,
    /// No connected peer has it and the DHT knows no provider.
    #[error("block {cid} not found: no connected peer has it and the DHT knows no provider")]
    NotFound {
        /// The block.
        cid: Cid,
    },
    /// Nothing arrived in time.
    #[error("timed out fetching {cid}: no peer delivered it")]
    Timeout {
        /// The block waited for.
        cid: Cid,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Box<dag::StoreError>),
    /// A fetched dag-pb block does not decode.
    #[error("block {cid} is not valid dag-pb: {source}")]
    Decode {
        /// The block.
        cid: Cid,
        /// Why.
        source: dag::DecodeError,
    },
    /// The ledger database failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
