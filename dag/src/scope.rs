//! Verifiable retrieval: which blocks a client needs to check a content path and what it
//! names, as the trustless gateway serves them (`dag-scope`, `entity-bytes`).
//!
//! Data flow: [`resolve_path`] follows `<root>/<path>` through a [`BlockSource`] and keeps
//! every block it read on the way (directories and HAMT shards); [`write_car`] then streams
//! those path blocks, followed by the blocks the [`Scope`] selects under the path's end, as a
//! CARv1 (depth-first, pre-order, each block once, identity CIDs never written). Nothing here
//! knows about HTTP: the gateway picks the scope from the request and maps errors to statuses.

use crate::block::{Block, Cid, DAG_PB, identity_data};
use crate::car::{CarError, WriteSummary};
use crate::export::{self, Entry, ExportError};
use crate::unixfs::DataType;
use crate::{BlockSource, SourceError, hamt};
use bytes::Bytes;
use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// What a CAR carries below the end of the content path (`dag-scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only the block the path ends at.
    Block,
    /// What it takes to read that entity: a whole UnixFS file (or the part `entity-bytes`
    /// names), a directory's own blocks (every shard of a HAMT), any other block alone.
    Entity,
    /// The whole DAG under the path's end.
    #[default]
    All,
}

impl Scope {
    /// Parses `block`, `entity` or `all`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "block" => Some(Scope::Block),
            "entity" => Some(Scope::Entity),
            "all" => Some(Scope::All),
            _ => None,
        }
    }

    /// The parameter's name for this scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Block => "block",
            Scope::Entity => "entity",
            Scope::All => "all",
        }
    }
}

/// `entity-bytes=from:to`: an inclusive byte range of a file, where a negative number
/// counts from the end and `to` may be `*` (the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityBytes {
    /// First byte (negative: from the end).
    pub from: i64,
    /// Last byte, inclusive (negative: from the end; `None`: `*`).
    pub to: Option<i64>,
}

impl EntityBytes {
    /// Parses `from:to`; `None` when malformed (the caller answers 400).
    pub fn parse(s: &str) -> Option<EntityBytes> {
        let (from, to) = s.split_once(':')?;
        let from: i64 = from.parse().ok()?;
        let to = match to {
            "*" => None,
            t => Some(t.parse::<i64>().ok()?),
        };
        // A non-negative `to` before a non-negative `from` can never select anything.
        if let Some(t) = to
            && from >= 0
            && t >= 0
            && t < from
        {
            return None;
        }
        Some(EntityBytes { from, to })
    }

    /// The half-open range `[start, end)` of a `size`-byte entity this selects, or `None`
    /// when it selects nothing.
    pub fn range(&self, size: u64) -> Option<(u64, u64)> {
        let at = |v: i64| -> u64 {
            if v >= 0 {
                (v as u64).min(size)
            } else {
                size.saturating_sub(v.unsigned_abs())
            }
        };
        let start = at(self.from);
        let end = match self.to {
            None => size,
            Some(t) if t >= 0 => (t as u64).saturating_add(1).min(size),
            Some(t) => at(t).saturating_add(1).min(size),
        };
        (start < end).then_some((start, end))
    }
}

/// A content path followed to its end.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The CID the path names.
    pub cid: Cid,
    /// The CID reached after each step: the root first, then one per block crossed (one
    /// per segment through UnixFS directories; `X-Ipfs-Roots`).
    pub roots: Vec<Cid>,
    /// The blocks read to follow the path (directories and HAMT shards), in order, each
    /// once; empty when the path is empty.
    pub blocks: Vec<Block>,
}

/// A [`BlockSource`] that keeps what was read through it.
struct Recorder<'s, S> {
    inner: &'s S,
    seen: Mutex<Vec<Block>>,
}

impl<S: BlockSource> BlockSource for Recorder<'_, S> {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        let data = self.inner.get_block(cid)?;
        if let Ok(mut seen) = self.seen.lock()
            && !seen.iter().any(|b| b.cid() == cid)
        {
            seen.push(Block::trusted(*cid, data.clone()));
        }
        Ok(data)
    }
}

/// Follows `path` (segments separated by `/`, empty ones skipped) from `root`, keeping
/// the blocks read on the way.
pub fn resolve_path(
    source: &impl BlockSource,
    root: &Cid,
    path: &str,
) -> Result<Resolved, ExportError> {
    let rec = Recorder {
        inner: source,
        seen: Mutex::new(Vec::new()),
    };
    let r = export::resolve_ipld(&rec, root, path)?;
    if !r.rem.is_empty() {
        return Err(ExportError::NotABlock {
            cid: r.cid,
            rem: r.rem.join("/"),
        });
    }
    let blocks = rec.seen.into_inner().unwrap_or_default();
    Ok(Resolved {
        cid: r.cid,
        roots: r.roots,
        blocks,
    })
}

/// Streams a CARv1 with `roots` in its header: the path blocks of `resolved`, then what
/// `scope` (and, for files, `bytes`) selects under its end. A block missing part-way is an
/// error after some output: the caller breaks the stream off.
pub fn write_car(
    source: &impl BlockSource,
    roots: &[Cid],
    resolved: &Resolved,
    scope: Scope,
    bytes: Option<EntityBytes>,
    out: impl Write,
) -> Result<WriteSummary, CarError> {
    let mut seen: HashSet<Cid> = HashSet::new();
    let path_blocks = resolved.blocks.iter().cloned().map(Ok::<_, CarError>);
    for b in &resolved.blocks {
        seen.insert(*b.cid());
    }
    let walk = Walk::new(source, resolved.cid, scope, bytes, seen);
    crate::car::write(out, roots, path_blocks.chain(walk))
}

/// One node still to visit: its CID and where its bytes start within the entity (files).
struct Frame {
    cid: Cid,
    offset: u64,
}

/// The depth-first walk below the path's end, as an iterator of blocks.
struct Walk<'s, S> {
    source: &'s S,
    scope: Scope,
    bytes: Option<EntityBytes>,
    /// The byte range selected, once the entity's size is known.
    range: Option<(u64, u64)>,
    stack: Vec<Frame>,
    seen: HashSet<Cid>,
    /// The next node visited is the path's end.
    first: bool,
    failed: bool,
}

impl<'s, S: BlockSource> Walk<'s, S> {
    fn new(
        source: &'s S,
        root: Cid,
        scope: Scope,
        bytes: Option<EntityBytes>,
        seen: HashSet<Cid>,
    ) -> Self {
        // `entity-bytes` implies the entity scope.
        let scope = if bytes.is_some() {
            Scope::Entity
        } else {
            scope
        };
        Walk {
            source,
            scope,
            bytes,
            range: None,
            stack: vec![Frame {
                cid: root,
                offset: 0,
            }],
            seen,
            first: true,
            failed: false,
        }
    }

    /// Visits one node: answers its block (`None` for identity CIDs and repeats) and
    /// pushes the children the scope wants.
    fn visit(&mut self, frame: Frame) -> Result<Option<Block>, CarError> {
        let cid = frame.cid;
        let is_root = std::mem::take(&mut self.first);
        if !self.seen.insert(cid) {
            return Ok(None);
        }
        let data = match identity_data(&cid) {
            Some(inline) => Bytes::copy_from_slice(inline),
            None => export::get(self.source, &cid).map_err(export_to_car)?,
        };
        let block = (identity_data(&cid).is_none()).then(|| Block::trusted(cid, data.clone()));
        match self.scope {
            Scope::Block => {}
            // Every codec's links (dag-cbor and dag-json too; raw, json, cbor and unknown
            // codecs have none).
            Scope::All => {
                let links = crate::codec::links(&cid, &data)
                    .map_err(|source| CarError::Decode { cid, source })?;
                self.stack
                    .extend(links.into_iter().rev().map(|cid| Frame { cid, offset: 0 }));
            }
            // An entity that is not UnixFS is its block (the trustless gateway spec).
            Scope::Entity if cid.codec() != DAG_PB => {}
            Scope::Entity => self.push_entity_children(cid, &data, frame.offset, is_root)?,
        }
        Ok(block)
    }

    fn push_entity_children(
        &mut self,
        cid: Cid,
        data: &Bytes,
        offset: u64,
        is_root: bool,
    ) -> Result<(), CarError> {
        let entry = export::load(&Preloaded { cid, data }, &cid).map_err(export_to_car)?;
        let Entry::Pb(node, Some(d)) = entry else {
            return Ok(());
        };
        match d.kind {
            DataType::File | DataType::Raw => {
                if is_root {
                    let size = d.filesize.unwrap_or(d.data.len() as u64);
                    self.range = match self.bytes {
                        Some(b) => match b.range(size) {
                            Some(r) => Some(r),
                            // Nothing selected: the root block alone (as dag-scope=block).
                            None => return Ok(()),
                        },
                        None => Some((0, size)),
                    };
                }
                let Some((start, end)) = self.range else {
                    return Ok(());
                };
                if node.links.len() != d.blocksizes.len() {
                    return Err(CarError::Decode {
                        cid,
                        source: crate::DecodeError::Invalid {
                            what: "UnixFS file",
                            reason: "blocksizes do not match links",
                        },
                    });
                }
                let mut at = offset.saturating_add(d.data.len() as u64);
                let mut children = Vec::new();
                for (link, size) in node.links.iter().zip(&d.blocksizes) {
                    let child_end = at.saturating_add(*size);
                    if child_end > start && at < end {
                        children.push(Frame {
                            cid: link.cid,
                            offset: at,
                        });
                    }
                    at = child_end;
                }
                self.stack.extend(children.into_iter().rev());
            }
            DataType::HamtShard => {
                // The directory's own blocks: every sub-shard, not the entries.
                let prefix = hamt::prefix_len(d.fanout.unwrap_or(hamt::DEFAULT_FANOUT));
                let shards: Vec<Frame> = node
                    .links
                    .iter()
                    .filter(|l| l.name_str().len() == prefix)
                    .map(|l| Frame {
                        cid: l.cid,
                        offset: 0,
                    })
                    .collect();
                self.stack.extend(shards.into_iter().rev());
            }
            _ => {}
        }
        Ok(())
    }
}

impl<S: BlockSource> Iterator for Walk<'_, S> {
    type Item = Result<Block, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while let Some(frame) = self.stack.pop() {
            match self.visit(frame) {
                Ok(Some(block)) => return Some(Ok(block)),
                Ok(None) => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// A source holding one block already read.
struct Preloaded<'a> {
    cid: Cid,
    data: &'a Bytes,
}

impl BlockSource for Preloaded<'_> {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        if *cid == self.cid {
            Ok(self.data.clone())
        } else {
            Err(SourceError::NotFound { cid: *cid })
        }
    }
}

fn export_to_car(e: ExportError) -> CarError {
    match e {
        ExportError::Source(s) => CarError::from(s),
        ExportError::Decode { cid, source } => CarError::Decode { cid, source },
        other => CarError::Export(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::car::Reader;
    use crate::import::{Importer, Params};
    use crate::pb::{Link, Node};
    use crate::unixfs::Data;
    use std::collections::HashMap;

    use crate::testutil::Mem;

    #[test]
    fn entity_bytes_ranges() {
        let p = |s| EntityBytes::parse(s).expect("parses");
        assert_eq!(p("0:*").range(100), Some((0, 100)));
        assert_eq!(p("10:19").range(100), Some((10, 20)));
        assert_eq!(p("-10:*").range(100), Some((90, 100)));
        assert_eq!(p("5:-10").range(100), Some((5, 91)));
        assert_eq!(p("0:1000").range(100), Some((0, 100)));
        assert_eq!(p("100:*").range(100), None);
        assert_eq!(p("-1000:*").range(100), Some((0, 100)));
        assert_eq!(p("50:-60").range(100), None);
        assert!(EntityBytes::parse("5:4").is_none());
        assert!(EntityBytes::parse("a:b").is_none());
        assert!(EntityBytes::parse("5").is_none());
        assert!(EntityBytes::parse("99999999999999999999:*").is_none());
    }

    fn blocks_of(car: &[u8]) -> Vec<Cid> {
        Reader::new(car)
            .expect("header")
            .map(|b| *b.expect("block").cid())
            .collect()
    }

    /// A 5 MiB file in 256 KiB leaves under a 4-wide tree, inside a directory.
    fn fixture() -> (Mem, Cid, Cid, Vec<u8>) {
        let data: Vec<u8> = (0..(5u32 << 20)).map(|i| (i * 7 + i / 251) as u8).collect();
        let params = Params {
            chunk_size: 256 << 10,
            max_links: 4,
            ..Params::default()
        };
        let mut blocks = Vec::new();
        let file = Importer::new(params, &mut blocks)
            .expect("params")
            .add_reader(&data[..], "")
            .expect("import")
            .cid;
        let dir = Node {
            links: vec![Link::new(file, "f.bin", data.len() as u64)],
            data: Some(Bytes::from(Data::new(DataType::Directory).encode())),
        };
        let dir = Block::encode(crate::Version::V0, DAG_PB, dir.encode());
        let dir_cid = *dir.cid();
        blocks.push(dir);
        (
            Mem(blocks.into_iter().map(|b| b.into_parts()).collect()),
            dir_cid,
            file,
            data,
        )
    }

    /// A dag-json root → dag-cbor node → raw leaf and dag-pb node → raw leaf.
    fn mixed_codec_fixture() -> (Mem, Cid, Vec<Cid>) {
        use crate::codec::{Codec, Ipld, encode};
        use std::collections::BTreeMap;
        let leaf_a = Block::encode(crate::Version::V1, crate::block::RAW, &b"a"[..]);
        let leaf_b = Block::encode(crate::Version::V1, crate::block::RAW, &b"b"[..]);
        let pb = crate::testutil::node_named(&[&leaf_b], "b", b"pb");
        let link_map = |links: Vec<(&str, Cid)>| {
            Ipld::Map(
                links
                    .into_iter()
                    .map(|(k, c)| (k.to_string(), Ipld::Link(c)))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let ipld = |codec: Codec, v: &Ipld| {
            Block::encode(
                crate::Version::V1,
                codec.code(),
                encode(codec, v).expect("encode"),
            )
        };
        let cbor = ipld(Codec::DagCbor, &link_map(vec![("a", *leaf_a.cid())]));
        let root = ipld(
            Codec::DagJson,
            &link_map(vec![("c", *cbor.cid()), ("p", *pb.cid())]),
        );
        let order = vec![
            *root.cid(),
            *cbor.cid(),
            *leaf_a.cid(),
            *pb.cid(),
            *leaf_b.cid(),
        ];
        let src = Mem([root.clone(), cbor, leaf_a, pb, leaf_b]
            .into_iter()
            .map(Block::into_parts)
            .collect());
        (src, *root.cid(), order)
    }

    #[test]
    fn scope_all_and_car_export_follow_every_codec() {
        let (src, root, order) = mixed_codec_fixture();
        let resolved = resolve_path(&src, &root, "").expect("resolve");
        let mut out = Vec::new();
        write_car(&src, &[root], &resolved, Scope::All, None, &mut out).expect("car");
        assert_eq!(blocks_of(&out), order);
        let mut out = Vec::new();
        write_car(&src, &[root], &resolved, Scope::Entity, None, &mut out).expect("car");
        assert_eq!(
            blocks_of(&out),
            vec![root],
            "a dag-json node is its own entity"
        );
        let mut out = Vec::new();
        crate::car::export(&src, &root, &mut out).expect("export");
        assert_eq!(blocks_of(&out), order);
    }

    #[test]
    fn scopes_select_what_the_spec_says() {
        let (src, dir, file, data) = fixture();
        let resolved = resolve_path(&src, &dir, "f.bin").expect("resolve");
        assert_eq!(resolved.cid, file);
        assert_eq!(resolved.roots, vec![dir, file]);
        assert_eq!(resolved.blocks.len(), 1);

        let car_bytes = |scope, bytes| {
            let mut out = Vec::new();
            write_car(&src, &[dir], &resolved, scope, bytes, &mut out).expect("car");
            out
        };
        let car = |scope, bytes| blocks_of(&car_bytes(scope, bytes));
        let all = car(Scope::All, None);
        assert_eq!(all[..2], [dir, file]);
        // 20 leaves, 5 + 2 internal nodes, the file root, the directory.
        assert_eq!(all.len(), 29);
        assert_eq!(car(Scope::Block, None), vec![dir, file]);
        assert_eq!(car(Scope::Entity, None), all);
        // The first byte: the directory, the file root, one node per level, one leaf.
        let first = car(Scope::Entity, EntityBytes::parse("0:0"));
        assert_eq!(first.len(), 5, "{first:?}");
        // The last 1 KiB: the last leaf and its ancestors.
        let last = car(Scope::Entity, EntityBytes::parse("-1024:*"));
        assert_eq!(last.len(), 5);
        assert_ne!(first[4], last[4]);
        // Outside the file: the file's root only.
        assert_eq!(
            car(Scope::Entity, EntityBytes::parse("999999999:*")),
            vec![dir, file]
        );
        // A middle range reads back from the CAR's blocks alone.
        let mid = car_bytes(Scope::Entity, EntityBytes::parse("1000000:2000000"));
        let only: HashMap<Cid, Bytes> = Reader::new(&mid[..])
            .expect("header")
            .map(|b| b.expect("verified block").into_parts())
            .collect();
        assert!(only.len() < all.len());
        let mut got = Vec::new();
        export::FileReader::open(&Mem(only), &file, 1_000_000, Some(1_000_001))
            .expect("open")
            .copy_to(&mut got)
            .expect("the range reads from the CAR's blocks");
        assert_eq!(got, data[1_000_000..=2_000_000]);
        // The directory as an entity: its own block only.
        let res_dir = resolve_path(&src, &dir, "").expect("resolve");
        assert!(res_dir.blocks.is_empty());
        let mut out = Vec::new();
        write_car(&src, &[dir], &res_dir, Scope::Entity, None, &mut out).expect("car");
        assert_eq!(blocks_of(&out), vec![dir]);
    }

    #[test]
    fn missing_blocks_fail_the_resolution_and_break_the_car() {
        let (mut src, dir, file, _) = fixture();
        let missing = crate::block::cid_of(crate::Version::V1, DAG_PB, b"nope");
        assert!(matches!(
            resolve_path(&src, &missing, "a"),
            Err(ExportError::Source(SourceError::NotFound { .. }))
        ));
        assert!(matches!(
            resolve_path(&src, &dir, "nope"),
            Err(ExportError::NoLink { .. })
        ));
        let resolved = resolve_path(&src, &dir, "f.bin").expect("resolve");
        src.0.remove(&file);
        let mut out = Vec::new();
        let err = write_car(&src, &[dir], &resolved, Scope::All, None, &mut out);
        assert!(matches!(err, Err(CarError::Source(SourceError::NotFound { cid })) if cid == file));
    }

    #[test]
    fn ipld_paths_cross_dag_cbor_and_dag_json_with_one_root_per_segment() {
        use crate::codec::{self, Codec};
        use ipld_core::ipld::Ipld;
        use std::collections::BTreeMap;
        let (mut src, dir, file, _) = fixture();
        let enc = |codec: Codec, v: &Ipld| {
            let data = codec::encode(codec, v).expect("encode");
            Block::encode(crate::Version::V1, codec.code(), data)
        };
        let map = |kv: Vec<(&str, Ipld)>| {
            Ipld::Map(
                kv.into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        // dag-json {"dir": <dir>, "n": 1} under dag-cbor {"a": {"b": <json>}, "x": [1, 2]}.
        let json = enc(
            Codec::DagJson,
            &map(vec![("dir", Ipld::Link(dir)), ("n", Ipld::Integer(1))]),
        );
        let cbor = enc(
            Codec::DagCbor,
            &map(vec![
                ("a", map(vec![("b", Ipld::Link(*json.cid()))])),
                ("x", Ipld::List(vec![Ipld::Integer(1), Ipld::Integer(2)])),
            ]),
        );
        let (j, c) = (*json.cid(), *cbor.cid());
        for b in [json, cbor] {
            let (cid, data) = b.into_parts();
            src.0.insert(cid, data);
        }
        // Through both codecs into the UnixFS directory and its file.
        let r = resolve_path(&src, &c, "a/b/dir/f.bin").expect("resolve");
        assert_eq!(r.cid, file);
        assert_eq!(r.roots, vec![c, c, j, dir, file]);
        let read: Vec<Cid> = r.blocks.iter().map(|b| *b.cid()).collect();
        assert_eq!(read, vec![c, j, dir]);
        // Ending at a link: the linked block.
        let r = resolve_path(&src, &c, "a/b").expect("resolve");
        assert_eq!((r.cid, r.roots), (j, vec![c, c, j]));
        // Ending inside a node at a value that is not a link.
        let inside = export::resolve_ipld(&src, &c, "x/1").expect("resolve");
        assert_eq!(inside.cid, c);
        assert_eq!(inside.rem, ["x", "1"]);
        assert_eq!(inside.roots, vec![c, c, c]);
        assert!(matches!(
            resolve_path(&src, &c, "a/b/n"),
            Err(ExportError::NotABlock { cid, rem }) if cid == j && rem == "n"
        ));
        assert!(matches!(
            resolve_path(&src, &c, "a/nope"),
            Err(ExportError::NoLink { .. })
        ));
        // dag-scope=all below a dag-cbor root follows its links through every codec;
        // entity and block stop at the node.
        let at_root = resolve_path(&src, &c, "").expect("resolve");
        let car = |scope| {
            let mut out = Vec::new();
            write_car(&src, &[c], &at_root, scope, None, &mut out).expect("car");
            blocks_of(&out)
        };
        let all = car(Scope::All);
        assert_eq!(all[..4], [c, j, dir, file]);
        // The two nodes, the directory, the file root, 7 inner nodes and 20 leaves.
        assert_eq!(all.len(), 3 + 28, "{all:?}");
        assert_eq!(car(Scope::Entity), vec![c]);
        assert_eq!(car(Scope::Block), vec![c]);
    }
}
