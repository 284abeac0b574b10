//! Blocks and content identifiers.
//!
//! A [`Block`] is a CID together with the bytes it names. Everything that enters the node
//! (imported chunks, blocks from CAR files or peers) is turned into a `Block` either by
//! hashing the bytes ([`Block::encode`]) or by checking them against a claimed CID
//! ([`Block::verified`], which also checks that the bytes are well-formed in the CID's
//! codec); nothing downstream re-checks.

use crate::hash::{HashError, HashFn};
use bytes::Bytes;
pub use cid::{Cid, Version};
use multihash::Multihash;

/// Multicodec code of dag-pb (Merkle DAG protobuf nodes).
pub const DAG_PB: u64 = 0x70;
/// Multicodec code of raw binary blocks.
pub const RAW: u64 = 0x55;
/// Multicodec code of dag-cbor.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of dag-json.
pub const DAG_JSON: u64 = 0x0129;
/// Multicodec code of plain JSON.
pub const JSON: u64 = 0x0200;
/// Multicodec code of plain CBOR.
pub const CBOR: u64 = 0x51;
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
    /// The CID uses a hash function (or digest length) this node cannot verify.
    #[error("block {cid}: {source}")]
    UnsupportedHash {
        /// The CID whose hash is unsupported.
        cid: Cid,
        /// Why it cannot be checked.
        source: HashError,
    },
    /// The bytes hash correctly but are not a well-formed block of the CID's codec (a
    /// non-canonical dag-cbor map, a dag-pb node that does not parse).
    #[error("block {cid} is not valid {codec}: {source}")]
    Malformed {
        /// The block.
        cid: Cid,
        /// Its codec's name.
        codec: String,
        /// What was wrong.
        source: crate::DecodeError,
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
    // A 32-byte digest always fits a 64-byte multihash.
    HashFn::Sha2_256.digest(data).unwrap_or_default()
}

/// Builds the CID of `data` with the given version, codec and hash function. CIDv0 is only
/// possible for dag-pb with sha2-256; anything else gives CIDv1 (as Kubo does when
/// `--hash` is not sha2-256).
pub fn cid_with(version: Version, codec: u64, hash: HashFn, data: &[u8]) -> Result<Cid, HashError> {
    let mh = hash.digest(data)?;
    Ok(match version {
        Version::V0 if codec == DAG_PB && hash == HashFn::Sha2_256 => {
            Cid::new_v0(mh).unwrap_or_else(|_| Cid::new_v1(codec, mh))
        }
        _ => Cid::new_v1(codec, mh),
    })
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

/// The form pins are keyed by: CIDv0 becomes the CIDv1 dag-pb CID of the same multihash,
/// so the two spellings of one root are one pin. (CIDs that differ in codec stay apart:
/// they ask for different links to be followed.)
pub fn pin_key(cid: &Cid) -> Cid {
    match cid.version() {
        Version::V0 => Cid::new_v1(DAG_PB, *cid.hash()),
        Version::V1 => *cid,
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

    /// Hashes `data` with `hash` and makes a block of it.
    pub fn encode_with(
        version: Version,
        codec: u64,
        hash: HashFn,
        data: impl Into<Bytes>,
    ) -> Result<Self, HashError> {
        let data = data.into();
        let cid = cid_with(version, codec, hash, &data)?;
        Ok(Block { cid, data })
    }

    /// Makes a block from bytes claimed to be `cid`: checks the hash with the function the
    /// CID names, then that the bytes are well-formed in its codec
    /// ([`crate::codec::validate`]).
    pub fn verified(cid: Cid, data: impl Into<Bytes>) -> Result<Self, BlockError> {
        let data = data.into();
        verify(&cid, &data)?;
        let block = Block { cid, data };
        block.check_codec()?;
        Ok(block)
    }

    /// Checks that the bytes are well-formed in the CID's codec ([`crate::codec::validate`]):
    /// the half of [`Block::verified`] that a block just made by hashing still needs when
    /// its bytes came from outside (`block put`).
    pub fn check_codec(&self) -> Result<(), BlockError> {
        crate::codec::validate(&self.cid, &self.data).map_err(|source| BlockError::Malformed {
            cid: self.cid,
            codec: crate::codec::Codec::of(&self.cid).to_string(),
            source,
        })
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

/// Checks that `data` hashes to `cid`, with the hash function the CID names.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    match crate::hash::matches(cid.hash(), data) {
        Ok(true) => Ok(()),
        Ok(false) => Err(BlockError::HashMismatch { cid: *cid }),
        Err(source) => Err(BlockError::UnsupportedHash { cid: *cid, source }),
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
