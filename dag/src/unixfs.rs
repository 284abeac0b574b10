//! UnixFS v1 metadata: the `Data` message stored in a dag-pb node's payload.
//!
//! Written proto2-style, byte-identical to Kubo (boxo) and Helia: `Type` is always written
//! (even `Raw` = 0), `filesize` is written for files, raw nodes and symlinks, `blocksizes`
//! are unpacked (one key per entry), and empty `Data` is omitted.

use crate::proto::{self, DecodeError, Reader, Value};
use bytes::Bytes;

/// The UnixFS node type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Legacy leaf data node (0).
    Raw,
    /// Plain directory (1).
    Directory,
    /// File root or chunk (2).
    File,
    /// Legacy metadata node (3).
    Metadata,
    /// Symbolic link; `Data` holds the target (4).
    Symlink,
    /// One node of a HAMT-sharded directory (5).
    HamtShard,
}

impl DataType {
    fn code(self) -> u64 {
        match self {
            DataType::Raw => 0,
            DataType::Directory => 1,
            DataType::File => 2,
            DataType::Metadata => 3,
            DataType::Symlink => 4,
            DataType::HamtShard => 5,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => DataType::Raw,
            1 => DataType::Directory,
            2 => DataType::File,
            3 => DataType::Metadata,
            4 => DataType::Symlink,
            5 => DataType::HamtShard,
            _ => return None,
        })
    }
}

/// A modification time: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mtime {
    /// Whole seconds (may be negative).
    pub seconds: i64,
    /// Nanoseconds, 1..=999_999_999 when present.
    pub nanos: Option<u32>,
}

/// The UnixFS `Data` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// Node type.
    pub kind: DataType,
    /// Inline bytes: file content for leaves, target for symlinks, bitfield for HAMT shards.
    pub data: Bytes,
    /// Total content size below this node (files, raw, symlinks).
    pub filesize: Option<u64>,
    /// Content size of each child, in link order (files).
    pub blocksizes: Vec<u64>,
    /// HAMT hash function (0x22 = murmur3-x64-64).
    pub hash_type: Option<u64>,
    /// HAMT fanout.
    pub fanout: Option<u64>,
    /// POSIX permission bits.
    pub mode: Option<u32>,
    /// Modification time.
    pub mtime: Option<Mtime>,
}

impl Data {
    /// A node of the given type with nothing else set.
    pub fn new(kind: DataType) -> Self {
        Data {
            kind,
            data: Bytes::new(),
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
            mtime: None,
        }
    }

    /// A file leaf carrying `chunk`.
    pub fn file_leaf(chunk: Bytes) -> Self {
        let len = chunk.len() as u64;
        Data {
            data: chunk,
            filesize: Some(len),
            ..Data::new(DataType::File)
        }
    }

    /// Serializes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 16 + self.blocksizes.len() * 5);
        proto::put_uint(&mut out, 1, self.kind.code());
        if !self.data.is_empty() {
            proto::put_bytes(&mut out, 2, &self.data);
        }
        if let Some(size) = self.filesize {
            proto::put_uint(&mut out, 3, size);
        }
        for size in &self.blocksizes {
            proto::put_uint(&mut out, 4, *size);
        }
        if let Some(h) = self.hash_type {
            proto::put_uint(&mut out, 5, h);
        }
        if let Some(f) = self.fanout {
            proto::put_uint(&mut out, 6, f);
        }
        if let Some(m) = self.mode {
            proto::put_uint(&mut out, 7, u64::from(m));
        }
        if let Some(t) = self.mtime {
            let mut inner = Vec::with_capacity(16);
            // int64 seconds is a plain (non-zigzag) varint.
            proto::put_uint(&mut inner, 1, t.seconds as u64);
            if let Some(n) = t.nanos {
                proto::put_key(&mut inner, 2, 5);
                inner.extend_from_slice(&n.to_le_bytes());
            }
            proto::put_bytes(&mut out, 8, &inner);
        }
        out
    }

    /// Parses the message.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(buf, Bytes::copy_from_slice)
    }

    /// [`Data::decode`] of a message already in `Bytes`: the file bytes are a slice of it,
    /// not a copy.
    pub fn decode_shared(bytes: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, |b| bytes.slice_ref(b))
    }

    fn decode_with(buf: &[u8], keep: impl Fn(&[u8]) -> Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, "unixfs data");
        let mut kind = None;
        let mut d = Data::new(DataType::Raw);
        while let Some((field, value)) = r.next()? {
            match (field, value) {
                (1, Value::Varint(v)) => {
                    kind = Some(DataType::from_code(v).ok_or(DecodeError::Invalid {
                        what: "unixfs data",
                        reason: "unknown Type",
                    })?);
                }
                (2, Value::Bytes(b)) => d.data = keep(b),
                (3, Value::Varint(v)) => d.filesize = Some(v),
                (4, Value::Varint(v)) => d.blocksizes.push(v),
                (4, Value::Bytes(mut packed)) => {
                    let mut pr = Reader::new(packed, "unixfs blocksizes");
                    while !packed.is_empty() {
                        d.blocksizes.push(pr.read_varint()?);
                        packed = pr.rest();
                    }
                }
                (5, Value::Varint(v)) => d.hash_type = Some(v),
                (6, Value::Varint(v)) => d.fanout = Some(v),
                (7, Value::Varint(v)) => d.mode = Some(v as u32),
                (8, Value::Bytes(b)) => d.mtime = Some(decode_mtime(b)?),
                (f, _) => return Err(r.invalid(f)),
            }
        }
        d.kind = kind.ok_or(DecodeError::Invalid {
            what: "unixfs data",
            reason: "missing Type",
        })?;
        Ok(d)
    }
}

fn decode_mtime(buf: &[u8]) -> Result<Mtime, DecodeError> {
    let mut r = Reader::new(buf, "unixfs mtime");
    let mut t = Mtime {
        seconds: 0,
        nanos: None,
    };
    while let Some((field, value)) = r.next()? {
        match (field, value) {
            (1, Value::Varint(v)) => t.seconds = v as i64,
            (2, Value::Fixed32(n)) => t.nanos = Some(n),
            (f, _) => return Err(r.invalid(f)),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{DAG_PB, Version, cid_of};
    use crate::pb::Node;
    use proptest::prelude::*;

    fn file_cid(content: &[u8]) -> String {
        let data = Data::file_leaf(Bytes::copy_from_slice(content)).encode();
        let node = Node {
            links: vec![],
            data: Some(data.into()),
        };
        cid_of(Version::V0, DAG_PB, &node.encode()).to_string()
    }

    #[test]
    fn kubo_vectors() {
        assert_eq!(
            file_cid(b""),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            file_cid(b"hello world\n"),
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        );
    }

    #[test]
    fn raw_type_is_written() {
        assert_eq!(Data::new(DataType::Raw).encode(), [0x08, 0x00]);
        assert_eq!(Data::new(DataType::Directory).encode(), [0x08, 0x01]);
    }

    proptest! {
        #[test]
        fn roundtrip(kind in 0u64..6, data in prop::collection::vec(any::<u8>(), 0..40),
                     filesize in prop::option::of(any::<u64>()), blocksizes in prop::collection::vec(any::<u64>(), 0..5),
                     fanout in prop::option::of(any::<u64>()), mode in prop::option::of(any::<u32>()),
                     mtime in prop::option::of((any::<i64>(), prop::option::of(1u32..1_000_000_000)))) {
            let d = Data {
                kind: DataType::from_code(kind).unwrap_or(DataType::Raw),
                data: Bytes::from(data), filesize, blocksizes, hash_type: fanout.map(|_| 0x22), fanout, mode,
                mtime: mtime.map(|(seconds, nanos)| Mtime { seconds, nanos }),
            };
            prop_assert_eq!(Data::decode(&d.encode()).ok(), Some(d.clone()));
            prop_assert_eq!(Data::decode_shared(&Bytes::from(d.encode())).ok(), Some(d));
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            let copied = Data::decode(&bytes);
            let shared = Data::decode_shared(&Bytes::from(bytes));
            prop_assert_eq!(copied.ok(), shared.ok());
        }
    }
}
