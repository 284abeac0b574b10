//! Through a daemon only: finding it (`api` file, `IPFSD_PATH`, `--api`), refusing it
//! (`--offline`), a stale `api` file, and outputs byte for byte equal to offline ones.

use super::*;
use common::socket_addr;
use std::process::Output;

#[test]
fn offline_flag_ignores_the_daemon() {
    let r = Repo::init_online();
    let e = r.fail(&["--offline", "repo", "stat"]);
    assert!(
        e.contains("in use by another process") && e.contains(s(&r.path)),
        "{e}"
    );
    let e = r.fail_in(&["--offline", "add", "-Q"], b"hello world\n");
    assert!(e.contains("in use by another process"), "{e}");
    // Through the daemon the same repository is fine.
    assert!(r.ok(&["repo", "stat"]).starts_with("NumObjects: 0\n"));
    // --api and --offline contradict each other: a usage error.
    let out = r.run(&["--offline", "--api", &r.api(), "repo", "stat"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn api_flag_targets_a_daemon_and_bad_addresses_fail_clearly() {
    let r = Repo::init_online();
    r.file("hello.txt", b"hello world\n");
    assert_eq!(r.add(&["hello.txt"]), HELLO);
    // --api wins over --repo (here: no repository at all).
    let other = Repo::uninit();
    assert_eq!(
        other.ok_bytes(&["--api", &r.api(), "cat", HELLO]),
        b"hello world\n"
    );
    let addr = socket_addr(&r.api()).expect("api address");
    assert_eq!(
        other.ok_bytes(&["--api", &format!("http://{addr}"), "cat", HELLO]),
        b"hello world\n"
    );
    // `repo stat` then names the daemon's repository.
    let stat = other.ok(&["--api", &r.api(), "repo", "stat"]);
    assert_eq!(stat_field(&stat, "RepoPath"), s(&r.path));
    assert!(!other.path.exists());

    // Nothing listens there (the test holds the port): an error, never a fallback to the
    // (missing) repository.
    let (_held, dead) = common::held_port();
    assert_eq!(
        other.fail(&["--api", &dead, "repo", "stat"]),
        format!("Error: cannot connect to the daemon at {dead}")
    );
    for bad in [
        "nonsense",
        "/ip4/127.0.0.1/udp/5001",
        "/dns4/localhost/tcp/1",
    ] {
        let e = other.fail(&["--api", bad, "cat", HELLO]);
        assert!(e.contains("invalid API address") && e.contains(bad), "{e}");
    }
}

#[test]
fn ipfsd_path_finds_the_daemon() {
    let r = Repo::init_online();
    r.file("hello.txt", b"hello world\n");
    r.add(&["hello.txt"]);
    // The daemon holds the repository, so this only works through it.
    let out = common::run(
        bin()
            .env("IPFSD_PATH", &r.path)
            .args(["cat", HELLO])
            .current_dir(&r.work),
        None,
    );
    assert_eq!(common::expect_ok(&["cat", HELLO], out), b"hello world\n");
}

#[test]
fn a_stale_api_file_falls_back_to_offline() {
    let mut r = Repo::init_online();
    let data = random_bytes(40, 400_000);
    r.file("data", &data);
    let cid = r.add(&["data"]);
    r.kill_daemon();
    assert!(r.path.join("api").exists(), "no stale api file left");
    // The stale file is made to name a port the test holds: the port the killed daemon
    // released could be taken by another process (which would then answer), or be given
    // to the next daemon (which would make `assert_ne!` below fail).
    let (_held, api) = common::held_port();
    std::fs::write(r.path.join("api"), &api).expect("write api file");
    // Nothing answers at the address: commands open the repository themselves.
    assert_eq!(r.cat(&cid), data);
    assert_eq!(
        r.ok(&["pin", "ls", "-t", "recursive"]),
        format!("{cid} recursive\n")
    );
    assert!(r.ok(&["repo", "verify"]).ends_with(": repo ok\n"));
    r.file("more", b"more\n");
    let more = r.add(&["more"]);
    // An explicit --api is not a fallback; shutdown has nothing to stop.
    let e = r.fail(&["--api", &api, "repo", "stat"]);
    assert!(e.contains("cannot connect to the daemon"), "{e}");
    let e = r.fail(&["shutdown"]);
    assert!(e.contains("no daemon is running"), "{e}");
    // A new daemon takes over (and rewrites the file).
    r.start_daemon();
    assert_ne!(r.api(), api);
    assert_eq!(r.cat(&more), b"more\n");
    let e = r.fail(&["--offline", "cat", &more]);
    assert!(e.contains("in use by another process"), "{e}");
    assert!(r.stop_daemon(), "the daemon did not stop cleanly");
    assert!(!r.path.join("api").exists(), "shutdown left the api file");
}

/// One command of the comparison: arguments and stdin.
type Case = (Vec<String>, Option<Vec<u8>>);

fn run_case(r: &Repo, (args, input): &Case) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match input {
        Some(i) => r.run_in(&args, i),
        None => r.run(&args),
    }
}

#[cfg(unix)]
#[test]
fn outputs_are_identical_between_modes() {
    let mut r = Repo::init();
    let big = random_bytes(41, 700_000);
    r.file("t/a.txt", b"0123456789");
    r.file("t/.hidden", b"h");
    r.file("t/sub/big.bin", &big);
    r.file("t/sub/same", b"same");
    r.file("t/other/same", b"same");
    r.dir("t/emptydir");
    std::os::unix::fs::symlink("../a.txt", r.work.join("t/sub/link")).expect("symlink");
    r.file("hello.txt", b"hello world\n");
    let root = r.add(&["-r", "t"]);
    let hidden_root = r.add(&["-r", "-H", "--cid-version", "1", "t"]);
    let direct = r
        .ok_in(&["block", "put", "--pin"], b"direct")
        .trim_end()
        .to_string();
    let stdin_data = random_bytes(42, 300_000);
    let big_cid = r.add(&["-n", "t/sub/big.bin"]);
    r.ok(&["pin", "add", "--recursive=false", &big_cid]);

    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut cases: Vec<Case> = [
        vec!["add", "-r", "t"],
        vec!["add", "-r", "-H", "-w", "t", "hello.txt"],
        vec![
            "add",
            "-q",
            "-r",
            "--cid-version",
            "1",
            "--chunker",
            "size-1000",
            "t",
        ],
        vec!["add", "-n", "--raw-leaves", "-r", "t/sub"],
        vec!["add", "-Q", "--profile", "unixfs-v1-2025", "-r", "t"],
        vec!["add", "--pin=false", "t/sub/big.bin"],
        vec![
            "cat",
            &format!("{root}/a.txt"),
            &format!("/ipfs/{root}/sub/big.bin"),
        ],
        vec![
            "cat",
            "-o",
            "5",
            "-l",
            "300000",
            &format!("{root}/a.txt"),
            &format!("{root}/sub/big.bin"),
        ],
        vec!["ls", "-v", &root, &format!("{root}/sub")],
        vec!["ls", &hidden_root],
        vec!["refs", "-r", &root],
        vec!["refs", "-r", "-u", &root, &format!("{root}/other")],
        vec!["refs", "local"],
        vec!["pin", "ls"],
        vec!["pin", "ls", "-t", "indirect", "-q"],
        vec!["pin", "ls", &format!("{root}/a.txt"), &big_cid],
        vec!["pin", "add", &root],
        vec!["pin", "verify", "--verbose"],
        vec!["block", "get", &direct],
        vec!["block", "stat", &root],
        vec!["block", "rm", &root, &direct],
        vec!["dag", "export", &root],
        vec!["repo", "gc"],
        vec!["repo", "stat"],
        vec!["repo", "stat", "-H"],
        vec!["repo", "verify"],
        vec!["version"],
        // Errors, and what is printed before them.
        vec!["cat", &root],
        vec![
            "cat",
            &format!("{root}/a.txt"),
            &format!("{root}/nope"),
            HELLO,
        ],
        vec!["cat", &big_cid],
        vec!["ls", &root, "notacid"],
        vec!["refs", &root, &format!("{root}/missing")],
        vec!["refs", "-r", &big_cid],
        vec!["pin", "rm", &format!("{root}/a.txt")],
        vec!["pin", "add", &root, &big_cid],
        vec!["block", "stat", HELLO],
        vec!["dag", "export", &big_cid],
        vec!["get", "-o", "one.bin", &big_cid],
        vec!["get", &format!("{root}/nope")],
        vec!["add", "t", "hello.txt"],
        vec!["add", "--chunker", "size-0", "hello.txt"],
    ]
    .iter()
    .map(|a| (owned(a), None))
    .collect();
    cases.push((owned(&["add"]), Some(stdin_data.clone())));
    cases.push((owned(&["add", "-w", "-Q"]), Some(stdin_data)));
    cases.push((
        owned(&["dag", "import", "--stats"]),
        Some(r.ok_bytes(&["dag", "export", &root])),
    ));
    cases.push((
        owned(&["block", "put", "--cid-codec", "dag-pb"]),
        Some(b"not dag-pb".to_vec()),
    ));

    // Some commands change the repository (the same way each time): a first run brings
    // it to the state in which the offline run and then the online one start.
    for c in &cases {
        run_case(&r, c);
    }
    let offline: Vec<Output> = cases.iter().map(|c| run_case(&r, c)).collect();
    assert_eq!(
        r.ok(&["get", "-o", "got-offline", &hidden_root]),
        "Saving file(s) to got-offline\n"
    );
    r.start_daemon();
    for (case, off) in cases.iter().zip(&offline) {
        let on = run_case(&r, case);
        let show = |o: &Output| {
            format!(
                "status {:?}\nstdout ({} bytes): {}\nstderr: {}",
                o.status.code(),
                o.stdout.len(),
                String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(600)]),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert!(
            on.status.code() == off.status.code()
                && on.stdout == off.stdout
                && on.stderr == off.stderr,
            "ipfsd {}\n--- offline:\n{}\n--- online:\n{}",
            case.0.join(" "),
            show(off),
            show(&on)
        );
    }
    assert_eq!(
        r.ok(&["get", "-o", "got", &hidden_root]),
        "Saving file(s) to got\n"
    );
    assert_same_tree(&r.work.join("got-offline"), &r.work.join("got"));
    assert_same_tree(&r.work.join("t"), &r.work.join("got"));
}
