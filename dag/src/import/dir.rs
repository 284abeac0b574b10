//! Directories and symlinks: walking a tree in name order, plain and HAMT directories.

use super::{Added, HamtEstimation, ImportError, Importer, Sink};
use crate::block::{Block, Cid, DAG_PB};
use crate::hamt;
use crate::pb::{Link, Node};
use crate::unixfs::{Data, DataType};
use std::fs::{self, Metadata};
use std::path::Path;

impl<S: Sink> Importer<'_, S> {
    /// Imports a regular file or symlink.
    pub(super) fn entry(
        &mut self,
        path: &Path,
        meta: &Metadata,
    ) -> Result<(Cid, u64), ImportError> {
        let io_err = |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(path).map_err(io_err)?;
            let target = target.to_str().ok_or_else(|| ImportError::BadName {
                path: path.to_path_buf(),
            })?;
            let data = Data {
                data: target.as_bytes().to_vec().into(),
                ..Data::new(DataType::Symlink)
            };
            let node = Node {
                links: Vec::new(),
                data: Some(data.encode().into()),
            };
            let block = Block::encode(self.params.cid_version, DAG_PB, node.encode());
            let out = (*block.cid(), block.data().len() as u64);
            self.sink.put(block)?;
            Ok(out)
        } else if meta.is_file() {
            let file = fs::File::open(path).map_err(io_err)?;
            self.file(file, path)
        } else {
            Err(ImportError::Unsupported {
                path: path.to_path_buf(),
            })
        }
    }

    /// Imports the directory at `path` reported as `rel`; finished directories are appended
    /// to `dirs` in post-order, files are reported as they complete.
    pub(super) fn dir(
        &mut self,
        path: &Path,
        rel: &str,
        dirs: &mut Vec<Added>,
    ) -> Result<Added, ImportError> {
        let io_err = |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| ImportError::BadName { path: entry.path() })?
                .to_string();
            if !self.params.hidden && name.starts_with('.') {
                continue;
            }
            names.push(name);
        }
        names.sort_unstable();

        let mut links = Vec::with_capacity(names.len());
        for name in names {
            let child = path.join(&name);
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let meta = fs::symlink_metadata(&child).map_err(|source| ImportError::Io {
                path: child.clone(),
                source,
            })?;
            let added = if meta.is_dir() {
                self.dir(&child, &child_rel, dirs)?
            } else {
                let (cid, tsize) = self.entry(&child, &meta)?;
                let added = Added {
                    path: child_rel,
                    cid,
                    tsize,
                };
                self.emit_added(&added);
                added
            };
            links.push(Link::new(added.cid, name, added.tsize));
        }
        let (cid, tsize) = self.directory(links)?;
        let added = Added {
            path: rel.to_string(),
            cid,
            tsize,
        };
        dirs.push(added.clone());
        Ok(added)
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
            let (blocks, tsize) = hamt::build(entries, p.cid_version, p.hamt_fanout)?;
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
        let block = Block::encode(p.cid_version, DAG_PB, node.encode());
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
