//! Hostile DAG shapes against the exporter's walks (issue 14, item 1): chains of HAMT
//! shards and of plain directories far deeper than any real tree, and HAMTs whose shards
//! are linked many times over. Every walk must answer (an error or the right result)
//! without exhausting the stack or enumerating exponentially many paths.

use bytes::Bytes;
use dag::block::{DAG_PB, RAW};
use dag::export::{self, ExportError, Kind, MAX_TREE_DEPTH};
use dag::pb::{Link, Node};
use dag::unixfs::{Data, DataType};
use dag::{Block, BlockSource, Cid, SourceError, Version};
use std::collections::HashMap;

#[derive(Default)]
struct Mem(HashMap<Cid, Bytes>);

impl BlockSource for Mem {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        self.0
            .get(cid)
            .cloned()
            .ok_or(SourceError::NotFound { cid: *cid })
    }
}

impl Mem {
    fn put(&mut self, block: Block) -> Cid {
        let (cid, data) = block.into_parts();
        self.0.insert(cid, data);
        cid
    }

    fn file(&mut self) -> Cid {
        self.put(Block::encode(Version::V1, RAW, &b"hello"[..]))
    }

    fn shard(&mut self, links: Vec<Link>) -> Cid {
        let data = Data {
            data: Bytes::from_static(&[1]),
            hash_type: Some(dag::hamt::HASH_MURMUR3),
            fanout: Some(256),
            ..Data::new(DataType::HamtShard)
        };
        let node = Node {
            links,
            data: Some(Bytes::from(data.encode())),
        };
        self.put(Block::encode(Version::V1, DAG_PB, node.encode()))
    }

    fn dir(&mut self, links: Vec<Link>) -> Cid {
        let node = Node {
            links,
            data: Some(Bytes::from(Data::new(DataType::Directory).encode())),
        };
        self.put(Block::encode(Version::V1, DAG_PB, node.encode()))
    }

    /// `levels` HAMT shards, each linking the next under slot "00"; the last holds a file.
    fn hamt_chain(&mut self, levels: usize) -> Cid {
        let file = self.file();
        let mut cid = self.shard(vec![Link::new(file, "00file", 5)]);
        for _ in 1..levels {
            cid = self.shard(vec![Link::new(cid, "00", 1)]);
        }
        cid
    }

    /// `levels` plain directories, each holding the next as "d"; the last is empty.
    fn dir_chain(&mut self, levels: usize) -> Cid {
        let mut cid = self.dir(Vec::new());
        for _ in 1..levels {
            cid = self.dir(vec![Link::new(cid, "d", 1)]);
        }
        cid
    }
}

fn invalid_reason(r: Result<impl std::fmt::Debug, ExportError>) -> &'static str {
    match r {
        Err(ExportError::Invalid { reason, .. }) => reason,
        other => panic!("expected an invalid-structure error, got {other:?}"),
    }
}

#[test]
fn a_hamt_deeper_than_its_hash_is_refused() {
    let mut src = Mem::default();
    // 8 levels of fanout 256 use all 64 hash bits: still valid.
    let ok = src.hamt_chain(8);
    let listed = export::list(&src, &ok).expect("an 8-level HAMT lists");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "file");
    // One more level, or 16000 (the stack overflow of issue 14): refused, with a reason.
    for levels in [9, 4000, 16_000] {
        let root = src.hamt_chain(levels);
        assert_eq!(
            invalid_reason(export::list(&src, &root)),
            "HAMT deeper than its 64-bit hash allows",
            "{levels} levels"
        );
        // Through the tree walk behind `get`, too.
        let walked: Result<Vec<_>, _> = export::walk_tree(&src, &root).collect();
        assert!(walked.is_err(), "{levels} levels");
    }
}

#[test]
fn a_hamt_lookup_deeper_than_its_hash_is_refused() {
    let mut src = Mem::default();
    // Every slot of every shard points to the next shard: whatever a name hashes to, the
    // lookup descends until the hash runs out.
    let file = src.file();
    let mut cid = src.shard(vec![Link::new(file, "00file", 5)]);
    for _ in 0..12 {
        let links = (0..256)
            .map(|i| Link::new(cid, format!("{i:02X}"), 1))
            .collect();
        cid = src.shard(links);
    }
    assert_eq!(
        invalid_reason(export::resolve(&src, &cid, "index.html")),
        "HAMT deeper than its 64-bit hash allows"
    );
}

#[test]
fn a_hamt_shard_linked_twice_is_refused_not_listed_exponentially() {
    let mut src = Mem::default();
    // 7 levels of 256 links each to the same shard: a walk that does not notice repeats
    // would list 256^7 entries.
    let file = src.file();
    let mut cid = src.shard(vec![Link::new(file, "00file", 5)]);
    for _ in 0..7 {
        let links = (0..256)
            .map(|i| Link::new(cid, format!("{i:02X}"), 1))
            .collect();
        cid = src.shard(links);
    }
    assert_eq!(
        invalid_reason(export::list(&src, &cid)),
        "HAMT shard linked more than once"
    );
}

#[test]
fn directory_trees_walk_iteratively_up_to_the_depth_limit() {
    let mut src = Mem::default();
    // The deepest tree allowed: MAX_TREE_DEPTH names below the root.
    let deepest = src.dir_chain(MAX_TREE_DEPTH + 1);
    let nodes: Vec<_> = export::walk_tree(&src, &deepest)
        .collect::<Result<_, _>>()
        .expect("a tree at the limit walks");
    assert_eq!(nodes.len(), MAX_TREE_DEPTH + 1);
    let last = nodes.last().expect("nodes");
    assert_eq!(last.entry.kind(), Kind::Directory);
    assert_eq!(last.path.len(), 2 * MAX_TREE_DEPTH - 1);
    let path = vec!["d"; MAX_TREE_DEPTH].join("/");
    assert_eq!(
        export::resolve(&src, &deepest, &path).expect("resolves"),
        last.cid
    );

    // One level more, and the chains of issue 14 (3000 through `get`, 16000 offline).
    for levels in [MAX_TREE_DEPTH + 2, 3000, 16_000] {
        let root = src.dir_chain(levels);
        let walked: Result<Vec<_>, _> = export::walk_tree(&src, &root).collect();
        assert!(
            matches!(walked, Err(ExportError::TooDeep { limit, .. }) if limit == MAX_TREE_DEPTH),
            "{levels} levels: {walked:?}"
        );
    }
    let too_long = vec!["d"; MAX_TREE_DEPTH + 1].join("/");
    let root = src.dir_chain(MAX_TREE_DEPTH + 2);
    assert!(matches!(
        export::resolve(&src, &root, &too_long),
        Err(ExportError::TooDeep { .. })
    ));
}

#[test]
fn tree_walk_paths_and_order() {
    let mut src = Mem::default();
    let file = src.file();
    let inner = src.dir(vec![Link::new(file, "f", 5)]);
    let root = src.dir(vec![Link::new(inner, "a", 1), Link::new(file, "b", 5)]);
    let paths: Vec<String> = export::walk_tree(&src, &root)
        .map(|n| n.expect("node").path)
        .collect();
    assert_eq!(paths, ["", "a", "a/f", "b"]);
    let bad = src.dir(vec![Link::new(file, "..", 5)]);
    assert_eq!(
        invalid_reason(export::walk_tree(&src, &bad).collect::<Result<Vec<_>, _>>()),
        "unsafe entry name"
    );
}
