//! Record verification and selection: the decisions a resolver or a DHT
//! server makes about records it receives. All pure: the current time is an
//! argument, no clock is read.
//!
//! [`validate`] follows the spec's "Record Verification" steps: size limit,
//! V2 signature and data present, public key (embedded, or inlined in the
//! name) that hashes to the name, signatureV2 valid, DAG-CBOR data decodes,
//! V1 fields agree with it, not expired. [`select`] orders two records.

use std::cmp::Ordering;
use std::time::SystemTime;

use libp2p_identity::{PeerId, PublicKey};

use crate::{Error, MAX_RECORD_SIZE, Name, Record};

/// Prefix of the DHT keys under which public keys are stored.
pub const PK_PREFIX: &[u8] = b"/pk/";

fn decode_key(bytes: &[u8]) -> Result<PublicKey, Error> {
    PublicKey::try_decode_protobuf(bytes).map_err(|source| Error::BadPublicKey { source })
}

/// The key `record` must be signed with to speak for `name`: the embedded
/// one, else the one inlined in the name, else `known` (e.g. from a `/pk/`
/// record). Whichever it is must hash to the name.
fn public_key(name: &Name, record: &Record, known: Option<&PublicKey>) -> Result<PublicKey, Error> {
    let key = match (record.public_key_bytes(), name.inline_public_key(), known) {
        (Some(bytes), _, _) => decode_key(bytes)?,
        (None, Some(key), _) => key?,
        (None, None, Some(key)) => key.clone(),
        (None, None, None) => return Err(Error::NoPublicKey { name: *name }),
    };
    let found = key.to_peer_id();
    if found != name.peer_id() {
        return Err(Error::KeyMismatch {
            expected: name.peer_id(),
            found,
        });
    }
    Ok(key)
}

/// Decodes and verifies an IPNS record for `name` at time `now`, returning
/// it when it is valid. Only `signatureV2` is verified; V1-only records are
/// rejected.
pub fn validate(name: &Name, record_bytes: &[u8], now: SystemTime) -> Result<Record, Error> {
    validate_with_key(name, record_bytes, None, now)
}

/// [`validate()`], with a public key obtained elsewhere (a `/pk/` record, a
/// key store) for names that are key hashes (RSA, ECDSA) whose records do
/// not embed their key. An embedded or inlined key takes precedence; any key
/// used must hash to the name.
pub fn validate_with_key(
    name: &Name,
    record_bytes: &[u8],
    known_key: Option<&PublicKey>,
    now: SystemTime,
) -> Result<Record, Error> {
    let record = Record::decode(record_bytes)?;
    record.v2_parts()?;
    let key = public_key(name, &record, known_key)?;
    record.verify_v2(&key)?;
    record.check_v1_matches_v2()?;
    if record.validity() < now {
        return Err(Error::Expired {
            validity: record.validity(),
            now,
        });
    }
    Ok(record)
}

/// Checks a `/pk/` DHT record: `key` is `/pk/` followed by a peer id's
/// binary multihash, `value` a libp2p protobuf-encoded public key that
/// hashes to that peer id. Returns the key.
pub fn validate_pk_record(key: &[u8], value: &[u8]) -> Result<PublicKey, Error> {
    let id = key.strip_prefix(PK_PREFIX).ok_or(Error::BadPkKey {
        reason: "does not start with /pk/",
    })?;
    let expected = PeerId::from_bytes(id).map_err(|_| Error::BadPkKey {
        reason: "the part after /pk/ is not a binary peer id",
    })?;
    if value.len() > MAX_RECORD_SIZE {
        return Err(Error::TooLarge {
            size: value.len(),
            max: MAX_RECORD_SIZE,
        });
    }
    let public = decode_key(value)?;
    let found = public.to_peer_id();
    if found != expected {
        return Err(Error::KeyMismatch { expected, found });
    }
    // The value must be exactly the key's encoding: unknown protobuf fields would
    // otherwise let anyone store arbitrary bytes under a fresh key.
    if public.encode_protobuf() != value {
        return Err(Error::NonCanonicalKey);
    }
    Ok(public)
}

/// Orders two records of the same name by preference: `Greater` means `a`
/// is the better one. A record with V2 beats a V1-only one, then the higher
/// sequence wins, then the later validity, then (to make the order total)
/// the greater serialized bytes. `Equal` only for byte-identical records.
///
/// Records are compared as given: validate them first.
pub fn select(a: &Record, b: &Record) -> Ordering {
    a.has_v2()
        .cmp(&b.has_v2())
        .then_with(|| a.sequence().cmp(&b.sequence()))
        .then_with(|| a.validity().cmp(&b.validity()))
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The best of `records` by [`select`], or `None` if there are none.
pub fn best<'a>(records: impl IntoIterator<Item = &'a Record>) -> Option<&'a Record> {
    records.into_iter().max_by(|a, b| select(a, b))
}

impl Record {
    /// Whether `self` is preferred over `other` (see [`select`]).
    pub fn is_better_than(&self, other: &Record) -> bool {
        select(self, other) == Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::ed25519;
    use crate::{cbor, rfc3339};
    use libp2p_identity::Keypair;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    const VALUE: &[u8] = b"/ipfs/bafkqac3jobxhgidsn5rww4yk";

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn now() -> SystemTime {
        t(1_790_000_000) // 2026-09
    }

    fn eol() -> SystemTime {
        t(1_790_086_400) // a day later
    }

    fn name_of(key: &Keypair) -> Name {
        Name::new(key.public().to_peer_id())
    }

    fn make(key: &Keypair, seq: u64) -> Record {
        Record::create(key, VALUE, seq, eol(), Duration::from_secs(300)).expect("create")
    }

    #[test]
    fn valid_record_validates() {
        let key = ed25519(1);
        let rec = make(&key, 3);
        let back = validate(&name_of(&key), rec.as_bytes(), now()).expect("valid");
        assert_eq!(back, rec);
        assert_eq!(back.value(), VALUE);
        // Exactly at the end of life is still valid; one nanosecond later is not.
        assert!(validate(&name_of(&key), rec.as_bytes(), eol()).is_ok());
    }

    #[test]
    fn embedded_key_validates() {
        let key = Keypair::generate_ecdsa();
        let rec = make(&key, 0);
        assert!(!name_of(&key).is_inline());
        assert!(validate(&name_of(&key), rec.as_bytes(), now()).is_ok());
        // Without the embedded key there is nothing to verify with.
        let stripped = rec.with_entry(|e| e.pub_key = None);
        assert!(matches!(
            validate(&name_of(&key), &stripped, now()),
            Err(Error::NoPublicKey { .. })
        ));
        // ... unless the key is known from elsewhere (a /pk/ record).
        assert!(validate_with_key(&name_of(&key), &stripped, Some(&key.public()), now()).is_ok());
        let wrong = ed25519(9).public();
        assert!(matches!(
            validate_with_key(&name_of(&key), &stripped, Some(&wrong), now()),
            Err(Error::KeyMismatch { .. })
        ));
        let junk_key = rec.with_entry(|e| e.pub_key = Some(b"invalid stuff".to_vec()));
        assert!(matches!(
            validate(&name_of(&key), &junk_key, now()),
            Err(Error::BadPublicKey { .. })
        ));
    }

    #[test]
    fn rejects_expired() {
        let key = ed25519(1);
        let rec = make(&key, 0);
        let later = eol() + Duration::from_nanos(1);
        match validate(&name_of(&key), rec.as_bytes(), later) {
            Err(Error::Expired { validity, now }) => {
                assert_eq!((validity, now), (eol(), later));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
    }

    #[test]
    fn rejects_oversized() {
        let key = ed25519(1);
        let bytes = vec![0u8; MAX_RECORD_SIZE + 1];
        assert!(matches!(
            validate(&name_of(&key), &bytes, now()),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_missing_v2() {
        let key = ed25519(1);
        let rec = make(&key, 0);
        let no_sig = rec.with_entry(|e| e.signature_v2 = None);
        assert!(matches!(
            validate(&name_of(&key), &no_sig, now()),
            Err(Error::MissingSignatureV2)
        ));
        let empty_sig = rec.with_entry(|e| e.signature_v2 = Some(Vec::new()));
        assert!(matches!(
            validate(&name_of(&key), &empty_sig, now()),
            Err(Error::MissingSignatureV2)
        ));
        let no_data = rec.with_entry(|e| e.data = None);
        assert!(matches!(
            validate(&name_of(&key), &no_data, now()),
            Err(Error::MissingData)
        ));
        // V1-only: decodes (from its V1 fields) but never validates.
        let v1_only = rec.with_entry(|e| {
            e.data = None;
            e.signature_v2 = None;
        });
        assert!(Record::decode(&v1_only).is_ok_and(|r| r.has_v1() && !r.has_v2()));
        assert!(validate(&name_of(&key), &v1_only, now()).is_err());
    }

    #[test]
    fn rejects_forged_signature() {
        let key = ed25519(1);
        let rec = make(&key, 0);
        let forged = rec.with_entry(|e| {
            if let Some(sig) = e.signature_v2.as_mut() {
                sig[0] ^= 1;
            }
        });
        assert!(matches!(
            validate(&name_of(&key), &forged, now()),
            Err(Error::BadSignature { .. })
        ));
        // Changing the signed data (a higher sequence) without re-signing.
        let tampered = rec.with_entry(|e| {
            e.sequence = Some(9);
            e.data = Some(cbor::encode(&cbor::Data {
                value: VALUE.to_vec(),
                validity: rec.validity_text().to_vec(),
                validity_type: 0,
                sequence: 9,
                ttl: 300_000_000_000,
            }));
        });
        assert!(matches!(
            validate(&name_of(&key), &tampered, now()),
            Err(Error::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_wrong_key() {
        let signer = ed25519(1);
        let other = ed25519(2);
        let rec = make(&signer, 0);
        // A record signed by `signer`, offered for `other`'s name.
        assert!(matches!(
            validate(&name_of(&other), rec.as_bytes(), now()),
            Err(Error::BadSignature { .. })
        ));
        // Embedding the signer's key does not help: it must hash to the name.
        let embedded = rec.with_entry(|e| e.pub_key = Some(signer.public().encode_protobuf()));
        match validate(&name_of(&other), &embedded, now()) {
            Err(Error::KeyMismatch { expected, found }) => {
                assert_eq!(expected, name_of(&other).peer_id());
                assert_eq!(found, name_of(&signer).peer_id());
            }
            other => panic!("expected KeyMismatch, got {other:?}"),
        }
    }

    #[test]
    fn rejects_malformed_cbor() {
        let key = ed25519(1);
        let rec = make(&key, 0);
        let data = b"definitely not cbor".to_vec();
        let sig = key
            .sign(&[b"ipns-signature:".as_slice(), &data].concat())
            .expect("sign");
        let bytes = rec.with_entry(|e| {
            e.data = Some(data);
            e.signature_v2 = Some(sig);
        });
        assert!(matches!(
            validate(&name_of(&key), &bytes, now()),
            Err(Error::BadCbor { .. })
        ));
    }

    #[test]
    fn rejects_v1_disagreeing_with_v2() {
        let key = ed25519(1);
        let rec = make(&key, 4);
        type Edit = fn(&mut crate::pb::IpnsEntry);
        let cases: [(&str, Edit); 6] = [
            ("value", |e| e.value = Some(b"/ipfs/other".to_vec())),
            ("validity", |e| {
                e.validity = Some(b"2126-01-01T00:00:00Z".to_vec())
            }),
            ("validityType", |e| e.validity_type = Some(1)),
            ("sequence", |e| e.sequence = Some(5)),
            ("ttl", |e| e.ttl = Some(1)),
            // In V1 form, an absent field counts as its default (0 ≠ 4).
            ("sequence", |e| e.sequence = None),
        ];
        for (field, edit) in cases {
            let bytes = rec.with_entry(edit);
            match validate(&name_of(&key), &bytes, now()) {
                Err(Error::V1Mismatch { field: f }) => assert_eq!(f, field),
                other => panic!("{field}: expected V1Mismatch, got {other:?}"),
            }
        }
        // A V2-only record (no V1 fields at all) is fine.
        let v2_only = rec.with_entry(|e| {
            e.value = None;
            e.signature_v1 = None;
            e.validity_type = None;
            e.validity = None;
            e.sequence = None;
            e.ttl = None;
        });
        assert!(validate(&name_of(&key), &v2_only, now()).is_ok_and(|r| !r.has_v1()));
    }

    #[test]
    fn pk_records() {
        let key = Keypair::generate_ecdsa();
        let peer = key.public().to_peer_id();
        let pk_key = [PK_PREFIX, &peer.to_bytes()].concat();
        let value = key.public().encode_protobuf();
        assert_eq!(validate_pk_record(&pk_key, &value).ok(), Some(key.public()));

        let other = ed25519(7).public().encode_protobuf();
        assert!(matches!(
            validate_pk_record(&pk_key, &other),
            Err(Error::KeyMismatch { .. })
        ));
        assert!(matches!(
            validate_pk_record(&pk_key, b"junk"),
            Err(Error::BadPublicKey { .. })
        ));
        // The right key padded with an unknown protobuf field (number 15, bytes).
        let mut padded = value.clone();
        padded.extend_from_slice(&[0x7a, 3, b'p', b'a', b'd']);
        assert!(matches!(
            validate_pk_record(&pk_key, &padded),
            Err(Error::NonCanonicalKey)
        ));
        assert!(matches!(
            validate_pk_record(&[b"/ipns/".as_slice(), &peer.to_bytes()].concat(), &value),
            Err(Error::BadPkKey { .. })
        ));
        assert!(matches!(
            validate_pk_record(b"/pk/nope", &value),
            Err(Error::BadPkKey { .. })
        ));
    }

    #[test]
    fn selection_prefers_v2_then_sequence_then_validity() {
        let key = ed25519(1);
        let low = make(&key, 1);
        let high = make(&key, 2);
        assert_eq!(select(&high, &low), Ordering::Greater);
        assert!(high.is_better_than(&low) && !low.is_better_than(&high));

        let later = Record::create(
            &key,
            VALUE,
            1,
            eol() + Duration::from_secs(1),
            Duration::ZERO,
        )
        .expect("create");
        assert_eq!(select(&later, &low), Ordering::Greater);

        // A V1-only record loses even with a higher sequence.
        let v1_only = Record::decode(&make(&key, 99).with_entry(|e| {
            e.data = None;
            e.signature_v2 = None;
        }))
        .expect("decode");
        assert_eq!(select(&v1_only, &low), Ordering::Less);
        assert_eq!(best([&v1_only, &low, &high, &later]), Some(&high));
        assert_eq!(best(std::iter::empty()), None);
        assert_eq!(select(&low, &low.clone()), Ordering::Equal);
    }

    /// Records with few distinct values, so that ties at each step happen.
    fn any_record() -> impl Strategy<Value = Record> {
        (
            0u8..2,
            any::<bool>(),
            0u64..3,
            0u64..3,
            0u8..3,
            proptest::collection::vec(any::<u8>(), 0..3),
        )
            .prop_map(|(seed, v2, seq, eol_step, ttl, value)| {
                let eol = t(1_790_000_000 + eol_step);
                let rec = Record::create(
                    &ed25519(seed),
                    &value,
                    seq,
                    eol,
                    Duration::from_secs(ttl.into()),
                )
                .expect("create");
                if v2 {
                    rec
                } else {
                    Record::decode(&rec.with_entry(|e| {
                        e.data = None;
                        e.signature_v2 = None;
                    }))
                    .expect("decode V1-only")
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn select_is_antisymmetric_and_total(a in any_record(), b in any_record()) {
            prop_assert_eq!(select(&a, &b), select(&b, &a).reverse());
            prop_assert_eq!(select(&a, &b) == Ordering::Equal, a == b);
        }

        #[test]
        fn select_is_transitive(a in any_record(), b in any_record(), c in any_record()) {
            if select(&a, &b) != Ordering::Less && select(&b, &c) != Ordering::Less {
                prop_assert_ne!(select(&a, &c), Ordering::Less);
            }
        }

        #[test]
        fn select_respects_precedence(a in any_record(), b in any_record()) {
            let ord = select(&a, &b);
            if a.has_v2() != b.has_v2() {
                prop_assert_eq!(ord, a.has_v2().cmp(&b.has_v2()));
            } else if a.sequence() != b.sequence() {
                prop_assert_eq!(ord, a.sequence().cmp(&b.sequence()));
            } else if a.validity() != b.validity() {
                prop_assert_eq!(ord, a.validity().cmp(&b.validity()));
            }
        }

        #[test]
        fn best_ignores_order(mut records in proptest::collection::vec(any_record(), 1..6), rot in 0usize..6) {
            let first = best(&records).cloned();
            let n = records.len();
            records.rotate_left(rot % n);
            records.reverse();
            prop_assert_eq!(best(&records).cloned(), first.clone());
            let winner = first.expect("non-empty");
            prop_assert!(records.iter().all(|r| select(&winner, r) != Ordering::Less));
        }

        #[test]
        fn created_records_validate(
            seed in any::<u8>(),
            value in proptest::collection::vec(any::<u8>(), 0..100),
            seq in any::<u64>(),
            life in 0u64..1_000_000_000,
        ) {
            let key = ed25519(seed);
            let eol = now() + Duration::from_secs(life);
            let rec = Record::create(&key, &value, seq, eol, Duration::from_secs(1))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = validate(&name_of(&key), &rec.encode(), now())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.sequence(), seq);
            prop_assert_eq!(rfc3339::parse(back.validity_text()).ok(), Some(eol));
        }

        #[test]
        fn validate_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = validate(&name_of(&ed25519(0)), &bytes, now());
        }
    }
}
