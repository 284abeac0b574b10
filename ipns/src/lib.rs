//! IPNS (InterPlanetary Name System) records, the pure part: names, record
//! creation, decoding, validation and selection. No networking and no clock:
//! the node layer fetches and stores records, passes the current time in, and
//! acts on the answers.
//!
//! Data flow:
//! - publishing: [`Record::create`] signs a V1+V2 record with a
//!   [`libp2p_identity::Keypair`]; [`Record::as_bytes`] is what goes to the
//!   DHT under [`Name::routing_key`].
//! - resolving / serving a DHT `PUT`: [`Name::from_routing_key`] (or parsing a
//!   `k51…`/`12D3Koo…`/`/ipns/…` string as a [`Name`]), then
//!   [`validate()`] with `(name, bytes, now)` gives a [`Record`]; among several valid
//!   records [`select`] / [`best`] picks the one to keep.
//! - `/pk/` DHT records (public keys of hashed, e.g. RSA, names):
//!   [`validate_pk_record`]; its key then serves [`validate_with_key`] for
//!   records that do not embed it.
//!
//! Modules: [`name`] (text and DHT forms of names), `record` (the
//! [`Record`] type), `validate` (verification and selection), with the wire
//! formats in `pb` (the `IpnsEntry` protobuf), `cbor` (the signed DAG-CBOR
//! document) and [`rfc3339`] (the validity timestamp).
//!
//! Specification: <https://specs.ipfs.tech/ipns/ipns-record/>.

mod cbor;
mod error;
pub mod name;
mod pb;
mod record;
pub mod rfc3339;
mod validate;

pub use error::Error;
pub use name::Name;
pub use record::{Record, SIGNATURE_V2_PREFIX, VALIDITY_TYPE_EOL};
pub use validate::{PK_PREFIX, best, select, validate, validate_pk_record, validate_with_key};

/// Largest serialized record accepted or created, in bytes (10 KiB, per spec).
pub const MAX_RECORD_SIZE: usize = 10 * 1024;

#[cfg(test)]
pub(crate) mod test_util {
    use libp2p_identity::Keypair;

    /// A deterministic Ed25519 key pair.
    pub(crate) fn ed25519(seed: u8) -> Keypair {
        Keypair::ed25519_from_bytes([seed; 32]).expect("32-byte seed")
    }
}
