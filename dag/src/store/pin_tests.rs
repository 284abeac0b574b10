//! Pins keyed by multihash-normalised CID ([`block::pin_key`]) and the migration of stores
//! that keyed CIDv0 pins by their own bytes.

use super::tests::{on_both_stores, temp_store};
use super::*;
use crate::block::{DAG_PB, Version};

fn pb_root() -> (Block, Block) {
    let leaf = crate::testutil::raw(b"leaf");
    let root = crate::testutil::node_named(&[&leaf], "l", b"root");
    assert_eq!(root.cid().version(), Version::V0);
    (root, leaf)
}

fn v1(cid: &Cid) -> Cid {
    Cid::new_v1(DAG_PB, *cid.hash())
}

on_both_stores!(cidv0_and_cidv1_of_one_root_are_one_pin);
fn cidv0_and_cidv1_of_one_root_are_one_pin(store: Store) {
    let (root, leaf) = pb_root();
    store.put_many([root.clone(), leaf]).expect("put");
    let (v0, v1) = (*root.cid(), v1(root.cid()));
    store.pin_add(&v0, PinMode::Recursive).expect("pin v0");
    store
        .pin_add(&v1, PinMode::Recursive)
        .expect("pin v1 (no-op)");
    // One pin, shown as first pinned.
    assert_eq!(store.pins().expect("pins"), vec![(v0, PinMode::Recursive)]);
    for c in [&v0, &v1] {
        assert_eq!(
            store.pin_status(c).expect("status"),
            Some(PinKind::Recursive)
        );
    }
    // A direct pin of the other spelling is refused like one of the same CID.
    assert!(matches!(
        store.pin_add(&v1, PinMode::Direct),
        Err(StoreError::AlreadyPinnedRecursively { .. })
    ));
    // Removing either spelling removes the pin.
    assert_eq!(store.pin_rm(&v1).expect("rm v1"), PinMode::Recursive);
    assert!(store.pins().expect("pins").is_empty());
    assert!(matches!(
        store.pin_rm(&v0),
        Err(StoreError::NotPinned { .. })
    ));

    // Pinned as CIDv1, it lists as CIDv1, and a direct pin upgrades under the same key.
    store.pin_add(&v1, PinMode::Direct).expect("direct v1");
    store
        .pin_add(&v0, PinMode::Recursive)
        .expect("recursive v0");
    assert_eq!(store.pins().expect("pins"), vec![(v0, PinMode::Recursive)]);
    assert_eq!(store.pin_rm(&v0).expect("rm"), PinMode::Recursive);
    assert!(store.pins().expect("pins").is_empty());
    store.gc().expect("gc");
    assert_eq!(store.stat().expect("stat").num_blocks, 0);
}

#[test]
fn cids_of_other_codecs_stay_separate_pins() {
    // The same multihash as raw is another pin: it asks for no links to be followed.
    let (_dir, store) = temp_store();
    let (root, leaf) = pb_root();
    store.put_many([root.clone(), leaf]).expect("put");
    let as_raw = Cid::new_v1(RAW, *root.cid().hash());
    store.pin_add(root.cid(), PinMode::Recursive).expect("pin");
    store.pin_add(&as_raw, PinMode::Direct).expect("pin raw");
    assert_eq!(store.pins().expect("pins").len(), 2);
}

/// Writes pins the way stores did before pins were keyed by `pin_key` (CID bytes, so a
/// CIDv0 key is its 34-byte multihash) and removes the migration marker.
fn write_old_style_pins(store: &Store, pins: &[(Cid, PinMode)]) {
    let txn = store.inner.begin_write().expect("txn");
    {
        let mut table = txn.open_table(PINS).expect("pins");
        for (cid, mode) in pins {
            table
                .insert(cid.to_bytes().as_slice(), mode.to_byte())
                .expect("insert");
        }
        let mut meta = txn.open_table(META).expect("meta");
        meta.remove(pin::PIN_KEYS_MIGRATED).expect("unmark");
    }
    txn.commit().expect("commit");
}

fn raw_pin_keys(store: &Store) -> Vec<Vec<u8>> {
    let txn = store.inner.begin_read().expect("txn");
    let table = txn.open_table(PINS).expect("pins");
    table
        .iter()
        .expect("iter")
        .map(|e| e.expect("entry").0.value().to_vec())
        .collect()
}

#[test]
fn old_style_cidv0_pin_keys_are_migrated_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("blocks.redb");
    let (root, leaf) = pb_root();
    let other = crate::testutil::node_named(&[], "", b"other");
    let raw_leaf = crate::testutil::raw(b"direct");
    {
        let store = Store::open(&path).expect("open");
        store
            .put_many([root.clone(), leaf.clone(), other.clone(), raw_leaf.clone()])
            .expect("put");
        write_old_style_pins(
            &store,
            &[
                (*root.cid(), PinMode::Recursive),
                // Pinned under both spellings, in different modes: one recursive pin.
                (*other.cid(), PinMode::Direct),
                (v1(other.cid()), PinMode::Recursive),
                (*raw_leaf.cid(), PinMode::Direct),
            ],
        );
        // The 34-byte multihash keys of the CIDv0 pins.
        assert!(raw_pin_keys(&store).iter().any(|k| k.len() == 34));
    }
    let store = Store::open(&path).expect("reopen migrates");
    let keys = raw_pin_keys(&store);
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.len() != 34), "no CIDv0 keys left");
    let mut pins = store.pins().expect("pins");
    pins.sort_by_key(|(c, _)| c.to_string());
    let mut want = vec![
        (*root.cid(), PinMode::Recursive),
        (v1(other.cid()), PinMode::Recursive),
        (*raw_leaf.cid(), PinMode::Direct),
    ];
    want.sort_by_key(|(c, _)| c.to_string());
    assert_eq!(pins, want);
    // Either spelling finds and removes the migrated pin.
    assert_eq!(
        store.pin_status(&v1(root.cid())).expect("status"),
        Some(PinKind::Recursive)
    );
    assert_eq!(
        store.pin_rm(&v1(root.cid())).expect("rm"),
        PinMode::Recursive
    );
    assert_eq!(store.pin_rm(other.cid()).expect("rm"), PinMode::Recursive);
    drop(store);

    // Idempotent: the marker is set, the next open changes nothing.
    let store = Store::open(&path).expect("reopen");
    assert_eq!(
        store.pins().expect("pins"),
        vec![(*raw_leaf.cid(), PinMode::Direct)]
    );
    store.gc().expect("gc");
    assert_eq!(store.stat().expect("stat").num_blocks, 1);
}

#[test]
fn a_new_store_is_marked_migrated_at_creation() {
    let (_dir, store) = temp_store();
    let txn = store.inner.begin_read().expect("txn");
    let meta = txn.open_table(META).expect("meta");
    assert!(meta.get(pin::PIN_KEYS_MIGRATED).expect("get").is_some());
}
