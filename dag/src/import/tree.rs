//! The one directory builder: a tree of entries placed by relative path, in any order.
//!
//! Data flow: entries ([`TreeEntry`]) arrive from a filesystem walk ([`super::dir`]) or from
//! an RPC multipart upload. Each file or symlink is imported the moment it arrives and only
//! its `(cid, tsize)` is kept; directories are just link lists (name → child) in a
//! [`DirTree`]. When the input ends, [`DirTree::finish`] builds every directory deepest
//! first, children in name order, so the CIDs never depend on arrival order, and reports
//! the directories in post-order. Memory is bounded by the link lists, never by contents.

use super::{Added, ImportError, Importer, Sink};
use crate::block::Cid;
use crate::pb::Link;
use std::collections::{BTreeMap, btree_map};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// One entry of a tree to add, named by its '/'-separated path relative to the import root
/// (`dir`, `dir/sub`, `dir/sub/file.txt`), as in Kubo's multipart `add` upload.
#[derive(Debug)]
pub enum TreeEntry<R> {
    /// A regular file and its content.
    File {
        /// Relative path.
        path: String,
        /// The content, read once, to the end.
        reader: R,
    },
    /// A directory (possibly empty). Parents implied by a child's path need not be sent.
    Dir {
        /// Relative path.
        path: String,
    },
    /// A symbolic link.
    Symlink {
        /// Relative path.
        path: String,
        /// The link target, stored as is.
        target: String,
    },
}

impl<R> TreeEntry<R> {
    /// The entry's relative path.
    pub fn path(&self) -> &str {
        match self {
            TreeEntry::File { path, .. }
            | TreeEntry::Dir { path }
            | TreeEntry::Symlink { path, .. } => path,
        }
    }
}

/// Why a path cannot be placed in the tree being added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path starts with '/'.
    Absolute,
    /// The path has an empty component (`a//b`, a trailing '/').
    EmptyComponent,
    /// The path has a `.` or `..` component.
    DotComponent,
    /// A component is not a valid UnixFS link name (it contains a NUL byte).
    InvalidName,
    /// The name is already used in its directory (a duplicate, or a file/directory clash).
    Duplicate,
    /// A parent on the path was added as a file or symlink.
    ParentNotDirectory,
    /// A path given on the command line has no base name (`..`, `/`) to be listed under.
    NoName,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathProblem::Empty => "empty path",
            PathProblem::Absolute => "absolute path (paths must be relative)",
            PathProblem::EmptyComponent => "empty path component",
            PathProblem::DotComponent => "'.' and '..' are not allowed in paths",
            PathProblem::InvalidName => "not a valid UnixFS link name",
            PathProblem::Duplicate => "name already used in its directory",
            PathProblem::ParentNotDirectory => "a parent is not a directory",
            PathProblem::NoName => "has no base name to add it under",
        })
    }
}

fn bad(path: &str, problem: PathProblem) -> ImportError {
    ImportError::BadPath {
        path: path.to_string(),
        problem,
    }
}

/// Splits `path` into its parent components and its name, validating each component.
fn split(path: &str) -> Result<(Vec<&str>, &str), ImportError> {
    if path.is_empty() {
        return Err(bad(path, PathProblem::Empty));
    }
    if path.starts_with('/') {
        return Err(bad(path, PathProblem::Absolute));
    }
    let mut comps: Vec<&str> = path.split('/').collect();
    for c in &comps {
        match *c {
            "" => return Err(bad(path, PathProblem::EmptyComponent)),
            "." | ".." => return Err(bad(path, PathProblem::DotComponent)),
            c if c.contains('\0') => return Err(bad(path, PathProblem::InvalidName)),
            _ => {}
        }
    }
    let name = comps.pop().unwrap_or_default();
    Ok((comps, name))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

#[derive(Debug)]
enum Child {
    /// An imported file or symlink.
    Leaf { cid: Cid, tsize: u64 },
    /// A directory: an index into [`DirTree::dirs`].
    Dir(usize),
}

#[derive(Debug)]
struct DirNode {
    /// Children by name; a `BTreeMap` iterates in byte order, the dag-pb link order.
    children: BTreeMap<String, Child>,
    /// Sent as a `Dir` entry (not only implied by a child's path).
    explicit: bool,
}

/// Where a file or symlink will go: the parent directory checked to have a free name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot(usize);

/// Directories as link lists, filled in any order and built at the end.
#[derive(Debug)]
pub(super) struct DirTree {
    /// An arena of directories; index 0 is the unnamed root holding the top-level entries.
    dirs: Vec<DirNode>,
    /// Top-level names in arrival order (the roots reported without wrapping).
    top: Vec<String>,
}

impl DirTree {
    pub(super) fn new() -> Self {
        DirTree {
            dirs: vec![DirNode {
                children: BTreeMap::new(),
                explicit: true,
            }],
            top: Vec::new(),
        }
    }

    /// Finds (creating implied directories) the parent of `path`; returns its index and the
    /// name of `path` in it.
    fn parent<'p>(&mut self, path: &'p str) -> Result<(usize, &'p str), ImportError> {
        let (parents, name) = split(path)?;
        let mut dir = 0;
        for comp in parents {
            dir = match self.dirs[dir].children.get(comp) {
                Some(Child::Dir(i)) => *i,
                Some(Child::Leaf { .. }) => {
                    return Err(bad(path, PathProblem::ParentNotDirectory));
                }
                None => self.add_dir(dir, comp, false),
            };
        }
        Ok((dir, name))
    }

    /// Checks that a file or symlink can be placed at `path`, before it is imported.
    pub(super) fn reserve(&mut self, path: &str) -> Result<Slot, ImportError> {
        let (dir, name) = self.parent(path)?;
        if self.dirs[dir].children.contains_key(name) {
            return Err(bad(path, PathProblem::Duplicate));
        }
        Ok(Slot(dir))
    }

    /// Places an imported file or symlink at `path`, in the slot [`Self::reserve`] gave.
    pub(super) fn fill(&mut self, slot: Slot, path: &str, cid: Cid, tsize: u64) {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.dirs[slot.0]
            .children
            .insert(name.to_string(), Child::Leaf { cid, tsize });
        if slot.0 == 0 {
            self.top.push(name.to_string());
        }
    }

    /// Adds the directory at `path`. It may already exist if a child implied it, but not
    /// twice explicitly.
    pub(super) fn insert_dir(&mut self, path: &str) -> Result<(), ImportError> {
        let (dir, name) = self.parent(path)?;
        if let Some(child) = self.dirs[dir].children.get(name) {
            // Only a directory that a child implied may still be sent explicitly.
            let implied = match child {
                Child::Dir(i) if !self.dirs[*i].explicit => Some(*i),
                _ => None,
            };
            let i = implied.ok_or_else(|| bad(path, PathProblem::Duplicate))?;
            self.dirs[i].explicit = true;
            return Ok(());
        }
        self.add_dir(dir, name, true);
        Ok(())
    }

    /// Creates the empty directory `name` in `parent`; returns its index.
    fn add_dir(&mut self, parent: usize, name: &str, explicit: bool) -> usize {
        let new = self.dirs.len();
        self.dirs.push(DirNode {
            children: BTreeMap::new(),
            explicit,
        });
        self.dirs[parent]
            .children
            .insert(name.to_string(), Child::Dir(new));
        if parent == 0 {
            self.top.push(name.to_string());
        }
        new
    }

    /// Builds every directory deepest first (children in name order), reporting each in
    /// post-order. Returns the top-level entries in arrival order, or with `wrap` a single
    /// unnamed directory (path "") holding them all, reported last.
    pub(super) fn finish<S: Sink>(
        self,
        imp: &mut Importer<'_, S>,
        wrap: bool,
    ) -> Result<Vec<Added>, ImportError> {
        /// A directory being built: the rest of its children, and the links done so far.
        struct Frame {
            name: String,
            path: String,
            pending: btree_map::IntoIter<String, Child>,
            links: Vec<Link>,
        }
        impl Frame {
            fn new(name: String, path: String, children: BTreeMap<String, Child>) -> Self {
                Frame {
                    name,
                    path,
                    links: Vec::with_capacity(children.len()),
                    pending: children.into_iter(),
                }
            }
        }

        let DirTree { mut dirs, top } = self;
        let root = std::mem::take(&mut dirs[0].children);
        // An explicit stack, not recursion: an uploaded path may be arbitrarily deep.
        let mut stack = vec![Frame::new(String::new(), String::new(), root)];
        while let Some(frame) = stack.last_mut() {
            match frame.pending.next() {
                Some((name, Child::Leaf { cid, tsize })) => {
                    frame.links.push(Link::new(cid, name, tsize));
                }
                Some((name, Child::Dir(i))) => {
                    let path = join(&frame.path, &name);
                    let children = std::mem::take(&mut dirs[i].children);
                    stack.push(Frame::new(name, path, children));
                }
                None => {
                    let Some(done) = stack.pop() else { break };
                    let Some(parent) = stack.last_mut() else {
                        // The unnamed root: its links are the top-level entries.
                        return if wrap {
                            let (cid, tsize) = imp.directory(done.links)?;
                            let added = Added {
                                path: String::new(),
                                cid,
                                tsize,
                            };
                            imp.emit_added(&added);
                            Ok(vec![added])
                        } else {
                            Ok(roots(&top, &done.links))
                        };
                    };
                    let (cid, tsize) = imp.directory(done.links)?;
                    let added = Added {
                        path: done.path,
                        cid,
                        tsize,
                    };
                    imp.emit_added(&added);
                    parent.links.push(Link::new(cid, done.name, tsize));
                }
            }
        }
        Ok(Vec::new())
    }
}

/// The top-level entries in arrival order, looked up in the root's name-sorted links.
fn roots(top: &[String], links: &[Link]) -> Vec<Added> {
    top.iter()
        .filter_map(|name| {
            let i = links
                .binary_search_by(|l| l.name_str().cmp(name.as_str()))
                .ok()?;
            Some(Added {
                path: name.clone(),
                cid: links[i].cid,
                tsize: links[i].tsize.unwrap_or(0),
            })
        })
        .collect()
}

impl<S: Sink> Importer<'_, S> {
    /// Imports one entry into `tree`: files and symlinks now (and reports them), directories
    /// later in [`DirTree::finish`]. `source` names the file in I/O errors when it differs
    /// from the entry's path (a file on disk).
    pub(super) fn tree_entry<R: Read + Send>(
        &mut self,
        tree: &mut DirTree,
        entry: TreeEntry<R>,
        source: Option<&Path>,
    ) -> Result<(), ImportError> {
        let (path, slot, (cid, tsize)) = match entry {
            TreeEntry::Dir { path } => return tree.insert_dir(&path),
            TreeEntry::File { path, reader } if path.is_empty() => {
                // An unnamed upload (a bare string or stdin) is named by its CID, as Kubo
                // does; it is reported with an empty path.
                let (cid, tsize) = self.file(reader, source.unwrap_or(Path::new("<unnamed>")))?;
                let name = cid.to_string();
                let slot = tree.reserve(&name)?;
                tree.fill(slot, &name, cid, tsize);
                self.emit_added(&Added { path, cid, tsize });
                return Ok(());
            }
            TreeEntry::File { path, reader } => {
                let slot = tree.reserve(&path)?;
                let out = self.file(reader, source.unwrap_or(Path::new(&path)))?;
                (path, slot, out)
            }
            TreeEntry::Symlink { path, target } => {
                let slot = tree.reserve(&path)?;
                let out = self.symlink(&target)?;
                (path, slot, out)
            }
        };
        tree.fill(slot, &path, cid, tsize);
        let added = Added { path, cid, tsize };
        self.emit_added(&added);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::{Event, HamtEstimation, Params};
    use super::*;
    use crate::block::{Block, Version};
    use crate::pb::Node;
    use crate::unixfs::{Data, DataType};
    use proptest::prelude::*;
    use std::fs;
    use std::io::Cursor;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    type Entry = TreeEntry<Cursor<Vec<u8>>>;

    /// Small chunks and a low HAMT threshold, so a few files make deep files and shards.
    fn small() -> Params {
        Params {
            chunk_size: 1024,
            max_links: 4,
            hamt_threshold: 1000,
            ..Params::default()
        }
    }

    fn small_v1() -> Params {
        Params {
            cid_version: Version::V1,
            raw_leaves: true,
            hamt_estimation: HamtEstimation::BlockBytes,
            ..small()
        }
    }

    /// The entries under `dir` on disk (added as `rel`) in walk order, found without
    /// [`super::super::dir::Walk`] so the two are checked against each other.
    fn entries_under(dir: &Path, rel: &str, out: &mut Vec<Entry>) {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = join(rel, &name);
            let meta = fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                out.push(TreeEntry::Dir { path: rel.clone() });
                entries_under(&path, &rel, out);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                let target = target.to_str().expect("utf-8").to_string();
                out.push(TreeEntry::Symlink { path: rel, target });
            } else {
                let reader = Cursor::new(fs::read(&path).expect("read"));
                out.push(TreeEntry::File { path: rel, reader });
            }
        }
    }

    /// The entries of the directory `root`, itself included, in walk order.
    fn walk(root: &Path) -> Vec<Entry> {
        let name = root.file_name().and_then(|n| n.to_str()).expect("name");
        let mut out = vec![TreeEntry::Dir {
            path: name.to_string(),
        }];
        entries_under(root, name, &mut out);
        out
    }

    fn file(path: &str, data: &[u8]) -> Entry {
        TreeEntry::File {
            path: path.to_string(),
            reader: Cursor::new(data.to_vec()),
        }
    }

    fn dir(path: &str) -> Entry {
        TreeEntry::Dir {
            path: path.to_string(),
        }
    }

    /// Runs `f` on a fresh importer; returns its result, the `Added` events and the blocks.
    fn run<T>(
        params: Params,
        f: impl FnOnce(&mut Importer<'_, Vec<Block>>) -> Result<T, ImportError>,
    ) -> Result<(T, Vec<Added>, Vec<Block>), ImportError> {
        let mut blocks = Vec::new();
        let mut seen = Vec::new();
        let mut on = |e: Event<'_>| {
            if let Event::Added(a) = e {
                seen.push(a.clone());
            }
        };
        let out = {
            let mut imp = Importer::new(params, &mut blocks)?.on_event(&mut on);
            f(&mut imp)?
        };
        Ok((out, seen, blocks))
    }

    fn tree(params: Params, entries: Vec<Entry>, wrap: bool) -> (Vec<Added>, Vec<Added>) {
        let (roots, seen, _) = run(params, |imp| {
            imp.add_tree(entries.into_iter().map(Ok), wrap)
        })
        .expect("add_tree");
        (roots, seen)
    }

    fn paths(events: &[Added]) -> Vec<&str> {
        events.iter().map(|a| a.path.as_str()).collect()
    }

    /// Nested and empty directories, an empty file, a symlink, a file of several chunks
    /// (two tree levels), a sharded directory and a hidden file (skipped on disk).
    fn fixture(base: &Path) -> PathBuf {
        let root = base.join("t");
        fs::create_dir_all(root.join("a/b/c")).expect("mkdir");
        fs::create_dir_all(root.join("a/empty")).expect("mkdir");
        fs::create_dir_all(root.join("empty")).expect("mkdir");
        fs::create_dir_all(root.join("shard")).expect("mkdir");
        fs::write(root.join("a/b/c/deep.txt"), b"deep").expect("write");
        fs::write(root.join("a/zero"), b"").expect("write");
        let big: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(root.join("big"), big).expect("write");
        for i in 0..40 {
            fs::write(root.join(format!("shard/f{i:02}")), [i as u8]).expect("write");
        }
        fs::write(root.join(".hidden"), b"h").expect("write");
        fs::write(root.join("z.txt"), b"z").expect("write");
        symlink("a/b", root.join("link")).expect("symlink");
        root
    }

    /// A deterministic Fisher-Yates shuffle.
    fn shuffle<T>(items: &mut [T], mut seed: u64) {
        for i in (1..items.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            items.swap(i, (seed >> 33) as usize % (i + 1));
        }
    }

    #[test]
    fn walk_order_entries_match_add_path() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = fixture(tmp.path());
        for params in [small(), small_v1()] {
            let (disk, disk_seen, blocks) =
                run(params.clone(), |imp| imp.add_path(&root, true)).expect("add_path");
            let (roots, seen) = tree(params.clone(), walk(&root), false);
            assert_eq!(roots, std::slice::from_ref(&disk));
            assert_eq!(seen, disk_seen);
            assert_eq!(disk.path, "t");
            let mut expected: Vec<String> = ["t/a/b/c/deep.txt", "t/a/zero", "t/big", "t/link"]
                .map(String::from)
                .into();
            expected.extend((0..40).map(|i| format!("t/shard/f{i:02}")));
            expected.extend(
                [
                    "t/z.txt",
                    "t/a/b/c",
                    "t/a/b",
                    "t/a/empty",
                    "t/a",
                    "t/empty",
                    "t/shard",
                    "t",
                ]
                .map(String::from),
            );
            assert_eq!(paths(&seen), expected);

            // The fixture does exercise multi-chunk files and sharding.
            let block = |cid: &Cid| {
                let b = blocks.iter().find(|b| b.cid() == cid).expect("block");
                let node = Node::decode(b.data()).expect("node");
                Data::decode(node.data.as_deref().unwrap_or_default()).expect("unixfs")
            };
            let find = |p: &str| seen.iter().find(|a| a.path == p).expect("event").cid;
            assert_eq!(block(&find("t/shard")).kind, DataType::HamtShard);
            assert_eq!(block(&find("t/a")).kind, DataType::Directory);
            assert!(!block(&find("t/big")).blocksizes.is_empty());
        }
    }

    #[test]
    fn arrival_order_does_not_change_cids() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = fixture(tmp.path());
        let (in_order, in_order_seen) = tree(small(), walk(&root), false);
        for seed in 0..8 {
            let mut entries = walk(&root);
            if seed == 0 {
                entries.reverse(); // Children before their parents.
            } else {
                shuffle(&mut entries, seed);
            }
            let arrival: Vec<String> = entries
                .iter()
                .filter(|e| !matches!(e, TreeEntry::Dir { .. }))
                .map(|e| e.path().to_string())
                .collect();
            let (roots, seen) = tree(small(), entries, false);
            assert_eq!(roots, in_order, "seed {seed}");
            // Files and symlinks in arrival order, then the same directories in post-order.
            let (files, dirs) = seen.split_at(arrival.len());
            assert_eq!(paths(files), arrival, "seed {seed}");
            assert_eq!(dirs, &in_order_seen[arrival.len()..], "seed {seed}");
            let mut all = seen.clone();
            let mut want = in_order_seen.clone();
            all.sort_by(|a, b| a.path.cmp(&b.path));
            want.sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(all, want, "seed {seed}");
        }
    }

    #[test]
    fn bad_paths_are_rejected() {
        let link = |p: &str| TreeEntry::Symlink {
            path: p.to_string(),
            target: "x".to_string(),
        };
        let cases: Vec<(Vec<Entry>, &str, PathProblem)> = vec![
            (
                vec![file("/etc/passwd", b"")],
                "/etc/passwd",
                PathProblem::Absolute,
            ),
            (vec![file("a//b", b"")], "a//b", PathProblem::EmptyComponent),
            (vec![dir("a/")], "a/", PathProblem::EmptyComponent),
            (
                vec![file("a/../b", b"")],
                "a/../b",
                PathProblem::DotComponent,
            ),
            (vec![dir("..")], "..", PathProblem::DotComponent),
            (vec![file("./a", b"")], "./a", PathProblem::DotComponent),
            (vec![file("a\0b", b"")], "a\0b", PathProblem::InvalidName),
            (
                vec![file("d/x", b"1"), file("d/x", b"2")],
                "d/x",
                PathProblem::Duplicate,
            ),
            (vec![dir("d"), dir("d")], "d", PathProblem::Duplicate),
            (
                vec![file("d/x", b""), dir("d/x")],
                "d/x",
                PathProblem::Duplicate,
            ),
            (vec![dir("d/x"), link("d/x")], "d/x", PathProblem::Duplicate),
            (
                vec![file("x", b""), file("x", b"")],
                "x",
                PathProblem::Duplicate,
            ),
            (
                vec![file("d/x", b""), file("d/x/y", b"")],
                "d/x/y",
                PathProblem::ParentNotDirectory,
            ),
            (
                vec![link("d"), dir("d/e")],
                "d/e",
                PathProblem::ParentNotDirectory,
            ),
        ];
        for (entries, want_path, want) in cases {
            for wrap in [false, true] {
                let mut sink = Vec::new();
                let mut imp = Importer::new(small(), &mut sink).expect("params");
                let res = imp.add_tree(entries.iter().map(|e| Ok(copy(e))), wrap);
                match res {
                    Err(ImportError::BadPath { path, problem }) => {
                        assert_eq!((path.as_str(), problem), (want_path, want));
                    }
                    other => panic!("{want_path:?}: expected {want:?}, got {other:?}"),
                }
            }
        }

        // An error from the input stops the import and is returned as is.
        let mut sink = Vec::new();
        let mut imp = Importer::new(small(), &mut sink).expect("params");
        let entries: Vec<Result<Entry, ImportError>> = vec![
            Ok(file("a", b"")),
            Err(ImportError::Unsupported { path: "b".into() }),
            Ok(file("a", b"")),
        ];
        assert!(matches!(
            imp.add_tree(entries, false),
            Err(ImportError::Unsupported { .. })
        ));
    }

    /// A copy of an in-memory entry.
    fn copy(e: &Entry) -> Entry {
        match e {
            TreeEntry::File { path, reader } => TreeEntry::File {
                path: path.clone(),
                reader: reader.clone(),
            },
            TreeEntry::Dir { path } => dir(path),
            TreeEntry::Symlink { path, target } => TreeEntry::Symlink {
                path: path.clone(),
                target: target.clone(),
            },
        }
    }

    #[test]
    fn unnamed_files_are_named_by_their_cid() {
        let mut blocks = Vec::new();
        let mut seen = Vec::new();
        let mut on = |e: Event<'_>| {
            if let Event::Added(a) = e {
                seen.push(a.path.clone());
            }
        };
        let roots = Importer::new(Params::default(), &mut blocks)
            .expect("params")
            .on_event(&mut on)
            .add_tree(
                vec![file("", b"hello world\n"), file("b", b"b")]
                    .into_iter()
                    .map(Ok),
                true,
            )
            .expect("import");
        assert_eq!(seen, ["", "b", ""], "the unnamed file, b, then the wrapper");
        let wrapper = Node::decode(blocks.last().expect("wrapper").data()).expect("node");
        let names: Vec<&str> = wrapper.links.iter().map(|l| l.name_str()).collect();
        assert_eq!(
            names,
            ["QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "b"]
        );
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn implied_parents_are_created() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("x");
        fs::create_dir_all(root.join("y/w")).expect("mkdir");
        fs::write(root.join("y/z.txt"), b"z").expect("write");
        let (disk, disk_seen, _) = run(small(), |imp| imp.add_path(&root, true)).expect("add_path");

        // Only the deepest entries: x and x/y are implied.
        let (roots, seen) = tree(small(), vec![file("x/y/z.txt", b"z"), dir("x/y/w")], false);
        assert_eq!(roots, std::slice::from_ref(&disk));
        assert_eq!(seen, disk_seen);
        assert_eq!(paths(&seen), ["x/y/z.txt", "x/y/w", "x/y", "x"]);

        // A parent sent after a child that implied it is fine.
        let late = vec![file("x/y/z.txt", b"z"), dir("x/y/w"), dir("x/y"), dir("x")];
        assert_eq!(tree(small(), late, false), (roots, seen));
    }

    #[test]
    fn wrap_holds_the_top_level_entries() {
        let tmp = tempfile::tempdir().expect("tmp");
        let one = tmp.path().join("one");
        let two = tmp.path().join("two");
        fs::write(&one, b"1").expect("write");
        fs::write(&two, b"2").expect("write");

        let (roots, seen, blocks) = run(small(), |imp| {
            imp.add_tree([file("two", b"2"), file("one", b"1")].map(Ok), true)
        })
        .expect("add_tree");
        assert_eq!(paths(&seen), ["two", "one", ""]);
        let [wrapper] = &roots[..] else {
            panic!("one root expected, got {roots:?}")
        };
        assert_eq!(wrapper.path, "");
        assert_eq!(seen.last(), Some(wrapper));
        let node = Node::decode(blocks.last().expect("block").data()).expect("node");
        assert_eq!(blocks.last().map(|b| *b.cid()), Some(wrapper.cid));
        let links: Vec<_> = node.links.iter().map(|l| (l.name_str(), l.cid)).collect();
        assert_eq!(links, [("one", seen[1].cid), ("two", seen[0].cid)]);

        // The CLI's `add -w one two` gives the same, as does adding a directory of the two.
        let (disk, disk_seen, _) = run(small(), |imp| {
            imp.add_paths(&[two.clone(), one.clone()], false, true)
        })
        .expect("add_paths");
        assert_eq!((disk, disk_seen), (roots.clone(), seen.clone()));
        let (as_dir, _, _) = run(small(), |imp| imp.add_path(tmp.path(), true)).expect("add_path");
        assert_eq!(as_dir.cid, wrapper.cid);
    }

    #[test]
    fn several_paths_without_wrap() {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = tmp.path();
        for d in ["d2/sub", "d1"] {
            fs::create_dir_all(base.join(d)).expect("mkdir");
        }
        fs::write(base.join("d2/sub/x"), b"x").expect("write");
        fs::write(base.join("d1/y"), b"y").expect("write");
        fs::write(base.join("f"), b"f").expect("write");
        let args = ["d2", "f", "d1"].map(|p| base.join(p));

        let (roots, seen, _) =
            run(small(), |imp| imp.add_paths(&args, true, false)).expect("add_paths");
        assert_eq!(paths(&roots), ["d2", "f", "d1"]);
        // Files in argument order, then all directories in post-order by name.
        assert_eq!(
            paths(&seen),
            ["d2/sub/x", "f", "d1/y", "d1", "d2/sub", "d2"]
        );
        for root in &roots {
            let (alone, _, _) =
                run(small(), |imp| imp.add_path(&base.join(&root.path), true)).expect("add");
            assert_eq!(&alone, root);
        }

        // The same upload through add_tree.
        let mut entries = walk(&args[0]);
        entries.push(file("f", b"f"));
        entries.extend(walk(&args[2]));
        assert_eq!(tree(small(), entries, false), (roots, seen));

        // Names must differ, and a directory needs -r.
        let clash = [base.join("f"), base.join("d1/../f")];
        let err = run(small(), |imp| imp.add_paths(&clash, true, false)).map(|_| ());
        assert!(matches!(
            err,
            Err(ImportError::BadPath {
                problem: PathProblem::Duplicate,
                ..
            })
        ));
        let err = run(small(), |imp| imp.add_paths(&args, false, false)).map(|_| ());
        assert!(matches!(err, Err(ImportError::IsDirectory { .. })));
    }

    #[test]
    fn a_directory_without_a_base_name_is_unnamed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("r");
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::write(root.join("sub/x"), b"x").expect("write");
        let (named, _, _) = run(small(), |imp| imp.add_path(&root, true)).expect("add_path");
        let dotdot = root.join("sub/..");
        let (unnamed, seen, _) = run(small(), |imp| imp.add_path(&dotdot, true)).expect("add_path");
        assert_eq!(unnamed.cid, named.cid);
        assert_eq!(paths(&seen), ["sub/x", "sub", ""]);
        // With other paths or wrapped it has no name to go under.
        let err = run(small(), |imp| {
            imp.add_paths(std::slice::from_ref(&dotdot), true, true)
        })
        .map(|_| ());
        assert!(matches!(
            err,
            Err(ImportError::BadPath {
                problem: PathProblem::NoName,
                ..
            })
        ));
    }

    /// A small random tree: files, symlinks and directories named from a tiny alphabet.
    #[derive(Debug, Clone)]
    enum Gen {
        File(Vec<u8>),
        Link(String),
        Dir(BTreeMap<String, Gen>),
    }

    fn write(path: &Path, g: &Gen) {
        match g {
            Gen::File(data) => fs::write(path, data).expect("write"),
            Gen::Link(target) => symlink(target, path).expect("symlink"),
            Gen::Dir(children) => {
                fs::create_dir(path).expect("mkdir");
                for (name, child) in children {
                    write(&path.join(name), child);
                }
            }
        }
    }

    fn gen_tree() -> impl Strategy<Value = Gen> {
        let leaf = prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..80).prop_map(Gen::File),
            1 => "[ab]{1,3}".prop_map(Gen::Link),
        ];
        let tree = leaf.prop_recursive(3, 32, 5, |inner| {
            prop::collection::btree_map("[abc]{1,2}", inner, 0..5).prop_map(Gen::Dir)
        });
        prop::collection::btree_map("[abc]{1,2}", tree, 0..5).prop_map(Gen::Dir)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn random_trees_match_add_path(g in gen_tree(), seed in any::<u64>(), v1 in any::<bool>()) {
            // Tiny chunks and threshold: multi-level files and sharded directories.
            let params = Params {
                chunk_size: 16,
                max_links: 3,
                hamt_threshold: 100,
                ..if v1 { small_v1() } else { small() }
            };
            let tmp = tempfile::tempdir().expect("tmp");
            let root = tmp.path().join("r");
            write(&root, &g);
            let (disk, disk_seen, _) =
                run(params.clone(), |imp| imp.add_path(&root, true)).expect("add_path");
            let (roots, seen) = tree(params.clone(), walk(&root), false);
            prop_assert_eq!(&roots, &vec![disk.clone()]);
            prop_assert_eq!(&seen, &disk_seen);
            let mut shuffled = walk(&root);
            shuffle(&mut shuffled, seed);
            let (roots, _) = tree(params, shuffled, false);
            prop_assert_eq!(roots, vec![disk]);
        }
    }
}
