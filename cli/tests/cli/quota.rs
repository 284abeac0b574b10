//! `Datastore.StorageMax` through the command line: an add past the limit fails with a
//! message naming it, through the daemon and offline, and pins nothing; `repo stat`
//! reports the limit; `daemon --enable-gc` collects garbage so the add fits.

use super::common::{Repo, random_bytes, stat_field};

const FILE: usize = 2 << 20;

fn small_repo() -> Repo {
    let r = Repo::init();
    r.ok(&["config", "Datastore.StorageMax", "3MB"]);
    r
}

fn assert_limit_error(err: &str) {
    assert!(
        err.contains("storage limit exceeded")
            && err.contains("StorageMax")
            && err.contains("3000000"),
        "{err}"
    );
}

fn assert_only_pin(r: &Repo, cid: &str) {
    let out = r.ok(&["pin", "ls", "--type", "recursive"]);
    let pins: Vec<&str> = out.lines().collect();
    assert!(pins.len() == 1 && pins[0].starts_with(cid), "{pins:?}");
}

#[test]
fn an_add_past_storage_max_fails_cleanly_online_and_offline() {
    let mut r = small_repo();
    let a = r.file("a", &random_bytes(1, FILE));
    let b = r.file("b", &random_bytes(2, FILE));
    let (a, b) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );
    r.start_daemon();
    let stat = r.ok(&["repo", "stat"]);
    assert_eq!(stat_field(&stat, "StorageMax"), "3000000", "{stat}");
    let kept = r.add(&[a.as_str()]);
    assert_limit_error(&r.fail(&["add", "-Q", b.as_str()]));
    // The daemon still serves, and the failed add left no pin.
    assert_eq!(r.cat(&kept), random_bytes(1, FILE));
    assert_only_pin(&r, &kept);
    assert!(r.stop_daemon());
    // Offline, the same limit holds.
    assert_limit_error(&r.fail(&["add", "-Q", b.as_str()]));
    assert_only_pin(&r, &kept);
    assert!(r.ok(&["repo", "verify"]).ends_with("repo ok\n"));
}

#[test]
fn enable_gc_makes_room_for_an_add_that_fits_after_gc() {
    let mut r = small_repo();
    let a = r.file("a", &random_bytes(1, FILE));
    let b = r.file("b", &random_bytes(2, FILE));
    let (a, b) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );
    r.try_start_daemon_args(&[], &["--enable-gc"])
        .expect("daemon starts");
    // Unpinned: garbage once added.
    r.ok(&["add", "-Q", "--pin=false", a.as_str()]);
    let kept = r.add(&[b.as_str()]);
    assert_eq!(r.cat(&kept), random_bytes(2, FILE));
    assert_only_pin(&r, &kept);
    assert!(r.stop_daemon(), "the daemon stops promptly with auto GC on");
}
