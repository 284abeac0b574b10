use super::*;
use dag::Store;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("blocks")).expect("store");
    (dir, store)
}

fn put(store: &Store, json: &str, opts: &PutOptions) -> Cid {
    let b = put_block(json.as_bytes(), opts).expect("put");
    let cid = *b.cid();
    store.put(b).expect("store");
    cid
}

#[test]
fn put_converts_between_codecs_and_hashes() {
    let (_d, store) = store();
    let opts = PutOptions::default();
    let a = put(&store, r#"{"b":1,"a":[true,null,"x"]}"#, &opts);
    assert_eq!(a.codec(), dag::block::DAG_CBOR);
    // The same value from dag-cbor input gives the same CID.
    let cbor = export::get(&store, &a).expect("get");
    let again = put_block(
        &cbor,
        &PutOptions {
            input: Codec::DagCbor,
            ..opts
        },
    )
    .expect("put cbor");
    assert_eq!(*again.cid(), a);
    // Another hash function gives another multihash, same codec.
    let b3 = put_block(
        br#"{"b":1,"a":[true,null,"x"]}"#,
        &PutOptions {
            hash: HashFn::Blake3,
            ..opts
        },
    )
    .expect("blake3");
    assert_eq!(b3.cid().hash().code(), 0x1e);
    assert_eq!(b3.data(), &cbor);
}

#[test]
fn non_canonical_dag_cbor_input_is_refused() {
    let opts = PutOptions {
        input: Codec::DagCbor,
        ..PutOptions::default()
    };
    // {"b":1,"a":2}: keys out of order.
    let unsorted = [0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];
    let err = put_block(&unsorted, &opts).expect_err("unsorted");
    assert!(matches!(err, IpldError::Input { .. }), "{err}");
    for bad in [&[0x9f, 0x01, 0xff][..], &[0x18, 0x01], &[0xf7]] {
        assert!(put_block(bad, &opts).is_err());
    }
}

#[test]
fn get_and_resolve_walk_links_and_values() {
    let (_d, store) = store();
    let opts = PutOptions::default();
    let leaf = put(&store, r#"{"deep":{"x":[10,20]}}"#, &opts);
    let root = put(
        &store,
        &format!(r#"{{"child":{{"/":"{leaf}"}},"n":5}}"#),
        &PutOptions {
            store: Codec::DagJson,
            ..opts
        },
    );
    let got = get(
        &store,
        &format!("/ipfs/{root}/child/deep/x/1"),
        Codec::DagJson,
    )
    .expect("get");
    assert_eq!(got, b"20");
    let whole = get(&store, &root.to_string(), Codec::DagJson).expect("get root");
    assert_eq!(
        String::from_utf8(whole).expect("utf8"),
        format!(r#"{{"child":{{"/":"{leaf}"}},"n":5}}"#)
    );
    let r = resolve(&store, &format!("{root}/child/deep/x")).expect("resolve");
    assert_eq!(
        r,
        Resolution {
            cid: leaf,
            rem: "deep/x".into()
        }
    );
    let r = resolve(&store, &format!("{root}/child")).expect("resolve link");
    assert_eq!(r.rem, "");
    assert_eq!(r.cid, leaf);
    assert!(resolve(&store, &format!("{root}/nope")).is_err());
    assert!(get(&store, &format!("{root}/child/deep/y"), Codec::DagJson).is_err());
}

#[test]
fn stat_counts_shared_blocks_once() {
    let (_d, store) = store();
    let opts = PutOptions::default();
    let shared = put(&store, r#""shared""#, &opts);
    let a = put(
        &store,
        &format!(r#"[{{"/":"{shared}"}},{{"/":"{shared}"}}]"#),
        &opts,
    );
    let b = put(&store, &format!(r#"{{"s":{{"/":"{shared}"}}}}"#), &opts);
    let size = |c: &Cid| export::get(&store, c).expect("get").len() as u64;
    let s = stat(&store, &[a, b], |_| true).expect("stat");
    assert_eq!(s.unique_blocks, 3);
    assert_eq!(s.dags[0].blocks, 2);
    assert_eq!(s.dags[1].blocks, 2);
    assert_eq!(s.total_size, size(&a) + size(&b) + size(&shared));
    assert_eq!(s.shared_size(), size(&shared));
    assert!(s.ratio() > 1.0);
    // A missing child is an error, not a smaller count.
    let missing = put_block(br#""gone""#, &opts).expect("block");
    let c = put(&store, &format!(r#"[{{"/":"{}"}}]"#, missing.cid()), &opts);
    assert!(stat(&store, &[c], |_| true).is_err());
}

#[test]
fn block_checks() {
    let err = checked_block_v1(
        vec![0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02],
        0x71,
        HashFn::Sha2_256,
        None,
        false,
    )
    .expect_err("non-canonical dag-cbor");
    assert!(
        matches!(err, IpldError::Block(dag::BlockError::Malformed { .. })),
        "{err}"
    );
    assert!(matches!(
        checked_block_v1(b"x".to_vec(), 0x55, HashFn::Sha2_256, Some(20), false),
        Err(IpldError::DigestLength { .. })
    ));
    assert!(checked_block_v1(b"x".to_vec(), 0x55, HashFn::Sha2_512, Some(64), false).is_ok());
    assert!(matches!(
        checked_block_v1(
            vec![0; SOFT_BLOCK_LIMIT + 1],
            0x55,
            HashFn::Sha2_256,
            None,
            false
        ),
        Err(IpldError::TooBig { .. })
    ));
    assert!(
        checked_block_v1(
            vec![0; SOFT_BLOCK_LIMIT + 1],
            0x55,
            HashFn::Sha2_256,
            None,
            true
        )
        .is_ok()
    );
    assert!(input_codec("dag-pb").is_err());
    assert!(output_codec("store", "libp2p-key").is_err());
}

fn checked_block_v1(
    data: Vec<u8>,
    codec: u64,
    hash: HashFn,
    mhlen: Option<usize>,
    big: bool,
) -> Result<Block, IpldError> {
    checked_block(data, Version::V1, codec, hash, mhlen, big)
}

#[test]
fn block_put_v0_only_for_dag_pb_sha256() {
    let node = dag::pb::Node {
        links: Vec::new(),
        data: Some(bytes::Bytes::from_static(b"\x08\x01")),
    }
    .encode();
    let b = checked_block(
        node.clone(),
        Version::V0,
        0x70,
        HashFn::Sha2_256,
        None,
        false,
    )
    .expect("v0");
    assert_eq!(b.cid().version(), Version::V0);
    let b = checked_block(node, Version::V0, 0x70, HashFn::Sha2_512, None, false).expect("v1");
    assert_eq!(b.cid().version(), Version::V1);
    // Bytes that are not a dag-pb node are refused under a dag-pb CID.
    assert!(
        checked_block(
            b"junk".to_vec(),
            Version::V0,
            0x70,
            HashFn::Sha2_256,
            None,
            false
        )
        .is_err()
    );
}

#[test]
fn stat_stops_when_asked() {
    let (_d, store) = store();
    let opts = PutOptions::default();
    let mut prev = put(&store, "0", &opts);
    for i in 1..300 {
        prev = put(
            &store,
            &format!(r#"{{"i":{i},"p":{{"/":"{prev}"}}}}"#),
            &opts,
        );
    }
    let mut calls = 0;
    let r = stat(&store, &[prev], |_| {
        calls += 1;
        false
    });
    assert!(matches!(r, Err(IpldError::Stopped)));
    assert_eq!(calls, 1);
}
