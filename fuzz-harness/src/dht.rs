//! Harness for what ipfsd decodes of DHT input: the values peers `PUT` (`/ipns/` records,
//! `/pk/` keys) and provider-record keys, through `node::net::validate`.
//!
//! libp2p-kad's own protobuf codec is private to that crate (no public decode function),
//! and reaching it through the public API takes a swarm with an authenticated transport
//! per input, which is too slow to fuzz; it is upstream's to fuzz. What reaches ipfsd's
//! code from a Kademlia message is a record key and value, and this harness feeds those.

use crate::bitswap::key;
use crate::source::split_blocks;
use libp2p::kad::RecordKey;
use node::net::validate;
use std::cmp::Ordering;

/// The record key the first byte selects, built around `extra`.
pub(crate) fn record_key(kind: u8, extra: &[u8]) -> RecordKey {
    let peer = key(1).public().to_peer_id();
    let bytes = match kind % 5 {
        0 => ipns::Name::new(peer).routing_key(),
        1 => [&b"/pk/"[..], &peer.to_bytes()].concat(),
        2 => [&b"/ipns/"[..], extra].concat(),
        3 => [&b"/pk/"[..], extra].concat(),
        _ => extra.to_vec(),
    };
    RecordKey::new(&bytes)
}

/// `kind ‖ key-extra ~BLK value [~BLK held-value]`: the value is checked for the key as a
/// `PUT` is, against the held value when there is one. Invariants: `value` and `compare`
/// accept the same values; a valid value compares `Equal` with itself; two valid values
/// compare in opposite directions each way round, and `value` refuses exactly the one
/// that loses.
pub fn dht_record(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let parts = split_blocks(rest);
    let extra = parts[0];
    let value = parts.get(1).copied().unwrap_or_default();
    let held = parts.get(2).copied();
    let key = record_key(kind, extra);
    let _ = validate::printable(&key);
    let _ = validate::is_ipns(&key);
    let _ = validate::provider_key(&key);
    let _ = validate::provider_key(&RecordKey::new(&value));

    let ok = validate::value(&key, value, None).is_ok();
    let cmp = validate::compare(&key, value, None);
    assert_eq!(ok, cmp.is_ok(), "value and compare disagree on validity");
    if !ok {
        return;
    }
    assert_eq!(cmp.ok(), Some(Ordering::Greater));
    assert_eq!(
        validate::compare(&key, value, Some(value)).ok(),
        Some(Ordering::Equal),
        "a valid value is not equal to itself"
    );
    let Some(held) = held else {
        return;
    };
    let new_vs_held = validate::compare(&key, value, Some(held)).expect("value is valid");
    let accepted = validate::value(&key, value, Some(held)).is_ok();
    assert_eq!(
        accepted,
        new_vs_held != Ordering::Less,
        "value refuses exactly what compare ranks lower"
    );
    if validate::value(&key, held, None).is_ok() {
        let held_vs_new = validate::compare(&key, held, Some(value)).expect("held is valid");
        assert_eq!(
            held_vs_new,
            new_vs_held.reverse(),
            "compare is not antisymmetric"
        );
    }
}
