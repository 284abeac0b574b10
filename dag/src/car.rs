//! CAR (Content Addressable aRchive) files, version 1, for `dag export` / `dag import`.
//!
//! A CARv1 is `varint(len) ‖ header` then sections `varint(len) ‖ CID bytes ‖ block bytes`.
//! The header is the DAG-CBOR map `{"roots": [CID, ...], "version": 1}` (canonical key
//! order: by length, then bytes, so "roots" first; CIDs as tag 42 over `0x00 ‖ CID bytes`);
//! the tiny CBOR subset it needs is hand-written here.
//!
//! Data flow: [`export`] walks a DAG through any [`BlockSource`] depth-first, pre-order
//! (root, then each link in order, each block once, as `ipfs dag export` does) and streams
//! sections to a writer, holding only the walk's stack and the set of CIDs written.
//! [`Reader`] parses a CAR (v1, or v2 by skipping to its inner v1 payload) and yields
//! blocks each verified against its CID. [`import`] feeds those into the store's
//! [`Store::atomic_writer`]: nothing is committed until the whole file has been read and
//! verified, so a truncated or corrupt CAR leaves the store unchanged.

use crate::block::{self, BlockError};
use crate::store::{PinMode, Store, StoreError};
use crate::{Block, BlockSource, Cid, DecodeError, SourceError};
use bytes::Bytes;
use std::collections::HashSet;
use std::io::{self, BufWriter, Read, Write};

/// Largest header accepted.
pub const MAX_HEADER: u64 = 1 << 20;
/// Largest section accepted: a 2 MiB block plus its CID.
pub const MAX_SECTION: u64 = (2 << 20) + 128;
/// The 11 bytes that open a CARv2: a CARv1 header `{"version": 2}`.
const V2_PRAGMA: [u8; 11] = [
    0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02,
];
/// Size of the CARv2 fixed header that follows the pragma.
const V2_HEADER: usize = 40;

/// Errors reading or writing CAR files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CarError {
    /// Reading or writing failed.
    #[error("CAR I/O: {source}")]
    Io {
        /// The I/O error.
        #[from]
        source: io::Error,
    },
    /// The input ended inside the header or a section.
    #[error("CAR truncated: input ended inside {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A length prefix is not a valid varint.
    #[error("CAR: invalid varint at byte {offset}")]
    BadVarint {
        /// Offset in the input.
        offset: u64,
    },
    /// The header is larger than [`MAX_HEADER`].
    #[error("CAR header too large ({len} bytes, limit {MAX_HEADER})")]
    HeaderTooLarge {
        /// The declared length.
        len: u64,
    },
    /// A section is larger than [`MAX_SECTION`].
    #[error("CAR section at byte {offset} too large ({len} bytes, limit {MAX_SECTION})")]
    SectionTooLarge {
        /// Offset of the section.
        offset: u64,
        /// The declared length.
        len: u64,
    },
    /// The header is not the expected DAG-CBOR map.
    #[error("CAR header invalid: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The CAR version is not 1 (or 2, read through its inner v1 payload).
    #[error("unsupported CAR version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// A section does not start with a valid CID.
    #[error("CAR section at byte {offset}: invalid CID")]
    BadCid {
        /// Offset of the section.
        offset: u64,
    },
    /// A block does not match its CID (or its hash cannot be checked).
    #[error("CAR: {source}")]
    Block {
        /// Why it was rejected.
        #[from]
        source: BlockError,
    },
    /// A dag-pb block on the export walk could not be decoded.
    #[error("cannot decode block {cid}: {source}")]
    Decode {
        /// The block.
        cid: Cid,
        /// Why.
        source: DecodeError,
    },
    /// The block source failed (e.g. a block of the exported DAG is missing).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The store failed while importing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the DAG as UnixFS failed (a scoped export, see [`crate::scope`]).
    #[error(transparent)]
    Export(Box<crate::export::ExportError>),
}

impl From<std::convert::Infallible> for CarError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// Counts of what was written by [`write()`] or [`export`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteSummary {
    /// Blocks written.
    pub blocks: u64,
    /// Bytes written in total (header and framing included).
    pub bytes: u64,
}

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// The CAR's roots.
    pub roots: Vec<Cid>,
    /// Blocks read (all verified).
    pub blocks: u64,
    /// Bytes of those blocks.
    pub bytes: u64,
    /// Blocks that were not already stored.
    pub new_blocks: u64,
}

/// Encodes the CARv1 header (without its length prefix).
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + roots.len() * 40);
    crate::cbor::write_head(&mut out, 5, 2); // map(2)
    crate::cbor::write_head(&mut out, 3, 5);
    out.extend_from_slice(b"roots");
    crate::cbor::write_head(&mut out, 4, roots.len() as u64);
    for root in roots {
        let bytes = root.to_bytes();
        crate::cbor::write_head(&mut out, 6, 42);
        crate::cbor::write_head(&mut out, 2, bytes.len() as u64 + 1);
        out.push(0);
        out.extend_from_slice(&bytes);
    }
    crate::cbor::write_head(&mut out, 3, 7);
    out.extend_from_slice(b"version");
    crate::cbor::write_head(&mut out, 0, 1);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes a CARv1: the header naming `roots`, then each block in the order given.
pub fn write<W: Write, E>(
    out: W,
    roots: &[Cid],
    blocks: impl IntoIterator<Item = Result<Block, E>>,
) -> Result<WriteSummary, CarError>
where
    CarError: From<E>,
{
    let mut w = SectionWriter::new(out, roots)?;
    for block in blocks {
        w.section(&block?)?;
    }
    w.finish()
}

/// Streams the DAG under `root` from `source` as a CARv1 with `root` as its only root:
/// depth-first, pre-order, each block once (identity CIDs are walked, not written: they
/// carry their data).
pub fn export(
    source: &impl BlockSource,
    root: &Cid,
    out: impl Write,
) -> Result<WriteSummary, CarError> {
    let mut w = SectionWriter::new(out, std::slice::from_ref(root))?;
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let data = match block::identity_data(&cid) {
            Some(inline) => Bytes::copy_from_slice(inline),
            None => {
                let data = source.get_block(&cid)?;
                w.section(&Block::trusted(cid, data.clone()))?;
                data
            }
        };
        // Every codec with links is followed; leaves answer none.
        let links =
            crate::codec::links(&cid, &data).map_err(|source| CarError::Decode { cid, source })?;
        stack.extend(links.into_iter().rev());
    }
    w.finish()
}

struct SectionWriter<W: Write> {
    out: BufWriter<W>,
    summary: WriteSummary,
    scratch: Vec<u8>,
}

impl<W: Write> SectionWriter<W> {
    fn new(out: W, roots: &[Cid]) -> Result<Self, CarError> {
        let mut out = BufWriter::with_capacity(256 << 10, out);
        let header = encode_header(roots);
        let mut prefix = Vec::with_capacity(10);
        put_varint(&mut prefix, header.len() as u64);
        out.write_all(&prefix)?;
        out.write_all(&header)?;
        let bytes = (prefix.len() + header.len()) as u64;
        Ok(SectionWriter {
            out,
            summary: WriteSummary { blocks: 0, bytes },
            scratch: Vec::with_capacity(80),
        })
    }

    fn section(&mut self, block: &Block) -> Result<(), CarError> {
        let cid = block.cid().to_bytes();
        let data = block.data();
        self.scratch.clear();
        put_varint(&mut self.scratch, (cid.len() + data.len()) as u64);
        self.scratch.extend_from_slice(&cid);
        self.out.write_all(&self.scratch)?;
        self.out.write_all(data)?;
        self.summary.blocks += 1;
        self.summary.bytes += (self.scratch.len() + data.len()) as u64;
        Ok(())
    }

    fn finish(mut self) -> Result<WriteSummary, CarError> {
        self.out.flush()?;
        Ok(self.summary)
    }
}

/// Reads a CAR file: [`Reader::roots`], then an iterator of verified blocks.
///
/// Accepts CARv1, and CARv2 by reading its inner CARv1 payload (the index is ignored).
/// Every block is checked against its CID; limits: header ≤ [`MAX_HEADER`], section ≤
/// [`MAX_SECTION`]. Iteration stops after the first error.
pub struct Reader<R: Read> {
    input: io::Take<R>,
    roots: Vec<Cid>,
    offset: u64,
    done: bool,
}

impl<R: Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("car::Reader")
            .field("roots", &self.roots)
            .field("offset", &self.offset)
            .finish()
    }
}

impl<R: Read> Reader<R> {
    /// Reads the header. For throughput, hand it a buffered reader.
    pub fn new(input: R) -> Result<Self, CarError> {
        let mut reader = Reader {
            input: input.take(u64::MAX),
            roots: Vec::new(),
            offset: 0,
            done: false,
        };
        let header = reader.read_header()?;
        match header.version {
            1 => reader.roots = header.roots,
            2 => {
                // The pragma is exactly 11 bytes; anything else claiming v2 is malformed.
                if reader.offset != V2_PRAGMA.len() as u64 {
                    return Err(CarError::BadHeader {
                        reason: "malformed CARv2 pragma",
                    });
                }
                let mut fixed = [0u8; V2_HEADER];
                reader.read_exact(&mut fixed, "the CARv2 header")?;
                let word = |i: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&fixed[i..i + 8]);
                    u64::from_le_bytes(b)
                };
                let (data_offset, data_size) = (word(16), word(24));
                let skip = data_offset
                    .checked_sub(reader.offset)
                    .ok_or(CarError::BadHeader {
                        reason: "CARv2 data offset inside its header",
                    })?;
                let skipped = io::copy(&mut (&mut reader.input).take(skip), &mut io::sink())?;
                if skipped != skip {
                    return Err(CarError::Truncated {
                        what: "the CARv2 padding",
                    });
                }
                reader.offset += skip;
                reader.input.set_limit(data_size);
                let inner = reader.read_header()?;
                if inner.version != 1 {
                    return Err(CarError::UnsupportedVersion {
                        version: inner.version,
                    });
                }
                reader.roots = inner.roots;
            }
            version => return Err(CarError::UnsupportedVersion { version }),
        }
        Ok(reader)
    }

    /// The CAR's roots.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    fn read_header(&mut self) -> Result<Header, CarError> {
        let len = self
            .read_varint()?
            .ok_or(CarError::Truncated { what: "the header" })?;
        if len > MAX_HEADER {
            return Err(CarError::HeaderTooLarge { len });
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, "the header")?;
        parse_header(&buf)
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), CarError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(CarError::Truncated { what }),
            Err(e) => Err(e.into()),
        }
    }

    /// A varint, or `None` at a clean end of input.
    fn read_varint(&mut self) -> Result<Option<u64>, CarError> {
        let start = self.offset;
        let mut value = 0u64;
        for i in 0..10 {
            let mut byte = [0u8; 1];
            let n = loop {
                match self.input.read(&mut byte) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if n == 0 {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(CarError::Truncated {
                        what: "a length prefix",
                    })
                };
            }
            self.offset += 1;
            let b = byte[0];
            if i == 9 && b > 1 {
                return Err(CarError::BadVarint { offset: start });
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                // Reject non-minimal encodings (a trailing zero byte), as go-varint does.
                if b == 0 && i > 0 {
                    return Err(CarError::BadVarint { offset: start });
                }
                return Ok(Some(value));
            }
        }
        Err(CarError::BadVarint { offset: start })
    }

    fn next_block(&mut self) -> Result<Option<Block>, CarError> {
        let offset = self.offset;
        let Some(len) = self.read_varint()? else {
            return Ok(None);
        };
        if len > MAX_SECTION {
            return Err(CarError::SectionTooLarge { offset, len });
        }
        if len == 0 {
            return Err(CarError::BadCid { offset });
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, "a section")?;
        let mut cursor = io::Cursor::new(&buf[..]);
        let cid = Cid::read_bytes(&mut cursor).map_err(|_| CarError::BadCid { offset })?;
        let cid_len = cursor.position() as usize;
        let data = Bytes::from(buf).slice(cid_len..);
        Ok(Some(Block::verified(cid, data)?))
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Block, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_block() {
            Ok(Some(block)) => Some(Ok(block)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

struct Header {
    version: u64,
    roots: Vec<Cid>,
}

/// Parses the header map. Accepts the keys in any order (ignoring unknown ones), requires
/// `version`, and `roots` for version 1.
fn parse_header(buf: &[u8]) -> Result<Header, CarError> {
    let mut c = Cbor { buf, pos: 0 };
    let (major, n) = c.head()?;
    if major != 5 {
        return Err(CarError::BadHeader {
            reason: "not a map",
        });
    }
    let (mut version, mut roots) = (None, None);
    for _ in 0..n {
        let key = c.text()?;
        match key {
            b"version" => {
                let (major, v) = c.head()?;
                if major != 0 {
                    return Err(CarError::BadHeader {
                        reason: "version is not an integer",
                    });
                }
                version = Some(v);
            }
            b"roots" => {
                let (major, count) = c.head()?;
                if major != 4 {
                    return Err(CarError::BadHeader {
                        reason: "roots is not an array",
                    });
                }
                let mut list = Vec::new();
                for _ in 0..count {
                    let (major, tag) = c.head()?;
                    if (major, tag) != (6, 42) {
                        return Err(CarError::BadHeader {
                            reason: "root is not a CID (tag 42)",
                        });
                    }
                    let bytes = c.bytes()?;
                    let cid = match bytes.split_first() {
                        Some((0, cid)) => Cid::try_from(cid).map_err(|_| CarError::BadHeader {
                            reason: "invalid root CID",
                        })?,
                        _ => {
                            return Err(CarError::BadHeader {
                                reason: "root CID lacks the 0x00 prefix",
                            });
                        }
                    };
                    list.push(cid);
                }
                roots = Some(list);
            }
            _ => {
                return Err(CarError::BadHeader {
                    reason: "unknown key",
                });
            }
        }
    }
    if c.pos != buf.len() {
        return Err(CarError::BadHeader {
            reason: "trailing bytes",
        });
    }
    let version = version.ok_or(CarError::BadHeader {
        reason: "no version",
    })?;
    let roots = match (version, roots) {
        (1, None) => return Err(CarError::BadHeader { reason: "no roots" }),
        (_, roots) => roots.unwrap_or_default(),
    };
    Ok(Header { version, roots })
}

/// A cursor over the CBOR subset CAR headers use (definite lengths only).
struct Cbor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cbor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CarError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(CarError::BadHeader {
            reason: "truncated CBOR",
        })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn head(&mut self) -> Result<(u8, u64), CarError> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 0x1f);
        let n = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => {
                return Err(CarError::BadHeader {
                    reason: "indefinite or reserved CBOR length",
                });
            }
        };
        let v = self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        Ok((major, v))
    }

    fn len(&mut self, want: u8, reason: &'static str) -> Result<&'a [u8], CarError> {
        let (major, n) = self.head()?;
        if major != want {
            return Err(CarError::BadHeader { reason });
        }
        let n = usize::try_from(n).map_err(|_| CarError::BadHeader {
            reason: "truncated CBOR",
        })?;
        self.take(n)
    }

    fn text(&mut self) -> Result<&'a [u8], CarError> {
        self.len(3, "map key is not a string")
    }

    fn bytes(&mut self) -> Result<&'a [u8], CarError> {
        self.len(2, "CID is not a byte string")
    }
}

/// Imports a CAR into `store`: reads every section, verifies every block, stores them, and
/// with `pin_roots` pins each root recursively (the DAGs must then be complete), all in
/// one transaction committed only after the whole input was read and verified. On any
/// error (truncated input, a block not matching its CID, an incomplete pinned DAG) the
/// store is left unchanged.
///
/// The single transaction keeps memory bounded (redb writes dirty pages beyond half its
/// cache to the file, uncommitted) but holds the store's write lock for the import's
/// duration; other writers wait.
pub fn import(store: &Store, input: impl Read, pin_roots: bool) -> Result<ImportReport, CarError> {
    let reader = Reader::new(io::BufReader::with_capacity(256 << 10, input))?;
    let roots = reader.roots().to_vec();
    let mut writer = store.atomic_writer()?;
    let (mut blocks, mut bytes) = (0, 0);
    for block in reader {
        let block = block?;
        blocks += 1;
        bytes += block.data().len() as u64;
        writer.put(block)?;
    }
    let pins: Vec<(Cid, PinMode)> = if pin_roots {
        roots.iter().map(|r| (*r, PinMode::Recursive)).collect()
    } else {
        Vec::new()
    };
    let stats = writer.finish_and_pin_all(&pins)?;
    Ok(ImportReport {
        roots,
        blocks,
        bytes,
        new_blocks: stats.new_blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::testutil::raw;

    fn node(links: &[&Block], data: &[u8]) -> Block {
        crate::testutil::node_named(links, "x", data)
    }

    /// root → [a → [l1, l2], b → [l2, l3], l1]; pre-order with duplicates skipped:
    /// root, a, l1, l2, b, l3.
    fn dag() -> (Block, Vec<Block>) {
        let l1 = raw(b"leaf one");
        let l2 = raw(b"leaf two");
        let l3 = raw(&vec![3u8; 100_000]);
        let a = node(&[&l1, &l2], b"a");
        let b = node(&[&l2, &l3], b"b");
        let root = node(&[&a, &b, &l1], b"root");
        let order = vec![root.clone(), a, l1, l2, b, l3];
        (root, order)
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("blocks.redb")).expect("open");
        (dir, store)
    }

    fn exported() -> (Block, Vec<Block>, Vec<u8>) {
        let (_dir, store) = temp_store();
        let (root, order) = dag();
        store.put_many(order.iter().cloned()).expect("put");
        let mut car = Vec::new();
        let summary = export(&store, root.cid(), &mut car).expect("export");
        assert_eq!(summary.blocks, 6);
        assert_eq!(summary.bytes, car.len() as u64);
        (root, order, car)
    }

    #[test]
    fn header_matches_js_car_vector() {
        let cid = block::parse_cid("bafyreihyrpefhacm6kkp4ql6j6udakdit7g3dmkzfriqfykhjw6cad5lrm")
            .expect("cid");
        // From ipld/js-car's test-writer ("single root").
        let expected = "a265726f6f747381d82a58250001711220f88bc853804cf294fe417e4fa83028689fcdb1b1592c5102e1474dbc200fab8b6776657273696f6e01";
        assert_eq!(hex::encode(encode_header(&[cid])), expected);
        let mut car = Vec::new();
        write::<_, std::convert::Infallible>(&mut car, &[cid], []).expect("write");
        assert_eq!(hex::encode(&car), format!("3a{expected}"));
        let reader = Reader::new(&car[..]).expect("read");
        assert_eq!(reader.roots(), &[cid]);
        assert_eq!(reader.count(), 0);
    }

    #[test]
    fn round_trip_in_dag_export_order() {
        let (root, order, car) = exported();
        let reader = Reader::new(&car[..]).expect("header");
        assert_eq!(reader.roots(), &[*root.cid()]);
        let blocks: Vec<Block> = reader.collect::<Result<_, _>>().expect("blocks");
        assert_eq!(blocks, order);
        // And `write` produces the same bytes from the same blocks.
        let mut again = Vec::new();
        write(
            &mut again,
            &[*root.cid()],
            order.into_iter().map(Ok::<_, CarError>),
        )
        .expect("write");
        assert_eq!(again, car);
    }

    #[test]
    fn import_round_trip_and_pins() {
        let (root, order, car) = exported();
        let (_dir, store) = temp_store();
        let report = import(&store, &car[..], true).expect("import");
        assert_eq!(report.roots, vec![*root.cid()]);
        assert_eq!(report.blocks, 6);
        assert_eq!(report.new_blocks, 6);
        assert_eq!(
            report.bytes,
            order.iter().map(|b| b.data().len() as u64).sum::<u64>()
        );
        for b in &order {
            assert_eq!(store.get(b.cid()).expect("get").as_ref(), Some(b.data()));
        }
        assert_eq!(
            store.pins().expect("pins"),
            vec![(*root.cid(), PinMode::Recursive)]
        );
        assert_eq!(store.gc().expect("gc").removed, Vec::<Cid>::new());
    }

    fn assert_import_fails_unchanged(car: &[u8]) -> CarError {
        let (_dir, store) = temp_store();
        let keep = raw(b"already here");
        store.put(keep.clone()).expect("put");
        let before = store.stat().expect("stat");
        let err = import(&store, car, true).expect_err("must fail");
        let after = store.stat().expect("stat");
        assert_eq!(
            (before.num_blocks, before.total_size),
            (after.num_blocks, after.total_size)
        );
        assert!(store.pins().expect("pins").is_empty());
        assert!(store.has(keep.cid()).expect("has"));
        err
    }

    #[test]
    fn truncated_car_is_rejected_and_store_unchanged() {
        let (_root, _order, car) = exported();
        for cut in [1, 10, 5000, car.len() - 50] {
            let err = assert_import_fails_unchanged(&car[..car.len() - cut]);
            assert!(
                matches!(err, CarError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        let err = assert_import_fails_unchanged(&car[..20]);
        assert!(matches!(err, CarError::Truncated { .. }), "{err}");
    }

    #[test]
    fn flipped_byte_is_rejected_and_store_unchanged() {
        let (_root, _order, mut car) = exported();
        let at = car.len() - 10; // inside the last (large) block
        car[at] ^= 0x01;
        let err = assert_import_fails_unchanged(&car);
        assert!(
            matches!(
                err,
                CarError::Block {
                    source: BlockError::HashMismatch { .. }
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn incomplete_dag_with_pin_is_rejected() {
        let (root, order, _) = exported();
        let mut car = Vec::new();
        write(
            &mut car,
            &[*root.cid()],
            order[..5].iter().cloned().map(Ok::<_, CarError>),
        )
        .expect("write");
        let err = assert_import_fails_unchanged(&car);
        assert!(
            matches!(err, CarError::Store(StoreError::MissingBlock { .. })),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_headers_and_limits() {
        // version 3
        let mut car = vec![];
        let mut hdr = encode_header(&[]);
        let last = hdr.len() - 1;
        hdr[last] = 3;
        car.push(hdr.len() as u8);
        car.extend_from_slice(&hdr);
        assert!(matches!(
            Reader::new(&car[..]),
            Err(CarError::UnsupportedVersion { version: 3 })
        ));
        // Overlong varint.
        assert!(matches!(
            Reader::new(&[0xff; 12][..]),
            Err(CarError::BadVarint { .. })
        ));
        // Header too large.
        assert!(matches!(
            Reader::new(&[0x80, 0x80, 0x80, 0x01][..]),
            Err(CarError::HeaderTooLarge { .. })
        ));
        // Not a map.
        assert!(matches!(
            Reader::new(&[0x01, 0x01][..]),
            Err(CarError::BadHeader { .. })
        ));
        // Section too large.
        let mut car = Vec::new();
        write::<_, std::convert::Infallible>(&mut car, &[], []).expect("write");
        car.extend_from_slice(&[0x80, 0x80, 0x80, 0x02]);
        let mut reader = Reader::new(&car[..]).expect("header");
        assert!(matches!(
            reader.next(),
            Some(Err(CarError::SectionTooLarge { .. }))
        ));
        assert!(reader.next().is_none());
    }

    #[test]
    fn reads_carv2_payload() {
        let (root, order, v1) = exported();
        let mut v2 = V2_PRAGMA.to_vec();
        let data_offset = (V2_PRAGMA.len() + V2_HEADER + 5) as u64;
        let mut fixed = [0u8; V2_HEADER];
        fixed[16..24].copy_from_slice(&data_offset.to_le_bytes());
        fixed[24..32].copy_from_slice(&(v1.len() as u64).to_le_bytes());
        v2.extend_from_slice(&fixed);
        v2.extend_from_slice(&[0; 5]);
        v2.extend_from_slice(&v1);
        v2.extend_from_slice(b"index bytes that must be ignored");
        let reader = Reader::new(&v2[..]).expect("v2 header");
        assert_eq!(reader.roots(), &[*root.cid()]);
        let blocks: Vec<Block> = reader.collect::<Result<_, _>>().expect("blocks");
        assert_eq!(blocks, order);
    }

    proptest! {
        #[test]
        fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(reader) = Reader::new(&bytes[..]) {
                for item in reader.take(10) {
                    let _ = item;
                }
            }
        }

        #[test]
        fn header_round_trip(seeds in prop::collection::vec(any::<u64>(), 0..5)) {
            let roots: Vec<Cid> = seeds.iter().map(|s| raw(&s.to_le_bytes()).cid().to_owned()).collect();
            let mut car = Vec::new();
            write::<_, std::convert::Infallible>(&mut car, &roots, []).expect("write");
            let reader = Reader::new(&car[..]).expect("read");
            prop_assert_eq!(reader.roots(), &roots[..]);
        }
    }
}
