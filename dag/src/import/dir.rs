//! Walking directories on disk, symlinks, and building one plain or HAMT directory node.
//!
//! Data flow: [`Walk`] visits the given paths depth first, each directory's entries in name
//! order (hidden names skipped unless asked for), and yields [`TreeEntry`] values that go
//! into the same [`super::tree::DirTree`] as an RPC upload; directories are built there by
//! [`Importer::directory`].

use super::tree::{PathProblem, TreeEntry};
use super::{HamtEstimation, ImportError, Importer, Sink};
use crate::block::{Cid, DAG_PB};
use crate::hamt;
use crate::pb::{Link, Node};
use crate::unixfs::{Data, DataType};
use std::fs::{self, File, Metadata};
use std::path::PathBuf;

/// A depth-first walk of paths on disk in name order, as tree entries paired with the path
/// on disk (for error messages). Directories come before their children. Made by
/// [`walk`]; the offline importer and the CLI's upload to a daemon both use it, so both
/// send the same entries in the same order.
#[derive(Debug)]
pub struct Walk {
    /// Top-level paths: (path on disk, name to add it under, its metadata).
    top: std::vec::IntoIter<(PathBuf, String, Metadata)>,
    /// Directories being walked: (path on disk, relative path, names left to visit).
    stack: Vec<(PathBuf, String, std::vec::IntoIter<String>)>,
    hidden: bool,
}

/// Checks the paths given to `add` and walks them: each is added under its base name; a
/// directory needs `recursive`; base names must differ. A single directory without a base
/// name (`add -r .`) has its entries added at the top level; the second value says so (the
/// caller then wraps them in an unnamed directory).
pub fn walk(
    paths: &[PathBuf],
    recursive: bool,
    wrap: bool,
    hidden: bool,
) -> Result<(Walk, bool), ImportError> {
    let mut top = Vec::with_capacity(paths.len());
    let mut unnamed = false;
    for path in paths {
        let meta = fs::symlink_metadata(path).map_err(|source| ImportError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() && !recursive {
            return Err(ImportError::IsDirectory { path: path.clone() });
        }
        let name = match path.file_name() {
            Some(n) => n
                .to_str()
                .ok_or_else(|| ImportError::BadName { path: path.clone() })?
                .to_string(),
            None if meta.is_dir() && !wrap && paths.len() == 1 => {
                unnamed = true;
                String::new()
            }
            None => {
                return Err(ImportError::BadPath {
                    path: path.display().to_string(),
                    problem: PathProblem::NoName,
                });
            }
        };
        top.push((path.clone(), name, meta));
    }
    Ok((
        Walk {
            top: top.into_iter(),
            stack: Vec::new(),
            hidden,
        },
        unnamed,
    ))
}

impl Walk {
    /// The entry for `path` on disk, added as `rel`; `None` for the unnamed top directory.
    fn visit(
        &mut self,
        path: PathBuf,
        rel: String,
        meta: &Metadata,
    ) -> Result<Option<(TreeEntry<File>, PathBuf)>, ImportError> {
        let io_err = |source| ImportError::Io {
            path: path.clone(),
            source,
        };
        let entry = if meta.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(&path).map_err(io_err)? {
                let entry = entry.map_err(io_err)?;
                let name = entry.file_name();
                let name = name
                    .to_str()
                    .ok_or_else(|| ImportError::BadName { path: entry.path() })?
                    .to_string();
                if !self.hidden && name.starts_with('.') {
                    continue;
                }
                names.push(name);
            }
            names.sort_unstable();
            self.stack
                .push((path.clone(), rel.clone(), names.into_iter()));
            if rel.is_empty() {
                return Ok(None);
            }
            TreeEntry::Dir { path: rel }
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(io_err)?;
            let target = target
                .to_str()
                .ok_or_else(|| ImportError::BadName { path: path.clone() })?
                .to_string();
            TreeEntry::Symlink { path: rel, target }
        } else if meta.is_file() {
            let reader = File::open(&path).map_err(io_err)?;
            TreeEntry::File { path: rel, reader }
        } else {
            return Err(ImportError::Unsupported { path });
        };
        Ok(Some((entry, path)))
    }
}

impl Iterator for Walk {
    type Item = Result<(TreeEntry<File>, PathBuf), ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (path, rel, meta) = if let Some((dir, rel, names)) = self.stack.last_mut() {
                let Some(name) = names.next() else {
                    self.stack.pop();
                    continue;
                };
                let path = dir.join(&name);
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                match fs::symlink_metadata(&path) {
                    Ok(meta) => (path, rel, meta),
                    Err(source) => return Some(Err(ImportError::Io { path, source })),
                }
            } else {
                self.top.next()?
            };
            match self.visit(path, rel, &meta) {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<S: Sink> Importer<'_, S> {
    /// Imports a symlink to `target`; returns its CID and size.
    pub(super) fn symlink(&mut self, target: &str) -> Result<(Cid, u64), ImportError> {
        let data = Data {
            data: target.as_bytes().to_vec().into(),
            ..Data::new(DataType::Symlink)
        };
        let node = Node {
            links: Vec::new(),
            data: Some(data.encode().into()),
        };
        let block = self.block(self.params.cid_version, DAG_PB, node.encode())?;
        let out = (*block.cid(), block.data().len() as u64);
        self.sink.put(block)?;
        Ok(out)
    }

    /// Builds a directory from links sorted by name: one node, or a HAMT past the threshold.
    pub(super) fn directory(&mut self, links: Vec<Link>) -> Result<(Cid, u64), ImportError> {
        let node = Node {
            links,
            data: Some(Data::new(DataType::Directory).encode().into()),
        };
        let p = &self.params;
        let size = match p.hamt_estimation {
            HamtEstimation::LinkBytes => node
                .links
                .iter()
                .map(|l| l.name_str().len() + l.cid.encoded_len())
                .sum::<usize>(),
            HamtEstimation::BlockBytes => node.encoded_len(),
        };
        if p.hamt_threshold > 0 && size > p.hamt_threshold {
            let entries = node
                .links
                .into_iter()
                .map(|l| hamt::Entry {
                    name: l.name.unwrap_or_default(),
                    cid: l.cid,
                    tsize: l.tsize.unwrap_or(0),
                })
                .collect();
            let (blocks, tsize) = hamt::build_with(entries, p.cid_version, p.hash, p.hamt_fanout)?;
            let root = blocks.last().map(|b| *b.cid());
            for b in blocks {
                self.sink.put(b)?;
            }
            let root = root.ok_or(ImportError::Params {
                reason: "empty HAMT",
            })?;
            return Ok((root, tsize));
        }
        let children: u64 = node.links.iter().map(|l| l.tsize.unwrap_or(0)).sum();
        let block = self.block(p.cid_version, DAG_PB, node.encode())?;
        let out = (*block.cid(), block.data().len() as u64 + children);
        self.sink.put(block)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, Params};
    use super::*;

    #[test]
    fn empty_directory_vector() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut blocks = Vec::new();
        let mut imp = Importer::new(Params::default(), &mut blocks).expect("params");
        let added = imp.add_path(tmp.path(), true).expect("import");
        assert_eq!(
            added.cid.to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
    }

    #[test]
    fn walk_order_hidden_files_and_output() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("d");
        fs::create_dir_all(root.join("b/inner")).expect("mkdir");
        fs::create_dir_all(root.join("a")).expect("mkdir");
        fs::write(root.join("z.txt"), b"z").expect("write");
        fs::write(root.join("b/x"), b"x").expect("write");
        fs::write(root.join(".hidden"), b"h").expect("write");
        let mut blocks = Vec::new();
        let mut seen = Vec::new();
        let mut on = |e: Event<'_>| {
            if let Event::Added(a) = e {
                seen.push(a.path.clone());
            }
        };
        let mut imp = Importer::new(Params::default(), &mut blocks)
            .expect("params")
            .on_event(&mut on);
        let added = imp.add_path(&root, true).expect("import");
        assert_eq!(added.path, "d");
        assert_eq!(seen, ["d/b/x", "d/z.txt", "d/a", "d/b/inner", "d/b", "d"]);
        let top = Node::decode(blocks.last().expect("root").data()).expect("node");
        let names: Vec<_> = top.links.iter().map(|l| l.name_str().to_string()).collect();
        assert_eq!(names, ["a", "b", "z.txt"]);
    }
}
