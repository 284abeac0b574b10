//! Blocks and content identifiers.
//!
//! A [`Block`] is a CID together with the bytes it names. Everything that enters the node
//! (imported chunks, blocks from CAR files or peers) is turned into a `Block` either by
//! hashing the bytes ([`Block::encode`]) or by checking them against a claimed CID
//! ([`Block::verified`]); nothing downstream re-checks.

use bytes::Bytes;
pub use cid::{Cid, Version};
use multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec code of dag-pb (Merkle DAG protobuf nodes).
pub const DAG_PB: u64 = 0x70;
/// Multicodec code of raw binary blocks.
pub const RAW: u64 = 0x55;
/// Multicodec code of dag-cbor.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of libp2p public keys (used by IPNS names).
pub const LIBP2P_KEY: u64 = 0x72;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash" (the data itself).
pub const IDENTITY: u64 = 0x00;

/// Errors about a single block and its CID.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The bytes do not hash to the CID they were presented under.
    #[error("block {cid} does not match its content (hash mismatch)")]
    HashMismatch {
        /// The CID the bytes claimed to be.
        cid: Cid,
    },
    /// The CID uses a hash function this node cannot verify.
    #[error("block {cid} uses unsupported hash function 0x{code:x}")]
    UnsupportedHash {
        /// The CID whose hash is unsupported.
        cid: Cid,
        /// Its multihash code.
        code: u64,
    },
    /// A CID string or byte sequence could not be parsed.
    #[error("invalid CID {input:?}: {source}")]
    InvalidCid {
        /// What was given.
        input: String,
        /// Why it was rejected.
        source: cid::Error,
    },
}

/// sha2-256 multihash of `data`.
pub fn sha256(data: &[u8]) -> Multihash<64> {
    let digest = Sha256::digest(data);
    // A 32-byte digest always fits a 64-byte multihash.
    Multihash::wrap(SHA2_256, &digest).unwrap_or_default()
}

/// Builds the CID of `data` with the given version and codec, hashing with sha2-256.
/// CIDv0 is only possible for dag-pb; other codecs fall back to CIDv1.
pub fn cid_of(version: Version, codec: u64, data: &[u8]) -> Cid {
    let mh = sha256(data);
    match version {
        Version::V0 if codec == DAG_PB => {
            Cid::new_v0(mh).unwrap_or_else(|_| Cid::new_v1(codec, mh))
        }
        _ => Cid::new_v1(codec, mh),
    }
}

/// Parses a CID from its string form (CIDv0 base58btc or CIDv1 in any multibase).
pub fn parse_cid(s: &str) -> Result<Cid, BlockError> {
    Cid::try_from(s).map_err(|source| BlockError::InvalidCid {
        input: s.to_string(),
        source,
    })
}

/// The canonical string of a CID: base58btc for v0, base32 for v1 (Kubo's default).
pub fn cid_string(cid: &Cid) -> String {
    cid.to_string()
}

/// If `cid` is an identity CID, its inline data.
pub fn identity_data(cid: &Cid) -> Option<&[u8]> {
    (cid.hash().code() == IDENTITY).then(|| cid.hash().digest())
}

/// A CID and the bytes it names. Constructed only through hashing or verification.
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    data: Bytes,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("cid", &self.cid.to_string())
            .field("len", &self.data.len())
            .finish()
    }
}

impl Block {
    /// Hashes `data` and makes a block of it.
    pub fn encode(version: Version, codec: u64, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let cid = cid_of(version, codec, &data);
        Block { cid, data }
    }

    /// Makes a block from bytes claimed to be `cid`, checking the hash.
    pub fn verified(cid: Cid, data: impl Into<Bytes>) -> Result<Self, BlockError> {
        let data = data.into();
        verify(&cid, &data)?;
        Ok(Block { cid, data })
    }

    /// Makes a block without checking, for bytes read back from the node's own store
    /// (which only ever stores verified blocks; `repo verify` re-checks them).
    pub fn trusted(cid: Cid, data: Bytes) -> Self {
        Block { cid, data }
    }

    /// The block's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The block's bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Splits the block into its CID and bytes.
    pub fn into_parts(self) -> (Cid, Bytes) {
        (self.cid, self.data)
    }
}

/// Checks that `data` hashes to `cid`.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    let mh = cid.hash();
    match mh.code() {
        SHA2_256 => {
            if Sha256::digest(data).as_slice() == mh.digest() {
                Ok(())
            } else {
                Err(BlockError::HashMismatch { cid: *cid })
            }
        }
        IDENTITY => {
            if mh.digest() == data {
                Ok(())
            } else {
                Err(BlockError::HashMismatch { cid: *cid })
            }
        }
        code => Err(BlockError::UnsupportedHash { cid: *cid, code }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v0_and_v1_strings() {
        let b = Block::encode(Version::V0, DAG_PB, &b"\x0a\x02\x08\x01"[..]);
        assert_eq!(
            b.cid().to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
        let r = Block::encode(Version::V1, RAW, Bytes::new());
        assert_eq!(
            r.cid().to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn verification_rejects_tampered_bytes() {
        let b = Block::encode(Version::V1, RAW, &b"abc"[..]);
        assert!(Block::verified(*b.cid(), &b"abc"[..]).is_ok());
        assert!(matches!(
            Block::verified(*b.cid(), &b"abd"[..]),
            Err(BlockError::HashMismatch { .. })
        ));
    }

    #[test]
    fn identity_cids_carry_their_data() {
        let cid = parse_cid("bafkqaaa").expect("valid identity cid");
        assert_eq!(identity_data(&cid), Some(&b""[..]));
        assert!(verify(&cid, b"").is_ok());
    }
}
