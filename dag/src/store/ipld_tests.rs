//! Pins, GC and `pin verify` over DAGs of every codec (issue 15's silent data loss: a
//! pinned dag-cbor root whose linked blocks were collected).

use super::tests::{on_both_stores, temp_store};
use super::*;
use crate::block::{DAG_CBOR, DAG_JSON, DAG_PB, Version};
use crate::codec::{self, Codec, Ipld};
use crate::hash::HashFn;
use crate::testutil::raw;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A block of `codec` (dag-cbor or dag-json) holding `value`, hashed with `hash`.
fn ipld_block(codec: Codec, hash: HashFn, value: &Ipld) -> Block {
    let bytes = codec::encode(codec, value).expect("encode");
    Block::encode_with(Version::V1, codec.code(), hash, bytes).expect("hash")
}

/// A dag-cbor/dag-json map `{ name: link, … , "n": tag }`.
fn map_of(tag: &str, links: &[(&str, &Block)]) -> Ipld {
    let mut m = BTreeMap::new();
    m.insert("n".to_string(), Ipld::String(tag.to_string()));
    for (name, b) in links {
        m.insert((*name).to_string(), Ipld::Link(*b.cid()));
    }
    Ipld::Map(m)
}

fn cbor(tag: &str, links: &[(&str, &Block)]) -> Block {
    ipld_block(Codec::DagCbor, HashFn::Sha2_256, &map_of(tag, links))
}

fn json(tag: &str, links: &[(&str, &Block)]) -> Block {
    ipld_block(Codec::DagJson, HashFn::Sha2_256, &map_of(tag, links))
}

fn pb(links: &[&Block], data: &[u8]) -> Block {
    crate::testutil::node_named(links, "", data)
}

fn present(store: &Store, blocks: &[&Block]) -> Vec<bool> {
    blocks
        .iter()
        .map(|b| store.has(b.cid()).expect("has"))
        .collect()
}

/// Whether `pin verify` finds every pin whole.
fn pins_verify(store: &Store) -> bool {
    store
        .pin_verify()
        .expect("verify")
        .iter()
        .all(PinReport::is_ok)
}

#[test]
fn gc_keeps_raw_child_of_pinned_dag_cbor_root() {
    let (_dir, store) = temp_store();
    let leaf = raw(b"precious");
    let root = cbor("root", &[("data", &leaf)]);
    store.put_many([leaf.clone(), root.clone()]).expect("put");
    store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    let report = store.gc().expect("gc");
    assert!(report.removed.is_empty(), "gc removed {:?}", report.removed);
    assert_eq!(present(&store, &[&root, &leaf]), [true, true]);
    assert!(pins_verify(&store));
    assert_eq!(store.indirect_pins().expect("indirect"), vec![*leaf.cid()]);
    assert_eq!(
        store.pin_status(leaf.cid()).expect("status"),
        Some(PinKind::Indirect { via: *root.cid() })
    );
}

#[test]
fn gc_keeps_dag_pb_to_dag_cbor_to_raw_chain() {
    let (_dir, store) = temp_store();
    let leaf = raw(b"deep leaf");
    let mid = cbor("mid", &[("leaf", &leaf)]);
    let top = pb(&[&mid], b"top");
    store
        .put_many([leaf.clone(), mid.clone(), top.clone()])
        .expect("put");
    store.pin_add(top.cid(), PinMode::Recursive).expect("pin");
    store.gc().expect("gc");
    assert_eq!(present(&store, &[&top, &mid, &leaf]), [true, true, true]);
    assert!(pins_verify(&store));
}

#[test]
fn pin_verify_reports_a_missing_child_of_a_dag_cbor_root() {
    let (_dir, store) = temp_store();
    let leaf = raw(b"will vanish");
    let root = cbor("root", &[("data", &leaf)]);
    store.put_many([leaf.clone(), root.clone()]).expect("put");
    store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    // The child disappears behind the pin's back (as the old GC made it do).
    assert!(store.delete(leaf.cid()).expect("delete"));
    let reports = store.pin_verify().expect("verify");
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].problems,
        vec![PinProblem::Missing { cid: *leaf.cid() }]
    );
}

#[test]
fn recursive_pin_of_dag_cbor_root_with_absent_child_is_refused() {
    let (_dir, store) = temp_store();
    let never_stored = raw(b"never stored");
    let inner = json("inner", &[("x", &never_stored)]);
    let root = cbor("root", &[("inner", &inner)]);
    store.put_many([root.clone(), inner.clone()]).expect("put");
    match store.pin_add(root.cid(), PinMode::Recursive) {
        Err(StoreError::MissingBlock { cid }) => assert_eq!(cid, *never_stored.cid()),
        other => panic!("pinned a DAG with a missing block: {other:?}"),
    }
    assert!(store.pins().expect("pins").is_empty());
}

on_both_stores!(mixed_codec_dags_are_kept_whole_then_collected);
/// Issue 15's "Done when": a dag-cbor root linking to raw, dag-pb and dag-json children,
/// and a dag-json root linking to dag-cbor, pinned recursively, survive GC whole; once
/// unpinned, GC removes every block.
fn mixed_codec_dags_are_kept_whole_then_collected(store: Store) {
    let raw_leaf = raw(b"raw leaf");
    let pb_leaf = raw(b"under dag-pb");
    let pb_child = pb(&[&pb_leaf], b"pb child");
    let json_leaf = raw(b"under dag-json");
    let json_child = json("json child", &[("leaf", &json_leaf)]);
    let cbor_root = cbor(
        "cbor root",
        &[("raw", &raw_leaf), ("pb", &pb_child), ("json", &json_child)],
    );
    let cbor_leaf = raw(b"under dag-cbor");
    let cbor_child = ipld_block(
        Codec::DagCbor,
        HashFn::Blake3,
        &Ipld::List(vec![Ipld::Link(*cbor_leaf.cid()), Ipld::Integer(-7)]),
    );
    let json_root = json("json root", &[("cbor", &cbor_child)]);
    let all = [
        &raw_leaf,
        &pb_leaf,
        &pb_child,
        &json_leaf,
        &json_child,
        &cbor_root,
        &cbor_leaf,
        &cbor_child,
        &json_root,
    ];
    store
        .put_many(all.iter().map(|b| (*b).clone()))
        .expect("put");
    store.put(raw(b"garbage")).expect("put");
    for root in [&cbor_root, &json_root] {
        store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    }
    let report = store.gc().expect("gc");
    assert_eq!(report.removed, vec![*raw(b"garbage").cid()]);
    assert_eq!(present(&store, &all), [true; 9]);
    assert!(pins_verify(&store));
    assert_eq!(store.indirect_pins().expect("indirect").len(), 7);

    for root in [&cbor_root, &json_root] {
        store.pin_rm(root.cid()).expect("unpin");
    }
    let report = store.gc().expect("gc");
    assert_eq!(report.removed.len(), 9);
    assert_eq!(present(&store, &all), [false; 9]);
    assert_eq!(store.stat().expect("stat").num_blocks, 0);
}

// ---- property test: random mixed-codec DAGs and pin sets ----

/// How one generated block is made.
#[derive(Debug, Clone)]
enum Kind {
    Raw,
    Pb,
    Cbor,
    Json,
    /// An identity CID (raw bytes inline, never stored).
    Identity,
}

const HASHES: [HashFn; 5] = [
    HashFn::Sha2_256,
    HashFn::Sha2_512,
    HashFn::Blake3,
    HashFn::Sha3_256,
    HashFn::Blake2b256,
];

/// Builds the blocks bottom-up: block `i` links only to blocks before it, so every DAG is
/// acyclic; children are shared freely.
fn build(spec: &[(Kind, usize, Vec<prop::sample::Index>)]) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for (i, (kind, hash, links)) in spec.iter().enumerate() {
        let hash = HASHES[hash % HASHES.len()];
        let targets: Vec<Cid> = if i == 0 {
            Vec::new()
        } else {
            links.iter().map(|ix| *blocks[ix.index(i)].cid()).collect()
        };
        let tag = format!("block {i}");
        let block = match kind {
            Kind::Raw => Block::encode_with(Version::V1, RAW, hash, tag.into_bytes()).expect("h"),
            Kind::Identity => {
                Block::encode_with(Version::V1, RAW, HashFn::Identity, tag.into_bytes())
                    .expect("identity")
            }
            Kind::Pb => {
                let node = crate::pb::Node {
                    links: targets
                        .iter()
                        .map(|c| crate::pb::Link::new(*c, "", 1))
                        .collect(),
                    data: Some(bytes::Bytes::from(tag)),
                };
                let version = if hash == HashFn::Sha2_256 && i % 2 == 0 {
                    Version::V0
                } else {
                    Version::V1
                };
                Block::encode_with(version, DAG_PB, hash, node.encode()).expect("h")
            }
            Kind::Cbor | Kind::Json => {
                let codec = if matches!(kind, Kind::Cbor) {
                    Codec::DagCbor
                } else {
                    Codec::DagJson
                };
                let mut m = BTreeMap::new();
                m.insert("tag".to_string(), Ipld::String(tag));
                m.insert(
                    "links".to_string(),
                    Ipld::List(targets.iter().map(|c| Ipld::Link(*c)).collect()),
                );
                ipld_block(codec, hash, &Ipld::Map(m))
            }
        };
        blocks.push(block);
    }
    blocks
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Raw),
        2 => Just(Kind::Pb),
        3 => Just(Kind::Cbor),
        2 => Just(Kind::Json),
        1 => Just(Kind::Identity),
    ]
}

type Pins = Vec<(prop::sample::Index, bool)>;

fn arb_mixed_dag() -> impl Strategy<Value = (Vec<Block>, Pins)> {
    (1usize..24)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(
                    (
                        arb_kind(),
                        0usize..HASHES.len(),
                        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
                    ),
                    n,
                ),
                prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..6),
            )
        })
        .prop_map(|(spec, pins)| (build(&spec), pins))
}

/// The model: multihashes of the stored blocks reachable from recursive pins, plus the
/// direct pins' blocks (identity blocks are never stored).
fn model_keep(blocks: &[Block], pins: &[(Cid, PinMode)]) -> HashSet<Vec<u8>> {
    let by_mh: HashMap<Vec<u8>, &Block> = blocks
        .iter()
        .map(|b| (b.cid().hash().to_bytes(), b))
        .collect();
    let mut keep = HashSet::new();
    let mut walked = HashSet::new();
    for (root, mode) in pins {
        if *mode == PinMode::Direct {
            keep.insert(root.hash().to_bytes());
            continue;
        }
        let mut stack = vec![*root];
        while let Some(c) = stack.pop() {
            let mh = c.hash().to_bytes();
            keep.insert(mh.clone());
            if walked.insert(c) {
                let b = by_mh[&mh];
                stack.extend(codec::links(&c, b.data()).expect("links"));
            }
        }
    }
    keep.retain(|mh| {
        by_mh
            .get(mh)
            .is_some_and(|b| block::identity_data(b.cid()).is_none())
    });
    keep
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After GC exactly the blocks reachable from recursive pins plus the direct-pinned
    /// blocks remain: nothing pinned is lost, nothing unpinned is kept. Then unpinning
    /// everything and collecting empties the store.
    #[test]
    fn gc_is_exact_over_mixed_codecs((blocks, pins) in arb_mixed_dag()) {
        let (_dir, store) = temp_store();
        store.put_many(blocks.iter().cloned()).expect("put");
        for (ix, recursive) in &pins {
            let cid = blocks[ix.index(blocks.len())].cid();
            let mode = if *recursive { PinMode::Recursive } else { PinMode::Direct };
            // Direct after recursive on the same CID is refused; that's fine here.
            match store.pin_add(cid, mode) {
                Ok(()) | Err(StoreError::AlreadyPinnedRecursively { .. }) => {}
                Err(e) => panic!("pin {cid} {mode}: {e}"),
            }
        }
        let pinned = store.pins().expect("pins");
        let keep = model_keep(&blocks, &pinned);
        store.gc().expect("gc");
        let mut stored = HashSet::new();
        for b in &blocks {
            if block::identity_data(b.cid()).is_none() && store.has(b.cid()).expect("has") {
                stored.insert(b.cid().hash().to_bytes());
            }
        }
        prop_assert_eq!(&stored, &keep);
        prop_assert_eq!(store.stat().expect("stat").num_blocks as usize, keep.len());
        prop_assert!(pins_verify(&store));

        for (cid, _) in &pinned {
            store.pin_rm(cid).expect("unpin");
        }
        store.gc().expect("gc");
        prop_assert_eq!(store.stat().expect("stat").num_blocks, 0);
    }
}

#[test]
fn dag_json_and_dag_cbor_roots_of_the_same_value_are_distinct_pins() {
    // Pins keep the codec: one value in two codecs is two blocks, two pins.
    let (_dir, store) = temp_store();
    let leaf = raw(b"shared");
    let a = cbor("same", &[("l", &leaf)]);
    let b = json("same", &[("l", &leaf)]);
    store
        .put_many([leaf.clone(), a.clone(), b.clone()])
        .expect("put");
    store.pin_add(a.cid(), PinMode::Recursive).expect("pin");
    store.pin_add(b.cid(), PinMode::Recursive).expect("pin");
    assert_eq!(store.pins().expect("pins").len(), 2);
    store.pin_rm(a.cid()).expect("unpin");
    store.gc().expect("gc");
    assert_eq!(present(&store, &[&leaf, &a, &b]), [true, false, true]);
    let _ = (DAG_CBOR, DAG_JSON);
}

/// A multicodec ipfsd does not know (a private-use code).
const UNKNOWN_CODEC: u64 = 0x30_0001;

on_both_stores!(unknown_codec_blocks_are_kept_as_leaves_and_reported);
fn unknown_codec_blocks_are_kept_as_leaves_and_reported(store: Store) {
    let opaque = Block::encode(Version::V1, UNKNOWN_CODEC, &b"opaque bytes"[..]);
    assert!(!Codec::of(opaque.cid()).follows_links());
    let root = cbor("root", &[("opaque", &opaque)]);
    let plain = cbor("plain", &[]);
    store
        .put_many([opaque.clone(), root.clone(), plain.clone()])
        .expect("put");
    store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    store.pin_add(plain.cid(), PinMode::Recursive).expect("pin");

    let reports = store.pin_verify().expect("verify");
    let by_root: HashMap<Cid, &PinReport> = reports.iter().map(|r| (r.cid, r)).collect();
    assert!(by_root[root.cid()].is_ok(), "a leaf, not a broken DAG");
    assert_eq!(by_root[root.cid()].unfollowed, vec![*opaque.cid()]);
    assert!(by_root[plain.cid()].unfollowed.is_empty());

    let report = store.gc().expect("gc");
    assert!(report.removed.is_empty());
    assert_eq!(
        report.unfollowed,
        vec![Unfollowed {
            pin: *root.cid(),
            cid: *opaque.cid()
        }]
    );
    assert!(store.has(opaque.cid()).expect("has"));
}
