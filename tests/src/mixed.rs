//! A mixed-codec, mixed-hash DAG for BitSwap tests, built with the `dag` crate's own
//! encoders: a dag-cbor root (sha2-512) linking to a dag-json node (blake3), a second
//! dag-cbor node (sha2-256), a UnixFS file hashed with sha2-512 (raw leaves) and one
//! hashed with blake3 (dag-pb leaves, a two-level tree), and raw blocks under each of the
//! three functions, one of them linked twice. Content is unique per call ([`noise`]), so a
//! leecher cannot already hold it.
//!
//! [`MixedDag::car`] gives the CARv1 a seeder imports with `dag/import`.

use crate::fixtures::noise;
use crate::testnet::TestNode;
use dag::codec::{Codec, Ipld};
use dag::import::{Importer, Params};
use dag::{Block, Cid, HashFn, Version};
use std::collections::{BTreeMap, BTreeSet};

/// The DAG: its root and every block (children before parents, root last).
#[derive(Debug, Clone)]
pub struct MixedDag {
    /// The root CID (dag-cbor, sha2-512).
    pub root: Cid,
    /// Every block once.
    pub blocks: Vec<Block>,
}

impl MixedDag {
    /// A new DAG with content unique to `seed` and the time.
    pub fn new(seed: u64) -> MixedDag {
        let mut blocks = Vec::new();
        let raw = |f: HashFn, len: usize, salt: u64, blocks: &mut Vec<Block>| -> Cid {
            let b = Block::encode_with(Version::V1, dag::block::RAW, f, noise(seed ^ salt, len))
                .expect("hash");
            let cid = *b.cid();
            blocks.push(b);
            cid
        };
        let r256 = raw(HashFn::Sha2_256, 3000, 1, &mut blocks);
        let r512 = raw(HashFn::Sha2_512, 5000, 2, &mut blocks);
        let rb3 = raw(HashFn::Blake3, 7000, 3, &mut blocks);

        // A UnixFS file with raw leaves, everything sha2-512 (3 leaves and a root).
        let mut p = Params::default();
        p.set_hash(HashFn::Sha2_512, false, false)
            .expect("sha2-512");
        let file512 = import(p, &noise(seed ^ 4, 600_000), &mut blocks);
        // A UnixFS file with dag-pb leaves, blake3, two levels (12 leaves, 3 links each).
        let mut p = Params {
            chunk_size: 4096,
            max_links: 3,
            ..Params::default()
        };
        p.set_hash(HashFn::Blake3, false, true).expect("blake3");
        let fileb3 = import(p, &noise(seed ^ 5, 12 * 4096 - 100), &mut blocks);

        let node = |codec: Codec, f: HashFn, v: Ipld, blocks: &mut Vec<Block>| -> Cid {
            let data = dag::codec::encode(codec, &v).expect("encode");
            let b = Block::encode_with(Version::V1, codec.code(), f, data).expect("hash");
            let cid = *b.cid();
            blocks.push(b);
            cid
        };
        let json = node(
            Codec::DagJson,
            HashFn::Blake3,
            map([
                ("name", Ipld::String(format!("dag-json child {seed}"))),
                ("raw", Ipld::Link(r256)),
                ("file", Ipld::Link(fileb3)),
                (
                    "list",
                    Ipld::List(vec![
                        Ipld::Integer(1),
                        Ipld::Integer(-2),
                        map([("again", Ipld::Link(rb3))]),
                    ]),
                ),
            ]),
            &mut blocks,
        );
        let cbor = node(
            Codec::DagCbor,
            HashFn::Sha2_256,
            map([
                ("bytes", Ipld::Bytes(noise(seed ^ 6, 64))),
                ("float", Ipld::Float(1.5)),
                ("big", Ipld::Integer(-(1i128 << 40))),
                ("leaf", Ipld::Link(r512)),
                ("blake3", Ipld::Link(rb3)),
            ]),
            &mut blocks,
        );
        let root = node(
            Codec::DagCbor,
            HashFn::Sha2_512,
            map([
                ("json", Ipld::Link(json)),
                ("cbor", Ipld::Link(cbor)),
                ("file", Ipld::Link(file512)),
                ("unicode ✓", Ipld::String("mixed".into())),
            ]),
            &mut blocks,
        );
        let mut seen = std::collections::HashSet::new();
        blocks.retain(|b| seen.insert(*b.cid()));
        MixedDag { root, blocks }
    }

    /// Every block's CID, as strings.
    pub fn cids(&self) -> BTreeSet<String> {
        self.blocks.iter().map(|b| b.cid().to_string()).collect()
    }

    /// The root as a string.
    pub fn cid(&self) -> String {
        self.root.to_string()
    }

    /// A CARv1 of every block with the root in its header.
    pub fn car(&self) -> Vec<u8> {
        crate::hostile::car(&[self.root], &self.blocks)
    }

    /// How many blocks use each hash function (by its name).
    pub fn hashes(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for b in &self.blocks {
            let name = HashFn::from_code(b.cid().hash().code()).map_or("?", HashFn::name);
            *out.entry(name).or_insert(0) += 1;
        }
        out
    }

    /// How many blocks use each codec (by its name).
    pub fn codecs(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for b in &self.blocks {
            *out.entry(Codec::of(b.cid()).to_string()).or_insert(0) += 1;
        }
        out
    }
}

/// The CIDs of every block under `root` on `node` (`refs -r`, plus the root); panics on
/// an error line.
pub fn dag_cids(node: &TestNode, root: &str) -> BTreeSet<String> {
    let r = node
        .call("refs", &[("arg", root), ("recursive", "true")])
        .ok();
    let mut out: BTreeSet<String> = r
        .lines()
        .iter()
        .map(|l| {
            assert_eq!(l["Err"], "", "{}", r.text());
            l["Ref"].as_str().expect("Ref").to_string()
        })
        .collect();
    out.insert(root.to_string());
    out
}

fn map<const N: usize>(entries: [(&str, Ipld); N]) -> Ipld {
    Ipld::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn import(params: Params, data: &[u8], blocks: &mut Vec<Block>) -> Cid {
    Importer::new(params, blocks)
        .expect("params")
        .add_reader(data, "")
        .expect("import")
        .cid
}
