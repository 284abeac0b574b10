//! Walking a whole UnixFS tree: [`walk_tree`] yields every node depth-first, pre-order
//! (iterative, at most [`MAX_TREE_DEPTH`] levels, names checked), and [`write_tree`]
//! writes it to disk without following symlinks or leaving the destination.

use super::*;

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
