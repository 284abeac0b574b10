//! Pins over IPLD DAGs (dag-cbor, dag-json, mixed with dag-pb and raw) through the
//! command line: issue 15's silent data loss (`dag import` of a dag-cbor root, `repo gc`,
//! `pin verify`), blocks of unknown codecs, and one pin for the CIDv0 and CIDv1 of a root.

use super::*;
use dag::codec::{Codec, Ipld};
use dag::{Block, Cid, HashFn, Version};
use std::collections::BTreeMap;

fn raw(data: &[u8]) -> Block {
    Block::encode(Version::V1, dag::block::RAW, data.to_vec())
}

/// A dag-cbor or dag-json map `{"n": tag, name: link, …}`.
fn ipld(codec: Codec, tag: &str, links: &[(&str, &Block)]) -> Block {
    let mut m = BTreeMap::new();
    m.insert("n".to_string(), Ipld::String(tag.to_string()));
    for (name, b) in links {
        m.insert((*name).to_string(), Ipld::Link(*b.cid()));
    }
    let bytes = dag::codec::encode(codec, &Ipld::Map(m)).expect("encode");
    Block::encode(Version::V1, codec.code(), bytes)
}

/// A CIDv0 dag-pb node linking to `links`.
fn pb(links: &[&Block], data: &[u8]) -> Block {
    let node = dag::pb::Node {
        links: links
            .iter()
            .map(|b| dag::pb::Link::new(*b.cid(), "x", b.data().len() as u64))
            .collect(),
        data: Some(data.to_vec().into()),
    };
    Block::encode(Version::V0, dag::block::DAG_PB, node.encode())
}

/// A CARv1 with `root` as its root and `blocks` in order.
fn car(root: &Block, blocks: &[&Block]) -> Vec<u8> {
    let mut out = Vec::new();
    dag::car::write(
        &mut out,
        &[*root.cid()],
        blocks
            .iter()
            .map(|b| Ok::<_, dag::car::CarError>((*b).clone())),
    )
    .expect("car");
    out
}

fn id(b: &Block) -> String {
    b.cid().to_string()
}

/// Imports `car`, which must pin `root`.
fn import(r: &Repo, car: &[u8], root: &Block) {
    assert_eq!(
        r.ok_in(&["dag", "import"], car),
        format!("Pinned root\t{}\tsuccess\n", id(root))
    );
}

fn has(r: &Repo, b: &Block) -> bool {
    r.local().contains(&b.cid().hash().to_bytes())
}

/// The issue's reproduction, step by step: each must keep every linked block.
fn imported_dag_cbor_dags_keep_their_blocks_through_gc(mode: Mode) {
    let r = Repo::new(mode);
    // dag-cbor root → raw leaf.
    let leaf = raw(b"the raw block the old gc removed");
    let root = ipld(Codec::DagCbor, "root", &[("data", &leaf)]);
    import(&r, &car(&root, &[&root, &leaf]), &root);
    assert_eq!(
        r.ok(&["refs", "-r", &id(&root)]),
        format!("{}\n", id(&leaf))
    );
    assert_eq!(r.ok(&["repo", "gc"]), "", "gc must remove nothing");
    assert!(has(&r, &leaf));
    assert_eq!(
        r.ok_bytes(&["block", "get", &id(&leaf)]),
        leaf.data().to_vec()
    );
    assert_eq!(r.ok(&["pin", "verify"]), "");
    assert_eq!(
        r.ok(&["pin", "ls", "--type", "indirect"]),
        format!("{} indirect\n", id(&leaf))
    );

    // dag-pb → dag-cbor → raw.
    let deep = raw(b"deep leaf");
    let mid = ipld(Codec::DagCbor, "mid", &[("leaf", &deep)]);
    let top = pb(&[&mid], b"top");
    import(&r, &car(&top, &[&top, &mid, &deep]), &top);
    r.ok(&["pin", "rm", &id(&root)]);
    let (removed, _) = r.gc();
    let gone: BTreeSet<Vec<u8>> = [&root, &leaf]
        .iter()
        .map(|b| b.cid().hash().to_bytes())
        .collect();
    assert_eq!(removed, gone);
    for b in [&top, &mid, &deep] {
        assert!(has(&r, b), "{} was collected", id(b));
    }
    assert_eq!(r.ok(&["pin", "verify"]), "");

    // A dag-cbor root whose child was never stored: importing (and pinning) it fails.
    let absent = raw(b"never stored");
    let lonely = ipld(Codec::DagCbor, "lonely", &[("x", &absent)]);
    let e = r.fail_in(&["dag", "import"], &car(&lonely, &[&lonely]));
    assert!(e.contains(&id(&absent)), "{e}");
    assert!(!r.ok(&["pin", "ls"]).contains(&id(&lonely)));
}

/// Issue 15's "Done when": a dag-cbor root linking to raw, dag-pb and dag-json children,
/// and a dag-json root linking to dag-cbor, pinned recursively; `repo gc` keeps every
/// block; unpinning and `repo gc` removes them all.
fn mixed_codec_dags_are_kept_whole_then_collected(mode: Mode) {
    let r = Repo::new(mode);
    let raw_leaf = raw(b"raw child");
    let pb_leaf = raw(b"under dag-pb");
    let pb_child = pb(&[&pb_leaf], b"dag-pb child");
    let json_leaf = raw(b"under dag-json");
    let json_child = ipld(Codec::DagJson, "dag-json child", &[("l", &json_leaf)]);
    let cbor_root = ipld(
        Codec::DagCbor,
        "dag-cbor root",
        &[("raw", &raw_leaf), ("pb", &pb_child), ("json", &json_child)],
    );
    let cbor_leaf = raw(b"under dag-cbor");
    let cbor_child = {
        let bytes = dag::codec::encode(
            Codec::DagCbor,
            &Ipld::List(vec![Ipld::Link(*cbor_leaf.cid()), Ipld::Float(1.5)]),
        )
        .expect("encode");
        Block::encode_with(Version::V1, dag::block::DAG_CBOR, HashFn::Sha2_512, bytes)
            .expect("sha2-512")
    };
    let json_root = ipld(Codec::DagJson, "dag-json root", &[("c", &cbor_child)]);
    let first = [
        &cbor_root,
        &raw_leaf,
        &pb_child,
        &pb_leaf,
        &json_child,
        &json_leaf,
    ];
    let second = [&json_root, &cbor_child, &cbor_leaf];
    import(&r, &car(&cbor_root, &first), &cbor_root);
    import(&r, &car(&json_root, &second), &json_root);
    let all: BTreeSet<Vec<u8>> = first
        .iter()
        .chain(&second)
        .map(|b| b.cid().hash().to_bytes())
        .collect();
    assert_eq!(dag_blocks(&r, &id(&cbor_root)).len(), 6);
    assert_eq!(dag_blocks(&r, &id(&json_root)).len(), 3);
    r.ok_in(&["block", "put"], b"garbage");

    let (removed, _) = r.gc();
    assert_eq!(removed, BTreeSet::from([multihash(&id(&raw(b"garbage")))]));
    assert_eq!(r.local(), all);
    assert_eq!(r.ok(&["pin", "verify"]), "");

    r.ok(&["pin", "rm", &id(&cbor_root), &id(&json_root)]);
    let (removed, _) = r.gc();
    assert_eq!(removed, all);
    assert!(r.local().is_empty());
}

/// A multicodec ipfsd does not know (private use).
const UNKNOWN_CODEC: u64 = 0x30_0001;

fn unknown_codecs_are_reported_by_pin_verify_and_gc(mode: Mode) {
    let r = Repo::new(mode);
    let opaque = Block::encode(Version::V1, UNKNOWN_CODEC, b"opaque".to_vec());
    let root = ipld(Codec::DagCbor, "root", &[("o", &opaque)]);
    import(&r, &car(&root, &[&root, &opaque]), &root);
    // Reported, but the pin is not broken: exit 0.
    assert_eq!(
        r.ok(&["pin", "verify"]),
        format!(
            "{} ok; links not followed in {} (codec 0x300001)\n",
            id(&root),
            id(&opaque)
        )
    );
    assert_eq!(r.ok(&["pin", "verify", "-q"]), "");
    let out = r.run(&["refs", "-r", &id(&root)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        crate::common::text(out.stdout),
        format!("{}\n", id(&opaque))
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "warning: {} has codec 0x300001, which ipfsd cannot follow: its links (if any) are not listed\n",
            id(&opaque)
        )
    );
    // Not recursive: nothing is left unfollowed, nothing to say.
    assert_eq!(r.ok(&["refs", &id(&root)]), format!("{}\n", id(&opaque)));
    let out = r.run(&["repo", "gc"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(crate::common::text(out.stdout), "", "nothing removed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "warning: pin {}: block {} has codec 0x300001",
            id(&root),
            id(&opaque)
        )),
        "{err}"
    );
    assert!(has(&r, &opaque));
}

/// The CIDv0 and CIDv1 of one dag-pb root are one pin: either spelling finds and removes
/// it, and `pin ls` shows it as first pinned.
fn cidv0_and_cidv1_of_a_root_are_one_pin(mode: Mode) {
    let r = Repo::new(mode);
    r.file("hello.txt", b"hello world\n");
    assert_eq!(r.add(&["hello.txt"]), HELLO);
    let v1 = Cid::new_v1(
        dag::block::DAG_PB,
        *dag::block::parse_cid(HELLO).expect("cid").hash(),
    )
    .to_string();
    r.ok(&["pin", "add", &v1]);
    assert_eq!(r.ok(&["pin", "ls"]), format!("{HELLO} recursive\n"));
    assert_eq!(r.ok(&["pin", "ls", &v1]), format!("{v1} recursive\n"));
    assert_eq!(r.ok(&["pin", "rm", &v1]), format!("unpinned {v1}\n"));
    assert_eq!(r.ok(&["pin", "ls"]), "");
    let e = r.fail(&["pin", "rm", HELLO]);
    assert!(e.contains("not pinned"), "{e}");
    r.ok(&["pin", "add", &v1]);
    assert_eq!(r.ok(&["pin", "ls", "-q"]), format!("{v1}\n"));
}

/// Blocks that arrive in a CAR are checked with their own hash function and codec: a
/// non-canonical dag-cbor block and an unsupported hash function are refused, clearly.
fn dag_import_refuses_non_canonical_and_unverifiable_blocks(mode: Mode) {
    let r = Repo::new(mode);
    // {"b": 1, "a": 2}: map keys out of order.
    let unsorted = vec![0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];
    let bad = Block::encode(Version::V1, dag::block::DAG_CBOR, unsorted);
    let e = r.fail_in(&["dag", "import"], &car(&bad, &[&bad]));
    assert!(e.contains(&id(&bad)) && e.contains("dag-cbor"), "{e}");
    let e = r.fail_in(&["block", "put", "--cid-codec", "dag-cbor"], bad.data());
    assert!(e.contains("dag-cbor"), "{e}");

    // md5 (0xd5): a multihash ipfsd cannot check.
    let mut cid = vec![0x01, 0x55, 0xd5, 0x01, 16];
    cid.extend([7u8; 16]);
    let cid = Cid::try_from(cid.as_slice()).expect("md5 CID");
    let mut bytes = Vec::new();
    dag::car::write(
        &mut bytes,
        &[cid],
        [Ok::<_, dag::car::CarError>(Block::trusted(
            cid,
            b"x".to_vec().into(),
        ))],
    )
    .expect("car");
    let e = r.fail_in(&["dag", "import", "--pin-roots=false"], &bytes);
    assert!(e.contains("unsupported") || e.contains("0xd5"), "{e}");
    let e = r.fail_in(&["block", "put", "--mhtype", "md5"], b"x");
    assert!(e.contains("md5"), "{e}");
    assert!(r.local().is_empty());
}

both_modes!(
    imported_dag_cbor_dags_keep_their_blocks_through_gc,
    mixed_codec_dags_are_kept_whole_then_collected,
    unknown_codecs_are_reported_by_pin_verify_and_gc,
    cidv0_and_cidv1_of_a_root_are_one_pin,
    dag_import_refuses_non_canonical_and_unverifiable_blocks,
);
