//! IPNS records: creation, decoding, encoding and field access.
//!
//! A [`Record`] keeps the exact bytes it was decoded from (or encoded to), the
//! parsed protobuf, and the record's effective fields: those of the signed V2
//! DAG-CBOR `data` when present, else those of the legacy V1 protobuf fields.
//! Decoding checks shape (size, protobuf, DAG-CBOR, validity syntax) but not
//! signatures or expiry; that is [`crate::validate()`]'s job.

use std::time::{Duration, SystemTime};

use libp2p_identity::{Keypair, PublicKey};
use prost::Message as _;

use crate::{Error, MAX_RECORD_SIZE, cbor, pb, rfc3339};

/// Prefix of the bytes that `signatureV2` signs: `"ipns-signature:" ‖ data`.
pub const SIGNATURE_V2_PREFIX: &[u8] = b"ipns-signature:";

/// The only validity type: `Validity` is an end of life (EOL).
pub const VALIDITY_TYPE_EOL: i64 = 0;

/// How the legacy V1 signature spells the EOL validity type.
const EOL_V1_NAME: &[u8] = b"EOL";

/// The effective fields of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fields {
    value: Vec<u8>,
    validity_text: Vec<u8>,
    validity: SystemTime,
    sequence: u64,
    ttl: u64,
}

/// An IPNS record (`IpnsEntry`), decoded or freshly created.
///
/// Equality and hashing are by the serialized bytes.
#[derive(Clone, Debug)]
pub struct Record {
    bytes: Vec<u8>,
    entry: pb::IpnsEntry,
    fields: Fields,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Record {}

impl std::hash::Hash for Record {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

/// The bytes `signatureV2` signs.
fn signature_v2_payload(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNATURE_V2_PREFIX.len() + data.len());
    out.extend_from_slice(SIGNATURE_V2_PREFIX);
    out.extend_from_slice(data);
    out
}

/// The bytes the legacy `signatureV1` signs: `value ‖ validity ‖ "EOL"`.
fn signature_v1_payload(value: &[u8], validity: &[u8]) -> Vec<u8> {
    [value, validity, EOL_V1_NAME].concat()
}

fn check_size(size: usize) -> Result<(), Error> {
    if size > MAX_RECORD_SIZE {
        return Err(Error::TooLarge {
            size,
            max: MAX_RECORD_SIZE,
        });
    }
    Ok(())
}

fn check_validity_type(validity_type: i64) -> Result<(), Error> {
    if validity_type != VALIDITY_TYPE_EOL {
        return Err(Error::UnsupportedValidityType { validity_type });
    }
    Ok(())
}

impl Record {
    /// Creates and signs a V1+V2 record pointing at `value` (e.g.
    /// `b"/ipfs/bafy…"`), valid until `validity_eol`, cacheable for `ttl`
    /// (saturated at `u64::MAX` nanoseconds).
    ///
    /// The public key is embedded only when the key's peer id does not
    /// inline it (RSA and ECDSA keys); Ed25519 and Secp256k1 keys are
    /// recovered from the name.
    pub fn create(
        keypair: &Keypair,
        value: &[u8],
        sequence: u64,
        validity_eol: SystemTime,
        ttl: Duration,
    ) -> Result<Record, Error> {
        let validity_text = rfc3339::format(validity_eol)?.into_bytes();
        let ttl = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        let data = cbor::encode(&cbor::Data {
            value: value.to_vec(),
            validity: validity_text.clone(),
            validity_type: VALIDITY_TYPE_EOL,
            sequence,
            ttl,
        });
        let sign = |msg: &[u8]| {
            keypair
                .sign(msg)
                .map_err(|source| Error::Signing { source })
        };
        let signature_v2 = sign(&signature_v2_payload(&data))?;
        let signature_v1 = sign(&signature_v1_payload(value, &validity_text))?;

        let public = keypair.public();
        let inline = public.to_peer_id().as_ref().code() == 0x00;
        let entry = pb::IpnsEntry {
            value: Some(value.to_vec()),
            signature_v1: Some(signature_v1),
            validity_type: Some(0),
            validity: Some(validity_text.clone()),
            sequence: Some(sequence),
            ttl: Some(ttl),
            pub_key: (!inline).then(|| public.encode_protobuf()),
            signature_v2: Some(signature_v2),
            data: Some(data),
        };
        let bytes = entry.encode_to_vec();
        check_size(bytes.len())?;
        // The validity went through `format`, so it parses back to itself
        // (to the nanosecond, which `SystemTime` may exceed: use the parsed one).
        let validity = rfc3339::parse(&validity_text)?;
        Ok(Record {
            bytes,
            entry,
            fields: Fields {
                value: value.to_vec(),
                validity_text,
                validity,
                sequence,
                ttl,
            },
        })
    }

    /// Decodes a serialized `IpnsEntry`, checking its shape but not its
    /// signature or expiry (see [`crate::validate()`]).
    ///
    /// V1-only records (no `data`) decode, from their V1 fields, so that they
    /// can be compared by [`crate::select`]; they never validate.
    pub fn decode(bytes: &[u8]) -> Result<Record, Error> {
        check_size(bytes.len())?;
        let entry = pb::IpnsEntry::decode(bytes).map_err(|source| Error::BadProtobuf { source })?;
        let fields = match entry.data.as_deref() {
            Some(data) if !data.is_empty() => {
                let d = cbor::decode(data)?;
                check_validity_type(d.validity_type)?;
                Fields {
                    validity: rfc3339::parse(&d.validity)?,
                    value: d.value,
                    validity_text: d.validity,
                    sequence: d.sequence,
                    ttl: d.ttl,
                }
            }
            _ => {
                let missing = |field| Error::MissingField { field };
                check_validity_type(i64::from(entry.validity_type.unwrap_or(0)))?;
                let validity_text = entry.validity.clone().ok_or(missing("validity"))?;
                Fields {
                    value: entry.value.clone().ok_or(missing("value"))?,
                    validity: rfc3339::parse(&validity_text)?,
                    validity_text,
                    sequence: entry.sequence.unwrap_or(0),
                    ttl: entry.ttl.unwrap_or(0),
                }
            }
        };
        Ok(Record {
            bytes: bytes.to_vec(),
            entry,
            fields,
        })
    }

    /// The serialized `IpnsEntry` (exactly the bytes decoded or created).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The serialized `IpnsEntry`, owned.
    pub fn encode(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// What the name points at, e.g. `/ipfs/bafy…` (legacy records may hold
    /// a binary CID).
    pub fn value(&self) -> &[u8] {
        &self.fields.value
    }

    /// The version of the record; higher replaces lower.
    pub fn sequence(&self) -> u64 {
        self.fields.sequence
    }

    /// End of life: the record is invalid after this instant.
    pub fn validity(&self) -> SystemTime {
        self.fields.validity
    }

    /// The validity as written in the record (RFC 3339 bytes).
    pub fn validity_text(&self) -> &[u8] {
        &self.fields.validity_text
    }

    /// How long resolvers may cache the record.
    pub fn ttl(&self) -> Duration {
        Duration::from_nanos(self.fields.ttl)
    }

    /// Whether the record carries a legacy `signatureV1`.
    pub fn has_v1(&self) -> bool {
        self.entry
            .signature_v1
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    }

    /// Whether the record carries a `signatureV2` and the `data` it signs.
    pub fn has_v2(&self) -> bool {
        self.v2_parts().is_ok()
    }

    /// The embedded public key (libp2p protobuf encoding), if any.
    pub fn public_key_bytes(&self) -> Option<&[u8]> {
        self.entry.pub_key.as_deref().filter(|k| !k.is_empty())
    }

    /// The signed DAG-CBOR document, if any.
    pub fn data(&self) -> Option<&[u8]> {
        self.entry.data.as_deref()
    }

    /// The V2 signature and the data it signs, or which of them is missing.
    pub(crate) fn v2_parts(&self) -> Result<(&[u8], &[u8]), Error> {
        let sig = self
            .entry
            .signature_v2
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(Error::MissingSignatureV2)?;
        let data = self
            .entry
            .data
            .as_deref()
            .filter(|d| !d.is_empty())
            .ok_or(Error::MissingData)?;
        Ok((sig, data))
    }

    /// Checks `signatureV2` over `data` with `key`.
    pub(crate) fn verify_v2(&self, key: &PublicKey) -> Result<(), Error> {
        let (sig, data) = self.v2_parts()?;
        if key.verify(&signature_v2_payload(data), sig) {
            Ok(())
        } else {
            Err(Error::BadSignature {
                name: key.to_peer_id().into(),
            })
        }
    }

    /// Checks that the legacy V1 protobuf fields agree with the signed V2
    /// data: every V1 field present must match, and when the record is in
    /// V1-compatible form (`signatureV1` or `value` present) absent fields
    /// count as their protobuf defaults, as in the reference implementation.
    pub(crate) fn check_v1_matches_v2(&self) -> Result<(), Error> {
        let e = &self.entry;
        let v1_form = self.has_v1() || e.value.as_ref().is_some_and(|v| !v.is_empty());
        let f = &self.fields;
        let check = |field, present: bool, equal: bool| {
            if (present || v1_form) && !equal {
                Err(Error::V1Mismatch { field })
            } else {
                Ok(())
            }
        };
        check(
            "value",
            e.value.is_some(),
            e.value.as_deref().unwrap_or_default() == f.value.as_slice(),
        )?;
        check(
            "validity",
            e.validity.is_some(),
            e.validity.as_deref().unwrap_or_default() == f.validity_text.as_slice(),
        )?;
        check(
            "validityType",
            e.validity_type.is_some(),
            // The V2 validity type is EOL (checked at decode).
            i64::from(e.validity_type.unwrap_or(0)) == VALIDITY_TYPE_EOL,
        )?;
        check(
            "sequence",
            e.sequence.is_some(),
            e.sequence.unwrap_or(0) == f.sequence,
        )?;
        check("ttl", e.ttl.is_some(), e.ttl.unwrap_or(0) == f.ttl)
    }

    #[cfg(test)]
    pub(crate) fn entry(&self) -> &pb::IpnsEntry {
        &self.entry
    }

    /// Re-encodes a modified copy of the protobuf (tests forge records with it).
    #[cfg(test)]
    pub(crate) fn with_entry(&self, edit: impl FnOnce(&mut pb::IpnsEntry)) -> Vec<u8> {
        let mut entry = self.entry.clone();
        edit(&mut entry);
        entry.encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::ed25519;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    fn eol() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_795_521_600, 123_456_789) // 2026-11-24T12:00:00.123456789Z
    }

    #[test]
    fn creates_v1_and_v2_with_matching_fields() {
        let value = b"/ipfs/bafkqac3jobxhgidsn5rww4yk";
        let ttl = Duration::from_secs(600);
        let rec = Record::create(&ed25519(1), value, 7, eol(), ttl).expect("create");
        assert!(rec.has_v1() && rec.has_v2());
        assert_eq!(rec.value(), value);
        assert_eq!(rec.sequence(), 7);
        assert_eq!(rec.validity(), eol());
        assert_eq!(rec.validity_text(), b"2026-11-24T12:00:00.123456789Z");
        assert_eq!(rec.ttl(), ttl);
        // Ed25519 keys are inlined in the name, so not embedded.
        assert_eq!(rec.public_key_bytes(), None);
        let e = rec.entry();
        assert_eq!(e.value.as_deref(), Some(&value[..]));
        assert_eq!(
            e.validity.as_deref(),
            Some(&b"2026-11-24T12:00:00.123456789Z"[..])
        );
        assert_eq!(
            (e.validity_type, e.sequence, e.ttl),
            (Some(0), Some(7), Some(600_000_000_000))
        );
        assert_eq!(rec.check_v1_matches_v2().ok(), Some(()));
        // The V1 signature is over value ‖ validity ‖ "EOL".
        let payload = [&value[..], b"2026-11-24T12:00:00.123456789Z", b"EOL"].concat();
        let sig_v1 = e.signature_v1.as_deref().expect("signatureV1");
        assert!(ed25519(1).public().verify(&payload, sig_v1));
    }

    #[test]
    fn embeds_public_key_only_when_not_inlined() {
        let ecdsa = Keypair::generate_ecdsa();
        let rec = Record::create(&ecdsa, b"/ipfs/x", 0, eol(), Duration::ZERO).expect("create");
        assert_eq!(
            rec.public_key_bytes(),
            Some(ecdsa.public().encode_protobuf().as_slice())
        );
    }

    #[test]
    fn decode_round_trips_exact_bytes() {
        let rec = Record::create(&ed25519(2), b"/ipfs/y", 1, eol(), Duration::from_secs(1))
            .expect("create");
        let again = Record::decode(rec.as_bytes()).expect("decode");
        assert_eq!(again.encode(), rec.encode());
        assert_eq!(again.fields, rec.fields);
        assert_eq!(again.entry, rec.entry);
    }

    #[test]
    fn protobuf_encoding_matches_reference() {
        // A boxo-written V1+V2 record (the spec's test vector) re-encodes to
        // the same bytes, and its data re-encodes to the same DAG-CBOR.
        let reference: &[u8] = include_bytes!(
            "../tests/vectors/k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w_v1-v2.ipns-record"
        );
        let rec = Record::decode(reference).expect("decode");
        assert_eq!(rec.entry().encode_to_vec(), reference);
        let data = rec.data().expect("data");
        let fields = cbor::decode(data).expect("cbor");
        assert_eq!(cbor::encode(&fields), data);
        assert_eq!(rec.check_v1_matches_v2().ok(), Some(()));
    }

    #[test]
    fn decode_rejects_junk() {
        assert!(matches!(
            Record::decode(b"blah blah blah"),
            Err(Error::BadProtobuf { .. })
        ));
        assert!(matches!(
            Record::decode(&vec![0u8; MAX_RECORD_SIZE + 1]),
            Err(Error::TooLarge { size, max }) if size == MAX_RECORD_SIZE + 1 && max == MAX_RECORD_SIZE
        ));
        // An empty message: no data, and no V1 fields to fall back on.
        assert!(matches!(
            Record::decode(&[]),
            Err(Error::MissingField { field: "validity" })
        ));
        let rec =
            Record::create(&ed25519(3), b"/ipfs/z", 1, eol(), Duration::ZERO).expect("create");
        let bad_cbor = rec.with_entry(|e| e.data = Some(b"definitely not cbor".to_vec()));
        assert!(matches!(
            Record::decode(&bad_cbor),
            Err(Error::BadCbor { .. })
        ));
        let bad_type = rec.with_entry(|e| {
            e.data = Some(cbor::encode(&cbor::Data {
                value: b"/ipfs/z".to_vec(),
                validity: b"2026-11-24T12:00:00Z".to_vec(),
                validity_type: 1,
                sequence: 1,
                ttl: 0,
            }));
        });
        assert!(matches!(
            Record::decode(&bad_type),
            Err(Error::UnsupportedValidityType { validity_type: 1 })
        ));
    }

    #[test]
    fn create_rejects_unformattable_time_and_oversize() {
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert!(matches!(
            Record::create(&ed25519(4), b"/ipfs/x", 0, far, Duration::ZERO),
            Err(Error::TimeOutOfRange)
        ));
        let huge = vec![b'a'; MAX_RECORD_SIZE];
        assert!(matches!(
            Record::create(&ed25519(4), &huge, 0, eol(), Duration::ZERO),
            Err(Error::TooLarge { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn create_decode_round_trip(
            seed in any::<u8>(),
            value in proptest::collection::vec(any::<u8>(), 0..200),
            sequence in any::<u64>(),
            secs in 0u64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            ttl in any::<u64>(),
        ) {
            let eol = UNIX_EPOCH + Duration::new(secs, nanos);
            let rec = Record::create(&ed25519(seed), &value, sequence, eol, Duration::from_nanos(ttl))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = Record::decode(&rec.encode()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.value(), &value[..]);
            prop_assert_eq!(back.sequence(), sequence);
            prop_assert_eq!(back.validity(), eol);
            prop_assert_eq!(back.ttl(), Duration::from_nanos(ttl));
            prop_assert_eq!(&back, &rec);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Record::decode(&bytes);
        }
    }
}
