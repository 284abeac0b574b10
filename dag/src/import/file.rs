//! Files: parallel leaf hashing and the balanced layout.
//!
//! The balanced layout (Kubo's and Helia's default) puts every leaf at the same depth and
//! fills nodes left to right, so it can be built bottom-up as leaves stream in: whenever a
//! level holds `max_links` nodes they become one parent. Only one partial node per level
//! is ever held.

use super::{ImportError, Importer, Sink, encode};
use crate::block::{Block, Cid, DAG_PB, RAW, Version};
use crate::chunker::{Chunk, FixedSize};
use crate::hash::HashFn;
use crate::pb::{Link, Node};
use crate::proto;
use crate::unixfs::{Data, DataType};
use bytes::Bytes;
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// Bytes read and hashed per batch; two batches are alive at once.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A finished subtree: its CID, cumulative DAG size and content size.
#[derive(Debug, Clone, Copy)]
pub(super) struct Child {
    pub cid: Cid,
    pub tsize: u64,
    pub filesize: u64,
}

/// Room kept before a chunk for the dag-pb and UnixFS headers of a leaf: two keys, two
/// length varints and the `Type` field.
const LEAF_HEAD: usize = 16;
/// Room kept after a chunk for the UnixFS `filesize` field.
const LEAF_TAIL: usize = 11;

/// Makes a leaf block of a chunk: a raw block, or a dag-pb node whose only field is UnixFS
/// `Data{Type: File, Data: chunk, filesize}` written around the chunk in its own buffer,
/// so the chunk is never copied (this is the hot path of every import).
fn leaf(
    chunk: Chunk,
    raw: bool,
    version: Version,
    hash: HashFn,
) -> Result<(Block, Child), ImportError> {
    let Chunk { mut buf, head } = chunk;
    let len = buf.len() - head;
    let filesize = len as u64;
    let block = if raw {
        encode(hash, Version::V1, RAW, Bytes::from(buf).slice(head..))?
    } else {
        let mut unixfs_head = Vec::with_capacity(LEAF_HEAD);
        proto::put_uint(&mut unixfs_head, 1, 2);
        if len > 0 {
            proto::put_key(&mut unixfs_head, 2, proto::LEN);
            proto::put_varint(&mut unixfs_head, filesize);
        }
        let mut trailer = Vec::with_capacity(LEAF_TAIL);
        proto::put_uint(&mut trailer, 3, filesize);
        let mut pb_head = Vec::with_capacity(6);
        proto::put_key(&mut pb_head, 1, proto::LEN);
        proto::put_varint(
            &mut pb_head,
            (unixfs_head.len() + len + trailer.len()) as u64,
        );
        let start = head - unixfs_head.len() - pb_head.len();
        buf[start..start + pb_head.len()].copy_from_slice(&pb_head);
        buf[start + pb_head.len()..head].copy_from_slice(&unixfs_head);
        buf.extend_from_slice(&trailer);
        encode(hash, version, DAG_PB, Bytes::from(buf).slice(start..))?
    };
    let child = Child {
        cid: *block.cid(),
        tsize: block.data().len() as u64,
        filesize,
    };
    Ok((block, child))
}

struct Balanced {
    levels: Vec<Vec<Child>>,
    max_links: usize,
    version: Version,
    hash: HashFn,
}

impl Balanced {
    fn push<S: Sink>(
        &mut self,
        level: usize,
        child: Child,
        sink: &mut S,
    ) -> Result<(), ImportError> {
        if self.levels.len() <= level {
            self.levels.push(Vec::with_capacity(self.max_links));
        }
        self.levels[level].push(child);
        if self.levels[level].len() == self.max_links {
            let children = std::mem::take(&mut self.levels[level]);
            let parent = self.parent(&children, sink)?;
            self.push(level + 1, parent, sink)?;
        }
        Ok(())
    }

    fn parent<S: Sink>(&self, children: &[Child], sink: &mut S) -> Result<Child, ImportError> {
        let filesize = children.iter().map(|c| c.filesize).sum();
        let data = Data {
            filesize: Some(filesize),
            blocksizes: children.iter().map(|c| c.filesize).collect(),
            ..Data::new(DataType::File)
        };
        let node = Node {
            links: children
                .iter()
                .map(|c| Link::new(c.cid, "", c.tsize))
                .collect(),
            data: Some(data.encode().into()),
        };
        let block = encode(self.hash, self.version, DAG_PB, node.encode().into())?;
        let tsize = block.data().len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>();
        let cid = *block.cid();
        sink.put(block)?;
        Ok(Child {
            cid,
            tsize,
            filesize,
        })
    }

    /// Closes every partial level; the single node left on top is the root.
    fn finish<S: Sink>(mut self, sink: &mut S) -> Result<Option<Child>, ImportError> {
        let mut level = 0;
        loop {
            let top = self.levels.iter().rposition(|l| !l.is_empty());
            match top {
                None => return Ok(None),
                Some(top) if top == level => {
                    let last = std::mem::take(&mut self.levels[level]);
                    return Ok(Some(if last.len() == 1 {
                        last[0]
                    } else {
                        self.parent(&last, sink)?
                    }));
                }
                Some(_) => {
                    if !self.levels[level].is_empty() {
                        let children = std::mem::take(&mut self.levels[level]);
                        let parent = self.parent(&children, sink)?;
                        self.push(level + 1, parent, sink)?;
                    }
                    level += 1;
                }
            }
        }
    }
}

fn read_batch<R: Read>(chunker: &mut FixedSize<R>, max: usize) -> std::io::Result<Vec<Chunk>> {
    let mut batch = Vec::with_capacity(max);
    while batch.len() < max {
        match chunker.next_buf()? {
            Some(c) => batch.push(c),
            None => break,
        }
    }
    Ok(batch)
}

impl<S: Sink> Importer<'_, S> {
    /// Imports one byte stream as a UnixFS file; returns its root CID and cumulative size.
    pub(super) fn file(
        &mut self,
        reader: impl Read + Send,
        path: &Path,
    ) -> Result<(Cid, u64), ImportError> {
        let p = &self.params;
        let (raw, version, chunk_size, hash) = (p.raw_leaves, p.cid_version, p.chunk_size, p.hash);
        let per_batch = (BATCH_BYTES / chunk_size).max(2);
        let mut tree = Balanced {
            levels: Vec::new(),
            max_links: p.max_links,
            version,
            hash: p.hash,
        };
        let mut chunker = FixedSize::with_room(reader, chunk_size, LEAF_HEAD, LEAF_TAIL);
        let io_err = |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        };

        let mut batch = read_batch(&mut chunker, per_batch).map_err(io_err)?;
        while !batch.is_empty() {
            let last = batch.len() < per_batch;
            let (leaves, next) = rayon::join(
                || {
                    batch
                        .into_par_iter()
                        .map(|c| leaf(c, raw, version, hash))
                        .collect::<Result<Vec<_>, _>>()
                },
                || {
                    if last {
                        Ok(Vec::new())
                    } else {
                        read_batch(&mut chunker, per_batch)
                    }
                },
            );
            let mut bytes = 0;
            for (block, child) in leaves? {
                bytes += child.filesize;
                self.sink.put(block)?;
                tree.push(0, child, self.sink)?;
            }
            self.progress(bytes);
            batch = next.map_err(io_err)?;
        }
        let root = tree.finish(self.sink)?;
        // The chunker always yields at least one (possibly empty) chunk, so there is a root.
        let root = root.ok_or(ImportError::Params { reason: "no data" })?;
        Ok((root.cid, root.tsize))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Params, Sink};
    use super::*;
    use std::collections::HashMap;

    fn import(len: usize, params: Params) -> (Cid, Vec<Block>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut blocks = Vec::new();
        let cid = {
            let mut imp = Importer::new(params, &mut blocks).expect("params");
            imp.add_reader(&data[..], "f").expect("import").cid
        };
        (cid, blocks)
    }

    fn depth_of_leaves(
        root: &Cid,
        blocks: &HashMap<Cid, Bytes>,
        depth: usize,
        out: &mut Vec<usize>,
    ) {
        if root.codec() == RAW {
            out.push(depth);
            return;
        }
        let node = Node::decode(&blocks[root]).expect("node");
        if node.links.is_empty() {
            out.push(depth);
        }
        for l in &node.links {
            depth_of_leaves(&l.cid, blocks, depth + 1, out);
        }
    }

    #[test]
    fn balanced_shapes() {
        let small = Params {
            chunk_size: 4,
            max_links: 3,
            ..Params::default()
        };
        for chunks in [1usize, 2, 3, 4, 9, 10, 27, 28] {
            let (root, blocks) = import(chunks * 4, small.clone());
            let map: HashMap<Cid, Bytes> = blocks.into_iter().map(|b| b.into_parts()).collect();
            let mut depths = Vec::new();
            depth_of_leaves(&root, &map, 0, &mut depths);
            assert_eq!(depths.len(), chunks, "leaf count for {chunks}");
            let expected = if chunks == 1 {
                0
            } else {
                (chunks as f64).log(3.0).ceil() as usize
            };
            assert!(
                depths.iter().all(|d| *d == expected),
                "{chunks} chunks: depths {depths:?}"
            );
        }
    }

    #[test]
    fn in_place_leaf_encoding_matches_the_generic_one() {
        for len in [
            0usize,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            262_144,
            2 * 1024 * 1024,
        ] {
            let data = vec![9u8; len];
            let mut chunker = FixedSize::with_room(&data[..], len.max(1), LEAF_HEAD, LEAF_TAIL);
            let chunk = chunker.next_buf().expect("read").expect("a chunk");
            let generic = Node {
                links: Vec::new(),
                data: Some(Data::file_leaf(Bytes::from(data.clone())).encode().into()),
            };
            let (block, _) = leaf(chunk, false, Version::V0, HashFn::Sha2_256).expect("leaf");
            assert_eq!(
                block.data().as_ref(),
                generic.encode().as_slice(),
                "len {len}"
            );
        }
    }

    #[test]
    fn single_chunk_is_its_own_root() {
        let (root, blocks) = import(12, Params::default());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].cid(), &root);
        let raw = Params {
            raw_leaves: true,
            cid_version: Version::V1,
            ..Params::default()
        };
        let (root, _) = import(0, raw);
        assert_eq!(
            root.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn children_come_before_parents() {
        let (_, blocks) = import(
            40,
            Params {
                chunk_size: 4,
                max_links: 3,
                ..Params::default()
            },
        );
        let mut seen = std::collections::HashSet::new();
        for b in &blocks {
            for l in crate::codec::links(b.cid(), b.data()).expect("links") {
                assert!(seen.contains(&l), "child {l} written after parent");
            }
            seen.insert(*b.cid());
        }
    }

    struct Failing;
    impl Sink for Failing {
        fn put(&mut self, _: Block) -> Result<(), ImportError> {
            Err(ImportError::Params {
                reason: "sink full",
            })
        }
    }

    #[test]
    fn sink_errors_propagate() {
        let mut sink = Failing;
        let mut imp = Importer::new(Params::default(), &mut sink).expect("params");
        assert!(imp.add_reader(&b"abc"[..], "").is_err());
    }

    /// Every block of a multi-chunk file, a symlink and a sharded directory is hashed with
    /// the chosen function, and a non-sha2-256 function forces CIDv1 and raw leaves.
    #[test]
    fn every_block_uses_the_chosen_hash() {
        use super::super::TreeEntry;
        for &f in HashFn::all() {
            if f == HashFn::Identity {
                continue;
            }
            let mut p = Params {
                chunk_size: 64,
                max_links: 3,
                hamt_threshold: 40,
                ..Params::default()
            };
            p.set_hash(f, false, false).expect("hash");
            assert_eq!(p.hash, f);
            if f != HashFn::Sha2_256 {
                assert_eq!(p.cid_version, Version::V1, "{f}");
                assert!(p.raw_leaves, "{f}: CIDv1 by --hash turns raw leaves on");
            }
            let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
            let entries = (0..8).map(|i| {
                Ok(TreeEntry::File {
                    path: format!("d/file-{i}"),
                    reader: &data[..],
                })
            });
            let link = std::iter::once(Ok(TreeEntry::Symlink {
                path: "d/link".into(),
                target: "file-0".into(),
            }));
            let mut blocks = Vec::new();
            let roots = Importer::new(p, &mut blocks)
                .expect("params")
                .add_tree(
                    entries.chain(link.map(|e: Result<TreeEntry<&[u8]>, _>| e)),
                    false,
                )
                .expect("import");
            assert_eq!(roots.len(), 1);
            // 8 leaves, 3 internal nodes and 1 root shared by the 8 identical files, a
            // symlink, and several HAMT shards.
            assert!(blocks.len() > 14, "{f}: {} blocks", blocks.len());
            let hamt = blocks
                .iter()
                .filter(|b| b.cid().codec() == DAG_PB)
                .filter_map(|b| Node::decode(b.data()).ok())
                .filter_map(|n| n.data.and_then(|d| Data::decode(&d).ok()))
                .any(|d| d.kind == DataType::HamtShard);
            assert!(hamt, "{f}: the directory is sharded");
            for b in &blocks {
                assert_eq!(b.cid().hash().code(), f.code(), "{f}: {}", b.cid());
                if f != HashFn::Sha2_256 {
                    assert_eq!(b.cid().version(), Version::V1);
                }
                crate::block::Block::verified(*b.cid(), b.data().clone()).expect("verifies");
            }
        }
    }

    #[test]
    fn kubo_cid_version_rules_for_hash() {
        let mut p = Params::default();
        assert!(matches!(
            p.set_hash(HashFn::Blake3, true, false),
            Err(ImportError::Params {
                reason: "CIDv0 only supports sha2-256"
            })
        ));
        let mut p = Params::default();
        p.set_hash(HashFn::Sha2_512, false, true).expect("hash");
        assert_eq!(p.cid_version, Version::V1);
        assert!(!p.raw_leaves, "explicit --raw-leaves=false is kept");
        let mut p = Params::default();
        p.set_hash(HashFn::Sha2_256, false, false).expect("hash");
        assert_eq!(p, Params::default(), "sha2-256 changes nothing");
        // Parameters built by hand cannot pair CIDv0 with another hash.
        let bad = Params {
            hash: HashFn::Blake3,
            ..Params::default()
        };
        assert!(Importer::new(bad, &mut Vec::new()).is_err());
    }

    /// Kubo accepts `add --hash identity` while every block fits an identity CID; ipfsd's
    /// limit is the CID's 64-byte digest.
    #[test]
    fn identity_hash_inlines_small_files_and_refuses_large_ones() {
        let mut p = Params::default();
        p.set_hash(HashFn::Identity, false, false).expect("hash");
        let (root, blocks) = import(11, p.clone());
        assert_eq!(root.hash().code(), 0);
        assert_eq!(root.codec(), RAW);
        assert_eq!(
            crate::block::identity_data(&root),
            Some(&blocks[0].data()[..])
        );
        let mut blocks = Vec::new();
        let err = Importer::new(p, &mut blocks)
            .expect("params")
            .add_reader(&[7u8; 65][..], "big")
            .expect_err("65 bytes do not fit");
        assert!(
            matches!(
                err,
                ImportError::Hash {
                    hash: HashFn::Identity,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("identity"), "{err}");
    }
}
