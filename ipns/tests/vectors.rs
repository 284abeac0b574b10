//! The crate against records written by the reference implementations (boxo,
//! kubo): the IPNS spec's test vectors and kubo-published records, with the
//! verdicts the spec and the reference tests give. See `vectors/README.md`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipns::{Error, Name, Record, validate};

/// A time at which the vectors (valid until 2123) have not expired.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000) // 2026-09
}

/// Year 2124: every vector has expired.
fn far_future() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(4_860_000_000)
}

macro_rules! vector {
    ($name:literal, $suffix:literal) => {
        (
            $name,
            include_bytes!(concat!("vectors/", $name, $suffix, ".ipns-record")).as_slice(),
        )
    };
}

fn name(s: &str) -> Name {
    s.parse().expect("vector names parse")
}

fn valid(name_str: &str, bytes: &[u8]) -> Record {
    validate(&name(name_str), bytes, now())
        .unwrap_or_else(|e| panic!("{name_str}: expected valid, got {e}"))
}

#[test]
fn spec_v1_v2_is_valid() {
    let (n, bytes) = vector!(
        "k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w",
        "_v1-v2"
    );
    let rec = valid(n, bytes);
    assert_eq!(rec.value(), b"/ipfs/bafkqaddwgevxmmraojswg33smq");
    assert!(rec.has_v1() && rec.has_v2());
    assert_eq!(rec.sequence(), 0);
    assert_eq!(rec.ttl(), Duration::from_secs(30 * 60));
    assert_eq!(rec.validity_text(), b"2123-08-14T12:17:03.694052Z");
    assert_eq!(
        rec.validity(),
        UNIX_EPOCH + Duration::new(4_847_689_023, 694_052_000)
    );
    assert_eq!(rec.as_bytes(), bytes);
    assert!(matches!(
        validate(&name(n), bytes, far_future()),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn spec_v2_only_is_valid() {
    let (n, bytes) = vector!(
        "k51qzi5uqu5dit2ku9mutlfgwyz8u730on38kd10m97m36bjt66my99hb6103f",
        "_v2"
    );
    let rec = valid(n, bytes);
    assert_eq!(rec.value(), b"/ipfs/bafkqadtwgiww63tmpeqhezldn5zgi");
    assert!(!rec.has_v1() && rec.has_v2());
}

#[test]
fn spec_broken_v1_signature_is_still_valid() {
    // signatureV1 is garbage, but only signatureV2 is ever verified.
    let (n, bytes) = vector!(
        "k51qzi5uqu5dilgf7gorsh9vcqqq4myo6jd4zmqkuy9pxyxi5fua3uf7axph4y",
        "_v1-v2-broken-signature-v1"
    );
    let rec = valid(n, bytes);
    assert_eq!(
        rec.value(),
        b"/ipfs/bafkqahtwgevxmmrao5uxi2bamjzg623fnyqhg2lhnzqxi5lsmuqhmmi"
    );
}

#[test]
fn spec_broken_v2_signature_is_invalid() {
    let (n, bytes) = vector!(
        "k51qzi5uqu5diamp7qnnvs1p1gzmku3eijkeijs3418j23j077zrkok63xdm8c",
        "_v1-v2-broken-signature-v2"
    );
    assert!(matches!(
        validate(&name(n), bytes, now()),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn spec_v1_value_disagreeing_with_v2_is_invalid() {
    let (n, bytes) = vector!(
        "k51qzi5uqu5dlmit2tuwdvnx4sbnyqgmvbxftl0eo3f33wwtb9gr7yozae9kpw",
        "_v1-v2-broken-v1-value"
    );
    assert!(matches!(
        validate(&name(n), bytes, now()),
        Err(Error::V1Mismatch { field: "value" })
    ));
}

#[test]
fn spec_v1_only_is_invalid() {
    let (n, bytes) = vector!(
        "k51qzi5uqu5dm4tm0wt8srkg9h9suud4wuiwjimndrkydqm81cqtlb5ak6p7ku",
        "_v1"
    );
    assert!(matches!(
        validate(&name(n), bytes, now()),
        Err(Error::MissingSignatureV2)
    ));
    // It still decodes from its V1 fields, and loses to any V2 record.
    let v1 = Record::decode(bytes).expect("V1-only decodes");
    assert_eq!(v1.value(), b"/ipfs/bafkqadtwgeww63tmpeqhezldn5zgi");
    let (n2, bytes2) = vector!(
        "k51qzi5uqu5dit2ku9mutlfgwyz8u730on38kd10m97m36bjt66my99hb6103f",
        "_v2"
    );
    let v2 = valid(n2, bytes2);
    assert!(v2.is_better_than(&v1));
}

#[test]
fn kubo_ed25519_records_are_valid() {
    for (n, bytes, value) in [
        (
            "k51qzi5uqu5dgh7y9l90nqs6tvnzcm9erbt8fhzg3fu79p5qt9zb2izvfu51ki",
            include_bytes!(
                "vectors/k51qzi5uqu5dgh7y9l90nqs6tvnzcm9erbt8fhzg3fu79p5qt9zb2izvfu51ki.ipns-record"
            )
            .as_slice(),
            "/ipfs/bafyaaeykceeaeeqlnbswy3dpo5xxe3debimaw",
        ),
        (
            "k51qzi5uqu5dh71qgwangrt6r0nd4094i88nsady6qgd1dhjcyfsaqmpp143ab",
            include_bytes!(
                "vectors/k51qzi5uqu5dh71qgwangrt6r0nd4094i88nsady6qgd1dhjcyfsaqmpp143ab.ipns-record"
            )
            .as_slice(),
            "/ipfs/bafkreidfdrlkeq4m4xnxuyx6iae76fdm4wgl5d4xzsb77ixhyqwumhz244",
        ),
        (
            // Named by its base58 peer id; the same name as a k51… CID.
            "12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d",
            include_bytes!(
                "vectors/12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d.ipns-record"
            )
            .as_slice(),
            "/ipfs/bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
        ),
    ] {
        let rec = valid(n, bytes);
        assert_eq!(rec.value(), value.as_bytes(), "{n}");
        assert_eq!(rec.public_key_bytes(), None, "{n}: Ed25519 key is inlined");
    }
    assert_eq!(
        name("12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d").to_string(),
        "k51qzi5uqu5dk3v4rmjber23h16xnr23bsggmqqil9z2gduiis5se8dht36dam"
    );
}

#[test]
fn kubo_rsa_record_with_embedded_key_is_valid() {
    let n = "QmVujd5Vb7moysJj8itnGufN7MEtPRCNHkKpNuA4onsRa3";
    let bytes =
        include_bytes!("vectors/QmVujd5Vb7moysJj8itnGufN7MEtPRCNHkKpNuA4onsRa3.ipns-record");
    let rec = valid(n, bytes);
    assert!(rec.public_key_bytes().is_some());
    assert_eq!(
        rec.value(),
        b"/ipfs/bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"
    );
    assert_eq!(
        name(n).to_string(),
        "k2k4r8m7xvggw5pxxk3abrkwyer625hg01hfyggrai7lk1m63fuihi7w"
    );
    // The embedded key is the name's: it does not speak for another name.
    let other = name("k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w");
    assert!(matches!(
        validate(&other, bytes, now()),
        Err(Error::KeyMismatch { .. })
    ));
    // And the key passes as a /pk/ record for that peer.
    let peer = name(n).peer_id();
    let pk_key = [b"/pk/".as_slice(), &peer.to_bytes()].concat();
    let key = ipns::validate_pk_record(&pk_key, rec.public_key_bytes().expect("embedded"))
        .expect("valid /pk/ record");
    assert_eq!(key.to_peer_id(), peer);
}

#[test]
fn records_are_bound_to_their_name() {
    let (_, bytes) = vector!(
        "k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w",
        "_v1-v2"
    );
    let other = name("k51qzi5uqu5dit2ku9mutlfgwyz8u730on38kd10m97m36bjt66my99hb6103f");
    assert!(matches!(
        validate(&other, bytes, now()),
        Err(Error::BadSignature { .. })
    ));
}
