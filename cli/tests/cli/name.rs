//! `key` and `name`: the keystore and IPNS publish/resolve, offline and through a daemon.

use super::*;

fn keys(mode: Mode) {
    let r = Repo::new(mode);
    let id = r.ok(&["key", "gen", "alpha"]);
    let id = id.trim();
    assert!(id.starts_with("k51"), "{id}");
    assert_eq!(r.ok(&["key", "list"]), "self\nalpha\n");
    let long = r.ok(&["key", "list", "-l"]);
    assert!(long.ends_with(&format!("{id} alpha\n")), "{long}");
    assert!(
        long.starts_with("k51") && long.contains(" self\n"),
        "{long}"
    );
    assert!(r.fail(&["key", "gen", "alpha"]).contains("already exists"));
    assert!(
        r.fail(&["key", "gen", "-t", "rsa", "beta"])
            .contains("ed25519")
    );
    assert!(r.fail(&["key", "gen", "self"]).contains("identity"));
    assert!(r.fail(&["key", "gen", "a/b"]).contains("'/'"));
    assert!(r.ok(&["key", "rename", "alpha", "beta"]).contains(id));
    assert_eq!(r.ok(&["key", "list"]), "self\nbeta\n");
    let exported = r.dir("out").join("beta.key");
    r.ok(&[
        "key",
        "export",
        "beta",
        "-o",
        exported.to_str().expect("utf-8"),
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "exported keys are owner-only");
    }
    assert!(
        r.fail(&[
            "key",
            "export",
            "beta",
            "-o",
            exported.to_str().expect("utf-8")
        ])
        .contains("creating"),
        "an existing file is never overwritten"
    );
    assert_eq!(r.ok(&["key", "rm", "-l", "beta"]), format!("{id} beta\n"));
    assert!(r.fail(&["key", "rm", "beta"]).contains("no key named"));
    assert!(r.fail(&["key", "rm", "self"]).contains("identity"));
    let back = r.ok(&["key", "import", "gamma", exported.to_str().expect("utf-8")]);
    assert_eq!(back.trim(), id, "import gives the exported key back");
    let junk = r.file("junk.key", b"not a key");
    assert!(
        r.fail(&["key", "import", "delta", junk.to_str().expect("utf-8")])
            .contains("not a libp2p")
    );
    assert_eq!(r.ok(&["key", "list"]), "self\ngamma\n");
}

fn publish_resolve(mode: Mode) {
    let r = Repo::new(mode);
    r.file("site/index.html", b"<h1>hi</h1>");
    r.file("site/a.txt", b"A");
    let dir = r.add(&["-r", "site"]);
    let file = r.add(&["site/a.txt"]);
    // Alone (no daemon, or a daemon without peers) a record reaches nobody.
    let e = r.fail(&["name", "publish", &file]);
    assert!(e.contains("--allow-offline") || e.contains("peer"), "{e}");

    let out = r.ok(&["name", "publish", "--allow-offline", &file]);
    let (name, value) = out
        .trim()
        .strip_prefix("Published to ")
        .and_then(|s| s.split_once(": "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(name.starts_with("k51"), "{name}");
    assert_eq!(value, format!("/ipfs/{file}"));
    assert_eq!(r.ok(&["name", "resolve"]), format!("/ipfs/{file}\n"));
    assert_eq!(r.ok(&["name", "resolve", name]), format!("/ipfs/{file}\n"));
    assert_eq!(r.cat(&format!("/ipns/{name}")), b"A");

    // Another key, a directory, explicit sequence numbers, paths below the name.
    let site = r.ok(&["key", "gen", "site"]).trim().to_string();
    let q = r.ok(&[
        "name",
        "publish",
        "--allow-offline",
        "-Q",
        "--key",
        "site",
        "--sequence",
        "5",
        "--lifetime",
        "1h",
        "--ttl",
        "1m",
        &format!("/ipfs/{dir}"),
    ]);
    assert_eq!(q.trim(), site);
    let e = r.fail(&[
        "name",
        "publish",
        "--allow-offline",
        "--key",
        "site",
        "--sequence",
        "5",
        &dir,
    ]);
    assert!(e.contains("not above the current sequence 5"), "{e}");
    assert_eq!(
        r.ok(&["name", "resolve", &format!("/ipns/{site}/a.txt")]),
        format!("/ipfs/{dir}/a.txt\n")
    );
    assert_eq!(r.cat(&format!("/ipns/{site}/a.txt")), b"A");
    let ls = r.ok(&["ls", &format!("/ipns/{site}")]);
    assert!(ls.contains("a.txt") && ls.contains("index.html"), "{ls}");
    let dest = r.dir("got").join("copy");
    r.ok(&[
        "get",
        "-o",
        dest.to_str().expect("utf-8"),
        &format!("/ipns/{site}"),
    ]);
    assert_eq!(
        std::fs::read(dest.join("index.html")).expect("got"),
        b"<h1>hi</h1>"
    );

    // A name pointing at a name: recursive by default, one hop with --recursive=false.
    r.ok(&["key", "gen", "alias"]);
    r.ok(&[
        "name",
        "publish",
        "--allow-offline",
        "--key",
        "alias",
        &format!("/ipns/{site}"),
    ]);
    let alias = r.ok(&["key", "list", "-l"]);
    let alias = alias
        .lines()
        .find_map(|l| l.strip_suffix(" alias"))
        .expect("alias key");
    assert_eq!(r.ok(&["name", "resolve", alias]), format!("/ipfs/{dir}\n"));
    assert_eq!(
        r.ok(&["name", "resolve", "--recursive=false", alias]),
        format!("/ipns/{site}\n")
    );

    // What a name is to point at must resolve first (Kubo's --resolve), unless told not to.
    r.file("absent.txt", b"not in the repository");
    let absent = r.add(&["-n", "absent.txt"]);
    let started = std::time::Instant::now();
    let e = r.fail(&["name", "publish", "--allow-offline", &absent]);
    assert!(e.contains(&absent) || e.contains("not found"), "{e}");
    eprintln!("missing content refused in {:?}", started.elapsed());
    let out = r.ok(&[
        "name",
        "publish",
        "--allow-offline",
        "--resolve=false",
        &absent,
    ]);
    assert!(out.ends_with(&format!(": /ipfs/{absent}\n")), "{out}");

    // Names this node cannot resolve, and bad input.
    let unknown = "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8";
    assert!(
        r.fail(&["name", "resolve", unknown])
            .contains("could not resolve")
    );
    assert!(
        r.fail(&["name", "resolve", "example.com"])
            .contains("DNSLink")
    );
    assert!(
        r.fail(&["name", "publish", "--allow-offline", "not-a-path"])
            .contains("invalid value")
    );
    assert!(
        r.fail(&["name", "publish", "--allow-offline", "--key", "nope", &file])
            .contains("no key named")
    );
    let bad = r.run(&["name", "publish", "--lifetime", "soon", &file]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("duration"));
}

both_modes!(keys, publish_resolve);
