//! `ipfsd add`: known CIDs, output modes, flag equivalences, pinning and errors.

use super::*;

fn add_known_vectors_and_output_modes(mode: Mode) {
    let r = Repo::new(mode);
    r.file("hello.txt", b"hello world\n");
    r.file("empty", b"");
    r.dir("emptydir");
    assert_eq!(
        r.ok(&["add", "hello.txt"]),
        format!("added {HELLO} hello.txt\n")
    );
    assert_eq!(
        r.ok(&["add", "empty"]),
        format!("added {EMPTY_FILE} empty\n")
    );
    assert_eq!(
        r.ok(&["add", "-r", "emptydir"]),
        format!("added {EMPTY_DIR} emptydir\n")
    );
    assert_eq!(
        r.ok(&["add", "--cid-version", "1", "hello.txt"]),
        format!("added {HELLO_V1} hello.txt\n")
    );
    assert_eq!(
        r.ok(&["add", "--profile", "unixfs-v1-2025", "hello.txt"]),
        format!("added {HELLO_V1} hello.txt\n")
    );
    // An absolute path is named by its last component.
    let abs = r.work.join("hello.txt");
    assert_eq!(
        r.ok(&["add", s(&abs)]),
        format!("added {HELLO} hello.txt\n")
    );
    // Stdin is named by its CID.
    assert_eq!(
        r.ok_in(&["add"], b"hello world\n"),
        format!("added {HELLO} {HELLO}\n")
    );
    assert_eq!(
        r.ok_in(&["add"], b""),
        format!("added {EMPTY_FILE} {EMPTY_FILE}\n")
    );
    // -q: every CID; -Q: only the last root.
    assert_eq!(
        r.ok(&["add", "-q", "hello.txt", "empty"]),
        format!("{HELLO}\n{EMPTY_FILE}\n")
    );
    assert_eq!(
        r.ok(&["add", "-Q", "hello.txt", "empty"]),
        format!("{EMPTY_FILE}\n")
    );
    assert_eq!(
        r.ok_in(&["add", "--quieter"], b"hello world\n"),
        format!("{HELLO}\n")
    );
    assert_eq!(
        r.ok(&["add", "--progress=false", "hello.txt"]),
        format!("added {HELLO} hello.txt\n")
    );
    let forced = r.run(&["add", "-Q", "--progress", "hello.txt"]);
    assert!(forced.status.success(), "{forced:?}");
    assert_eq!(
        String::from_utf8_lossy(&forced.stdout),
        format!("{HELLO}\n")
    );

    r.file("tree/a", b"a");
    r.file("tree/sub/b", b"b");
    let full = r.ok(&["add", "-r", "tree"]);
    let names: Vec<&str> = full
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(
        names.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["tree", "tree/a", "tree/sub", "tree/sub/b"])
    );
    assert_eq!(names.last(), Some(&"tree"), "the root comes last: {full}");
    let root = full
        .lines()
        .last()
        .and_then(|l| l.split(' ').nth(1))
        .expect("root line");
    let quiet = r.ok(&["add", "-q", "-r", "tree"]);
    assert_eq!(quiet.lines().count(), 4);
    assert_eq!(quiet.lines().last(), Some(root));
    assert_eq!(r.add(&["-r", "tree"]), root);

    // Everything added is pinned recursively and readable.
    let recursive = set(&r.ok(&["pin", "ls", "-t", "recursive", "-q"]));
    for cid in [HELLO, HELLO_V1, EMPTY_FILE, EMPTY_DIR, root] {
        assert!(recursive.contains(cid), "{cid} not pinned: {recursive:?}");
    }
    assert_eq!(r.cat(HELLO), b"hello world\n");
    assert_eq!(r.cat(HELLO_V1), b"hello world\n");
    assert_eq!(r.cat(EMPTY_FILE), b"");
    assert_eq!(r.ok(&["ls", EMPTY_DIR]), "");
}

fn add_only_hash_stores_nothing(mode: Mode) {
    let r = Repo::new(mode);
    let data = random_bytes(1, 300_000);
    r.file("data", &data);
    r.file("hello.txt", b"hello world\n");
    let out = r.ok(&["add", "-n", "data", "hello.txt"]);
    let cids: Vec<&str> = out
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        out,
        format!("added {} data\nadded {HELLO} hello.txt\n", cids[0])
    );
    assert_eq!(
        r.ok_in(&["add", "-n"], b"hello world\n"),
        format!("added {HELLO} {HELLO}\n")
    );
    assert!(r.local().is_empty(), "only-hash stored blocks");
    assert_eq!(r.num_objects(), 0);
    assert_eq!(r.ok(&["pin", "ls"]), "");
    for cid in [cids[0], HELLO] {
        assert_eq!(
            r.fail(&["block", "stat", cid]),
            format!("Error: block {cid} not found")
        );
    }
    // The same CID once stored for real.
    assert_eq!(r.add(&["data"]), cids[0]);
    assert_eq!(r.cat(cids[0]), data);

    // Without any repository: works, and creates nothing.
    let none = Repo::uninit();
    none.file("hello.txt", b"hello world\n");
    assert_eq!(
        none.ok(&["add", "-n", "hello.txt"]),
        format!("added {HELLO} hello.txt\n")
    );
    assert_eq!(
        none.ok(&["add", "-nQ", "--cid-version", "1", "hello.txt"]),
        format!("{HELLO_V1}\n")
    );
    assert!(
        !none.path.exists(),
        "only-hash created the repository directory"
    );
}

/// Offline only: it needs no repository, so there is no daemon to go through.
#[test]
fn add_flag_equivalences() {
    // Only-hash needs no repository.
    let r = Repo::uninit();
    r.file("big", &random_bytes(7, 1_100_000));
    let hash = |flags: &[&str]| {
        let mut args = vec!["add", "-nQ"];
        args.extend_from_slice(flags);
        args.push("big");
        let cid = r.ok(&args).trim_end().to_string();
        // A comparison below must not pass because one side printed nothing.
        assert!(
            cid.starts_with("Qm") || cid.starts_with("baf"),
            "add {flags:?} printed {cid:?}, not a CID"
        );
        cid
    };
    let v1 = hash(&["--cid-version", "1"]);
    assert!(v1.starts_with("bafybei"), "{v1}");
    assert_eq!(v1, hash(&["--cid-version", "1", "--raw-leaves"]));
    assert_eq!(v1, hash(&["--cid-version=1", "--raw-leaves=true"]));
    assert_ne!(v1, hash(&["--cid-version", "1", "--raw-leaves=false"]));

    let v0 = hash(&[]);
    assert!(v0.starts_with("Qm"), "{v0}");
    assert_eq!(v0, hash(&["--cid-version", "0"]));
    assert_eq!(v0, hash(&["--raw-leaves=false"]));
    assert_eq!(v0, hash(&["--chunker", "size-262144"]));
    assert_eq!(v0, hash(&["--profile", "unixfs-v0-2015"]));
    assert_ne!(v0, hash(&["--raw-leaves"]));
    assert_ne!(v0, hash(&["--chunker", "size-1024"]));
    assert_ne!(v0, hash(&["-s", "size-65536"]));

    // unixfs-v1-2025: CIDv1, raw leaves, 1 MiB chunks.
    let profile = hash(&["--profile", "unixfs-v1-2025"]);
    assert_eq!(
        profile,
        hash(&["--cid-version", "1", "--chunker", "size-1048576"])
    );
    assert_ne!(profile, v1);
    // Explicit flags override the profile.
    assert_eq!(
        v1,
        hash(&["--profile", "unixfs-v1-2025", "--chunker", "size-262144"])
    );
}

fn add_raw_leaves_and_chunker_shape_the_stored_dag(mode: Mode) {
    let r = Repo::new(mode);
    let data = random_bytes(2, 600_000);
    r.file("f", &data);
    let raw = r.add(&["--raw-leaves", "f"]);
    assert!(raw.starts_with("Qm"), "{raw}");
    let leaves = r.ok(&["refs", &raw]);
    assert_eq!(leaves.lines().count(), 3, "{leaves}");
    assert!(leaves.lines().all(|c| c.starts_with("bafkrei")), "{leaves}");

    let pb = r.add(&["--cid-version", "1", "--raw-leaves=false", "f"]);
    let leaves = r.ok(&["refs", &pb]);
    assert_eq!(leaves.lines().count(), 3, "{leaves}");
    assert!(leaves.lines().all(|c| c.starts_with("bafybei")), "{leaves}");

    let small = random_bytes(3, 3_500);
    r.file("g", &small);
    let chunked = r.add(&["--chunker", "size-1000", "g"]);
    assert_eq!(r.ok(&["refs", &chunked]).lines().count(), 4);
    for cid in [&raw, &pb] {
        assert_eq!(r.cat(cid), data);
    }
    assert_eq!(r.cat(&chunked), small);
    assert_eq!(
        r.ok(&["repo", "verify"]),
        format!("verified {} blocks: repo ok\n", r.num_objects())
    );
}

fn add_without_pin_is_collected_by_gc(mode: Mode) {
    let r = Repo::new(mode);
    r.file("keep", b"keep me\n");
    let data = random_bytes(3, 400_000);
    r.file("drop", &data);
    let keep = r.add(&["keep"]);
    let drop = r.add(&["--pin=false", "drop"]);
    assert_eq!(r.add(&["--pin", "keep"]), keep);
    assert_eq!(r.pins(), vec![format!("{keep} recursive")]);
    assert_eq!(r.cat(&drop), data, "unpinned data is readable before GC");
    let dropped = dag_blocks(&r, &drop);
    assert_eq!(dropped.len(), 3);

    let (removed, _) = r.gc();
    assert_eq!(removed, dropped);
    assert_eq!(
        r.fail(&["cat", &drop]),
        format!("Error: block {drop} not found")
    );
    assert_eq!(r.cat(&keep), b"keep me\n");
    assert_eq!(r.ok(&["repo", "gc"]), "", "a second GC removes nothing");
}

fn add_hidden_files(mode: Mode) {
    let r = Repo::new(mode);
    r.file("d/visible", b"v");
    r.file("d/.hidden", b"h");
    r.file("d/.dotdir/x", b"x");
    let without = r.add(&["-r", "d"]);
    let with = r.add(&["-r", "--hidden", "d"]);
    assert_ne!(without, with);
    let names = |root: &str| -> Vec<String> {
        r.ok(&["ls", root])
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names(&without), ["visible"]);
    assert_eq!(names(&with), [".dotdir/", ".hidden", "visible"]);
    assert_eq!(r.add(&["-r", "-H", "d"]), with);
}

fn add_errors_are_clear_and_store_nothing(mode: Mode) {
    let r = Repo::new(mode);
    r.dir("somedir");
    r.file("hello.txt", b"hello world\n");
    let e = r.fail(&["add", "somedir"]);
    assert!(e.contains("somedir") && e.contains("-r"), "{e}");
    let e = r.fail(&["add", "hello.txt", "somedir"]);
    assert!(e.contains("somedir is a directory"), "{e}");
    for bad in [
        "foo",
        "size-0",
        "size-",
        "size-abc",
        "size-3000000",
        "rabin-1-2-3",
    ] {
        for only_hash in [false, true] {
            let mut args = vec!["add", "--chunker", bad, "hello.txt"];
            if only_hash {
                args.push("-n");
            }
            let e = r.fail(&args);
            assert!(
                e.contains("invalid chunker") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
    }
    let e = r.fail(&["add", "--profile", "nope", "hello.txt"]);
    assert!(e.contains("unknown profile") && e.contains("nope"), "{e}");
    let e = r.fail(&["add", "missing-file"]);
    assert!(e.contains("missing-file"), "{e}");
    assert!(r.local().is_empty(), "a failed add stored blocks");
    assert_eq!(r.ok(&["pin", "ls"]), "");

    // Usage errors come from clap (exit code 2), never a panic.
    for args in [
        &["add", "--cid-version", "2", "hello.txt"][..],
        &["add", "--raw-leaves=maybe", "hello.txt"],
        &["frobnicate"],
    ] {
        let out = r.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `--hash`: CIDs from the JS multiformats hashers (`tests/interop/helia.mjs cids` with a
/// "hash" field) for "hello world\n"; Kubo's rule (CIDv1, raw leaves unless given);
/// clear errors for an unknown name and for CIDv0.
fn add_hash_function(mode: Mode) {
    let r = Repo::new(mode);
    r.file("hello.txt", b"hello world\n");
    let blake3 = "bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku";
    let sha512_pb = "bafybgqfv47lmvhf7ddomqdmakaljo3c2ljwfwbu44s2ooud36d6x2pa3ofvpmtsef2vwqqtj5spgtdnztf7dgbq2z3gpiurryoqa2kpzksrdc";
    let blake2s = "bafk6bzacecpght4mk65fu7bqdhbujltrslis62b7wc27ya5sdpdndi3xs5zfo";
    assert_eq!(
        r.ok(&["add", "-nQ", "--hash", "blake3", "hello.txt"]),
        format!("{blake3}\n")
    );
    assert!(r.local().is_empty(), "only-hash stored blocks");
    assert_eq!(r.add(&["--hash", "blake3", "hello.txt"]), blake3);
    assert_eq!(
        r.add(&["--hash=sha2-512", "--raw-leaves=false", "hello.txt"]),
        sha512_pb
    );
    assert_eq!(
        r.add(&["--hash", "BLAKE2S-256", "--cid-version", "1", "hello.txt"]),
        blake2s
    );
    for cid in [blake3, sha512_pb, blake2s] {
        assert_eq!(r.cat(cid), b"hello world\n");
    }
    let e = r.fail(&["add", "--hash", "md5", "hello.txt"]);
    assert!(
        e.contains("md5") && e.contains("blake3") && e.contains("sha2-512"),
        "{e}"
    );
    let e = r.fail(&["add", "--hash", "blake3", "--cid-version", "0", "hello.txt"]);
    assert!(e.contains("CIDv0 only supports sha2-256"), "{e}");
    // identity: inline while the block fits a CID, refused past it.
    let id = r.add(&["--hash", "identity", "hello.txt"]);
    assert!(id.starts_with("bafkqa"), "{id}");
    assert_eq!(r.cat(&id), b"hello world\n");
    r.file("big.txt", &[b'x'; 100]);
    let e = r.fail(&["add", "--hash", "identity", "big.txt"]);
    assert!(e.contains("identity") && e.contains("64"), "{e}");
}

both_modes!(
    add_hash_function,
    add_known_vectors_and_output_modes,
    add_only_hash_stores_nothing,
    add_raw_leaves_and_chunker_shape_the_stored_dag,
    add_without_pin_is_collected_by_gc,
    add_hidden_files,
    add_errors_are_clear_and_store_nothing,
);
