//! SIGKILL in the middle of `ipfsd add` must leave the repository consistent: every block
//! intact, earlier adds fully readable, no pin for the interrupted add, and whatever it had
//! stored collectable by GC.

use super::common::{self, Repo, dag_blocks, random_bytes};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most bytes fed to an add that is going to be killed (it is killed long before).
const STREAM_CAP: u64 = 200 << 20;
/// Input an add must have consumed before some of its blocks are certainly in a pack file:
/// the store writer queues at most 8 MiB (`dag::store::writer::MAX_IN_FLIGHT`) and the
/// importer reads and hashes two 8 MiB batches ahead (`import::file::BATCH_BYTES`); past
/// that, with 16 MiB of margin, the writer has appended blocks (and committed batches
/// non-durably, every `BATCH_BYTES`).
const PAST_FIRST_COMMIT: u64 = (8 + 2 * 8 + 16) << 20;

/// Total bytes of the repository's pack files.
fn pack_bytes(r: &Repo) -> u64 {
    let dir = r.path.join("blocks.packs");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Starts `add` reading an endless pseudo-random stream from stdin, fed by a thread;
/// answers the child and the count of bytes it has consumed so far.
fn spawn_stdin_add(r: &Repo, seed: u64) -> (Child, Arc<AtomicU64>) {
    let mut child = r
        .cmd(&["add"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn add");
    let mut stdin = child.stdin.take().expect("stdin");
    let fed = Arc::new(AtomicU64::new(0));
    let counter = fed.clone();
    std::thread::spawn(move || {
        let mut i = 0;
        while counter.load(Ordering::SeqCst) < STREAM_CAP {
            let chunk = random_bytes(seed << 32 | i, 64 << 10);
            i += 1;
            // Fails with EPIPE once the child is killed: that ends the feeder.
            if stdin.write_all(&chunk).is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    (child, fed)
}

/// Waits until `ready` holds, then SIGKILLs the child; it must not have exited by itself.
fn kill_when(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("add exited ({status}) before the kill point ({what})");
        }
        assert!(
            Instant::now() < deadline,
            "kill point ({what}) not reached in time"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    let status = common::wait_deadline(child, common::TIMEOUT);
    assert_eq!(
        status.signal(),
        Some(9),
        "add was not killed mid-way ({what}): {status}"
    );
}

/// After a kill: the store verifies, completed adds are intact and the only pins, GC
/// leaves exactly their blocks, and a new add works (and joins `done`).
fn check_after_kill(r: &Repo, done: &mut Vec<(String, Vec<u8>)>, round: u64) -> u64 {
    assert!(
        r.ok(&["repo", "verify"]).ends_with(": repo ok\n"),
        "round {round}"
    );
    assert_eq!(r.ok(&["pin", "verify"]), "", "round {round}");
    let pins: BTreeSet<String> = r
        .ok(&["pin", "ls", "-q", "-t", "all"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut expected_pins = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for (cid, data) in done.iter() {
        assert_eq!(&r.cat(cid), data, "round {round}: {cid} changed");
        expected_pins.insert(cid.clone());
        expected_pins.extend(r.ok(&["refs", "-r", cid]).lines().map(str::to_string));
        kept.extend(dag_blocks(r, cid));
    }
    assert_eq!(
        pins, expected_pins,
        "round {round}: the killed add left a pin"
    );
    let leftover = r.num_objects() - kept.len() as u64;
    eprintln!("round {round}: {leftover} blocks left by the killed add");
    r.ok(&["repo", "gc", "-q"]);
    assert_eq!(
        r.local(),
        kept,
        "round {round}: GC did not leave exactly the pinned DAGs"
    );

    let data = random_bytes(1000 + round, 300_000);
    let name = format!("after-{round}");
    r.file(&name, &data);
    let cid = r.add(&[&name]);
    assert_eq!(r.cat(&cid), data);
    done.push((cid, data));
    leftover
}

/// Offline only: the process killed is the one writing the store.
#[test]
fn sigkill_during_add_keeps_the_repo_consistent() {
    let r = Repo::init();
    let prior = random_bytes(1, 700_000);
    r.file("prior.bin", &prior);
    let mut done = vec![(r.add(&["prior.bin"]), prior)];

    // 1. Early: inside the first (uncommitted) batch.
    let (mut child, fed) = spawn_stdin_add(&r, 1);
    kill_when(&mut child, "256 KiB consumed", || {
        fed.load(Ordering::SeqCst) >= 256 << 10
    });
    check_after_kill(&r, &mut done, 1);

    // 2. Between files of a recursive add, right after the first one is reported.
    for i in 0..6 {
        r.file(&format!("many/f{i}"), &random_bytes(10 + i, 512 << 10));
    }
    let mut child = r
        .cmd(&["add", "-r", "many"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn add -r");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut first = None;
    kill_when(&mut child, "first file reported", || {
        first = rx.try_recv().ok();
        first.is_some()
    });
    let first = first.and_then(Result::ok).unwrap_or_default();
    assert!(
        first.starts_with("added ") && first.contains(" many/f"),
        "{first}"
    );
    check_after_kill(&r, &mut done, 2);

    // 3. Late: after several batches were appended to a pack and committed non-durably.
    // Nothing of the killed add survives in the index, and GC reclaims its pack bytes.
    let before = pack_bytes(&r);
    let (mut child, fed) = spawn_stdin_add(&r, 3);
    kill_when(&mut child, "blocks appended to a pack", || {
        fed.load(Ordering::SeqCst) >= PAST_FIRST_COMMIT
    });
    let orphaned = pack_bytes(&r).saturating_sub(before);
    assert!(
        orphaned >= 8 << 20,
        "the killed add wrote only {orphaned} pack bytes: the scenario was not exercised"
    );
    check_after_kill(&r, &mut done, 3);
    assert!(
        pack_bytes(&r) < before + orphaned,
        "GC did not reclaim the killed add's pack bytes"
    );
    assert_eq!(r.ok(&["pin", "verify"]), "");
}
