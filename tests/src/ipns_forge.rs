//! Hand-broken IPNS records for refusal tests: the `IpnsEntry` protobuf, decoded and
//! re-encoded so that a test changes one thing at a time, and the cases every layer (the
//! API, the DHT wire) must refuse, with a word of the reason each must give.

use libp2p::identity::Keypair;
use prost::Message;
use std::time::{Duration, SystemTime};

/// `IpnsEntry` (IPNS record spec), every field optional.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Entry {
    /// The path the name points to (`/ipfs/...`), V1 copy.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub value: Option<Vec<u8>>,
    /// The legacy signature over value, validity and validity type.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub signature_v1: Option<Vec<u8>>,
    /// How `validity` is read (0: an EOL timestamp).
    #[prost(int32, optional, tag = "3")]
    pub validity_type: Option<i32>,
    /// The expiry, an RFC 3339 timestamp, V1 copy.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub validity: Option<Vec<u8>>,
    /// The record's sequence number, V1 copy.
    #[prost(uint64, optional, tag = "5")]
    pub sequence: Option<u64>,
    /// How long resolvers may cache the record, in nanoseconds, V1 copy.
    #[prost(uint64, optional, tag = "6")]
    pub ttl: Option<u64>,
    /// The signer's public key, when the name does not embed it.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub pub_key: Option<Vec<u8>>,
    /// The signature over `data`.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub signature_v2: Option<Vec<u8>>,
    /// The DAG-CBOR document holding the V2 fields.
    #[prost(bytes = "vec", optional, tag = "9")]
    pub data: Option<Vec<u8>>,
}

/// A valid V1+V2 record by `key`, made by the `ipns` crate.
pub fn record(key: &Keypair, value: &str, sequence: u64, validity: SystemTime) -> Vec<u8> {
    ipns::Record::create(
        key,
        value.as_bytes(),
        sequence,
        validity,
        Duration::from_secs(60),
    )
    .expect("create record")
    .as_bytes()
    .to_vec()
}

/// A day from now.
pub fn tomorrow() -> SystemTime {
    SystemTime::now() + Duration::from_secs(86400)
}

/// The DHT key of `key`'s name.
pub fn routing_key(key: &Keypair) -> Vec<u8> {
    ipns::Name::new(key.public().to_peer_id()).routing_key()
}

fn edit(bytes: &[u8], f: impl FnOnce(&mut Entry)) -> Vec<u8> {
    let mut e = Entry::decode(bytes).expect("an IpnsEntry");
    f(&mut e);
    e.encode_to_vec()
}

fn sign_v2(key: &Keypair, data: &[u8]) -> Vec<u8> {
    key.sign(&[&b"ipns-signature:"[..], data].concat())
        .expect("sign")
}

/// One record to refuse: its name's key, the DHT key and value, and a piece of the reason.
#[derive(Debug, Clone)]
pub struct Bad {
    /// What is wrong.
    pub case: &'static str,
    /// The routing key it is put under.
    pub key: Vec<u8>,
    /// The record bytes.
    pub value: Vec<u8>,
    /// Text the refusal must contain.
    pub reason: &'static str,
}

/// The refusal cases for records under `owner`'s name (`other` is a second key):
/// forged signature, wrong key, oversized, malformed CBOR, V1 fields disagreeing with V2,
/// expired. (A lower sequence needs a held record: see [`lower_sequence`].)
pub fn bad_records(owner: &Keypair, other: &Keypair) -> Vec<Bad> {
    let key = routing_key(owner);
    let good = record(owner, "/ipfs/bafkqaaa", 7, tomorrow());
    let forged = edit(&good, |e| {
        if let Some(s) = e.signature_v2.as_mut() {
            s[10] ^= 0x01;
        }
    });
    // Signed by `other`, which also embeds its own public key, put under `owner`'s name.
    let wrong_key = edit(&record(other, "/ipfs/bafkqaaa", 8, tomorrow()), |e| {
        e.pub_key = Some(other.public().encode_protobuf());
    });
    let oversized = edit(&good, |e| e.value = Some(vec![b'y'; 11 << 10]));
    let garbage = b"\xa5\x63Ttl\xff\xff".to_vec();
    let bad_cbor = edit(&good, |e| {
        e.signature_v2 = Some(sign_v2(owner, &garbage));
        e.data = Some(garbage.clone());
    });
    let v1_mismatch = edit(&good, |e| e.value = Some(b"/ipfs/bafkqaaa/other".to_vec()));
    let expired = record(
        owner,
        "/ipfs/bafkqaaa",
        10,
        SystemTime::now() - Duration::from_secs(60),
    );
    let bad = |case, value, reason| Bad {
        case,
        key: key.clone(),
        value,
        reason,
    };
    vec![
        bad("forged signature", forged, "does not verify"),
        bad("wrong key", wrong_key, "not to the expected"),
        bad("oversized record", oversized, "limit"),
        bad("malformed CBOR", bad_cbor, "DAG-CBOR"),
        bad("V1 fields disagree with V2", v1_mismatch, "disagrees"),
        bad("expired record", expired, "expired"),
    ]
}

/// A record of `owner` with `sequence`, to put after one with a higher sequence is held.
pub fn lower_sequence(owner: &Keypair, sequence: u64) -> Bad {
    Bad {
        case: "lower sequence",
        key: routing_key(owner),
        value: record(owner, "/ipfs/bafkqaaa/old", sequence, tomorrow()),
        reason: "older than",
    }
}
