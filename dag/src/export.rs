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
            let node =
                Node::decode(&bytes).map_err(|source| ExportError::Decode { cid: *cid, source })?;
            let data = match &node.data {
                Some(d) => Some(
                    Data::decode(d).map_err(|source| ExportError::Decode { cid: *cid, source })?,
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
/// plain and HAMT-sharded directories; a path of more than [`MAX_TREE_DEPTH`] components
/// is refused.
pub fn resolve(source: &impl BlockSource, root: &Cid, path: &str) -> Result<Cid, ExportError> {
    let mut cid = *root;
    for (depth, name) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        check_depth(&cid, depth)?;
        cid = child(source, &cid, name)?;
    }
    Ok(cid)
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

/// Deepest file DAG the reader follows (guards against hostile DAGs).
const MAX_DEPTH: usize = 64;

/// Streams a byte range of a UnixFS file as a sequence of `Bytes` pieces.
pub struct FileReader<'s, S: BlockSource> {
    source: &'s S,
    /// Per level: the (child CID, content size) pairs not yet visited.
    stack: Vec<std::vec::IntoIter<(Cid, u64)>>,
    /// The root, already loaded by `open`.
    root: Option<Entry>,
    /// Bytes still to skip before output starts.
    skip: u64,
    /// Bytes still to produce.
    remaining: u64,
    size: u64,
    /// Blocks fetched ahead of use, in the order they will be visited.
    ahead: std::collections::VecDeque<(Cid, Result<Entry, ExportError>)>,
}

/// How many sibling blocks are fetched (and verified) in parallel ahead of the reader.
const READ_AHEAD: usize = 8;

impl<S: BlockSource> std::fmt::Debug for FileReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("size", &self.size)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<'s, S: BlockSource> FileReader<'s, S> {
    /// Opens the file at `cid` for reading `length` bytes (or to the end) from `offset`.
    pub fn open(
        source: &'s S,
        cid: &Cid,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Self, ExportError> {
        let entry = load(source, cid)?;
        match entry.kind() {
            Kind::File => {}
            Kind::Directory => return Err(ExportError::IsDirectory { cid: *cid }),
            _ => {
                return Err(ExportError::Invalid {
                    cid: *cid,
                    reason: "not a file",
                });
            }
        }
        let size = entry.filesize();
        let offset = offset.min(size);
        let remaining = length.map_or(size - offset, |l| l.min(size - offset));
        Ok(FileReader {
            source,
            stack: vec![vec![(*cid, size)].into_iter()],
            root: Some(entry),
            skip: offset,
            remaining,
            size,
            ahead: std::collections::VecDeque::new(),
        })
    }

    /// Total size of the file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes this reader will still produce.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next piece of the range, `None` when it is complete.
    pub fn next_piece(&mut self) -> Result<Option<Bytes>, ExportError> {
        while self.remaining > 0 {
            let Some(level) = self.stack.last_mut() else {
                return Err(ExportError::Invalid {
                    cid: Cid::default(),
                    reason: "file DAG shorter than its size",
                });
            };
            let Some((cid, size)) = level.next() else {
                self.stack.pop();
                continue;
            };
            if self.skip >= size && size > 0 {
                self.skip -= size;
                continue;
            }
            let entry = match self.root.take() {
                Some(root) => root,
                None => self.fetch(cid, size)?,
            };
            let data = match entry {
                Entry::Raw(bytes) => bytes,
                Entry::Pb(node, Some(d)) if matches!(d.kind, DataType::File | DataType::Raw) => {
                    if !node.links.is_empty() {
                        if d.blocksizes.len() != node.links.len() {
                            return Err(ExportError::Invalid {
                                cid,
                                reason: "blocksizes do not match links",
                            });
                        }
                        if self.stack.len() >= MAX_DEPTH {
                            return Err(ExportError::Invalid {
                                cid,
                                reason: "file DAG too deep",
                            });
                        }
                        let children: Vec<_> =
                            node.links.iter().map(|l| l.cid).zip(d.blocksizes).collect();
                        self.stack.push(children.into_iter());
                    }
                    d.data
                }
                _ => {
                    return Err(ExportError::Invalid {
                        cid,
                        reason: "file contains a non-file node",
                    });
                }
            };
            let len = data.len() as u64;
            if self.skip >= len {
                self.skip -= len;
                continue;
            }
            let start = self.skip as usize;
            let end = (self.skip + self.remaining).min(len) as usize;
            self.skip = 0;
            self.remaining -= (end - start) as u64;
            return Ok(Some(data.slice(start..end)));
        }
        Ok(None)
    }

    /// Loads `cid` (of content size `size`), fetching the siblings the range will need next
    /// in parallel on the way, so block reads and hash checks use every core.
    fn fetch(&mut self, cid: Cid, size: u64) -> Result<Entry, ExportError> {
        if let Some((ahead_cid, entry)) = self.ahead.pop_front() {
            if ahead_cid == cid {
                return entry;
            }
            self.ahead.clear();
        }
        let mut batch = vec![cid];
        let mut needed = size.saturating_sub(self.skip);
        if let Some(level) = self.stack.last() {
            for (next, next_size) in level.as_slice() {
                if batch.len() == READ_AHEAD || needed >= self.remaining {
                    break;
                }
                batch.push(*next);
                needed += next_size;
            }
        }
        if batch.len() == 1 {
            return load(self.source, &cid);
        }
        let source = self.source;
        let mut loaded: Vec<_> = batch
            .into_par_iter()
            .map(|c| (c, load(source, &c)))
            .collect();
        let first = loaded.remove(0).1;
        self.ahead.extend(loaded);
        first
    }

    /// Writes the rest of the range to `out`; returns the bytes written.
    pub fn copy_to(mut self, out: &mut impl io::Write) -> Result<u64, ExportError> {
        let mut n = 0;
        while let Some(piece) = self.next_piece()? {
            out.write_all(&piece).map_err(|source| ExportError::Io {
                path: "<output>".into(),
                source,
            })?;
            n += piece.len() as u64;
        }
        Ok(n)
    }
}

/// One node of a UnixFS tree met by [`walk_tree`].
#[derive(Debug, Clone)]
pub struct TreeNode {
    /// Its CID.
    pub cid: Cid,
    /// Its path below the walk's root, names joined with `/` (empty for the root).
    pub path: String,
    /// The decoded node.
    pub entry: Entry,
}

/// Walks the UnixFS tree under `root` depth-first, pre-order, directory entries in name
/// order: see [`TreeWalk`].
pub fn walk_tree<'s, S: BlockSource>(source: &'s S, root: &Cid) -> TreeWalk<'s, S> {
    TreeWalk {
        source,
        root: Some(*root),
        levels: Vec::new(),
        failed: false,
    }
}

/// The iterator of [`walk_tree`]: an explicit stack of one level per directory on the
/// current path (never the call stack). Entry names must be plain names (no `/`, `.`,
/// `..`, NUL or `\`) and unique within their directory, and no path may be longer than
/// [`MAX_TREE_DEPTH`] names; a violation (or any read error) ends the walk with an error.
pub struct TreeWalk<'s, S> {
    source: &'s S,
    /// The root, until it is visited.
    root: Option<Cid>,
    /// Per directory on the current path: its name and its entries not yet visited.
    levels: Vec<(String, std::vec::IntoIter<DirEntry>)>,
    failed: bool,
}

impl<S> std::fmt::Debug for TreeWalk<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeWalk")
            .field("depth", &self.levels.len())
            .finish_non_exhaustive()
    }
}

/// The entries of directory `cid`, checked to be safe to write out: plain names, each
/// once.
fn safe_entries(source: &impl BlockSource, cid: &Cid) -> Result<Vec<DirEntry>, ExportError> {
    let entries = list(source, cid)?;
    let mut names = HashSet::with_capacity(entries.len());
    for e in &entries {
        let safe = !e.name.is_empty()
            && e.name != "."
            && e.name != ".."
            && !e.name.contains(['/', '\\', '\0']);
        if !safe {
            return Err(ExportError::Invalid {
                cid: *cid,
                reason: "unsafe entry name",
            });
        }
        if !names.insert(e.name.as_str()) {
            return Err(ExportError::Invalid {
                cid: *cid,
                reason: "duplicate entry name",
            });
        }
    }
    Ok(entries)
}

impl<S: BlockSource> TreeWalk<'_, S> {
    fn step(&mut self) -> Result<Option<TreeNode>, ExportError> {
        let (cid, name) = match self.root.take() {
            Some(root) => (root, None),
            None => loop {
                let Some((_, entries)) = self.levels.last_mut() else {
                    return Ok(None);
                };
                match entries.next() {
                    Some(e) => break (e.cid, Some(e.name)),
                    None => {
                        self.levels.pop();
                    }
                }
            },
        };
        let mut path = String::new();
        for (dir, _) in self.levels.iter().skip(1) {
            path.push_str(dir);
            path.push('/');
        }
        if let Some(name) = &name {
            path.push_str(name);
        }
        let entry = load(self.source, &cid)?;
        if entry.kind() == Kind::Directory {
            let entries = safe_entries(self.source, &cid)?;
            if !entries.is_empty() {
                check_depth(&cid, self.levels.len())?;
            }
            self.levels
                .push((name.unwrap_or_default(), entries.into_iter()));
        }
        Ok(Some(TreeNode { cid, path, entry }))
    }
}

impl<S: BlockSource> Iterator for TreeWalk<'_, S> {
    type Item = Result<TreeNode, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.step();
        self.failed = step.is_err();
        step.transpose()
    }
}

/// Writes the UnixFS tree at `cid` to `dest` on disk: files, directories and symlinks,
/// walked with [`walk_tree`] (so its checks and depth limit apply).
///
/// Never writes outside `dest`: entry names must be plain names (no `/`, `.`, `..`),
/// names may not repeat within a directory, and an existing symlink or file in the way is
/// replaced rather than followed.
pub fn write_tree(
    source: &impl BlockSource,
    cid: &Cid,
    dest: &std::path::Path,
) -> Result<(), ExportError> {
    for node in walk_tree(source, cid) {
        let node = node?;
        let path = if node.path.is_empty() {
            dest.to_path_buf()
        } else {
            dest.join(&node.path)
        };
        write_node(source, &node, &path)?;
    }
    Ok(())
}

/// Writes one node of a tree at `dest` (a directory: only itself, not its entries).
fn write_node(
    source: &impl BlockSource,
    node: &TreeNode,
    dest: &std::path::Path,
) -> Result<(), ExportError> {
    let io_err = |source| ExportError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let cid = &node.cid;
    let existing = std::fs::symlink_metadata(dest).ok();
    let kind = node.entry.kind();
    match existing {
        Some(meta) if meta.is_dir() && kind != Kind::Directory => {
            return Err(io_err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a directory is in the way",
            )));
        }
        Some(meta) if !meta.is_dir() => std::fs::remove_file(dest).map_err(io_err)?,
        _ => {}
    }
    match kind {
        Kind::File => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dest)
                .map_err(io_err)?;
            let mut out = io::BufWriter::with_capacity(1 << 20, file);
            FileReader::open(source, cid, 0, None)?.copy_to(&mut out)?;
            io::Write::flush(&mut out).map_err(io_err)
        }
        Kind::Directory => {
            if !dest.is_dir() {
                std::fs::create_dir(dest).map_err(io_err)?;
            }
            Ok(())
        }
        Kind::Symlink => {
            let Entry::Pb(_, Some(d)) = &node.entry else {
                return Err(ExportError::Invalid {
                    cid: *cid,
                    reason: "symlink without data",
                });
            };
            let target = String::from_utf8_lossy(&d.data).into_owned();
            symlink(&target, dest).map_err(io_err)
        }
        Kind::Other => Err(ExportError::Invalid {
            cid: *cid,
            reason: "not a UnixFS file or directory",
        }),
    }
}

#[cfg(unix)]
fn symlink(target: &str, dest: &std::path::Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn symlink(target: &str, dest: &std::path::Path) -> io::Result<()> {
    std::fs::write(dest, target)
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
