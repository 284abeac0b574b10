//! Streamed answers that fail midway: through the daemon, each command exits 1 with the
//! daemon's error, never with what it received so far passed off as the whole answer.

use crate::common::{Repo, random_bytes};

#[test]
fn failed_streams_exit_1_through_the_daemon() {
    let mut repo = Repo::init();
    repo.start_daemon_with(&["--offline"]);
    // 16 leaves; the ninth is removed, so each walk of the file fails midway.
    repo.file("f.bin", &random_bytes(3, 1 << 20));
    let root = repo.add(&["--pin=false", "--chunker", "size-65536", "f.bin"]);
    let leaves: Vec<String> = repo
        .ok(&["refs", &root])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(leaves.len(), 16);
    let gone = &leaves[8];
    repo.ok(&["block", "rm", gone]);

    for args in [
        vec!["cat", root.as_str()],
        vec!["refs", "-r", root.as_str()],
        vec!["dag", "export", root.as_str()],
        vec!["get", "-o", "out", root.as_str()],
    ] {
        let out = repo.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("Error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(gone.as_str()), "{args:?}: {stderr}");
    }
}
