//! Which DHT records the node accepts: values under `/ipns/` (a valid signed IPNS record,
//! not worse than the one held) and `/pk/` (a public key matching the peer ID in the
//! key); provider records whose key is a multihash. Everything else is refused, so a DHT
//! server cannot be used as free storage.

use libp2p::kad::RecordKey;
use std::cmp::Ordering;
use std::time::SystemTime;

/// Longest provider-record key accepted (a multihash: code, length, digest).
const MAX_PROVIDER_KEY: usize = 128;

/// Whether `key` is an IPNS key.
pub fn is_ipns(key: &RecordKey) -> bool {
    key.as_ref().starts_with(b"/ipns/")
}

/// A key for logs and errors: `/ipns/<name>`, `/pk/<peer>`, else hex.
pub fn printable(key: &RecordKey) -> String {
    let k = key.as_ref();
    if let Ok(name) = ipns::Name::from_routing_key(k) {
        return name.to_path();
    }
    if let Some(rest) = k.strip_prefix(b"/pk/")
        && let Ok(peer) = libp2p::PeerId::from_bytes(rest)
    {
        return format!("/pk/{peer}");
    }
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `value` for `key` and orders it against `other` (a value already checked):
/// `Greater` when it is better (or `other` is `None`), `Equal` when neither is (every valid
/// non-IPNS value, identical records), `Less` when `other` is better.
pub fn compare(key: &RecordKey, value: &[u8], other: Option<&[u8]>) -> Result<Ordering, String> {
    let new = check(key, value)?;
    let Some(other) = other else {
        return Ok(Ordering::Greater);
    };
    Ok(match (new, valid_record(key, other)) {
        (Some(new), Some(old)) => ipns::select(&new, &old),
        (Some(_), None) => Ordering::Greater,
        (None, _) => Ordering::Equal,
    })
}

/// Checks a value for `key`; `existing` is the value held now, if any.
pub fn value(key: &RecordKey, value: &[u8], existing: Option<&[u8]>) -> Result<(), String> {
    if let Some(record) = check(key, value)?
        && let Some(old) = existing.and_then(|o| valid_record(key, o))
        && ipns::select(&record, &old) == Ordering::Less
    {
        return Err(format!(
            "sequence {} is older than the held record's {}",
            record.sequence(),
            old.sequence()
        ));
    }
    Ok(())
}

/// The size limit, then the key's own rules: an `/ipns/` value must be a valid record
/// (answered, so that it is verified once), a `/pk/` value the key of its peer ID.
fn check(key: &RecordKey, value: &[u8]) -> Result<Option<ipns::Record>, String> {
    let k = key.as_ref();
    if value.len() > ipns::MAX_RECORD_SIZE {
        return Err(format!(
            "value of {} bytes exceeds the {}-byte limit",
            value.len(),
            ipns::MAX_RECORD_SIZE
        ));
    }
    if k.starts_with(b"/ipns/") {
        let name = ipns::Name::from_routing_key(k).map_err(|e| e.to_string())?;
        let record = ipns::validate(&name, value, SystemTime::now()).map_err(|e| e.to_string())?;
        return Ok(Some(record));
    }
    if k.starts_with(b"/pk/") {
        ipns::validate_pk_record(k, value).map_err(|e| e.to_string())?;
        return Ok(None);
    }
    Err("only /ipns/ and /pk/ records are accepted".into())
}

/// `bytes` as a valid IPNS record for `key`, if it is one (an expired or broken held
/// value loses to any valid one).
fn valid_record(key: &RecordKey, bytes: &[u8]) -> Option<ipns::Record> {
    let name = ipns::Name::from_routing_key(key.as_ref()).ok()?;
    ipns::validate(&name, bytes, SystemTime::now()).ok()
}

/// Whether a provider-record key is a well-formed multihash.
pub fn provider_key(key: &RecordKey) -> bool {
    let k = key.as_ref();
    k.len() <= MAX_PROVIDER_KEY && multihash::Multihash::<64>::from_bytes(k).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_and_oversized_values() {
        let other = RecordKey::new(b"/v/anything");
        assert!(value(&other, b"x", None).is_err());
        let ipns_key = RecordKey::new(&ipns::Name::new(libp2p::PeerId::random()).routing_key());
        let huge = vec![0u8; ipns::MAX_RECORD_SIZE + 1];
        assert!(value(&ipns_key, &huge, None).unwrap_err().contains("limit"));
        assert!(value(&ipns_key, b"not a record", None).is_err());
    }

    #[test]
    fn pk_records_must_match_the_key() {
        let kp = libp2p::identity::Keypair::generate_ed25519();
        let peer = kp.public().to_peer_id();
        let mut key = b"/pk/".to_vec();
        key.extend_from_slice(&peer.to_bytes());
        let key = RecordKey::new(&key);
        let pk = kp.public().encode_protobuf();
        assert!(value(&key, &pk, None).is_ok());
        let other = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .encode_protobuf();
        assert!(value(&key, &other, None).is_err());
        assert!(printable(&key).starts_with("/pk/12D3Koo"));
    }

    #[test]
    fn ipns_records_validate_and_never_go_backwards() {
        let kp = libp2p::identity::Keypair::generate_ed25519();
        let name = ipns::Name::new(kp.public().to_peer_id());
        let key = RecordKey::new(&name.routing_key());
        let eol = SystemTime::now() + std::time::Duration::from_secs(3600);
        let ttl = std::time::Duration::from_secs(60);
        let v1 = ipns::Record::create(&kp, b"/ipfs/bafkqaaa", 1, eol, ttl)
            .unwrap()
            .encode();
        let v2 = ipns::Record::create(&kp, b"/ipfs/bafkqaaa", 2, eol, ttl)
            .unwrap()
            .encode();
        assert!(value(&key, &v1, None).is_ok());
        assert!(value(&key, &v2, Some(&v1)).is_ok());
        assert!(value(&key, &v1, Some(&v2)).unwrap_err().contains("older"));
        // Signed by another key.
        let wrong = libp2p::identity::Keypair::generate_ed25519();
        let forged = ipns::Record::create(&wrong, b"/ipfs/bafkqaaa", 3, eol, ttl)
            .unwrap()
            .encode();
        assert!(value(&key, &forged, None).is_err());
    }

    #[test]
    fn provider_keys_are_multihashes() {
        let cid: dag::Cid = "bafkqaaa".parse().unwrap();
        assert!(provider_key(&RecordKey::new(&cid.hash().to_bytes())));
        assert!(!provider_key(&RecordKey::new(b"/ipns/x")));
        assert!(!provider_key(&RecordKey::new(&vec![0x12u8; 200])));
    }
}
