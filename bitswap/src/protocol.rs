//! BitSwap's wire format: the protobuf `Message` of the BitSwap spec (1.0.0 – 1.2.0),
//! CID prefixes, and unsigned-varint length framing with size limits.
//!
//! Data flow: the peer tasks read frames from inbound streams with [`read_message`] and
//! turn them into a checked [`Inbound`] (CIDs parsed; each block's CID computed from its
//! bytes with the hash function its prefix names, any of `dag::HashFn`, an unsupported one
//! refusing the message; each block checked well-formed in its codec) before anything
//! else sees them; outgoing [`Outbound`] messages are encoded as the pieces of one frame
//! ([`Outbound::encode_parts`]) and written with [`write_parts`]. Nothing here keeps state.

use bytes::Bytes;
use dag::{Block, Cid};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use prost::Message as _;

/// BitSwap 1.2.0 (HAVE / DONT_HAVE, want-have).
pub const PROTOCOL_1_2_0: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.2.0");
/// BitSwap 1.1.0 (blocks with CID prefixes, CIDv1).
pub const PROTOCOL_1_1_0: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.1.0");
/// BitSwap 1.0.0 (blocks as bare bytes, CIDv0 only).
pub const PROTOCOL_1_0_0: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.0.0");
/// The bare legacy protocol name (same format as 1.0.0).
pub const PROTOCOL_LEGACY: StreamProtocol = StreamProtocol::new("/ipfs/bitswap");

/// Every protocol accepted inbound, newest first (also the order tried outbound).
pub const PROTOCOLS: [StreamProtocol; 4] = [
    PROTOCOL_1_2_0,
    PROTOCOL_1_1_0,
    PROTOCOL_1_0_0,
    PROTOCOL_LEGACY,
];

/// Largest frame accepted or sent (Kubo's limit).
pub const MAX_MESSAGE: usize = 4 << 20;
/// Largest block accepted or sent (the largest block IPFS peers exchange).
pub const MAX_BLOCK: usize = 2 << 20;
/// Blocks at most this large are sent in place of a HAVE.
pub const INLINE_HAVE_MAX: usize = 1024;
/// Largest wantlist accepted in one message.
pub const MAX_WANTLIST_ENTRIES: usize = 8192;

/// Which message dialect a peer speaks (from the protocol its stream negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 1.0.0 and the bare legacy name: `blocks` field, no presences.
    V1_0,
    /// 1.1.0: `payload` with prefixes, no presences.
    V1_1,
    /// 1.2.0: presences and want-have.
    V1_2,
}

impl Version {
    /// Every dialect, oldest first (the order of [`crate::VersionStat`]s in a `Stat`).
    pub const ALL: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

    /// The version number, as in the protocol name (`1.2.0`): a bounded metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0.0",
            Version::V1_1 => "1.1.0",
            Version::V1_2 => "1.2.0",
        }
    }

    /// Its index in [`Version::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            Version::V1_0 => 0,
            Version::V1_1 => 1,
            Version::V1_2 => 2,
        }
    }

    /// The dialect of a negotiated protocol.
    pub fn of(protocol: &StreamProtocol) -> Version {
        if *protocol == PROTOCOL_1_2_0 {
            Version::V1_2
        } else if *protocol == PROTOCOL_1_1_0 {
            Version::V1_1
        } else {
            Version::V1_0
        }
    }
}

/// The protobuf messages of the spec (hand-derived with prost; field numbers are the wire).
pub mod pb {
    /// One BitSwap message.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        /// Wants and cancels.
        #[prost(message, optional, tag = "1")]
        pub wantlist: Option<Wantlist>,
        /// 1.0.0 blocks (CIDv0 implied).
        #[prost(bytes = "bytes", repeated, tag = "2")]
        pub blocks: Vec<bytes::Bytes>,
        /// 1.1.0+ blocks with CID prefixes.
        #[prost(message, repeated, tag = "3")]
        pub payload: Vec<Block>,
        /// 1.2.0 HAVE / DONT_HAVE.
        #[prost(message, repeated, tag = "4")]
        pub block_presences: Vec<BlockPresence>,
        /// Bytes the sender still has queued for the receiver.
        #[prost(int32, tag = "5")]
        pub pending_bytes: i32,
    }

    /// A wantlist (full, or an update).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Wantlist {
        /// The entries.
        #[prost(message, repeated, tag = "1")]
        pub entries: Vec<Entry>,
        /// True: replaces the receiver's view of the sender's wantlist.
        #[prost(bool, tag = "2")]
        pub full: bool,
    }

    /// One wantlist entry.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        /// CID bytes.
        #[prost(bytes = "bytes", tag = "1")]
        pub block: bytes::Bytes,
        /// Higher first.
        #[prost(int32, tag = "2")]
        pub priority: i32,
        /// Removes the entry.
        #[prost(bool, tag = "3")]
        pub cancel: bool,
        /// 0 = Block, 1 = Have.
        #[prost(int32, tag = "4")]
        pub want_type: i32,
        /// Answer DONT_HAVE when the block is missing.
        #[prost(bool, tag = "5")]
        pub send_dont_have: bool,
    }

    /// A block with the prefix of its CID.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Block {
        /// CID version, codec, multihash code and length, as varints.
        #[prost(bytes = "bytes", tag = "1")]
        pub prefix: bytes::Bytes,
        /// The block.
        #[prost(bytes = "bytes", tag = "2")]
        pub data: bytes::Bytes,
    }

    /// HAVE (0) or DONT_HAVE (1) for a CID.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockPresence {
        /// CID bytes.
        #[prost(bytes = "bytes", tag = "1")]
        pub cid: bytes::Bytes,
        /// 0 = Have, 1 = DontHave.
        #[prost(int32, tag = "2")]
        pub r#type: i32,
    }
}

/// What a wantlist entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WantType {
    /// Send the block.
    Block,
    /// Say whether you have it.
    Have,
}

/// A checked wantlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The CID.
    pub cid: Cid,
    /// Higher first.
    pub priority: i32,
    /// Removes the entry.
    pub cancel: bool,
    /// Block or have.
    pub want_type: WantType,
    /// Answer DONT_HAVE when missing.
    pub send_dont_have: bool,
}

/// HAVE or DONT_HAVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The sender has the block.
    Have,
    /// The sender does not have it.
    DontHave,
}

/// A message after checking: CIDs parsed, every block verified against its CID.
#[derive(Debug, Default)]
pub struct Inbound {
    /// Wantlist entries.
    pub wants: Vec<Want>,
    /// The wantlist replaces the previous one.
    pub full: bool,
    /// Verified blocks.
    pub blocks: Vec<Block>,
    /// Presences.
    pub presences: Vec<(Cid, Presence)>,
}

/// Why a peer's message was refused (the peer is disconnected for any of these).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame's length prefix is over [`MAX_MESSAGE`] (or not a varint).
    #[error("message of {len} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge {
        /// The announced length.
        len: u64,
    },
    /// The length prefix is not a valid varint.
    #[error("bad length prefix")]
    BadLength,
    /// Not a protobuf BitSwap message.
    #[error("undecodable message: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A CID or prefix does not parse.
    #[error("bad CID or prefix in message")]
    BadCid,
    /// A block over [`MAX_BLOCK`].
    #[error("block of {len} bytes exceeds the {MAX_BLOCK}-byte limit")]
    BlockTooLarge {
        /// Its size.
        len: usize,
    },
    /// A block's prefix names a hash function (or digest length) this node cannot
    /// compute, so the block cannot be checked: refused, never passed.
    #[error("block hashed with an unsupported function: {source}")]
    UnsupportedHash {
        /// Which function or length.
        source: dag::hash::HashError,
    },
    /// A block hashes correctly but is not well-formed in its codec (non-canonical
    /// dag-cbor, invalid dag-json, undecodable dag-pb).
    #[error("block {cid} is not valid {codec}: {source}")]
    Malformed {
        /// The block's CID.
        cid: Cid,
        /// The codec's name.
        codec: String,
        /// What is wrong.
        source: dag::DecodeError,
    },
    /// A block's bytes do not hash to its CID.
    #[error("block does not match its CID {cid}")]
    Mismatch {
        /// The CID the block claimed.
        cid: Cid,
    },
    /// Too many wantlist entries.
    #[error("wantlist of {len} entries exceeds the {MAX_WANTLIST_ENTRIES}-entry limit")]
    TooManyWants {
        /// Its length.
        len: usize,
    },
    /// The stream failed.
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks that a received block is well-formed in its CID's codec (the hash already
/// matches: its CID was computed from its bytes).
fn valid(cid: &Cid, data: &[u8]) -> Result<(), ProtocolError> {
    dag::codec::validate(cid, data).map_err(|source| ProtocolError::Malformed {
        cid: *cid,
        codec: dag::Codec::of(cid).to_string(),
        source,
    })
}

/// A CID's prefix: version, codec, multihash code, digest length (varints).
pub fn prefix_of(cid: &Cid) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    let mut buf = unsigned_varint_buf();
    for n in [
        u64::from(cid.version()),
        cid.codec(),
        cid.hash().code(),
        u64::from(cid.hash().size()),
    ] {
        out.extend_from_slice(encode_varint(n, &mut buf));
    }
    out
}

/// The CID of `data` under `prefix`, hashing it with the function and digest length the
/// prefix names ([`ProtocolError::UnsupportedHash`] for one this node cannot compute).
pub fn cid_from_prefix(prefix: &[u8], data: &[u8]) -> Result<Cid, ProtocolError> {
    let mut rest = prefix;
    let mut next = || -> Result<u64, ProtocolError> {
        let (n, r) = decode_varint(rest).ok_or(ProtocolError::BadCid)?;
        rest = r;
        Ok(n)
    };
    let version = next()?;
    let codec = next()?;
    let code = next()?;
    let len = next()?;
    if !rest.is_empty() {
        return Err(ProtocolError::BadCid);
    }
    let hash =
        dag::HashFn::from_code(code).map_err(|source| ProtocolError::UnsupportedHash { source })?;
    let len = usize::try_from(len).map_err(|_| ProtocolError::BadCid)?;
    let digest = hash
        .digest_len(data, len)
        .map_err(|source| ProtocolError::UnsupportedHash { source })?;
    match version {
        0 if codec == dag::block::DAG_PB => Cid::new_v0(digest).map_err(|_| ProtocolError::BadCid),
        1 => Ok(Cid::new_v1(codec, digest)),
        _ => Err(ProtocolError::BadCid),
    }
}

fn unsigned_varint_buf() -> [u8; 10] {
    [0; 10]
}

fn encode_varint(mut n: u64, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = b;
            return &buf[..=i];
        }
        buf[i] = b | 0x80;
        i += 1;
    }
}

fn decode_varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut n: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, &buf[i + 1..]));
        }
    }
    None
}

impl Inbound {
    /// Checks a decoded message: parses CIDs, verifies blocks, applies the limits.
    pub fn check(msg: pb::Message) -> Result<Inbound, ProtocolError> {
        let mut out = Inbound::default();
        if let Some(list) = msg.wantlist {
            if list.entries.len() > MAX_WANTLIST_ENTRIES {
                return Err(ProtocolError::TooManyWants {
                    len: list.entries.len(),
                });
            }
            out.full = list.full;
            out.wants.reserve(list.entries.len());
            for e in list.entries {
                let cid = Cid::try_from(&e.block[..]).map_err(|_| ProtocolError::BadCid)?;
                out.wants.push(Want {
                    cid,
                    priority: e.priority,
                    cancel: e.cancel,
                    want_type: if e.want_type == 1 {
                        WantType::Have
                    } else {
                        WantType::Block
                    },
                    send_dont_have: e.send_dont_have,
                });
            }
        }
        for data in msg.blocks {
            if data.len() > MAX_BLOCK {
                return Err(ProtocolError::BlockTooLarge { len: data.len() });
            }
            let cid = Cid::new_v0(dag::block::sha256(&data)).map_err(|_| ProtocolError::BadCid)?;
            valid(&cid, &data)?;
            out.blocks.push(Block::trusted(cid, data));
        }
        for b in msg.payload {
            if b.data.len() > MAX_BLOCK {
                return Err(ProtocolError::BlockTooLarge { len: b.data.len() });
            }
            // The CID is computed from the data, so the block matches it by construction;
            // a peer answering a want with other bytes yields a CID nobody asked for.
            let cid = cid_from_prefix(&b.prefix, &b.data)?;
            valid(&cid, &b.data)?;
            out.blocks.push(Block::trusted(cid, b.data));
        }
        for p in msg.block_presences {
            let cid = Cid::try_from(&p.cid[..]).map_err(|_| ProtocolError::BadCid)?;
            let presence = if p.r#type == 1 {
                Presence::DontHave
            } else {
                Presence::Have
            };
            out.presences.push((cid, presence));
        }
        Ok(out)
    }
}

/// An outgoing message being assembled (dialect-aware encoding at the end).
#[derive(Debug, Default, Clone)]
pub struct Outbound {
    /// Wantlist entries.
    pub wants: Vec<Want>,
    /// Send as a full wantlist.
    pub full: bool,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Presences.
    pub presences: Vec<(Cid, Presence)>,
}

impl Outbound {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.wants.is_empty() && self.blocks.is_empty() && self.presences.is_empty() && !self.full
    }

    /// Block bytes carried.
    pub fn block_bytes(&self) -> u64 {
        self.blocks.iter().map(|b| b.data().len() as u64).sum()
    }

    /// The frame (varint length, then the protobuf) for a peer speaking `version` (1.0/1.1
    /// peers get no presences and no want-haves; 1.0 peers get bare blocks).
    pub fn encode(&self, version: Version) -> Vec<u8> {
        self.encode_parts(version).concat()
    }

    /// The frame of [`Outbound::encode`] as the pieces to write one after the other: the
    /// blocks' bytes are the blocks' own `Bytes`, not copied into a message buffer (on a
    /// seeder that copy was a pass over every byte served). The same bytes in the same
    /// field order as prost writes them: concatenated, the pieces are that encoding.
    pub fn encode_parts(&self, version: Version) -> Vec<Bytes> {
        use prost::encoding::{WireType, encode_key, encode_varint, message};
        let msg = self.to_pb(version);
        let mut parts = Vec::with_capacity(2 * (msg.blocks.len() + msg.payload.len()) + 1);
        let mut head = Vec::with_capacity(64);
        encode_varint(msg.encoded_len() as u64, &mut head);
        if let Some(w) = &msg.wantlist {
            message::encode(1, w, &mut head);
        }
        let mut bytes_field = |tag: u32, data: &Bytes, head: &mut Vec<u8>| {
            encode_key(tag, WireType::LengthDelimited, head);
            encode_varint(data.len() as u64, head);
            parts.push(Bytes::from(std::mem::take(head)));
            parts.push(data.clone());
        };
        for data in &msg.blocks {
            bytes_field(2, data, &mut head);
        }
        for b in &msg.payload {
            encode_key(3, WireType::LengthDelimited, &mut head);
            encode_varint(b.encoded_len() as u64, &mut head);
            // proto3: empty bytes fields are not written.
            if !b.prefix.is_empty() {
                prost::encoding::bytes::encode(1, &b.prefix, &mut head);
            }
            if !b.data.is_empty() {
                bytes_field(2, &b.data, &mut head);
            }
        }
        for p in &msg.block_presences {
            message::encode(4, p, &mut head);
        }
        if msg.pending_bytes != 0 {
            prost::encoding::int32::encode(5, &msg.pending_bytes, &mut head);
        }
        if !head.is_empty() {
            parts.push(Bytes::from(head));
        }
        parts
    }

    fn to_pb(&self, version: Version) -> pb::Message {
        let mut msg = pb::Message::default();
        if !self.wants.is_empty() || self.full {
            let entries = self
                .wants
                .iter()
                .filter(|w| version == Version::V1_2 || w.want_type == WantType::Block)
                .map(|w| pb::Entry {
                    block: Bytes::from(w.cid.to_bytes()),
                    priority: w.priority,
                    cancel: w.cancel,
                    want_type: match w.want_type {
                        WantType::Block => 0,
                        WantType::Have => 1,
                    },
                    send_dont_have: w.send_dont_have && version == Version::V1_2,
                })
                .collect();
            msg.wantlist = Some(pb::Wantlist {
                entries,
                full: self.full,
            });
        }
        for b in &self.blocks {
            if version == Version::V1_0 {
                msg.blocks.push(b.data().clone());
            } else {
                msg.payload.push(pb::Block {
                    prefix: Bytes::from(prefix_of(b.cid())),
                    data: b.data().clone(),
                });
            }
        }
        if version == Version::V1_2 {
            for (cid, p) in &self.presences {
                msg.block_presences.push(pb::BlockPresence {
                    cid: Bytes::from(cid.to_bytes()),
                    r#type: match p {
                        Presence::Have => 0,
                        Presence::DontHave => 1,
                    },
                });
            }
        }
        msg
    }
}

/// Writes one frame given as pieces (from [`Outbound::encode_parts`]).
pub async fn write_parts<W: AsyncWrite + Unpin>(w: &mut W, parts: &[Bytes]) -> std::io::Result<()> {
    for p in parts {
        w.write_all(p).await?;
    }
    w.flush().await
}

/// Reads one frame and decodes it; `Ok(None)` at a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<pb::Message>, ProtocolError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        match r.read(&mut byte).await? {
            0 if i == 0 => return Ok(None),
            0 => {
                return Err(ProtocolError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            _ => {}
        }
        len |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            if len > MAX_MESSAGE as u64 {
                return Err(ProtocolError::TooLarge { len });
            }
            buf.clear();
            buf.resize(len as usize, 0);
            r.read_exact(buf).await?;
            // Decoding from `Bytes` makes each block a slice of the frame (no copy).
            let frame = Bytes::from(std::mem::take(buf));
            return Ok(Some(pb::Message::decode(frame)?));
        }
        if len > MAX_MESSAGE as u64 {
            return Err(ProtocolError::TooLarge { len });
        }
    }
    Err(ProtocolError::BadLength)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    fn block(data: &[u8], v1: bool) -> Block {
        if v1 {
            Block::encode(dag::Version::V1, dag::block::RAW, data.to_vec())
        } else {
            let node = dag::pb::Node {
                links: Vec::new(),
                data: Some(bytes::Bytes::copy_from_slice(data)),
            };
            Block::encode(dag::Version::V0, dag::block::DAG_PB, node.encode())
        }
    }

    /// The pieces a lane writes are, concatenated, prost's own encoding of the message
    /// behind a varint length, for every version and every kind of field (an empty block
    /// included, whose data field prost leaves out).
    #[test]
    fn encoded_parts_are_prosts_encoding() {
        let blocks = vec![
            block(b"one", true),
            block(b"", true),
            block(&[7u8; 70_000], false),
        ];
        let cid = *blocks[0].cid();
        let messages = [
            Outbound::default(),
            Outbound {
                blocks: blocks.clone(),
                ..Outbound::default()
            },
            Outbound {
                wants: vec![Want {
                    cid,
                    priority: 3,
                    cancel: false,
                    want_type: WantType::Have,
                    send_dont_have: true,
                }],
                full: true,
                blocks,
                presences: vec![(cid, Presence::Have), (cid, Presence::DontHave)],
            },
        ];
        for out in &messages {
            for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
                let msg = out.to_pb(v);
                let mut want = Vec::new();
                prost::encoding::encode_varint(msg.encoded_len() as u64, &mut want);
                msg.encode(&mut want).expect("encode");
                assert_eq!(out.encode(v), want, "{v:?}");
            }
        }
    }

    fn payload_message(prefix: Vec<u8>, data: &[u8]) -> pb::Message {
        pb::Message {
            payload: vec![pb::Block {
                prefix: prefix.into(),
                data: bytes::Bytes::copy_from_slice(data),
            }],
            ..Default::default()
        }
    }

    /// A block under any supported hash function (and a truncated or extended digest the
    /// prefix asks for) gets the CID its bytes hash to under that function.
    #[test]
    fn blocks_of_every_hash_function_are_received() {
        for &f in dag::HashFn::all() {
            if f == dag::HashFn::Identity {
                continue;
            }
            let b = Block::encode_with(dag::Version::V1, dag::block::DAG_CBOR, f, vec![0xa0])
                .expect("hash");
            let got = Inbound::check(payload_message(prefix_of(b.cid()), b.data())).unwrap();
            assert_eq!(got.blocks, vec![b.clone()], "{f}");
            // Same bytes, other bytes: a different CID, never the wanted one.
            let other = Inbound::check(payload_message(prefix_of(b.cid()), &[0x80])).unwrap();
            assert_ne!(other.blocks[0].cid(), b.cid(), "{f}");
        }
        let long = dag::HashFn::Blake3.digest_len(b"x", 64).expect("blake3 64");
        let cid = Cid::new_v1(dag::block::RAW, long);
        assert_eq!(cid_from_prefix(&prefix_of(&cid), b"x").unwrap(), cid);
    }

    /// md5 (0xd5) and too-short digests cannot be checked: the message is refused with an
    /// error naming the function, never passed.
    #[test]
    fn unsupported_hashes_are_refused() {
        let md5_prefix = vec![0x01, 0x55, 0xd5, 0x01, 0x10];
        let err = Inbound::check(payload_message(md5_prefix, b"x")).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::UnsupportedHash {
                    source: dag::hash::HashError::Unsupported { code: 0xd5 }
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("0xd5"), "{err}");
        let short = vec![0x01, 0x55, 0x12, 0x08];
        let err = Inbound::check(payload_message(short, b"x")).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnsupportedHash { .. }),
            "{err}"
        );
    }

    /// A block whose hash matches but whose bytes are not valid in its codec (here a
    /// dag-cbor map with unsorted keys, and bytes that are not dag-pb) is refused.
    #[test]
    fn malformed_blocks_are_refused() {
        // {"b": 1, "a": 2}: keys out of dag-cbor's canonical order.
        let unsorted = vec![0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02];
        for (codec, data) in [
            (dag::block::DAG_CBOR, unsorted),
            (dag::block::DAG_PB, vec![0xff, 0xff]),
            (dag::block::DAG_JSON, b"{".to_vec()),
        ] {
            let b = Block::encode_with(dag::Version::V1, codec, dag::HashFn::Sha2_512, data)
                .expect("hash");
            let err = Inbound::check(payload_message(prefix_of(b.cid()), b.data())).unwrap_err();
            assert!(
                matches!(&err, ProtocolError::Malformed { cid, .. } if cid == b.cid()),
                "{err}"
            );
        }
        let legacy = pb::Message {
            blocks: vec![bytes::Bytes::from_static(b"not dag-pb \xff")],
            ..Default::default()
        };
        assert!(matches!(
            Inbound::check(legacy),
            Err(ProtocolError::Malformed { .. })
        ));
    }

    fn roundtrip(out: &Outbound, v: Version) -> Inbound {
        let frame = out.encode(v);
        let mut cur = Cursor::new(frame);
        let mut buf = Vec::new();
        let msg = futures::executor::block_on(read_message(&mut cur, &mut buf))
            .unwrap()
            .unwrap();
        Inbound::check(msg).unwrap()
    }

    #[test]
    fn prefixes_roundtrip_v0_and_v1() {
        for v1 in [false, true] {
            let b = block(b"hello prefix", v1);
            let p = prefix_of(b.cid());
            assert_eq!(cid_from_prefix(&p, b.data()).unwrap(), *b.cid());
        }
        let v0 = block(b"x", false);
        assert_eq!(prefix_of(v0.cid()), vec![0x00, 0x70, 0x12, 0x20]);
    }

    #[test]
    fn messages_roundtrip_in_each_dialect() {
        let b0 = block(b"a v0 block", false);
        let b1 = block(b"a v1 block", true);
        let out = Outbound {
            wants: vec![
                Want {
                    cid: *b1.cid(),
                    priority: 7,
                    cancel: false,
                    want_type: WantType::Have,
                    send_dont_have: true,
                },
                Want {
                    cid: *b0.cid(),
                    priority: 1,
                    cancel: true,
                    want_type: WantType::Block,
                    send_dont_have: false,
                },
            ],
            full: false,
            blocks: vec![b0.clone(), b1.clone()],
            presences: vec![(*b1.cid(), Presence::DontHave)],
        };
        let got = roundtrip(&out, Version::V1_2);
        assert_eq!(got.wants, out.wants);
        assert_eq!(got.blocks, out.blocks);
        assert_eq!(got.presences, out.presences);

        let got = roundtrip(&out, Version::V1_1);
        assert_eq!(got.wants.len(), 1, "no want-have in 1.1");
        assert!(got.presences.is_empty());
        assert_eq!(got.blocks, out.blocks);

        let only_v0 = Outbound {
            blocks: vec![b0.clone()],
            ..Default::default()
        };
        assert_eq!(roundtrip(&only_v0, Version::V1_0).blocks, vec![b0]);
    }

    #[test]
    fn limits_and_garbage_are_refused() {
        let mut buf = Vec::new();
        // Length prefix above the limit is refused before reading the body.
        let mut big = Vec::new();
        let mut vb = unsigned_varint_buf();
        big.extend_from_slice(encode_varint(MAX_MESSAGE as u64 + 1, &mut vb));
        let err = futures::executor::block_on(read_message(&mut Cursor::new(big), &mut buf));
        assert!(matches!(err, Err(ProtocolError::TooLarge { .. })));
        // A varint that never ends.
        let err =
            futures::executor::block_on(read_message(&mut Cursor::new(vec![0xff; 16]), &mut buf));
        assert!(matches!(
            err,
            Err(ProtocolError::TooLarge { .. } | ProtocolError::BadLength)
        ));
        // Not protobuf.
        let err = futures::executor::block_on(read_message(
            &mut Cursor::new(vec![3, 0xff, 0xff, 0xff]),
            &mut buf,
        ));
        assert!(matches!(err, Err(ProtocolError::Decode(_))));
        // Truncated body.
        let err =
            futures::executor::block_on(read_message(&mut Cursor::new(vec![9, 1, 2]), &mut buf));
        assert!(matches!(err, Err(ProtocolError::Io(_))));
        // Bad prefix (a byte after the four varints).
        let msg = pb::Message {
            payload: vec![pb::Block {
                prefix: Bytes::from_static(&[1, 0x55, 0x12, 0x20, 0]),
                data: Bytes::from_static(b"x"),
            }],
            ..Default::default()
        };
        assert!(matches!(Inbound::check(msg), Err(ProtocolError::BadCid)));
        // Oversized block.
        let msg = pb::Message {
            blocks: vec![Bytes::from(vec![0u8; MAX_BLOCK + 1])],
            ..Default::default()
        };
        assert!(matches!(
            Inbound::check(msg),
            Err(ProtocolError::BlockTooLarge { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut buf = Vec::new();
            if let Ok(Some(msg)) = futures::executor::block_on(read_message(&mut Cursor::new(data), &mut buf)) {
                let _ = Inbound::check(msg);
            }
        }

        /// Any supported function at any digest length it allows: the prefix of a CID and
        /// the block's bytes give that CID back; other bytes never do.
        #[test]
        fn prefixes_of_every_hash_and_length_roundtrip(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            which in 0usize..10,
            len in dag::hash::MIN_DIGEST..=dag::hash::MAX_DIGEST,
        ) {
            let f = dag::HashFn::all()[which];
            proptest::prop_assume!(f != dag::HashFn::Identity);
            match f.digest_len(&data, len) {
                Ok(mh) => {
                    let cid = Cid::new_v1(dag::block::RAW, mh);
                    proptest::prop_assert_eq!(cid_from_prefix(&prefix_of(&cid), &data).unwrap(), cid);
                    let mut other = data.clone();
                    other.push(1);
                    proptest::prop_assert_ne!(cid_from_prefix(&prefix_of(&cid), &other).unwrap(), cid);
                }
                Err(_) => {
                    let prefix = [vec![1, 0x55], varint_vec(f.code()), varint_vec(len as u64)].concat();
                    let refused = matches!(cid_from_prefix(&prefix, &data), Err(ProtocolError::UnsupportedHash { .. }));
                    proptest::prop_assert!(refused);
                }
            }
        }
    }

    fn varint_vec(n: u64) -> Vec<u8> {
        let mut buf = unsigned_varint_buf();
        encode_varint(n, &mut buf).to_vec()
    }
}
