//! Wire format: the `IpnsEntry` protobuf message (proto2, every field optional).
//!
//! Field presence matters (a V1 field that is present must agree with the
//! signed V2 data), so every field is an `Option`. `validityType` is an enum
//! on the wire, carried here as its varint value.

/// `IpnsEntry` as specified in the IPNS record spec.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct IpnsEntry {
    /// Legacy V1 copy of `data[Value]`.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub value: Option<Vec<u8>>,
    /// Legacy V1 signature over `value ‖ validity ‖ "EOL"`; never verified.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub signature_v1: Option<Vec<u8>>,
    /// Legacy V1 copy of `data[ValidityType]` (0 = EOL).
    #[prost(int32, optional, tag = "3")]
    pub validity_type: Option<i32>,
    /// Legacy V1 copy of `data[Validity]`.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub validity: Option<Vec<u8>>,
    /// Legacy V1 copy of `data[Sequence]`.
    #[prost(uint64, optional, tag = "5")]
    pub sequence: Option<u64>,
    /// Legacy V1 copy of `data[TTL]` (nanoseconds).
    #[prost(uint64, optional, tag = "6")]
    pub ttl: Option<u64>,
    /// The signer's libp2p protobuf-encoded public key, when the name does not inline it.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub pub_key: Option<Vec<u8>>,
    /// Signature over `"ipns-signature:" ‖ data`.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub signature_v2: Option<Vec<u8>>,
    /// The DAG-CBOR document (see [`crate::cbor`]).
    #[prost(bytes = "vec", optional, tag = "9")]
    pub data: Option<Vec<u8>>,
}
