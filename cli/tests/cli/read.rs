//! Reading commands: `cat`, `get`, `ls`, `refs`.

use super::*;

fn cat_whole_ranges_and_paths(mode: Mode) {
    let r = Repo::new(mode);
    let big = random_bytes(4, 700_000);
    r.file("t/a.txt", b"0123456789");
    r.file("t/sub/big.bin", &big);
    let root = r.add(&["-r", "t"]);
    let a = format!("{root}/a.txt");
    let b = format!("/ipfs/{root}/sub/big.bin");
    assert_eq!(r.cat(&a), b"0123456789");
    assert_eq!(r.cat(&format!("/ipfs/{root}/a.txt")), b"0123456789");
    assert_eq!(r.cat(&b), big);
    assert_eq!(r.cat(&format!("{root}/sub/big.bin")), big);

    let range = |off: &str, len: Option<&str>, paths: &[&str]| {
        let mut args = vec!["cat", "--offset", off];
        if let Some(l) = len {
            args.extend(["--length", l]);
        }
        args.extend_from_slice(paths);
        r.ok_bytes(&args)
    };
    assert_eq!(range("3", None, &[&a]), b"3456789");
    assert_eq!(range("0", Some("4"), &[&a]), b"0123");
    assert_eq!(range("2", Some("3"), &[&a]), b"234");
    assert_eq!(range("7", Some("100"), &[&a]), b"789");
    assert_eq!(range("10", None, &[&a]), b"");
    assert_eq!(range("99", None, &[&a]), b"");
    assert_eq!(range("0", Some("0"), &[&a]), b"");
    assert_eq!(r.ok_bytes(&["cat", "-o", "5", "-l", "2", &a]), b"56");
    // Ranges across chunk boundaries (256 KiB chunks).
    assert_eq!(range("262000", Some("1000"), &[&b]), &big[262_000..263_000]);
    assert_eq!(range("600000", None, &[&b]), &big[600_000..]);
    assert_eq!(range("524287", Some("2"), &[&b]), &big[524_287..524_289]);
    // Several paths are concatenated; offset and length apply to the whole.
    assert_eq!(r.ok_bytes(&["cat", &a, &a]), b"01234567890123456789");
    assert_eq!(range("8", Some("4"), &[&a, &a]), b"8901");
    assert_eq!(range("12", Some("3"), &[&a, &a]), b"234");

    let sub = r
        .ok(&["ls", &root])
        .lines()
        .find(|l| l.ends_with(" sub/"))
        .and_then(|l| l.split(' ').next())
        .map(str::to_string);
    let sub = sub.expect("sub listed");
    for (path, cid) in [(root.clone(), root.clone()), (format!("{root}/sub"), sub)] {
        assert_eq!(
            r.fail(&["cat", &path]),
            format!("Error: {cid} is a directory")
        );
    }
    let e = r.fail(&["cat", &format!("{root}/nope")]);
    assert!(e.contains("\"nope\"") && e.contains(&root), "{e}");
    let e = r.fail(&["cat", &format!("{a}/deeper")]);
    assert!(e.contains("is not a directory"), "{e}");
}

#[cfg(unix)]
fn get_recreates_a_tree_byte_for_byte(mode: Mode) {
    use std::os::unix::fs::symlink;
    let r = Repo::new(mode);
    r.file("t/a.txt", b"aaa");
    r.file("t/.hidden", b"h");
    r.file("t/sub/empty", b"");
    r.file("t/sub/deep/big.bin", &random_bytes(5, 300_000));
    r.dir("t/emptydir");
    r.dir("t/sub/deep/deeper/deepest");
    symlink("../a.txt", r.work.join("t/sub/link")).expect("symlink");
    symlink("nowhere/dangling", r.work.join("t/dangling")).expect("symlink");
    let root = r.add(&["-r", "-H", "t"]);

    assert_eq!(
        r.ok(&["get", "-o", "out", &root]),
        "Saving file(s) to out\n"
    );
    assert_same_tree(&r.work.join("t"), &r.work.join("out"));
    // A subdirectory, saved under its own name by default.
    assert_eq!(
        r.ok(&["get", &format!("/ipfs/{root}/sub")]),
        "Saving file(s) to sub\n"
    );
    assert_same_tree(&r.work.join("t/sub"), &r.work.join("sub"));
    // A single file.
    r.ok(&["get", "-o", "one.bin", &format!("{root}/sub/deep/big.bin")]);
    assert_same_tree(&r.work.join("t/sub/deep/big.bin"), &r.work.join("one.bin"));
}

/// A dag-pb node stored with `block put`; answers its CID.
fn put_pb(r: &Repo, links: Vec<dag::pb::Link>, data: &dag::unixfs::Data) -> dag::Cid {
    let node = dag::pb::Node {
        links,
        data: Some(data.encode().into()),
    };
    let cid = r.ok_in(&["block", "put", "--cid-codec", "dag-pb"], &node.encode());
    dag::block::parse_cid(cid.trim_end()).expect("CID")
}

/// A directory holding a symlink `s -> <outside>` and, under the same name, a directory
/// with a file: writing the second `s` must not follow the first out of the destination.
#[cfg(unix)]
fn get_never_writes_outside_its_destination(mode: Mode) {
    use dag::pb::Link;
    use dag::unixfs::{Data, DataType};
    let r = Repo::new(mode);
    let outside = r.dir("outside");
    r.file("hello.txt", b"hello world\n");
    let hello = dag::block::parse_cid(&r.add(&["hello.txt"])).expect("CID");
    let mut target = Data::new(DataType::Symlink);
    target.data = s(&outside).as_bytes().to_vec().into();
    let link = put_pb(&r, Vec::new(), &target);
    let dir = put_pb(
        &r,
        vec![Link::new(hello, "pwned", 20)],
        &Data::new(DataType::Directory),
    );
    let root = put_pb(
        &r,
        vec![Link::new(link, "s", 0), Link::new(dir, "s", 0)],
        &Data::new(DataType::Directory),
    );
    let out = r.run(&["get", "-o", "out", &root.to_string()]);
    assert!(
        !outside.join("pwned").exists(),
        "get wrote outside its destination: {out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a directory with a repeated name must be refused"
    );
    assert!(err.contains("duplicate entry name"), "{err}");
    assert!(!err.contains("panicked"));
}

fn ls_output_is_aligned(mode: Mode) {
    let r = Repo::new(mode);
    r.file("d/a.txt", b"aaa");
    r.file("d/big.bin", &random_bytes(6, 300_000));
    r.dir("d/emptydir");
    r.file("d/sub/x", b"x");
    let root = r.add(&["-r", "d"]);
    let a = r.add(&["-n", "d/a.txt"]);
    let big = r.add(&["-n", "d/big.bin"]);
    let sub = r.add(&["-n", "-r", "d/sub"]);
    let x = r.add(&["-n", "d/sub/x"]);
    let rows = format!(
        "{a} 3      a.txt\n\
         {big} 300000 big.bin\n\
         {EMPTY_DIR} -      emptydir/\n\
         {sub} -      sub/\n"
    );
    assert_eq!(r.ok(&["ls", &root]), rows);
    assert_eq!(r.ok(&["ls", &format!("/ipfs/{root}")]), rows);
    let header = format!("Hash{} Size   Name\n", " ".repeat(42));
    assert_eq!(r.ok(&["ls", "-v", &root]), format!("{header}{rows}"));
    assert_eq!(
        r.ok(&["ls", &root, &format!("{root}/sub")]),
        format!("{root}:\n{rows}\n{root}/sub:\n{x} 1 x\n")
    );
    assert_eq!(r.ok(&["ls", EMPTY_DIR]), "");
    let e = r.fail(&["ls", &format!("{root}/missing")]);
    assert!(e.contains("missing"), "{e}");
}

fn refs_direct_recursive_unique_and_local(mode: Mode) {
    let r = Repo::new(mode);
    r.file("d/one/same", b"same");
    r.file("d/two/same", b"same");
    r.file("d/two/other", b"other");
    let root = r.add(&["-r", "d"]);
    let one = r.add(&["-n", "-r", "d/one"]);
    let two = r.add(&["-n", "-r", "d/two"]);
    let same = r.add(&["-n", "d/one/same"]);
    let other = r.add(&["-n", "d/two/other"]);
    assert_eq!(r.ok(&["refs", &root]), format!("{one}\n{two}\n"));
    assert_eq!(
        r.ok(&["refs", "-r", &root]),
        format!("{one}\n{same}\n{two}\n{other}\n{same}\n")
    );
    assert_eq!(
        r.ok(&["refs", "-r", "--unique", &root]),
        format!("{one}\n{same}\n{two}\n{other}\n")
    );
    assert_eq!(
        r.ok(&["refs", "-r", "-u", &format!("{root}/two")]),
        format!("{other}\n{same}\n")
    );
    assert_eq!(r.ok(&["refs", &same]), "");
    let local = r.ok(&["refs", "local"]);
    assert_eq!(local.lines().count(), 5, "{local}");
    let expected: BTreeSet<Vec<u8>> = [&root, &one, &two, &same, &other]
        .iter()
        .map(|c| multihash(c))
        .collect();
    assert_eq!(r.local(), expected);
    assert_eq!(r.num_objects(), 5);
}

both_modes!(
    cat_whole_ranges_and_paths,
    ls_output_is_aligned,
    refs_direct_recursive_unique_and_local,
);
#[cfg(unix)]
both_modes!(
    get_recreates_a_tree_byte_for_byte,
    get_never_writes_outside_its_destination,
);
