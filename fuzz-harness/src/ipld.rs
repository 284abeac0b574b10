//! Harnesses for the IPLD codecs' decoders: dag-cbor and dag-json blocks, as BitSwap peers,
//! CAR files and `block put` hand them to the node, through [`dag::codec::validate`] (the
//! receipt check), [`dag::codec::links`] (what every pin, GC and fetch walk follows) and
//! [`dag::codec::decode`]/[`dag::codec::encode`] (`dag get`, the gateway's conversions).

use dag::block::{DAG_CBOR, DAG_JSON, cid_of};
use dag::codec::{self, Codec, Ipld};
use dag::{Cid, Version};

/// A dag-cbor block: the receipt check, the links and the decoder agree. A block that
/// passes the (strict) receipt check re-encodes to exactly its own bytes, so one value has
/// one CID; its links are the links of the decoded value.
pub fn dag_cbor(data: &[u8]) {
    let cid = cid_of(Version::V1, DAG_CBOR, data);
    let valid = codec::validate(&cid, data).is_ok();
    let decoded = check_agreement(Codec::DagCbor, &cid, data);
    if valid {
        let value = decoded.expect("a valid block decodes");
        let again = codec::encode(Codec::DagCbor, &value).expect("a decoded value re-encodes");
        assert_eq!(
            again, data,
            "the receipt check passed a non-canonical dag-cbor block"
        );
    }
}

/// A dag-json block: the receipt check, the links and the decoder agree. The decoder may
/// accept non-canonical spellings (whitespace, key order); what the receipt check passes
/// re-encodes to a canonical form that decodes to the same value and re-encodes to itself,
/// and converts to dag-cbor and back unchanged. The same bytes are also read as plain json.
pub fn dag_json(data: &[u8]) {
    // The same bytes as a plain json (0x0200) block, which the gateway and `dag get` read
    // from peers too: decoding never panics, and what decodes can be written as json again.
    if let Ok(plain) = codec::decode(Codec::Json, data) {
        codec::encode(Codec::Json, &plain).expect("decoded plain json re-encodes");
    }
    let cid = cid_of(Version::V1, DAG_JSON, data);
    let valid = codec::validate(&cid, data).is_ok();
    let decoded = check_agreement(Codec::DagJson, &cid, data);
    if !valid {
        return;
    }
    let value = decoded.expect("a valid block decodes");
    let canonical = codec::encode(Codec::DagJson, &value).expect("a decoded value re-encodes");
    let back = codec::decode(Codec::DagJson, &canonical).expect("canonical dag-json decodes");
    assert_eq!(back, value, "dag-json round trip changed the value");
    let twice = codec::encode(Codec::DagJson, &back).expect("re-encodes");
    assert_eq!(twice, canonical, "dag-json encoding is not stable");
    if let Ok(cbor) = codec::encode(Codec::DagCbor, &value) {
        let v = codec::decode(Codec::DagCbor, &cbor).expect("own dag-cbor decodes");
        assert_eq!(v, value, "dag-json → dag-cbor changed the value");
    }
}

/// `validate`, `links` and `decode` agree about `data` (what `validate` passes decodes;
/// `links` answers exactly when `decode` does); answers the decoded value.
fn check_agreement(c: Codec, cid: &Cid, data: &[u8]) -> Option<Ipld> {
    let valid = codec::validate(cid, data).is_ok();
    let links = codec::links(cid, data);
    let decoded = codec::decode(c, data).ok();
    assert!(
        !valid || decoded.is_some(),
        "validate passed what decode refuses"
    );
    assert_eq!(
        links.is_ok(),
        decoded.is_some(),
        "links and decode disagree on whether the block decodes"
    );
    let value = decoded?;
    let mut links = links.expect("links of a decodable block");
    // The oracle is ipld-core's own walk (`Ipld::references`), not a copy of ours; it
    // visits in its own order, so both sides are compared sorted.
    let mut oracle: Vec<Cid> = Vec::new();
    value.references(&mut oracle);
    links.sort();
    oracle.sort();
    assert_eq!(links, oracle, "links differ from the decoded value's");
    Some(value)
}
