//! Crafted DAGs a hostile peer (or web page) may serve, built with the `dag` crate's own
//! encoders: chains far deeper than any real tree, HAMTs deeper than their hash allows,
//! "diamonds" whose every node links its child twice (2^levels paths over `levels + 1`
//! blocks), shards that link one child from every slot, a directory block as large as
//! BitSwap carries, and a HAMT of a million tiny entries. Each builder returns the root and
//! every block (root last), ready for [`car`] and `dag/import`.
//!
//! A block cannot link to itself, nor can two blocks link to each other: a CID is the hash
//! of the bytes holding the link. The "cycles" a peer can really send are repeats — the
//! same CID met again along different paths — which is what the diamonds and the
//! all-slots shards are.

use bytes::Bytes;
use dag::block::{DAG_PB, RAW};
use dag::pb::{Link, Node};
use dag::unixfs::{Data, DataType};
use dag::{Block, Cid, Version};

/// A crafted DAG: its root and all its blocks (root last).
#[derive(Debug, Clone)]
pub struct Crafted {
    /// The root CID.
    pub root: Cid,
    /// Every block, children before parents.
    pub blocks: Vec<Block>,
}

impl Crafted {
    fn push(&mut self, block: Block) -> Cid {
        let cid = *block.cid();
        self.blocks.push(block);
        self.root = cid;
        cid
    }

    /// The root as a string.
    pub fn cid(&self) -> String {
        self.root.to_string()
    }

    /// A CARv1 of every block with the root in its header.
    pub fn car(&self) -> Vec<u8> {
        car(&[self.root], &self.blocks)
    }
}

fn empty() -> Crafted {
    Crafted {
        root: Cid::default(),
        blocks: Vec::new(),
    }
}

/// A CARv1 of `blocks` with `roots`.
pub fn car(roots: &[Cid], blocks: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    dag::car::write(
        &mut out,
        roots,
        blocks.iter().cloned().map(Ok::<_, dag::car::CarError>),
    )
    .expect("CAR written to memory");
    out
}

fn pb(links: Vec<Link>, data: Data) -> Block {
    let node = Node {
        links,
        data: Some(Bytes::from(data.encode())),
    };
    Block::encode(Version::V1, DAG_PB, node.encode())
}

fn shard_data() -> Data {
    Data {
        data: Bytes::from_static(&[1]),
        hash_type: Some(dag::hamt::HASH_MURMUR3),
        fanout: Some(256),
        ..Data::new(DataType::HamtShard)
    }
}

/// A small raw file block holding `text`.
pub fn file(text: &str) -> Block {
    Block::encode(Version::V1, RAW, text.as_bytes().to_vec())
}

/// `levels` nested HAMT shards (fanout 256), each linking the next from slot `00`, the
/// last holding a file named `file`: valid up to 8 levels, invalid beyond.
pub fn hamt_chain(levels: usize, tag: &str) -> Crafted {
    let mut c = empty();
    let f = c.push(file(tag));
    c.push(pb(vec![Link::new(f, "00file", 1)], shard_data()));
    for _ in 1..levels {
        let next = c.root;
        c.push(pb(vec![Link::new(next, "00", 1)], shard_data()));
    }
    c
}

/// `levels` nested plain directories, each holding the next as `d`, the last holding a
/// file named `file`.
pub fn dir_chain(levels: usize, tag: &str) -> Crafted {
    let mut c = empty();
    let f = c.push(file(tag));
    c.push(pb(
        vec![Link::new(f, "file", 1)],
        Data::new(DataType::Directory),
    ));
    for _ in 1..levels {
        let next = c.root;
        c.push(pb(
            vec![Link::new(next, "d", 1)],
            Data::new(DataType::Directory),
        ));
    }
    c
}

/// `levels` directories, each linking its child twice (as `a` and `b`): 2^levels paths
/// to the file at the bottom over `levels + 2` blocks. A walk that does not remember what
/// it visited never ends.
pub fn diamond(levels: usize, tag: &str) -> Crafted {
    let mut c = empty();
    let f = c.push(file(tag));
    c.push(pb(
        vec![Link::new(f, "file", 1)],
        Data::new(DataType::Directory),
    ));
    for _ in 0..levels {
        let next = c.root;
        c.push(pb(
            vec![Link::new(next, "a", 1), Link::new(next, "b", 1)],
            Data::new(DataType::Directory),
        ));
    }
    c
}

/// `levels` HAMT shards, each linking the next from all 256 slots: 256^levels paths,
/// and any name's lookup descends until the hash runs out.
pub fn hamt_all_slots(levels: usize, tag: &str) -> Crafted {
    let mut c = empty();
    let f = c.push(file(tag));
    c.push(pb(vec![Link::new(f, "00file", 1)], shard_data()));
    for _ in 0..levels {
        let next = c.root;
        let links = (0..256)
            .map(|i| Link::new(next, format!("{i:02X}"), 1))
            .collect();
        c.push(pb(links, shard_data()));
    }
    c
}

/// One plain directory block of at most `max_bytes` bytes, packed with links of tiny
/// size: every entry is an empty identity-hashed raw block (nothing to fetch) under a
/// short unique name. Returns the DAG and the number of entries.
pub fn wide_dir(max_bytes: usize) -> (Crafted, usize) {
    // The identity CID of the empty raw block (4 bytes).
    let tiny = dag::block::parse_cid("bafkqaaa").expect("identity CID");
    let data = Data::new(DataType::Directory);
    let mut links = Vec::new();
    // Each link costs its name plus ~12 bytes of framing; names are base-36 counters.
    let mut used = 16;
    let mut n = 0usize;
    loop {
        let name = radix36(n);
        let cost = name.len() + 14;
        if used + cost > max_bytes {
            break;
        }
        used += cost;
        links.push(Link::new(tiny, name, 0));
        n += 1;
    }
    let mut c = empty();
    let block = pb(links, data);
    assert!(block.data().len() <= max_bytes, "{}", block.data().len());
    c.push(block);
    (c, n)
}

fn radix36(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A HAMT-sharded directory (fanout 256, built by the `dag` crate's own HAMT builder, as
/// the importer builds large directories) of `entries` tiny entries: every one is the
/// empty identity-hashed raw block (nothing to fetch) under a short unique name, so only
/// the shards are big.
pub fn wide_hamt(entries: usize) -> Crafted {
    let tiny = dag::block::parse_cid("bafkqaaa").expect("identity CID");
    let entries = (0..entries)
        .map(|i| dag::hamt::Entry {
            name: radix36(i),
            cid: tiny,
            tsize: 0,
        })
        .collect();
    let (blocks, _) = dag::hamt::build(entries, Version::V1, dag::hamt::DEFAULT_FANOUT)
        .expect("unique names fit a HAMT");
    let mut c = empty();
    for b in blocks {
        c.push(b);
    }
    c
}
