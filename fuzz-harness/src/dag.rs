//! Harnesses for the DAG layer's decoders: dag-pb nodes, UnixFS metadata, HAMT path
//! lookups and CAR files (what `block put`, BitSwap peers, `dag import` and the gateway's
//! fetches hand the node).

use crate::source::{FuzzSource, MapSource, split_blocks};
use crate::text;
use bytes::Bytes;
use dag::block::{DAG_PB, RAW, cid_of};
use dag::export::{self, Entry, FileReader};
use dag::pb::Node;
use dag::unixfs::{Data, DataType};
use dag::{Cid, Version, car, hamt as dag_hamt};
use std::collections::BTreeSet;

/// Most blocks a multi-block input is cut into.
const MAX_BLOCKS: usize = 64;
/// Most bytes read from a fuzzed file DAG (its declared size can be anything).
const MAX_READ: u64 = 1 << 20;

/// A dag-pb node decodes, re-encodes canonically to `encoded_len` bytes, and the canonical
/// form decodes to the same node; its UnixFS payload round-trips too. Then the input, read
/// as a small DAG rooted at its first block, is exported as a file and listed as a plain
/// directory: the reader never yields more bytes than the file's declared size.
pub fn dag_pb(data: &[u8]) {
    let blocks = split_blocks(data);
    for block in blocks.iter().take(8) {
        pb_roundtrip(block);
    }
    let source = FuzzSource::parse(data, MAX_BLOCKS);
    let root = source.root();
    if let Ok(Entry::Pb(_, Some(d))) = export::load(&source, &root)
        && d.kind == DataType::Directory
    {
        let _ = export::list(&source, &root);
    }
    if let Ok(mut reader) = FileReader::open(&source, &root, 0, None) {
        let size = reader.size();
        let mut read = 0u64;
        while let Ok(Some(piece)) = reader.next_piece() {
            read += piece.len() as u64;
            assert!(read <= size, "file reader produced {read} of {size} bytes");
            if read >= MAX_READ {
                break;
            }
        }
    }
}

fn pb_roundtrip(block: &[u8]) {
    let Ok(node) = Node::decode(block) else {
        return;
    };
    let enc = node.encode();
    assert_eq!(enc.len(), node.encoded_len(), "encoded_len disagrees");
    let again = Node::decode(&enc).expect("canonical dag-pb re-encoding does not decode");
    assert_eq!(again, node, "dag-pb round trip changed the node");
    let cid = cid_of(Version::V1, DAG_PB, block);
    let links = dag::codec::links(&cid, block).expect("links_of refuses a decodable node");
    assert_eq!(links.len(), node.links.len());
    if let Some(d) = &node.data {
        unixfs(d);
    }
}

/// UnixFS `Data` decodes, and its encoding decodes to the same value.
pub fn unixfs(data: &[u8]) {
    let Ok(d) = Data::decode(data) else {
        return;
    };
    let again = Data::decode(&d.encode()).expect("re-encoded UnixFS data does not decode");
    assert_eq!(again, d, "UnixFS round trip changed the data");
}

/// HAMT lookups. With an even first byte, the input is `names ~BLK shard ~BLK block...`:
/// each '\n'-separated name is looked up in the first shard and the whole path is resolved
/// (walks through fuzzed shards must end with an answer or an error). With an odd first
/// byte, the names are built into a HAMT (fanout from the second byte) and every name must
/// resolve to its own entry, and the listing must give back exactly the names.
pub fn hamt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        lookup_fuzzed(rest);
    } else {
        build_then_lookup(rest);
    }
}

fn lookup_fuzzed(data: &[u8]) {
    let (names, blocks) = match data.windows(4).position(|w| w == crate::source::BLOCK_SEP) {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => (data, &[][..]),
    };
    let source = FuzzSource::parse(blocks, MAX_BLOCKS);
    let root = source.root();
    let names = text(names);
    let names: Vec<&str> = names.split('\n').take(16).collect();
    for name in &names {
        let _ = export::child(&source, &root, name);
    }
    let _ = export::resolve(&source, &root, &names.join("/"));
    // Listing walks every shard of a HAMT: bounded by its hash, each shard once.
    let _ = export::list(&source, &root);
    if let Ok(Entry::Pb(node, Some(d))) = export::load(&source, &root)
        && let Some(fanout) = d.fanout
        && dag_hamt::valid_fanout(fanout)
    {
        for name in &names {
            for depth in 0..4 {
                let _ = dag_hamt::lookup(&node, name, depth, fanout);
            }
        }
    }
}

fn build_then_lookup(data: &[u8]) {
    let Some((&f, rest)) = data.split_first() else {
        return;
    };
    let fanout = 8u64 << (f % 8);
    let names: BTreeSet<String> = text(rest)
        .split('\n')
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .take(2000)
        .map(str::to_string)
        .collect();
    let entries = names
        .iter()
        .map(|name| dag_hamt::Entry {
            name: name.clone(),
            cid: cid_of(Version::V1, RAW, name.as_bytes()),
            tsize: name.len() as u64,
        })
        .collect();
    let (blocks, _) = dag_hamt::build(entries, Version::V1, fanout).expect("distinct names");
    let root = *blocks.last().expect("a HAMT has a root block").cid();
    let store = MapSource(
        blocks
            .into_iter()
            .map(|b| {
                let (cid, data) = b.into_parts();
                (cid, data)
            })
            .collect(),
    );
    for name in &names {
        let found = export::resolve(&store, &root, name)
            .unwrap_or_else(|e| panic!("{name:?} not found in the HAMT built with it: {e}"));
        assert_eq!(found, cid_of(Version::V1, RAW, name.as_bytes()), "{name:?}");
    }
    let listed: Vec<String> = export::list(&store, &root)
        .expect("a built HAMT lists")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, names.into_iter().collect::<Vec<_>>());
}

/// CAR files (v1, and v2 read through to the inner v1): every block the reader yields
/// hashes to its CID, and a CAR read without error, written back out as a CARv1, reads
/// back as the same roots and blocks.
pub fn car(data: &[u8]) {
    let Ok(reader) = car::Reader::new(data) else {
        return;
    };
    let roots = reader.roots().to_vec();
    let mut blocks = Vec::new();
    for item in reader.take(1024) {
        match item {
            Ok(block) => {
                dag::block::verify(block.cid(), block.data())
                    .expect("the CAR reader yielded a block that does not match its CID");
                blocks.push(block);
            }
            Err(_) => return,
        }
    }
    let mut out = Vec::new();
    car::write(
        &mut out,
        &roots,
        blocks
            .iter()
            .cloned()
            .map(Ok::<_, std::convert::Infallible>),
    )
    .expect("writing a CAR into memory");
    let again = car::Reader::new(&out[..]).expect("a written CAR reads");
    assert_eq!(again.roots(), &roots[..]);
    let reread: Vec<(Cid, Bytes)> = again
        .map(|b| b.expect("a written CAR's blocks read").into_parts())
        .collect();
    let original: Vec<(Cid, Bytes)> = blocks.into_iter().map(|b| b.into_parts()).collect();
    assert_eq!(reread, original, "CAR round trip changed the blocks");
}
