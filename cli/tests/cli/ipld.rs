//! `dag put|get|resolve|stat`, `block put` in any codec and hash, and the `cid` utilities.
//! The expected CIDs and bytes were computed with JS `@ipld/dag-cbor`, `@ipld/dag-json`
//! and `multiformats` (tests/interop), not with ipfsd.

use super::*;

/// `{"hello":"world"}` as dag-cbor (sha2-256).
const HELLO_CBOR: &str = "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae";
/// The same value as dag-json.
const HELLO_JSON: &str = "baguqeerasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea";
/// `{"deep":{"x":[10,20]}}` as dag-cbor.
const LEAF: &str = "bafyreicr3tdax22sdqjdyoqbldkztsczqyemuyfjyjsgcv2bjuksypc5ee";
/// `{"child": LEAF, "n": 5}` as dag-cbor.
const ROOT: &str = "bafyreihk5tin4nzrtb5yma2klmxnzslqbnmsm7bgcphg3yeb36nkugwobu";
/// `{"b":1,"a":2}` in CBOR with its keys out of order (not canonical dag-cbor).
const UNSORTED: [u8; 7] = [0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];

fn line(s: &str) -> String {
    format!("{s}\n")
}

fn dag_put_and_get(mode: Mode) {
    let r = Repo::new(mode);
    let hello = br#"{"hello":"world"}"#;
    assert_eq!(r.ok_in(&["dag", "put"], hello), line(HELLO_CBOR));
    // Whitespace and key order in the input do not matter: the stored form is canonical.
    assert_eq!(
        r.ok_in(&["dag", "put"], b" {\n  \"hello\" : \"world\" }\n"),
        line(HELLO_CBOR)
    );
    assert_eq!(
        r.ok_in(&["dag", "put", "--store-codec", "dag-json"], hello),
        line(HELLO_JSON)
    );
    assert_eq!(
        r.ok_bytes(&["block", "get", HELLO_CBOR]),
        b"\xa1\x65hello\x65world"
    );
    assert_eq!(r.ok_bytes(&["dag", "get", HELLO_CBOR]), hello);
    assert_eq!(
        r.ok_bytes(&["dag", "get", "--output-codec", "dag-cbor", HELLO_JSON]),
        b"\xa1\x65hello\x65world"
    );
    // dag-cbor input gives the same node.
    r.file("hello.cbor", b"\xa1\x65hello\x65world");
    assert_eq!(
        r.ok(&["dag", "put", "--input-codec", "dag-cbor", "hello.cbor"]),
        line(HELLO_CBOR)
    );
    // Several inputs, one node each.
    r.file("a.json", b"1");
    r.file("b.json", b"[1,2]");
    let two = r.ok(&["dag", "put", "a.json", "b.json"]);
    assert_eq!(two.lines().count(), 2, "{two}");
    // Another hash function: a CIDv1 of blake3, same bytes.
    let b3 = r.ok_in(&["dag", "put", "--hash", "blake3"], hello);
    assert_eq!(
        r.ok(&["cid", "format", "-f", "%c %h %L", b3.trim_end()]),
        "dag-cbor blake3 32\n"
    );
    assert_eq!(
        r.ok_bytes(&["block", "get", b3.trim_end()]),
        b"\xa1\x65hello\x65world"
    );
    // Other store and output codecs.
    let json = r.ok_in(&["dag", "put", "--store-codec", "json"], hello);
    assert!(json.starts_with("bagaaiera"), "{json}");
    assert_eq!(
        r.ok_bytes(&["dag", "get", "--output-codec", "json", json.trim_end()]),
        hello
    );
    let raw = r.ok_in(
        &["dag", "put", "--store-codec", "raw"],
        br#"{"/":{"bytes":"aGk"}}"#,
    );
    assert_eq!(r.ok_bytes(&["block", "get", raw.trim_end()]), b"hi");
    assert_eq!(
        r.ok_bytes(&["dag", "get", raw.trim_end()]),
        br#"{"/":{"bytes":"aGk"}}"#
    );
    // dag-pb in its data-model form; read back through the UnixFS commands.
    let pb = r.ok_in(
        &["dag", "put", "--store-codec", "dag-pb"],
        br#"{"Data":{"/":{"bytes":"CAE"}},"Links":[]}"#,
    );
    assert_eq!(
        pb,
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354\n"
    );
    assert_eq!(r.ok(&["ls", pb.trim_end()]), "");
}

fn dag_put_refuses_bad_input(mode: Mode) {
    let r = Repo::new(mode);
    let e = r.fail_in(&["dag", "put", "--input-codec", "dag-cbor"], &UNSORTED);
    assert!(e.starts_with("Error: input is not valid dag-cbor"), "{e}");
    for bad in [
        &[0x9f, 0x01, 0xff][..],               // indefinite-length list
        &[0x18, 0x01],                         // 1 written in two bytes
        &[0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
        &[0xf7],                               // undefined
        &[0xa1, 0x61, b'a', 0x01, 0x00],       // trailing bytes
    ] {
        let e = r.fail_in(&["dag", "put", "--input-codec", "dag-cbor"], bad);
        assert!(
            e.starts_with("Error: input is not valid dag-cbor"),
            "{bad:?}: {e}"
        );
    }
    let e = r.fail_in(&["dag", "put"], b"{\"a\":");
    assert!(e.starts_with("Error: input is not valid dag-json"), "{e}");
    let e = r.fail_in(&["dag", "put", "--input-codec", "dag-pb"], b"{}");
    assert!(e.contains("unsupported input codec \"dag-pb\""), "{e}");
    let e = r.fail_in(&["dag", "put", "--store-codec", "libp2p-key"], b"{}");
    assert!(e.contains("unsupported store codec"), "{e}");
    let e = r.fail_in(&["dag", "put", "--hash", "md5"], b"{}");
    assert!(e.contains("unknown hash function \"md5\""), "{e}");
    // A value the store codec cannot hold.
    let e = r.fail_in(
        &["dag", "put", "--store-codec", "json"],
        br#"{"/":{"bytes":"aGk"}}"#,
    );
    assert!(e.contains("cannot be encoded as json"), "{e}");
    // {"/": null} is fine dag-cbor, but dag-json reserves the key "/".
    let e = r.fail_in(
        &[
            "dag",
            "put",
            "--input-codec",
            "dag-cbor",
            "--store-codec",
            "dag-json",
        ],
        &[0xa1, 0x61, b'/', 0xf6],
    );
    assert!(
        e.contains("cannot be encoded as dag-json") && e.contains("reserved"),
        "{e}"
    );
    let e = r.fail_in(&["dag", "put", "--store-codec", "dag-pb"], b"{}");
    assert!(e.contains("cannot be encoded as dag-pb"), "{e}");
    // Over 1 MiB only with --allow-big-block.
    let big = format!("\"{}\"", "x".repeat((1 << 20) + 10));
    let e = r.fail_in(&["dag", "put"], big.as_bytes());
    assert!(e.contains("--allow-big-block"), "{e}");
    let cid = r.ok_in(&["dag", "put", "--allow-big-block"], big.as_bytes());
    assert!(cid.starts_with("bafyrei"), "{cid}");
    assert_eq!(r.num_objects(), 1);
}

fn dag_paths_resolve_and_pin(mode: Mode) {
    let r = Repo::new(mode);
    let root = format!(r#"{{"child":{{"/":"{LEAF}"}},"n":5}}"#);
    // Pinning needs every linked block.
    let e = r.fail_in(&["dag", "put", "--pin"], root.as_bytes());
    assert!(
        e.contains(&format!(
            "cannot pin {ROOT}: linked block {LEAF} is not stored"
        )),
        "{e}"
    );
    assert_eq!(
        r.ok_in(&["dag", "put", "--pin"], br#"{"deep":{"x":[10,20]}}"#),
        line(LEAF)
    );
    assert_eq!(
        r.ok_in(&["dag", "put", "--pin"], root.as_bytes()),
        line(ROOT)
    );
    assert!(
        r.pins().iter().any(|p| p.starts_with(ROOT)),
        "{:?}",
        r.pins()
    );
    // GC keeps the child of the pinned dag-cbor root.
    r.ok(&["pin", "rm", LEAF]);
    r.gc();
    assert_eq!(
        r.ok_bytes(&["dag", "get", LEAF]),
        br#"{"deep":{"x":[10,20]}}"#
    );

    // get: through links, into values, with or without /ipfs/.
    assert_eq!(
        r.ok_bytes(&["dag", "get", &format!("{ROOT}/child/deep/x/1")]),
        b"20"
    );
    assert_eq!(
        r.ok_bytes(&["dag", "get", &format!("/ipfs/{ROOT}/n")]),
        b"5"
    );
    assert_eq!(
        r.ok_bytes(&["dag", "get", &format!("{ROOT}/child/deep")]),
        br#"{"x":[10,20]}"#
    );
    assert_eq!(
        r.ok_bytes(&["dag", "get", &format!("{ROOT}/child")]),
        br#"{"deep":{"x":[10,20]}}"#
    );
    assert_eq!(
        r.ok_bytes(&[
            "dag",
            "get",
            "--output-codec",
            "dag-cbor",
            &format!("{ROOT}/n")
        ]),
        b"\x05"
    );
    let e = r.fail(&["dag", "get", &format!("{ROOT}/child/nope")]);
    assert!(e.contains("\"nope\"") && e.contains(LEAF), "{e}");
    let e = r.fail(&["dag", "get", "--output-codec", "md5", ROOT]);
    assert!(e.contains("unsupported output codec"), "{e}");

    // resolve: the block reached and the rest of the path.
    assert_eq!(r.ok(&["dag", "resolve", ROOT]), line(ROOT));
    assert_eq!(
        r.ok(&["dag", "resolve", &format!("{ROOT}/child")]),
        line(LEAF)
    );
    assert_eq!(
        r.ok(&["dag", "resolve", &format!("/ipfs/{ROOT}/child/deep/x")]),
        line(&format!("{LEAF}/deep/x"))
    );
    assert_eq!(
        r.ok(&["dag", "resolve", &format!("{ROOT}/n")]),
        line(&format!("{ROOT}/n"))
    );
    let e = r.fail(&["dag", "resolve", &format!("{ROOT}/missing")]);
    assert!(e.contains("\"missing\""), "{e}");
    // Through dag-pb links by name, into a dag-cbor node.
    let pb = r
        .ok_in(
            &["dag", "put", "--store-codec", "dag-pb"],
            format!(r#"{{"Links":[{{"Hash":{{"/":"{ROOT}"}},"Name":"data"}}]}}"#).as_bytes(),
        )
        .trim_end()
        .to_string();
    assert_eq!(
        r.ok(&["dag", "resolve", &format!("{pb}/data/child/deep")]),
        line(&format!("{LEAF}/deep"))
    );
    assert_eq!(r.ok_bytes(&["dag", "get", &format!("{pb}/data/n")]), b"5");

    // stat: one root, then two sharing LEAF.
    let size_of = |cid: &str| r.ok_bytes(&["block", "get", cid]).len() as u64;
    let (root_size, leaf_size) = (size_of(ROOT), size_of(LEAF));
    let other = r
        .ok_in(&["dag", "put"], format!(r#"[{{"/":"{LEAF}"}}]"#).as_bytes())
        .trim_end()
        .to_string();
    let other_size = size_of(&other);
    let out = r.ok(&["dag", "stat", "--progress=false", ROOT, &other]);
    let total = root_size + leaf_size + other_size;
    let redundant = root_size + other_size + 2 * leaf_size;
    let expected = format!(
        "CID{pad} Blocks Size\n{ROOT} 2{sp}{}\n{other} 2{sp}{}\n\nSummary\nTotal Size: {total}\n\
         Unique Blocks: 3\nShared Size: {leaf_size}\nRatio: {:.6}\n",
        root_size + leaf_size,
        other_size + leaf_size,
        redundant as f64 / total as f64,
        pad = " ".repeat(ROOT.len() - 3),
        sp = " ".repeat(6),
    );
    assert_eq!(out, expected);
    // A block missing under a root is an error (offline: a daemon with a network would
    // look for it over BitSwap).
    if mode == Mode::Online {
        return;
    }
    r.ok(&["pin", "rm", ROOT]);
    r.ok(&["block", "rm", LEAF]);
    let e = r.fail(&["dag", "stat", ROOT]);
    assert!(e.contains(LEAF) && e.contains("not found"), "{e}");
}

fn block_put_any_codec_and_hash(mode: Mode) {
    let r = Repo::new(mode);
    let cbor = b"\xa1\x65hello\x65world";
    assert_eq!(
        r.ok_in(&["block", "put", "--cid-codec", "dag-cbor"], cbor),
        line(HELLO_CBOR)
    );
    assert_eq!(
        r.ok(&["block", "stat", HELLO_CBOR]),
        format!("Key: {HELLO_CBOR}\nSize: {}\n", cbor.len())
    );
    let e = r.fail_in(&["block", "put", "--cid-codec", "dag-cbor"], &UNSORTED);
    assert!(e.contains("is not valid dag-cbor"), "{e}");
    let e = r.fail_in(&["block", "put", "--cid-codec", "dag-json"], b"{\"a\":");
    assert!(e.contains("is not valid dag-json"), "{e}");
    let e = r.fail_in(&["block", "put", "--cid-codec", "nope"], b"x");
    assert!(e.contains("unknown codec \"nope\""), "{e}");
    for (hash, code, len) in [
        ("sha2-512", "19", "64"),
        ("sha3-256", "22", "32"),
        ("blake2b-256", "45600", "32"),
        ("blake3", "30", "32"),
    ] {
        let cid = r.ok_in(&["block", "put", "--mhtype", hash], b"some bytes");
        let cid = cid.trim_end();
        assert_eq!(
            r.ok(&["cid", "format", "-f", "%c %h %H %L", cid]),
            format!("raw {hash} {code} {len}\n")
        );
        assert_eq!(r.ok_bytes(&["block", "get", cid]), b"some bytes");
        assert_eq!(
            r.ok(&["block", "stat", cid]),
            format!("Key: {cid}\nSize: 10\n")
        );
    }
    let e = r.fail_in(
        &["block", "put", "--mhtype", "sha2-256", "--mhlen", "20"],
        b"x",
    );
    assert!(e.contains("digest length 20"), "{e}");
    assert_eq!(
        r.ok_in(
            &["block", "put", "--mhtype", "sha2-512", "--mhlen", "64"],
            b"x"
        )
        .len(),
        r.ok_in(&["block", "put", "--mhtype", "sha2-512"], b"x")
            .len()
    );
    // The deprecated --format v0: a CIDv0 dag-pb block.
    let empty_dir = b"\x0a\x02\x08\x01";
    assert_eq!(
        r.ok_in(&["block", "put", "--format", "v0"], empty_dir),
        line(EMPTY_DIR)
    );
    let e = r.fail_in(&["block", "put", "--format", "v0"], b"junk");
    assert!(e.contains("is not valid dag-pb"), "{e}");
}

both_modes!(
    dag_put_and_get,
    dag_put_refuses_bad_input,
    dag_paths_resolve_and_pin,
    block_put_any_codec_and_hash
);

#[test]
fn cid_utilities() {
    let r = Repo::uninit();
    let v1 = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";
    assert_eq!(
        r.ok(&["cid", "base32", EMPTY_DIR, v1]),
        format!("{v1}\n{v1}\n")
    );
    assert_eq!(r.ok(&["cid", "format", "-v", "0", v1]), line(EMPTY_DIR));
    assert_eq!(r.ok(&["cid", "format", "-v", "1", EMPTY_DIR]), line(v1));
    assert_eq!(
        r.ok(&["cid", "format", "-f", "%P", EMPTY_DIR]),
        "cidv0-dag-pb-sha2-256-32\n"
    );
    assert_eq!(
        r.ok(&["cid", "format", "-f", "%b %s", "-b", "base32", EMPTY_DIR]),
        format!("base32 {v1}\n")
    );
    let z = r.ok(&["cid", "format", "-b", "z", v1]);
    assert!(z.starts_with("zdj7"), "{z}");
    assert_eq!(r.ok(&["cid", "base32", z.trim_end()]), line(v1));
    assert_eq!(
        r.ok(&["cid", "format", "-f", "%M", "-b", "base58btc", v1]),
        line(EMPTY_DIR)
    );
    // One bad CID fails the command; the others are still printed.
    let out = r.run(&["cid", "format", "-v", "0", HELLO_CBOR, v1]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), line(EMPTY_DIR));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot convert") && err.contains("CIDv0"),
        "{err}"
    );
    let e = r.fail(&["cid", "format", "-f", "%x", v1]);
    assert!(e.contains("unsupported format token %x"), "{e}");
    let e = r.fail(&["cid", "format", "-b", "base99", v1]);
    assert!(e.contains("unknown multibase \"base99\""), "{e}");
    let e = r.fail(&["cid", "base32", "nope"]);
    assert!(e.contains("invalid CID \"nope\""), "{e}");

    let bases = r.ok(&["cid", "bases", "--prefix", "--numeric"]);
    assert!(bases.lines().any(|l| l == "b    98  base32"), "{bases}");
    assert!(bases.lines().any(|l| l == "z   122  base58btc"), "{bases}");
    assert!(r.ok(&["cid", "bases"]).lines().any(|l| l == "base36"));
    let codecs = r.ok(&["cid", "codecs", "--numeric"]);
    assert!(codecs.lines().any(|l| l == "  113  dag-cbor"), "{codecs}");
    assert!(codecs.lines().any(|l| l == "  297  dag-json"), "{codecs}");
    let hashes = r.ok(&["cid", "hashes"]);
    for h in [
        "sha2-256",
        "sha2-512",
        "sha3-256",
        "blake2b-256",
        "blake3",
        "identity",
    ] {
        assert!(hashes.lines().any(|l| l == h), "{h}: {hashes}");
    }
}
