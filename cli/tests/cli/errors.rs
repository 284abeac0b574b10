//! Error reporting: one `Error: ` line, missing repositories, a repository in use.

use super::*;

fn errors_are_one_clear_line(mode: Mode) {
    let r = Repo::new(mode);
    let not_found = format!("Error: block {HELLO} not found");
    for args in [
        vec!["cat", HELLO],
        vec!["cat", &format!("/ipfs/{HELLO}/sub/path")],
        vec!["ls", HELLO],
        vec!["get", "-o", "out", HELLO],
        vec!["refs", HELLO],
        vec!["block", "get", HELLO],
        vec!["block", "stat", HELLO],
        vec!["dag", "export", HELLO],
    ] {
        assert_eq!(r.fail(&args), not_found, "{args:?}");
    }
    let e = r.fail(&["pin", "add", HELLO]);
    assert!(e.contains(HELLO), "{e}");
    for args in [
        vec!["cat", "notacid"],
        vec!["cat", "/ipfs/notacid/x"],
        vec!["ls", "Qm123"],
        vec!["refs", "-r", "bafy"],
        vec!["pin", "rm", "zzz"],
        vec!["pin", "ls", "zzz"],
        vec!["block", "get", "zzz"],
        vec!["block", "stat", ""],
        vec!["dag", "export", "nope"],
    ] {
        let e = r.fail(&args);
        assert!(e.contains("invalid"), "{args:?}: {e}");
    }
    for bad in ["/ipfs/", "//x"] {
        let e = r.fail(&["cat", bad]);
        assert!(e.contains("invalid path"), "{bad}: {e}");
    }
    let e = r.fail(&["cat", "/ipns/example.com"]);
    assert!(e.contains("DNSLink names are not supported"), "{e}");
    let e = r.fail(&["init"]);
    assert!(
        e.contains("already exists") && e.contains(s(&r.path)),
        "{e}"
    );
    let e = r.fail(&["dag", "import", "no-such.car"]);
    assert!(e.contains("no-such.car"), "{e}");
    let e = r.fail(&["block", "put", "no-such-file"]);
    assert!(e.contains("no-such-file"), "{e}");
}

/// Offline only: without a repository there is no daemon.
#[test]
fn missing_repo_says_to_run_init() {
    let r = Repo::uninit();
    for args in [
        &["cat", HELLO][..],
        &["add", "x"],
        &["repo", "stat"],
        &["repo", "gc"],
        &["pin", "ls"],
        &["block", "put"],
        &["refs", "local"],
        &["dag", "import"],
    ] {
        let e = r.fail(args);
        assert_eq!(
            e,
            format!(
                "Error: no ipfsd repository at {} (run `ipfsd init`)",
                r.path.display()
            ),
            "{args:?}"
        );
    }
    assert!(!r.path.exists(), "a command created the repository");
    // Through IPFSD_PATH, and HOME's default.
    let out = common::run(
        bin().env("IPFSD_PATH", &r.path).args(["repo", "stat"]),
        None,
    );
    let e = common::expect_error(&["repo", "stat"], &out);
    assert!(e.contains(s(&r.path)) && e.contains("ipfsd init"), "{e}");
    let out = common::run(bin().args(["pin", "ls"]), None);
    let e = common::expect_error(&["pin", "ls"], &out);
    assert!(
        e.contains("/nonexistent/ipfsd-test-home/.ipfsd") && e.contains("ipfsd init"),
        "{e}"
    );
}

/// Offline only (the daemon is found through IPFSD_PATH in `online::ipfsd_path_finds_the_daemon`).
#[test]
fn ipfsd_path_selects_the_repo() {
    let r = Repo::uninit();
    let env = |args: &[&str], input: Option<Vec<u8>>| {
        let mut c = bin();
        c.env("IPFSD_PATH", &r.path).args(args).current_dir(&r.work);
        common::expect_ok(args, common::run(&mut c, input))
    };
    env(&["init"], None);
    assert_eq!(
        env(&["add", "-Q"], Some(b"hello world\n".to_vec())),
        format!("{HELLO}\n").into_bytes()
    );
    assert_eq!(r.cat(HELLO), b"hello world\n");
    // --repo wins over IPFSD_PATH.
    let other = Repo::init();
    let mut c = other.cmd(&["cat", HELLO]);
    c.env("IPFSD_PATH", &r.path);
    let out = common::run(&mut c, None);
    assert_eq!(
        common::expect_error(&["cat"], &out),
        format!("Error: block {HELLO} not found")
    );
}

/// Offline only: another command holds the repository's lock while these run.
#[test]
fn a_repo_held_by_another_process_is_reported() {
    let r = Repo::init();
    r.file("hello.txt", b"hello world\n");
    let mut holder = r
        .cmd(&["add", "-Q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn holder");
    let (out, err) = common::drain(&mut holder);
    let mut stdin = holder.stdin.take().expect("stdin");
    // Once the holder has consumed 1 MiB (far beyond a pipe's buffer) it has opened the repo
    // and sits reading stdin, which stays open until we drop it.
    let data = random_bytes(18, 1 << 20);
    let (tx, rx) = std::sync::mpsc::channel();
    let chunk = data.clone();
    std::thread::spawn(move || {
        let res = stdin.write_all(&chunk).map(|()| stdin);
        let _ = tx.send(res);
    });
    let stdin = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(stdin)) => stdin,
        other => {
            let _ = holder.kill();
            panic!(
                "holder did not read its input: {:?}",
                other.map(|r| r.map(|_| ()))
            );
        }
    };

    for args in [
        &["repo", "stat"][..],
        &["cat", HELLO],
        &["add", "hello.txt"],
        &["init"],
    ] {
        let e = r.fail(args);
        let expected = if args == ["init"] {
            "already exists"
        } else {
            "in use by another process"
        };
        assert!(
            e.contains(expected) && e.contains(s(&r.path)),
            "{args:?}: {e}"
        );
    }
    // Only-hash needs no store.
    assert_eq!(r.ok(&["add", "-nQ", "hello.txt"]), format!("{HELLO}\n"));

    drop(stdin);
    let status = common::wait_deadline(&mut holder, common::TIMEOUT);
    let (out, err) = (out.join().expect("stdout"), err.join().expect("stderr"));
    assert!(
        status.success(),
        "holder failed: {}",
        String::from_utf8_lossy(&err)
    );
    let cid = String::from_utf8(out)
        .expect("utf-8")
        .trim_end()
        .to_string();
    assert_eq!(r.ok_in(&["add", "-nQ"], &data).trim_end(), cid);
    assert_eq!(r.cat(&cid), data);
    assert!(r.ok(&["repo", "stat"]).starts_with("NumObjects: 5\n"));
}

/// `id` reports the repository's identity, the same through the daemon as offline (which
/// adds the listen addresses and protocols), and the peer ID matches the config's
/// `Identity.PeerID`.
fn id_reports_the_identity(mode: Mode) {
    let r = Repo::new(mode);
    let out = r.ok(&["id"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("id prints JSON");
    let id = v["ID"].as_str().expect("ID");
    assert!(id.starts_with("12D3KooW"), "{out}");
    assert_eq!(r.ok(&["config", "Identity.PeerID"]).trim_end(), id);
    assert!(
        v["PublicKey"].as_str().is_some_and(|k| !k.is_empty()),
        "{out}"
    );
    let offline: serde_json::Value =
        serde_json::from_str(&r.ok(&["--offline", "id"])).expect("id prints JSON");
    for key in ["ID", "PublicKey", "PowDifficulty", "AgentVersion"] {
        assert_eq!(
            offline[key], v[key],
            "{key}: same offline and through the daemon"
        );
    }
    if mode == Mode::Online {
        let addrs = v["Addresses"].as_array().expect("Addresses");
        assert!(
            addrs.iter().all(|a| a
                .as_str()
                .is_some_and(|a| a.starts_with("/ip4/127.0.0.1/") && a.ends_with(id))),
            "{out}"
        );
        assert!(!addrs.is_empty() && !v["Protocols"].as_array().expect("Protocols").is_empty());
    }
}

/// `init --pow-difficulty D` makes an identity of at least D bits, which `id` reports;
/// out-of-range difficulties are refused.
#[test]
fn init_with_proof_of_work() {
    let r = Repo::uninit();
    r.ok(&["init", "--pow-difficulty", "9"]);
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["id"])).expect("JSON");
    let bits = v["PowDifficulty"].as_u64().expect("PowDifficulty");
    assert!(bits >= 9, "{v}");
    let other = Repo::uninit();
    let out = other.run(&["init", "--pow-difficulty", "25"]);
    assert!(!out.status.success());
    assert!(!other.path.join("config").exists(), "nothing created");
}

/// A regression test: output to a reader that went away (`ipfsd swarm peers | grep -q x`)
/// ended in a panic ("failed printing to stdout: Broken pipe"); now the rest of the
/// output is dropped and the command succeeds, as `add` into a closed pipe does.
fn output_into_a_closed_pipe_is_no_panic(mode: Mode) {
    let r = Repo::new(mode);
    let mut commands = vec![&["config", "show"][..], &["id"], &["pin", "ls"]];
    if mode == Mode::Online {
        commands.push(&["swarm", "addrs", "local"]);
    }
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = r
            .cmd(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

both_modes!(
    errors_are_one_clear_line,
    id_reports_the_identity,
    output_into_a_closed_pipe_is_no_panic,
);
