//! Tests of what is particular to the in-memory store ([`Store::in_memory`]); the
//! behaviours it shares with the store on disk run on both through
//! [`super::tests::on_both_stores`].

use super::pack::MEMORY_PACK_SIZE;
use super::tests::temp_store;
use super::*;
use crate::testutil::{node_named, raw};

fn memory_store() -> Store {
    Store::in_memory().expect("in-memory store")
}

/// `n` distinct large blocks (stored in packs) of 256 KiB and a bit.
fn big_blocks(n: u32, seed: u8) -> Vec<Block> {
    (0..n)
        .map(|i| {
            let mut data = vec![seed; 256 * 1024 + i as usize];
            data[..4].copy_from_slice(&i.to_le_bytes());
            raw(&data)
        })
        .collect()
}

/// Bytes of large blocks held in the memory packs.
fn pack_bytes(store: &Store) -> u64 {
    store.inner.packs.disk_size().expect("pack size")
}

#[test]
fn in_memory_stores_are_independent_and_touch_no_file() {
    let a = memory_store();
    let b = memory_store();
    let (_dir, disk) = temp_store();
    assert!(a.is_in_memory() && b.is_in_memory() && !disk.is_in_memory());
    assert_eq!(a.path(), Path::new(MEMORY_PATH));
    let small = raw(b"only in a");
    let large = raw(&vec![3u8; INLINE_MAX * 2]);
    a.put_many([small.clone(), large.clone()]).expect("put");
    a.pin_add(small.cid(), PinMode::Direct).expect("pin");
    for block in [&small, &large] {
        assert!(a.has(block.cid()).expect("has"));
        assert!(!b.has(block.cid()).expect("has"));
        assert_eq!(b.get(block.cid()).expect("get"), None);
    }
    assert!(b.pins().expect("pins").is_empty());
    assert_eq!(b.stat().expect("stat").num_blocks, 0);
    // A clone is a handle on the same store.
    let a2 = a.clone();
    assert_eq!(
        a2.get(large.cid()).expect("get").as_ref(),
        Some(large.data())
    );
    assert_eq!(a.handle_count(), 2);
    // Nothing was written under the name the store goes by.
    assert!(!Path::new(MEMORY_PATH).exists());
    assert!(!Path::new(MEMORY_PATH).with_extension("packs").exists());
    assert!(!Path::new(MEMORY_PATH).with_extension("reserve").exists());
}

#[test]
fn writer_pins_and_gc_free_the_memory_they_collect() {
    let store = memory_store();
    let blocks = big_blocks(80, 1);
    let keep = &blocks[..2];
    let root = node_named(&keep.iter().collect::<Vec<_>>(), "", b"root");
    let mut w = store.writer().expect("writer");
    for b in blocks.iter().chain([&root]) {
        w.put(b.clone()).expect("put");
    }
    let stats = w
        .finish_and_pin(*root.cid(), PinMode::Recursive)
        .expect("finish");
    assert_eq!(stats.new_blocks, 81);
    assert!(stats.commits >= 2, "intermediate commits: {stats:?}");
    assert!(
        store.inner.packs.ids().expect("ids").len() >= 2,
        "20 MiB of large blocks fill more than one memory pack"
    );
    let total: u64 = blocks.iter().map(|b| b.data().len() as u64).sum();
    let before = store.stat().expect("stat");
    assert_eq!(before.num_blocks, 81);
    // Every block, small ones included, is held in the packs (redb holds the index).
    let root_len = root.data().len() as u64;
    assert_eq!(pack_bytes(&store), total + root_len);
    assert!(before.file_size >= total + root_len, "{before:?}");

    let report = store.gc().expect("gc");
    assert_eq!(report.removed.len(), 78);
    let kept: u64 = keep.iter().map(|b| b.data().len() as u64).sum();
    assert_eq!(report.freed_bytes, total - kept);
    // Every collected large block's bytes are dropped at once (no compaction needed).
    assert_eq!(pack_bytes(&store), kept + root_len);
    let after = store.stat().expect("stat");
    assert_eq!(after.num_blocks, 3);
    assert!(
        after.file_size + (total - kept) <= before.file_size,
        "{after:?} vs {before:?}"
    );
    for b in keep.iter().chain([&root]) {
        assert_eq!(store.get(b.cid()).expect("get").as_ref(), Some(b.data()));
    }
    assert!(store.verify().expect("verify").is_ok());
    assert!(
        store
            .pin_verify()
            .expect("pin verify")
            .iter()
            .all(PinReport::is_ok)
    );

    store.pin_rm(root.cid()).expect("unpin");
    let report = store.gc().expect("gc");
    assert_eq!(store.stat().expect("stat").num_blocks, 0);
    assert_eq!(pack_bytes(&store), 0);
    // The first pack, now empty, is gone; the one receiving appends stays.
    assert_eq!(report.packs_removed, 1, "{report:?}");
    assert_eq!(store.inner.packs.ids().expect("ids").len(), 1);
}

/// A pack removed by GC compaction stays readable to a snapshot from before the GC (its
/// blocks are still in that snapshot's index) until that reader ends.
#[test]
fn a_pack_removed_by_gc_waits_for_older_readers() {
    let store = memory_store();
    let old = big_blocks(80, 4);
    store.put_many(old.clone()).expect("put");
    // Roll over to a second pack, so the first no longer receives appends.
    store.put_many(big_blocks(80, 5)).expect("put");
    let before = ReadTables::open(&store.inner).expect("reader");
    let report = store.gc().expect("gc");
    assert!(report.packs_removed >= 1, "{report:?}");
    for b in &old {
        let mh = b.cid().hash().to_bytes();
        assert_eq!(before.read(&mh).expect("read").as_ref(), Some(b.data()));
    }
    // A second GC meanwhile does not count the waiting pack again.
    assert_eq!(store.gc().expect("gc").packs_removed, 0);
    let held = pack_bytes(&store);
    drop(before);
    assert!(
        pack_bytes(&store) < held,
        "the pack goes once the reader ends"
    );
    assert_eq!(store.inner.snapshots.waiting(), 0);
}

/// Bytes appended by a transaction that aborted are referenced by nothing: GC compaction
/// drops them (moving the live blocks out of a pack that is mostly such garbage) once
/// their pack no longer receives appends.
#[test]
fn gc_reclaims_the_bytes_of_an_aborted_atomic_writer() {
    let store = memory_store();
    let live = raw(&vec![42u8; INLINE_MAX * 4]);
    store.put(live.clone()).expect("put");
    store.pin_add(live.cid(), PinMode::Direct).expect("pin");
    let aborted = big_blocks(80, 2);
    let mut w = store.atomic_writer().expect("writer");
    for b in &aborted {
        w.put(b.clone()).expect("put");
    }
    drop(w);
    assert_eq!(store.stat().expect("stat").num_blocks, 1);
    assert!(!store.has(aborted[0].cid()).expect("has"));
    let garbage = pack_bytes(&store) - live.data().len() as u64;
    assert!(garbage >= MEMORY_PACK_SIZE, "held: {garbage}");

    let report = store.gc().expect("gc");
    assert!(report.removed.is_empty());
    assert!(report.packs_removed >= 1, "{report:?}");
    // What is left is the pack still receiving appends: at most one pack's worth.
    let left = pack_bytes(&store) - live.data().len() as u64;
    assert!(left < MEMORY_PACK_SIZE, "held after gc: {left}");
    // The live block was moved out of the first pack, and reads back whole.
    assert_eq!(
        store.get(live.cid()).expect("get").as_ref(),
        Some(live.data())
    );
    // Once the current pack rolls over, the next GC drops the rest: exactly the live
    // blocks' bytes stay.
    let more = big_blocks(70, 3);
    store.put_many(more.clone()).expect("put");
    for b in &more {
        store.pin_add(b.cid(), PinMode::Direct).expect("pin");
    }
    store.gc().expect("gc");
    let mut pinned: u64 = more.iter().map(|b| b.data().len() as u64).sum();
    pinned += live.data().len() as u64;
    let current = store.inner.packs.first_active_id();
    let in_current = store.inner.packs.file_size(current).expect("size");
    assert!(pack_bytes(&store) - in_current <= pinned);
    assert!(pack_bytes(&store) >= pinned);
    assert!(store.verify().expect("verify").is_ok());
}

/// Reopening after a poisoning write applies to files only: for an in-memory store it
/// answers an error and leaves the database in place (no new, empty database, no file).
#[test]
fn reopen_never_replaces_an_in_memory_database() {
    let store = memory_store();
    let block = raw(b"still here");
    store.put(block.clone()).expect("put");
    assert!(matches!(
        store.inner.reopen(0),
        Err(StoreError::Db {
            source: redb::Error::PreviousIo
        })
    ));
    assert_eq!(
        store.get(block.cid()).expect("get").as_ref(),
        Some(block.data())
    );
    assert!(!Path::new(MEMORY_PATH).exists());
}

/// Readers and a batched writer run while GC collects, as on disk.
#[test]
fn concurrent_import_reads_and_gc() {
    let store = memory_store();
    let old = big_blocks(20, 4);
    store.put_many(old.clone()).expect("put");
    let pinned = old[0].clone();
    store.pin_add(pinned.cid(), PinMode::Direct).expect("pin");
    let fresh = big_blocks(40, 5);
    let root = node_named(&fresh.iter().collect::<Vec<_>>(), "", b"import");
    let writer_store = store.clone();
    let fresh2 = fresh.clone();
    let import = std::thread::spawn(move || {
        let mut w = writer_store.writer().expect("writer");
        for b in fresh2.iter().chain([&root]) {
            w.put(b.clone()).expect("put");
        }
        w.finish_and_pin(*root.cid(), PinMode::Recursive)
            .expect("finish")
    });
    let reader_store = store.clone();
    let reader = std::thread::spawn(move || {
        for _ in 0..50 {
            let got = reader_store.get(pinned.cid()).expect("get");
            assert_eq!(got.as_ref(), Some(pinned.data()));
        }
    });
    let report = store.gc().expect("gc");
    import.join().expect("import thread");
    reader.join().expect("reader thread");
    // The import's blocks were never candidates (GC waits for it to pin, or runs first).
    for b in &fresh {
        assert!(store.has(b.cid()).expect("has"));
    }
    assert!(report.removed.len() <= 19);
    store.gc().expect("gc");
    assert_eq!(store.stat().expect("stat").num_blocks, 42);
    assert!(store.verify().expect("verify").is_ok());
}
