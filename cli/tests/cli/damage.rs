//! A damaged store gives errors, never panics: `repo verify` and `pin verify` run offline
//! on a repository whose database file has a damaged page exit 1 with one error line.

use super::common::{self, Repo};

/// Overwrites 4 KiB at `at` with a pattern, as a failing disk or a stray write would.
fn damage(path: &std::path::Path, pristine: &[u8], at: usize) {
    let mut bytes = pristine.to_vec();
    let end = (at + 4096).min(bytes.len());
    for (i, b) in bytes[at..end].iter_mut().enumerate() {
        *b = (i * 37 + 11) as u8;
    }
    std::fs::write(path, bytes).expect("write damaged db");
}

#[test]
fn verify_on_a_damaged_database_page_fails_cleanly() {
    let r = Repo::init();
    let dir = r.dir("tree");
    for i in 0..200 {
        std::fs::write(dir.join(format!("f{i}")), format!("file {i}\n").repeat(40)).expect("write");
    }
    r.add(&["-r", common::s(&dir)]);
    let db = r.path.join("blocks.redb");
    let pristine = std::fs::read(&db).expect("read db");
    let mut failures = 0;
    for k in 1..8 {
        damage(&db, &pristine, pristine.len() * k / 8);
        for args in [["repo", "verify"], ["pin", "verify"]] {
            let out = r.run(&args);
            if out.status.success() {
                continue;
            }
            failures += 1;
            if out.stderr.is_empty() {
                // A report of what is broken (pin verify's lines), and exit 1.
                assert_eq!(out.status.code(), Some(1), "{args:?}");
                assert!(!out.stdout.is_empty(), "{args:?} failed silently");
            } else {
                // Exit 1, one `Error: ` line, no panic (checked by expect_error).
                common::expect_error(&args, &out);
            }
        }
    }
    assert!(failures > 0, "the damage was never reported");
}

#[test]
fn an_empty_garbled_or_stale_api_file_means_no_daemon() {
    let r = Repo::init();
    r.file("hello", b"hello\n");
    let cid = r.add(&[common::s(&r.work.join("hello"))]);
    // What a daemon killed while writing it, or failing on a full disk, could leave.
    for content in [
        "",
        "\n",
        "/ip4/127.0.0.1/tc",
        "garbage",
        "/ip4/127.0.0.1/tcp/1",
    ] {
        std::fs::write(r.path.join("api"), content).expect("write api file");
        assert_eq!(r.cat(&cid), b"hello\n", "api file {content:?}");
        assert!(
            r.ok(&["repo", "stat"]).contains("NumObjects"),
            "api file {content:?}"
        );
    }
}
