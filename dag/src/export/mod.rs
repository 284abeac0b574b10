//! The UnixFS exporter: DAG in, bytes and listings out.
//!
//! Everything reads through a [`BlockSource`], so it works over the local store now and
//! over the network later. File reads are streaming: [`FileReader`] walks the DAG with an
//! explicit stack, uses `blocksizes` to skip whole subtrees when seeking, and holds at most
//! one node per level plus the current leaf.
//!
//! Every walk here is iterative and bounded, so a hostile DAG cannot exhaust the stack:
//! paths and directory trees nest at most [`MAX_TREE_DEPTH`] levels, a HAMT at most
//! [`hamt::max_levels`] (what its 64-bit hash allows), each HAMT shard is visited once,
//! and a file DAG at most 64 levels.

use crate::block::{Cid, DAG_PB, RAW, identity_data};
use crate::hamt;
use crate::pb::Node;
use crate::unixfs::{Data, DataType};
use crate::{BlockSource, DecodeError, SourceError};
use bytes::Bytes;
use rayon::prelude::*;
use std::collections::HashSet;
use std::io;

mod file;
mod tree;

pub use file::FileReader;
pub use tree::{TreeNode, TreeWalk, walk_tree, write_tree};

/// The deepest UnixFS tree the exporter follows: a content path takes at most this many
/// steps, and [`walk_tree`] (behind `get`, to disk or as a tar) refuses directories
/// nested deeper. 2048 is the deepest tree whose every path still fits Linux's `PATH_MAX`
/// of 4096 bytes (one-character names and their separators), so no tree that could be
/// written out is refused; anything deeper is broken or hostile.
pub const MAX_TREE_DEPTH: usize = 2048;

/// Errors while reading a DAG.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A block was missing or could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A block did not decode.
    #[error("block {cid} is malformed: {source}")]
    Decode {
        /// The bad block.
        cid: Cid,
        /// What was wrong.
        source: DecodeError,
    },
    /// A path component does not exist.
    #[error("no link named {name:?} under {cid}")]
    NoLink {
        /// The directory searched.
        cid: Cid,
        /// The missing name.
        name: String,
    },
    /// The operation needs a file, but this is something else.
    #[error("{cid} is a directory")]
    IsDirectory {
        /// The node.
        cid: Cid,
    },
    /// The operation needs a directory.
    #[error("{cid} is not a directory")]
    NotDirectory {
        /// The node.
        cid: Cid,
    },
    /// The codec is not one this exporter understands.
    #[error("{cid}: unsupported codec 0x{codec:x}")]
    UnsupportedCodec {
        /// The node.
        cid: Cid,
        /// Its codec.
        codec: u64,
    },
    /// The DAG's structure is inconsistent (sizes or types that do not add up).
    #[error("{cid}: invalid UnixFS structure: {reason}")]
    Invalid {
        /// The node.
        cid: Cid,
        /// What was wrong.
        reason: &'static str,
    },
    /// A path or a directory tree nests deeper than [`MAX_TREE_DEPTH`].
    #[error("{cid}: nested deeper than {limit} levels")]
    TooDeep {
        /// Where the limit was reached.
        cid: Cid,
        /// The limit.
        limit: usize,
    },
    /// The path ends inside a node (at a value that is not a link), not at a block.
    #[error("path ends inside {cid} at {rem:?}, not at a block")]
    NotABlock {
        /// The node the path ends in.
        cid: Cid,
        /// The rest of the path inside it.
        rem: String,
    },
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Io {
        /// Where.
        path: std::path::PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// What a UnixFS node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file (dag-pb File/Raw node or a raw block).
    File,
    /// A plain or sharded directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (metadata nodes, non-UnixFS dag-pb, other codecs).
    Other,
}

/// A decoded UnixFS node.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A raw block: the whole content.
    Raw(Bytes),
    /// A dag-pb node with its UnixFS data (or `None` when it carries none).
    Pb(Node, Option<Data>),
}

/// Fetches `cid` (identity CIDs inline) from the source.
pub fn get(source: &impl BlockSource, cid: &Cid) -> Result<Bytes, ExportError> {
    if let Some(data) = identity_data(cid) {
        return Ok(Bytes::copy_from_slice(data));
    }
    Ok(source.get_block(cid)?)
}

/// Fetches and decodes a UnixFS node.
pub fn load(source: &impl BlockSource, cid: &Cid) -> Result<Entry, ExportError> {
    let bytes = get(source, cid)?;
    match cid.codec() {
        RAW => Ok(Entry::Raw(bytes)),
        DAG_PB => {
            // Slices of the block, not copies: a file's bytes are copied once, to the reader.
            let node = Node::decode_shared(&bytes)
                .map_err(|source| ExportError::Decode { cid: *cid, source })?;
            let data = match &node.data {
                Some(d) => Some(
                    Data::decode_shared(d)
                        .map_err(|source| ExportError::Decode { cid: *cid, source })?,
                ),
                None => None,
            };
            Ok(Entry::Pb(node, data))
        }
        codec => Err(ExportError::UnsupportedCodec { cid: *cid, codec }),
    }
}

impl Entry {
    /// The kind of node.
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Raw(_) => Kind::File,
            Entry::Pb(_, Some(d)) => match d.kind {
                DataType::File | DataType::Raw => Kind::File,
                DataType::Directory | DataType::HamtShard => Kind::Directory,
                DataType::Symlink => Kind::Symlink,
                DataType::Metadata => Kind::Other,
            },
            Entry::Pb(_, None) => Kind::Other,
        }
    }

    /// Content size for files (and symlink target length); 0 otherwise.
    pub fn filesize(&self) -> u64 {
        match self {
            Entry::Raw(b) => b.len() as u64,
            Entry::Pb(_, Some(d)) => match d.kind {
                DataType::File | DataType::Raw => d.filesize.unwrap_or(d.data.len() as u64),
                DataType::Symlink => d.data.len() as u64,
                _ => 0,
            },
            Entry::Pb(_, None) => 0,
        }
    }
}

/// Follows `path` (components separated by '/', empty ones ignored) from `root` through
/// plain and HAMT-sharded directories and through dag-cbor/dag-json links (see
/// [`resolve_ipld`]); a path that ends inside a node rather than at a block is refused
/// ([`ExportError::NotABlock`]), as is one of more than [`MAX_TREE_DEPTH`] steps.
pub fn resolve(source: &impl BlockSource, root: &Cid, path: &str) -> Result<Cid, ExportError> {
    let r = resolve_ipld(source, root, path)?;
    if r.rem.is_empty() {
        Ok(r.cid)
    } else {
        Err(ExportError::NotABlock {
            cid: r.cid,
            rem: r.rem.join("/"),
        })
    }
}

/// Where a content path led: the last block reached and what is left of the path inside
/// it (Kubo's `dag resolve` answer: `Cid` and `RemPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpldPath {
    /// The last block reached.
    pub cid: Cid,
    /// The segments left inside that block (empty when the path ends at the block).
    pub rem: Vec<String>,
    /// The root, then for each path segment the block its prefix of the path resolves to
    /// (the gateway's `X-Ipfs-Roots`, in boxo's form: a segment that stays inside a
    /// dag-cbor/dag-json node repeats that node's CID). One more entry than segments.
    pub roots: Vec<Cid>,
}

/// Follows `path` from `root` across blocks of every codec that has links: a dag-pb
/// segment names a link (through HAMT shards too); in dag-cbor and dag-json the segments
/// are map keys and list indexes, and the walk moves to the next block at each link it
/// meets. It stops when the path runs out or ends inside a node (then [`IpldPath::rem`]
/// holds the rest). Iterative; at most [`MAX_TREE_DEPTH`] blocks are crossed.
pub fn resolve_ipld(
    source: &impl BlockSource,
    root: &Cid,
    path: &str,
) -> Result<IpldPath, ExportError> {
    use crate::codec::{self, Codec, PathError, Resolved};
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut cid = *root;
    let mut roots = vec![cid];
    let mut i = 0;
    let mut steps = 0;
    while i < segs.len() {
        check_depth(&cid, steps)?;
        steps += 1;
        match Codec::of(&cid) {
            Codec::DagCbor | Codec::DagJson => {
                let data = get(source, &cid)?;
                let value = codec::decode(Codec::of(&cid), &data)
                    .map_err(|source| ExportError::Decode { cid, source })?;
                match codec::resolve_in_node(&value, &segs[i..]) {
                    Ok(Resolved::Link {
                        cid: next,
                        consumed,
                    }) => {
                        // Segments before the link stay inside this node.
                        roots.extend(std::iter::repeat_n(cid, consumed.saturating_sub(1)));
                        if consumed > 0 {
                            roots.push(next);
                        }
                        i += consumed;
                        cid = next;
                    }
                    Ok(Resolved::Value(_)) => {
                        roots.extend(std::iter::repeat_n(cid, segs.len() - i));
                        return Ok(IpldPath {
                            cid,
                            rem: segs[i..].iter().map(|s| s.to_string()).collect(),
                            roots,
                        });
                    }
                    Err(
                        PathError::NoField { segment } | PathError::NotContainer { segment, .. },
                    ) => {
                        return Err(ExportError::NoLink { cid, name: segment });
                    }
                }
            }
            _ => {
                cid = child(source, &cid, segs[i])?;
                i += 1;
                roots.push(cid);
            }
        }
    }
    Ok(IpldPath {
        cid,
        rem: Vec::new(),
        roots,
    })
}

/// Refuses step `depth` (0-based) of a path at `cid` past [`MAX_TREE_DEPTH`].
pub(crate) fn check_depth(cid: &Cid, depth: usize) -> Result<(), ExportError> {
    if depth >= MAX_TREE_DEPTH {
        return Err(ExportError::TooDeep {
            cid: *cid,
            limit: MAX_TREE_DEPTH,
        });
    }
    Ok(())
}

/// The fanout of a HAMT shard, checked.
fn shard_fanout(cid: &Cid, d: &Data) -> Result<u64, ExportError> {
    let fanout = d.fanout.unwrap_or(hamt::DEFAULT_FANOUT);
    if !hamt::valid_fanout(fanout) {
        return Err(ExportError::Invalid {
            cid: *cid,
            reason: "bad HAMT fanout",
        });
    }
    Ok(fanout)
}

/// Loads the HAMT shard `cid` met at `level` (the root is level 0) below a root of
/// `fanout`: refused when no hash bits are left at that level, when it is not a shard, or
/// when its fanout differs from the root's.
fn load_sub_shard(
    source: &impl BlockSource,
    cid: &Cid,
    level: usize,
    fanout: u64,
) -> Result<Node, ExportError> {
    if level >= hamt::max_levels(fanout) as usize {
        return Err(ExportError::Invalid {
            cid: *cid,
            reason: "HAMT deeper than its 64-bit hash allows",
        });
    }
    match load(source, cid)? {
        Entry::Pb(n, Some(d)) if d.kind == DataType::HamtShard => {
            if shard_fanout(cid, &d)? != fanout {
                return Err(ExportError::Invalid {
                    cid: *cid,
                    reason: "HAMT shard fanout differs from its root's",
                });
            }
            Ok(n)
        }
        _ => Err(ExportError::Invalid {
            cid: *cid,
            reason: "HAMT child is not a shard",
        }),
    }
}

/// The CID of the entry `name` inside directory `dir`.
pub fn child(source: &impl BlockSource, dir: &Cid, name: &str) -> Result<Cid, ExportError> {
    let no_link = || ExportError::NoLink {
        cid: *dir,
        name: name.to_string(),
    };
    match load(source, dir)? {
        Entry::Pb(node, Some(d)) if d.kind == DataType::HamtShard => {
            let fanout = shard_fanout(dir, &d)?;
            let mut node = node;
            let mut depth = 0;
            loop {
                let (link, is_entry) =
                    hamt::lookup(&node, name, depth, fanout).ok_or_else(no_link)?;
                if is_entry {
                    return Ok(link.cid);
                }
                depth += 1;
                node = load_sub_shard(source, &link.cid, depth as usize, fanout)?;
            }
        }
        Entry::Pb(node, Some(d)) if d.kind == DataType::Directory => node
            .links
            .iter()
            .find(|l| l.name_str() == name)
            .map(|l| l.cid)
            .ok_or_else(no_link),
        // Plain dag-pb without UnixFS data: links are still navigable by name.
        Entry::Pb(node, None) => node
            .links
            .iter()
            .find(|l| l.name_str() == name)
            .map(|l| l.cid)
            .ok_or_else(no_link),
        _ => Err(ExportError::NotDirectory { cid: *dir }),
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Entry name.
    pub name: String,
    /// Entry CID.
    pub cid: Cid,
    /// Cumulative DAG size from the link.
    pub tsize: u64,
}

/// Lists a plain or sharded directory, in name order. Holds every entry at once: for a
/// directory from outside (a HAMT may hold millions of entries), use [`list_limited`] or
/// [`entries`].
pub fn list(source: &impl BlockSource, dir: &Cid) -> Result<Vec<DirEntry>, ExportError> {
    let walk = entries(source, dir)?;
    let sharded = walk.is_sharded();
    let mut out = walk.collect::<Result<Vec<_>, _>>()?;
    if sharded {
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}

/// At most `limit` entries of a plain or sharded directory, in name order, and whether
/// there were more (`true`: the listing is truncated). Memory and blocks fetched are
/// bounded by `limit`: the walk stops at the first entry past it, so a truncated HAMT
/// listing holds the first `limit` entries in the HAMT's own (hash) order, sorted.
pub fn list_limited(
    source: &impl BlockSource,
    dir: &Cid,
    limit: usize,
) -> Result<(Vec<DirEntry>, bool), ExportError> {
    let mut walk = entries(source, dir)?;
    let sharded = walk.is_sharded();
    let mut out = Vec::new();
    let mut truncated = false;
    for e in walk.by_ref() {
        let e = e?;
        if out.len() == limit {
            truncated = true;
            break;
        }
        out.push(e);
    }
    if sharded {
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok((out, truncated))
}

/// The entries of a plain or sharded directory, one at a time, in the directory's own
/// order (a plain directory's link order; a HAMT's depth-first slot order, as Kubo lists
/// it): see [`DirEntries`].
pub fn entries<'s, S: BlockSource>(
    source: &'s S,
    dir: &Cid,
) -> Result<DirEntries<'s, S>, ExportError> {
    let walk = match load(source, dir)? {
        Entry::Pb(node, Some(d)) if d.kind == DataType::HamtShard => {
            let fanout = shard_fanout(dir, &d)?;
            Walk::Shard {
                fanout,
                seen: HashSet::from([*dir]),
                stack: vec![(*dir, node.links.into_iter())],
            }
        }
        Entry::Pb(node, Some(d)) if d.kind == DataType::Directory => {
            Walk::Plain(node.links.into_iter())
        }
        _ => return Err(ExportError::NotDirectory { cid: *dir }),
    };
    Ok(DirEntries {
        source,
        walk,
        failed: false,
    })
}

/// The iterator of [`entries`]. A HAMT is walked depth-first with an explicit stack of at
/// most [`hamt::max_levels`] shards, one block at a time, so what it holds is one shard per
/// level plus the CIDs of the shards met; a shard met twice (a naive walk would list its
/// entries again, exponentially many times in a "diamond") makes the HAMT invalid. The
/// first error ends the iteration.
pub struct DirEntries<'s, S> {
    source: &'s S,
    walk: Walk,
    failed: bool,
}

enum Walk {
    Plain(std::vec::IntoIter<crate::pb::Link>),
    Shard {
        fanout: u64,
        seen: HashSet<Cid>,
        stack: Vec<(Cid, std::vec::IntoIter<crate::pb::Link>)>,
    },
}

impl<S> std::fmt::Debug for DirEntries<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirEntries")
            .field("sharded", &self.is_sharded())
            .finish_non_exhaustive()
    }
}

impl<S> DirEntries<'_, S> {
    /// Whether the directory is a HAMT (whose order is not name order).
    pub fn is_sharded(&self) -> bool {
        matches!(self.walk, Walk::Shard { .. })
    }
}

impl<S: BlockSource> DirEntries<'_, S> {
    fn step(&mut self) -> Result<Option<DirEntry>, ExportError> {
        let (fanout, seen, stack) = match &mut self.walk {
            Walk::Plain(links) => {
                return Ok(links.next().map(|l| DirEntry {
                    name: l.name.unwrap_or_default(),
                    cid: l.cid,
                    tsize: l.tsize.unwrap_or(0),
                }));
            }
            Walk::Shard {
                fanout,
                seen,
                stack,
            } => (*fanout, seen, stack),
        };
        let prefix = hamt::prefix_len(fanout);
        while let Some((cid, links)) = stack.last_mut() {
            let cid = *cid;
            let Some(l) = links.next() else {
                stack.pop();
                continue;
            };
            let name = l.name.unwrap_or_default();
            if name.len() < prefix || !name.is_char_boundary(prefix) {
                return Err(ExportError::Invalid {
                    cid,
                    reason: "HAMT link name shorter than its prefix",
                });
            }
            if name.len() == prefix {
                if !seen.insert(l.cid) {
                    return Err(ExportError::Invalid {
                        cid: l.cid,
                        reason: "HAMT shard linked more than once",
                    });
                }
                let shard = load_sub_shard(self.source, &l.cid, stack.len(), fanout)?;
                stack.push((l.cid, shard.links.into_iter()));
            } else {
                return Ok(Some(DirEntry {
                    name: name[prefix..].to_string(),
                    cid: l.cid,
                    tsize: l.tsize.unwrap_or(0),
                }));
            }
        }
        Ok(None)
    }
}

impl<S: BlockSource> Iterator for DirEntries<'_, S> {
    type Item = Result<DirEntry, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.step();
        self.failed = step.is_err();
        step.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Importer, Params};

    use crate::testutil::Mem;

    fn import(data: &[u8], params: Params) -> (Cid, Mem) {
        let mut blocks = Vec::new();
        let cid = Importer::new(params, &mut blocks)
            .expect("params")
            .add_reader(data, "")
            .expect("import")
            .cid;
        (
            cid,
            Mem(blocks.into_iter().map(|b| b.into_parts()).collect()),
        )
    }

    fn read(src: &Mem, cid: &Cid, off: u64, len: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        FileReader::open(src, cid, off, len)
            .expect("open")
            .copy_to(&mut out)
            .expect("read");
        out
    }

    #[test]
    fn ranges_over_deep_dags() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        for raw in [false, true] {
            let params = Params {
                chunk_size: 7,
                max_links: 3,
                raw_leaves: raw,
                ..Params::default()
            };
            let (cid, src) = import(&data, params);
            assert_eq!(read(&src, &cid, 0, None), data);
            for (off, len) in [
                (0u64, 1u64),
                (6, 2),
                (7, 7),
                (999, 1234),
                (9_990, 100),
                (10_000, 5),
                (3, 0),
            ] {
                let end = (off + len).min(10_000) as usize;
                assert_eq!(
                    read(&src, &cid, off, Some(len)),
                    data[off as usize..end],
                    "{off}+{len}"
                );
            }
        }
    }

    /// A directory of `n` entries named `e0`, `e1`, … (all the same tiny CID), plain or
    /// sharded, and its blocks.
    fn wide(n: usize, sharded: bool) -> (Cid, Mem) {
        let tiny = crate::block::parse_cid("bafkqaaa").expect("identity CID");
        let names = (0..n).map(|i| format!("e{i}"));
        let blocks = if sharded {
            let entries = names
                .map(|name| hamt::Entry {
                    name,
                    cid: tiny,
                    tsize: 0,
                })
                .collect();
            hamt::build(entries, crate::Version::V1, 256)
                .expect("HAMT")
                .0
        } else {
            let mut links: Vec<_> = names
                .map(|name| crate::pb::Link::new(tiny, name, 0))
                .collect();
            links.sort_by(|a, b| a.name.cmp(&b.name));
            let node = Node {
                links,
                data: Some(Bytes::from(Data::new(DataType::Directory).encode())),
            };
            vec![crate::Block::encode(
                crate::Version::V1,
                DAG_PB,
                node.encode(),
            )]
        };
        let root = *blocks.last().expect("a root").cid();
        (
            root,
            Mem(blocks.into_iter().map(|b| b.into_parts()).collect()),
        )
    }

    #[test]
    fn limited_listings_stop_at_the_limit_and_say_so() {
        for sharded in [false, true] {
            let (dir, src) = wide(3000, sharded);
            let (got, truncated) = list_limited(&src, &dir, 1000).expect("listed");
            assert_eq!(got.len(), 1000, "sharded: {sharded}");
            assert!(truncated, "sharded: {sharded}");
            assert!(
                got.windows(2).all(|w| w[0].name < w[1].name),
                "in name order"
            );
            // At the exact size, or above it: all of it, not truncated.
            for limit in [3000, 5000] {
                let (all, truncated) = list_limited(&src, &dir, limit).expect("listed");
                assert!(!truncated);
                assert_eq!(all, list(&src, &dir).expect("listed"));
                assert_eq!(all.len(), 3000);
            }
            let walked = entries(&src, &dir).expect("a directory").count();
            assert_eq!(walked, 3000);
        }
    }

    #[test]
    fn missing_blocks_are_named() {
        let data = vec![1u8; 100];
        let (cid, mut src) = import(
            &data,
            Params {
                chunk_size: 10,
                ..Params::default()
            },
        );
        let leaf = *src.0.keys().find(|k| **k != cid).expect("a leaf");
        src.0.remove(&leaf);
        let err = FileReader::open(&src, &cid, 0, None)
            .expect("root ok")
            .copy_to(&mut Vec::new());
        assert!(
            matches!(err, Err(ExportError::Source(SourceError::NotFound { cid })) if cid == leaf)
        );
    }
}
