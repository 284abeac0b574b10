//! The one error type of the `ipns` crate.
//!
//! Every rejection that [`crate::validate()`], [`crate::Record::decode`],
//! [`crate::Record::create`], [`crate::Name`] parsing and
//! [`crate::validate_pk_record`] can produce is a variant here, with the
//! structured facts (sizes, field names, peer ids, byte offsets) a caller may
//! want to log or match on.

use std::time::SystemTime;

use libp2p_identity::PeerId;

use crate::Name;

/// Why an IPNS record, name, routing key or `/pk/` record was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The serialized record (or `/pk/` value) is bigger than the limit.
    #[error("IPNS record is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Size of the input, in bytes.
        size: usize,
        /// The limit it broke ([`crate::MAX_RECORD_SIZE`]).
        max: usize,
    },

    /// The bytes are not an `IpnsEntry` protobuf message.
    #[error("IPNS record is not a valid IpnsEntry protobuf: {source}")]
    BadProtobuf {
        /// What the protobuf decoder reported.
        #[source]
        source: prost::DecodeError,
    },

    /// The record has no `signatureV2` (a V1-only record, which is never valid).
    #[error("IPNS record has no signatureV2 (V1-only records are not accepted)")]
    MissingSignatureV2,

    /// The record has no `data` (DAG-CBOR) field, so there is nothing signed by V2.
    #[error("IPNS record has no data field (the DAG-CBOR document signed by signatureV2)")]
    MissingData,

    /// `signatureV2` does not verify with the name's public key.
    #[error("IPNS record signatureV2 does not verify with the public key of {name}")]
    BadSignature {
        /// The name whose key was used.
        name: Name,
    },

    /// The public key does not hash to the expected peer id.
    #[error("public key belongs to {found}, not to the expected {expected}")]
    KeyMismatch {
        /// The peer id the name (or `/pk/` key) asks for.
        expected: PeerId,
        /// The peer id of the public key that was supplied.
        found: PeerId,
    },

    /// The record does not embed a public key and the name does not inline one.
    #[error(
        "no public key for {name}: the record embeds none and the name is a hash, not an inlined key"
    )]
    NoPublicKey {
        /// The name whose key is missing.
        name: Name,
    },

    /// A public key (embedded in the record, inlined in the name, or a `/pk/`
    /// value) is not a decodable libp2p public key of a supported type.
    #[error("public key cannot be decoded: {source}")]
    BadPublicKey {
        /// What the key decoder reported.
        #[source]
        source: libp2p_identity::DecodingError,
    },

    /// The record's end of life is before the time it was checked at.
    #[error(
        "IPNS record expired at {} (checked at {})",
        crate::rfc3339::display(*validity),
        crate::rfc3339::display(*now)
    )]
    Expired {
        /// The record's validity (end of life).
        validity: SystemTime,
        /// The time the record was validated at.
        now: SystemTime,
    },

    /// A legacy V1 protobuf field disagrees with the signed V2 DAG-CBOR data.
    #[error("IPNS record V1 field `{field}` disagrees with the signed V2 data")]
    V1Mismatch {
        /// The protobuf field name (`value`, `validity`, `validityType`, `sequence`, `ttl`).
        field: &'static str,
    },

    /// The `data` field is not canonical DAG-CBOR.
    #[error("IPNS record data is not valid DAG-CBOR at byte {offset}: {reason}")]
    BadCbor {
        /// What is wrong, e.g. "map keys out of canonical order".
        reason: &'static str,
        /// Byte offset into `data` where the problem was found.
        offset: usize,
    },

    /// A mandatory field is absent (from the DAG-CBOR data, or from the
    /// protobuf of a V1-only record).
    #[error("IPNS record lacks the `{field}` field")]
    MissingField {
        /// The field name.
        field: &'static str,
    },

    /// A mandatory DAG-CBOR field has the wrong type (e.g. `Value` not bytes).
    #[error("IPNS record data field `{field}` has the wrong type (expected {expected})")]
    WrongFieldType {
        /// The DAG-CBOR key.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },

    /// The validity type is not 0 (EOL), the only one defined.
    #[error("IPNS record validity type {validity_type} is not supported (only 0, EOL)")]
    UnsupportedValidityType {
        /// The validity type found.
        validity_type: i64,
    },

    /// The validity is not an RFC 3339 timestamp.
    #[error("IPNS record validity {text:?} is not an RFC 3339 timestamp: {reason}")]
    BadValidity {
        /// The validity bytes, decoded lossily as UTF-8.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A time to put in a record cannot be written as RFC 3339 (before year 0
    /// or after year 9999).
    #[error("time is outside the years 0000..=9999 that RFC 3339 can express")]
    TimeOutOfRange,

    /// The key pair failed to sign.
    #[error("signing the IPNS record failed: {source}")]
    Signing {
        /// What the signer reported.
        #[source]
        source: libp2p_identity::SigningError,
    },

    /// A string is not an IPNS name.
    #[error("invalid IPNS name {input:?}: {reason}")]
    BadName {
        /// The string given (truncated to 100 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A DHT key is not `/ipns/` followed by a peer id.
    #[error("invalid IPNS routing key: {reason}")]
    BadRoutingKey {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A DHT key is not `/pk/` followed by a peer id.
    #[error("invalid /pk/ routing key: {reason}")]
    BadPkKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `/pk/` value carries more than the key's standard encoding.
    #[error("/pk/ value is not the key's canonical protobuf encoding")]
    NonCanonicalKey,
}

impl Error {
    pub(crate) fn bad_name(input: &str, reason: &'static str) -> Self {
        Error::BadName {
            input: input.chars().take(100).collect(),
            reason,
        }
    }
}
