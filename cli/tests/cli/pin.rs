//! Pins, verification, garbage collection and `repo stat`.

use super::*;

fn pin_add_rm_ls(mode: Mode) {
    let r = Repo::new(mode);
    r.file("d/a", &random_bytes(8, 300_000));
    r.file("d/b", b"b");
    let root = r.add(&["-r", "d"]);
    let a = r.add(&["-n", "d/a"]);
    let b = r.add(&["-n", "d/b"]);
    let mut indirect: BTreeSet<String> = r.ok(&["refs", &a]).lines().map(str::to_string).collect();
    indirect.extend([a.clone(), b.clone()]);
    assert_eq!(indirect.len(), 4);

    let mut all: BTreeSet<String> = indirect.iter().map(|c| format!("{c} indirect")).collect();
    all.insert(format!("{root} recursive"));
    assert_eq!(set(&r.ok(&["pin", "ls"])), all);
    assert_eq!(set(&r.ok(&["pin", "ls", "--type", "all"])), all);
    assert_eq!(
        r.ok(&["pin", "ls", "--type", "recursive"]),
        format!("{root} recursive\n")
    );
    assert_eq!(
        r.ok(&["pin", "ls", "-t", "recursive", "-q"]),
        format!("{root}\n")
    );
    assert_eq!(r.ok(&["pin", "ls", "--type", "direct"]), "");
    assert_eq!(
        set(&r.ok(&["pin", "ls", "--type", "indirect", "-q"])),
        indirect
    );
    assert_eq!(
        r.ok(&["pin", "ls", &a]),
        format!("{a} indirect through {root}\n")
    );
    assert_eq!(
        r.ok(&["pin", "ls", &format!("{root}/a")]),
        format!("{a} indirect through {root}\n")
    );
    assert_eq!(r.ok(&["pin", "ls", "-q", &root]), format!("{root}\n"));

    // An indirect pin cannot be removed on its own.
    let e = r.fail(&["pin", "rm", &a]);
    assert!(
        e.contains(&a) && e.contains("indirectly") && e.contains(&root),
        "{e}"
    );

    assert_eq!(
        r.ok(&["pin", "add", "--recursive=false", &a]),
        format!("pinned {a} directly\n")
    );
    assert_eq!(r.ok(&["pin", "rm", &a]), format!("unpinned {a}\n"));
    assert_eq!(
        r.ok(&["pin", "add", "-r=false", &a]),
        format!("pinned {a} directly\n")
    );
    assert_eq!(
        r.ok(&["pin", "ls", "-t", "direct"]),
        format!("{a} direct\n")
    );
    assert_eq!(r.ok(&["pin", "ls", &a]), format!("{a} direct\n"));
    // A recursive pin replaces the direct one; a bare -r is a flag, not a value-taker.
    assert_eq!(
        r.ok(&["pin", "add", "-r", &a]),
        format!("pinned {a} recursively\n")
    );
    assert_eq!(
        r.ok(&["pin", "add", "--recursive", &a]),
        format!("pinned {a} recursively\n")
    );
    assert_eq!(r.ok(&["pin", "ls", "-t", "direct"]), "");
    assert_eq!(
        set(&r.ok(&["pin", "ls", "-t", "recursive", "-q"])),
        set(&format!("{a}\n{root}\n"))
    );
    assert_eq!(r.ok(&["pin", "rm", &a]), format!("unpinned {a}\n"));
    assert_eq!(
        r.ok(&["pin", "rm", &format!("/ipfs/{root}")]),
        format!("unpinned {root}\n")
    );
    assert_eq!(
        r.fail(&["pin", "rm", &root]),
        format!("Error: {root} is not pinned")
    );
    assert_eq!(r.ok(&["pin", "ls"]), "");
    let e = r.fail(&["pin", "ls", &a]);
    assert!(e.contains("is not pinned"), "{e}");
    let e = r.fail(&["pin", "ls", "-t", "bogus"]);
    assert!(e.contains("invalid pin type") && e.contains("bogus"), "{e}");
    let e = r.fail(&["pin", "add", HELLO]);
    assert!(e.contains(HELLO), "{e}");
    assert_eq!(
        r.ok(&["pin", "ls"]),
        "",
        "a failed pin add pinned something"
    );
}

/// Flips one byte of the store file where `marker` is stored; the store holds it once.
fn corrupt_store(r: &Repo, marker: &[u8]) {
    let file = r.path.join("blocks.redb");
    let mut db = std::fs::read(&file).expect("read store");
    let at: Vec<usize> = db
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "marker stored {} times", at.len());
    db[at[0] + marker.len()] ^= 0x01;
    std::fs::write(&file, db).expect("write store");
}

fn verify_detects_a_corrupt_block(mode: Mode) {
    let mut r = Repo::new(mode);
    let marker = b"ipfsd-test-corruption-marker";
    let mut victim_data = marker.to_vec();
    victim_data.extend(random_bytes(9, 3_000));
    r.file("victim", &victim_data);
    r.file("other", b"fine");
    let victim = r.add(&["victim"]);
    let other = r.add(&["other"]);
    assert_eq!(r.ok(&["pin", "verify"]), "");
    assert_eq!(
        set(&r.ok(&["pin", "verify", "--verbose"])),
        set(&format!("{victim} ok\n{other} ok\n"))
    );
    assert_eq!(r.ok(&["repo", "verify"]), "verified 2 blocks: repo ok\n");

    // The store file is only changed while no daemon holds it.
    if mode == Mode::Online {
        assert!(r.stop_daemon(), "the daemon did not stop cleanly");
    }
    corrupt_store(&r, marker);
    if mode == Mode::Online {
        r.start_daemon();
    }

    let out = r.run(&["pin", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{victim} broken: corrupt block {victim}\n")
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = r.run(&["pin", "verify", "-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{victim}\n"));

    let out = r.run(&["repo", "verify"]);
    let e = common::expect_error(&["repo", "verify"], &out);
    assert_eq!(e, "Error: verify complete, 1 of 2 blocks are corrupt");
    let report = String::from_utf8_lossy(&out.stdout);
    let bad = report
        .strip_prefix("block ")
        .and_then(|l| l.strip_suffix(" is corrupt\n"))
        .expect("one report line");
    assert_eq!(multihash(bad), multihash(&victim));

    // By default (Kubo's `Datastore.HashOnRead=false`) reads do not re-hash: the stored
    // bytes are served as they are. With `HashOnRead` on, the corrupt block never is.
    let served = r.cat(&victim);
    assert_eq!(served.len(), victim_data.len());
    assert_ne!(served, victim_data);
    if mode == Mode::Online {
        assert!(r.stop_daemon(), "the daemon did not stop cleanly");
    }
    r.ok(&["config", "Datastore.HashOnRead", "--json", "true"]);
    if mode == Mode::Online {
        r.start_daemon();
    }
    let e = r.fail(&["cat", &victim]);
    assert!(e.contains(&victim) && e.contains("corrupt"), "{e}");
    assert_eq!(r.cat(&other), b"fine");
}

fn missing_blocks_are_named(mode: Mode) {
    let r = Repo::new(mode);
    let data = random_bytes(10, 600_000);
    r.file("f", &data);
    let f = r.add(&["--pin=false", "f"]);
    let leaf = r
        .ok(&["refs", &f])
        .lines()
        .next()
        .expect("a leaf")
        .to_string();
    // A direct pin protects only the root block.
    assert_eq!(
        r.ok(&["pin", "add", "--recursive=false", &f]),
        format!("pinned {f} directly\n")
    );
    let e = r.fail(&["block", "rm", &f]);
    assert!(e.contains(&f) && e.contains("pinned"), "{e}");
    assert_eq!(r.ok(&["block", "rm", &leaf]), format!("removed {leaf}\n"));

    let missing = format!("Error: block {leaf} not found");
    assert_eq!(r.fail(&["cat", &f]), missing);
    assert_eq!(r.fail(&["refs", "-r", &f]), missing);
    assert_eq!(r.fail(&["dag", "export", &f]), missing);
    // A recursive pin needs the whole DAG.
    let e = r.fail(&["pin", "add", &f]);
    assert!(e.contains(&format!("block {leaf}")), "{e}");
    assert_eq!(r.ok(&["pin", "ls"]), format!("{f} direct\n"));
    // The first chunk is gone but a range past it is still readable.
    assert_eq!(
        r.ok_bytes(&["cat", "-o", "262144", "-l", "10", &f]),
        &data[262_144..262_154]
    );
}

fn gc_keeps_exactly_the_pinned_dags(mode: Mode) {
    let r = Repo::new(mode);
    let a_data = random_bytes(11, 500_000);
    r.file("a", &a_data);
    r.file("b", &random_bytes(12, 300_000));
    r.file("c", &random_bytes(13, 300_000));
    r.file("dir/copy-of-a", &a_data);
    r.file("dir/x", b"x");
    let a = r.add(&["a"]);
    let b = r.add(&["--pin=false", "b"]);
    let c = r.add(&["c"]);
    r.ok(&["pin", "rm", &c]);
    let dir = r.add(&["--pin=false", "-r", "dir"]);
    let loose = r
        .ok_in(&["block", "put"], b"loose block")
        .trim_end()
        .to_string();
    let direct = r
        .ok_in(&["block", "put", "--pin"], b"directly pinned block")
        .trim_end()
        .to_string();

    let mut kept = dag_blocks(&r, &a);
    kept.insert(multihash(&direct));
    let before = r.local();
    let expected_removed: BTreeSet<Vec<u8>> = before.difference(&kept).cloned().collect();
    // What must go: b, c, the directory node and its x, the loose block.
    let mut garbage = dag_blocks(&r, &b);
    garbage.extend(dag_blocks(&r, &c));
    garbage.extend([
        multihash(&dir),
        multihash(&r.add(&["-n", "dir/x"])),
        multihash(&loose),
    ]);
    assert_eq!(expected_removed, garbage);

    let (removed, lines) = r.gc();
    assert_eq!(lines, removed.len(), "a block reported twice");
    assert_eq!(removed, expected_removed);
    assert_eq!(r.local(), kept);
    assert_eq!(r.num_objects(), kept.len() as u64);
    assert_eq!(r.cat(&a), a_data);
    assert_eq!(
        r.ok_bytes(&["block", "get", &direct]),
        b"directly pinned block"
    );
    assert_eq!(r.ok(&["repo", "gc"]), "");
    assert_eq!(r.ok(&["pin", "verify"]), "");
    assert!(r.ok(&["repo", "verify"]).ends_with("repo ok\n"));

    // -q removes silently.
    r.ok(&["pin", "rm", &direct]);
    assert_eq!(r.ok(&["repo", "gc", "-q"]), "");
    assert_eq!(r.local(), dag_blocks(&r, &a));
}

fn repo_stat_format(mode: Mode) {
    let r = Repo::new(mode);
    let expect = |stat: &str, objects: u64, data: &str| {
        let size = stat_field(stat, "RepoSize");
        assert!(
            size.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{stat}"
        );
        // Datastore.StorageMax, Kubo's default 10GB.
        let max = if data.contains(' ') {
            "9.3 GiB"
        } else {
            "10000000000"
        };
        let want = format!(
            "NumObjects: {objects}\nRepoSize:   {size}\nStorageMax: {max}\nDataSize:   {data}\nRepoPath:   {}\nVersion:    ipfsd-repo@1\n",
            r.path.display()
        );
        assert_eq!(stat, want);
    };
    expect(&r.ok(&["repo", "stat"]), 0, "0");
    r.file("hello.txt", b"hello world\n");
    r.add(&["hello.txt"]);
    assert_eq!(
        r.ok(&["block", "stat", HELLO]),
        format!("Key: {HELLO}\nSize: 20\n")
    );
    expect(&r.ok(&["repo", "stat"]), 1, "20");
    expect(&r.ok(&["repo", "stat", "-H"]), 1, "20 B");
    r.ok_in(&["block", "put"], &random_bytes(14, 3 * 1024));
    expect(&r.ok(&["repo", "stat", "--human"]), 2, "3.0 KiB");
    assert_eq!(r.ok(&["repo", "verify"]), "verified 2 blocks: repo ok\n");
}

both_modes!(
    pin_add_rm_ls,
    verify_detects_a_corrupt_block,
    missing_blocks_are_named,
    gc_keeps_exactly_the_pinned_dags,
    repo_stat_format,
);
