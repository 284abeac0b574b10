//! Tests of the store against damage: corrupt blocks under pins (GC and pin walks must not
//! take links from them), damaged database pages, failed writes.

use super::tests::{on_both_stores, temp_store};
use super::*;
use crate::testutil::{node_named, raw};

/// Test-only: flips one bit of a block's stored bytes behind the store's back.
fn flip_bit(store: &Store, cid: &Cid, byte: usize, bit: u8) {
    let mh = cid.hash().to_bytes();
    let mut bytes = ReadTables::open(&store.inner)
        .expect("tables")
        .read(&mh)
        .expect("read")
        .expect("stored block")
        .to_vec();
    bytes[byte] ^= 1 << bit;
    super::tests::corrupt(store, cid, &bytes);
}

/// A pinned directory holding one 300 KB file (two leaves); answers (dir, file, leaves).
fn pinned_dir(store: &Store) -> (Block, Block, [Block; 2]) {
    let a = raw(&vec![1u8; 200_000]);
    let b = raw(&vec![2u8; 100_000]);
    let file = node_named(&[&a, &b], "", b"");
    let dir = node_named(&[&file], "file.bin", b"");
    store
        .put_many([a.clone(), b.clone(), file.clone(), dir.clone()])
        .expect("put");
    store.pin_add(dir.cid(), PinMode::Recursive).expect("pin");
    (dir, file, [a, b])
}

/// Flips one bit inside the link to `target` in `block`'s stored bytes.
fn flip_link(store: &Store, block: &Block, target: &Cid) {
    let link = target.to_bytes();
    let at = block
        .data()
        .windows(link.len())
        .position(|w| w == link.as_slice())
        .expect("the link is in the block");
    flip_bit(store, block.cid(), at + link.len() - 3, 4);
}

on_both_stores!(gc_refuses_links_of_a_corrupt_block_and_deletes_nothing);
fn gc_refuses_links_of_a_corrupt_block_and_deletes_nothing(store: Store) {
    let (dir, file, leaves) = pinned_dir(&store);
    let junk = raw(b"junk");
    store.put(junk.clone()).expect("put");
    flip_link(&store, &dir, file.cid());

    match store.gc() {
        Err(StoreError::GcAborted { cid, pin, .. }) => {
            assert_eq!(cid, *dir.cid());
            assert_eq!(pin, *dir.cid());
        }
        other => panic!("gc must abort on the corrupt block, got {other:?}"),
    }
    // Nothing was deleted: neither the pinned file's blocks nor even garbage.
    for b in [&file, &leaves[0], &leaves[1], &junk] {
        assert!(store.has(b.cid()).expect("has"), "{} was deleted", b.cid());
    }
    let err = store.gc().expect_err("still aborts").to_string();
    assert!(
        err.contains("nothing deleted") && err.contains(&dir.cid().to_string()),
        "{err}"
    );
}

#[test]
fn pin_walks_refuse_links_of_a_corrupt_block() {
    let (_dir, store) = temp_store();
    let (dir, file, _) = pinned_dir(&store);
    flip_link(&store, &dir, file.cid());
    // pin add walks the DAG again (as a new pin): it must not accept the damaged DAG.
    store.pin_rm(dir.cid()).expect("unpin");
    assert!(matches!(
        store.pin_add(dir.cid(), PinMode::Recursive),
        Err(StoreError::Corrupt { cid }) if cid == *dir.cid()
    ));
    store
        .pin_add(dir.cid(), PinMode::Direct)
        .expect("a direct pin needs no links");
    store.pin_rm(dir.cid()).expect("unpin");
    // pin verify reports the block as corrupt, and does not look under it.
    let (_d2, store2) = temp_store();
    let (dir2, file2, _) = pinned_dir(&store2);
    flip_link(&store2, &dir2, file2.cid());
    let reports = store2.pin_verify().expect("pin verify");
    assert_eq!(
        reports[0].problems,
        vec![PinProblem::Corrupt { cid: *dir2.cid() }]
    );
    assert!(matches!(
        store2.indirect_pins(),
        Err(StoreError::Corrupt { cid }) if cid == *dir2.cid()
    ));
}

/// Overwrites `len` bytes in the middle of the file with a pattern, as a failing disk or a
/// stray write would.
fn damage_file(path: &std::path::Path, at: u64, len: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open db file");
    f.seek(SeekFrom::Start(at)).expect("seek");
    let garbage: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
    f.write_all(&garbage).expect("write");
}

#[test]
fn a_damaged_database_page_gives_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("blocks.redb");
    let mut pinned = Vec::new();
    {
        let store = Store::open(&path).expect("open");
        for i in 0..300u32 {
            let leaf = raw(&[i.to_le_bytes().as_slice(), &[7u8; 2000]].concat());
            let root = node_named(&[&leaf], "f", b"");
            store.put_many([leaf, root.clone()]).expect("put");
            store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
            pinned.push(root);
        }
    }
    let len = std::fs::metadata(&path).expect("meta").len();
    // Damage pages all over the file, one after another: whatever redb makes of each, the
    // store answers errors (or, where the damage missed what is read, correct answers).
    let mut errors = 0;
    for k in 1..8u64 {
        damage_file(&path, len * k / 8, 4096);
        let store = match Store::open(&path) {
            Ok(s) => s,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        let outcomes = [
            store.verify().map(|r| r.is_ok()),
            store.pin_verify().map(|r| r.iter().all(PinReport::is_ok)),
            store.gc().map(|r| r.removed.is_empty()),
            store
                .all_cids()
                .and_then(|c| c.collect::<Result<Vec<_>>>())
                .map(|c| !c.is_empty()),
            store.get(pinned[150].cid()).map(|b| b.is_some()),
        ];
        errors += outcomes.iter().filter(|o| !matches!(o, Ok(true))).count();
    }
    assert!(errors > 0, "the damage was never noticed");
}

on_both_stores!(gc_keeps_leased_dags_until_the_lease_drops);
fn gc_keeps_leased_dags_until_the_lease_drops(store: Store) {
    let a = raw(b"fetched leaf");
    let b = raw(b"leaf not fetched yet");
    let file = node_named(&[&a, &b], "", b"");
    let root = node_named(&[&file], "f", b"");
    let junk = raw(b"junk");
    let lease = store.lease(*root.cid());
    // Half-fetched: the root, the file node and one leaf are stored.
    store
        .put_many([root.clone(), file.clone(), a.clone(), junk.clone()])
        .expect("put");
    let report = store.gc().expect("gc");
    assert_eq!(report.removed, vec![Cid::new_v1(RAW, *junk.cid().hash())]);
    for blk in [&root, &file, &a] {
        assert!(
            store.has(blk.cid()).expect("has"),
            "{} collected",
            blk.cid()
        );
    }
    // The fetch completes and the pin commits: the lease can go.
    store.put(b.clone()).expect("put");
    store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    drop(lease);
    assert!(store.gc().expect("gc").removed.is_empty());
    // A lease dropped without a pin keeps nothing.
    store.pin_rm(root.cid()).expect("unpin");
    let lease = store.lease(*root.cid());
    assert!(store.gc().expect("gc").removed.is_empty());
    drop(lease);
    assert_eq!(store.gc().expect("gc").removed.len(), 4);
}

/// A tmpfs of `size` mounted for a test, unmounted on drop; `None` (the test skips) when
/// not root, except under `CI=true`, where that fails.
struct Tmpfs {
    dir: std::path::PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("id -u");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "disk-full tests need root to mount a tmpfs, and CI must run them"
            );
            eprintln!("SKIPPED: not root, cannot mount a tmpfs");
            return None;
        }
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("small");
        std::fs::create_dir(&dir).expect("mkdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Some(Tmpfs {
            dir,
            _parent: parent,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
    }
}

/// Small blocks live in redb itself: filling the disk with them makes redb's own commit
/// fail with ENOSPC, which poisons the database ("Previous I/O error"). The store reopens
/// it by itself: GC, pins and, once space is free, puts work again on the same handle.
#[test]
fn the_store_recovers_from_enospc_in_redb_without_reopening_by_hand() {
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    let store = Store::open(&fs.dir.join("blocks.redb")).expect("open");
    let keep = raw(b"kept across the failure");
    store.put(keep.clone()).expect("put");
    store.pin_add(keep.cid(), PinMode::Recursive).expect("pin");
    let mut stored = 0u64;
    let err = loop {
        // 64 inline blocks of 8 KiB per transaction.
        let batch: Vec<Block> = (0..64)
            .map(|i| raw(&[(stored * 64 + i).to_le_bytes().as_slice(), &[3u8; 8184]].concat()))
            .collect();
        match store.put_many(batch) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 1000, "24 MiB never filled");
    };
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(stored > 0);
    // Reads, pins and GC work on the same handle, without a restart.
    assert!(store.get(keep.cid()).expect("get").is_some());
    let report = store.gc().expect("gc on a full disk");
    assert!(
        report.removed.len() as u64 >= stored * 64 / 2,
        "{}",
        report.removed.len()
    );
    // Space is back: puts work again (the reserve is put back first).
    let again = raw(b"after the disk was full");
    store.put(again.clone()).expect("put after gc");
    assert!(store.get(again.cid()).expect("get").is_some());
    assert!(store.get(keep.cid()).expect("get").is_some());
    assert!(store.verify().expect("verify").is_ok());
    drop(store);
    // And the file reopens cleanly.
    let store = Store::open(&fs.dir.join("blocks.redb")).expect("reopen");
    assert!(store.has(again.cid()).expect("has"));
}
