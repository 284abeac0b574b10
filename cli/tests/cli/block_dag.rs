//! `block put|get|stat|rm` and CAR export/import.

use super::*;

fn block_put_get_stat_rm(mode: Mode) {
    let r = Repo::new(mode);
    assert_eq!(
        r.ok_in(&["block", "put"], b"hello world\n"),
        format!("{HELLO_V1}\n")
    );
    assert_eq!(
        r.ok_in(
            &["block", "put", "--cid-codec", "raw", "--mhtype", "sha2-256"],
            b"hello world\n"
        ),
        format!("{HELLO_V1}\n")
    );
    assert_eq!(r.ok_bytes(&["block", "get", HELLO_V1]), b"hello world\n");
    assert_eq!(
        r.ok(&["block", "stat", HELLO_V1]),
        format!("Key: {HELLO_V1}\nSize: 12\n")
    );
    r.file("one", b"one");
    r.file("two", b"two");
    let two = r.ok(&["block", "put", "one", "two"]);
    assert_eq!(two.lines().count(), 2);
    assert!(two.lines().all(|l| l.starts_with("bafkrei")), "{two}");

    // dag-pb input is validated.
    let e = r.fail_in(&["block", "put", "--cid-codec", "dag-pb"], b"hello world\n");
    assert!(e.contains("is not valid dag-pb"), "{e}");
    r.file("hello.txt", b"hello world\n");
    r.add(&["hello.txt"]);
    let node = r.ok_bytes(&["block", "get", HELLO]);
    assert_eq!(node.len(), 20);
    let pb = r
        .ok_in(&["block", "put", "--cid-codec", "dag-pb"], &node)
        .trim_end()
        .to_string();
    assert!(pb.starts_with("bafybei"), "{pb}");
    assert_eq!(multihash(&pb), multihash(HELLO));
    assert_eq!(r.ok_bytes(&["block", "get", &pb]), node);
    assert_eq!(r.cat(&pb), b"hello world\n");

    let e = r.fail_in(&["block", "put", "--cid-codec", "dag-cbor"], b"x");
    assert!(e.contains("is not valid dag-cbor"), "{e}");
    let e = r.fail_in(&["block", "put", "--mhtype", "md5"], b"x");
    assert!(e.contains("unknown hash function"), "{e}");
    let e = r.fail_in(&["block", "put"], &vec![0u8; (2 << 20) + 1]);
    assert!(e.contains("2 MiB"), "{e}");

    // rm: removed once, then missing (unless --force).
    assert_eq!(
        r.ok(&["block", "rm", HELLO_V1]),
        format!("removed {HELLO_V1}\n")
    );
    assert_eq!(
        r.fail(&["block", "rm", HELLO_V1]),
        format!("Error: cannot remove {HELLO_V1}: block not found")
    );
    assert_eq!(r.ok(&["block", "rm", "-f", HELLO_V1]), "");
    assert_eq!(
        r.fail(&["block", "stat", HELLO_V1]),
        format!("Error: block {HELLO_V1} not found")
    );
    assert_eq!(
        r.fail(&["block", "get", HELLO_V1]),
        format!("Error: block {HELLO_V1} not found")
    );
    // Pinned blocks (recursively, directly, or through an alias CID) are refused.
    let pinned = r
        .ok_in(&["block", "put", "--pin"], b"pinned")
        .trim_end()
        .to_string();
    for cid in [HELLO, &pb, &pinned] {
        let e = r.fail(&["block", "rm", cid]);
        assert!(e.contains(cid) && e.contains("pinned"), "{e}");
    }
    assert_eq!(
        r.ok(&["block", "rm", "-q", two.lines().next().unwrap_or_default()]),
        ""
    );
    let e = r.fail(&["block", "rm", "not-a-cid"]);
    assert!(e.contains("invalid"), "{e}");
}

fn dag_export_import_round_trip(mode: Mode) {
    let a = Repo::new(mode);
    let data = random_bytes(15, 700_000);
    a.file("t/x.bin", &data);
    a.file("t/s/y.txt", b"why");
    a.file("t/empty", b"");
    a.dir("t/emptydir");
    let root = a.add(&["-r", "t"]);
    let car = a.ok_bytes(&["dag", "export", &root]);
    assert_eq!(
        a.ok_bytes(&["dag", "export", &format!("/ipfs/{root}")]),
        car,
        "export is deterministic"
    );

    let b = Repo::new(mode);
    b.file("t.car", &car);
    assert_eq!(
        b.ok(&["dag", "import", "--pin-roots", "t.car"]),
        format!("Pinned root\t{root}\tsuccess\n")
    );
    assert_eq!(b.cat(&format!("{root}/x.bin")), data);
    assert_eq!(b.cat(&format!("{root}/s/y.txt")), b"why");
    assert_eq!(b.local(), a.local());
    assert_eq!(
        b.ok(&["pin", "ls", "-t", "recursive"]),
        format!("{root} recursive\n")
    );
    assert_eq!(b.ok_bytes(&["dag", "export", &root]), car);
    // Again, from stdin, with statistics.
    let data_size = stat_field(&a.ok(&["repo", "stat"]), "DataSize");
    assert_eq!(
        b.ok_in(&["dag", "import", "--stats"], &car),
        format!(
            "Pinned root\t{root}\tsuccess\nImported {} blocks ({data_size} bytes)\n",
            a.num_objects()
        )
    );
    assert_eq!(b.num_objects(), a.num_objects());

    // Without pinning, blocks arrive but nothing is pinned (and GC may take them).
    let c = Repo::new(mode);
    assert_eq!(c.ok_in(&["dag", "import", "--pin-roots=false"], &car), "");
    assert_eq!(c.ok(&["pin", "ls"]), "");
    assert_eq!(c.local(), a.local());
    // A sub-DAG exports with its own root.
    let sub = a.ok_bytes(&["dag", "export", &format!("{root}/s")]);
    let s = a.add(&["-n", "-r", "t/s"]);
    assert_eq!(
        c.ok_in(&["dag", "import"], &sub),
        format!("Pinned root\t{s}\tsuccess\n")
    );
}

fn dag_import_rejects_bad_cars_and_changes_nothing(mode: Mode) {
    let src = Repo::new(mode);
    let marker = b"ipfsd-test-car-marker";
    let mut content = marker.to_vec();
    content.extend(random_bytes(16, 5_000));
    src.file("t/marked", &content);
    src.file("t/other", &random_bytes(17, 300_000));
    let root = src.add(&["-r", "t"]);
    let car = src.ok_bytes(&["dag", "export", &root]);

    let dst = Repo::new(mode);
    dst.file("hello.txt", b"hello world\n");
    dst.add(&["hello.txt"]);
    let state = |r: &Repo| (r.num_objects(), r.local(), r.pins());
    let before = state(&dst);

    let header_end = 1 + usize::from(car[0]);
    assert!(car[0] < 0x80, "one-byte header length varint");
    let at = car
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker in CAR");
    let mut flipped = car.clone();
    flipped[at + 3] ^= 0x20;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty input", Vec::new(), "truncated"),
        ("inside the header", car[..5].to_vec(), "truncated"),
        (
            "inside a section",
            car[..car.len() / 2].to_vec(),
            "truncated",
        ),
        ("one byte short", car[..car.len() - 1].to_vec(), "truncated"),
        ("flipped byte in a block", flipped, "hash mismatch"),
        (
            "header only: the pinned root is missing",
            car[..header_end].to_vec(),
            &root,
        ),
        (
            "not a CAR",
            b"this is not a CAR file at all".to_vec(),
            "CAR",
        ),
    ];
    for (what, input, needle) in cases {
        let e = dst.fail_in(&["dag", "import"], &input);
        assert!(e.contains(needle), "{what}: {e}");
        dst.file("bad.car", &input);
        let e = dst.fail(&["dag", "import", "bad.car"]);
        assert!(e.contains(needle), "{what} (file): {e}");
        assert_eq!(state(&dst), before, "{what}: the repository changed");
    }
    assert_eq!(dst.ok(&["repo", "verify"]), "verified 1 blocks: repo ok\n");
    // The intact CAR still imports.
    assert_eq!(
        dst.ok_in(&["dag", "import"], &car),
        format!("Pinned root\t{root}\tsuccess\n")
    );
    assert_eq!(dst.cat(&format!("{root}/marked")), content);
}

both_modes!(
    block_put_get_stat_rm,
    dag_export_import_round_trip,
    dag_import_rejects_bad_cars_and_changes_nothing,
);
