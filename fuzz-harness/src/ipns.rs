//! Harness for IPNS records and names as they arrive from the DHT, a `name put`, or a
//! gateway URL.

use crate::bitswap::key;
use crate::text;
use ipns::{Name, Record, rfc3339};
use std::cmp::Ordering;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The name the seeds' records are signed for (peer 1's).
static NAME: LazyLock<Name> = LazyLock::new(|| Name::new(key(1).public().to_peer_id()));

/// A fixed "now" (2030-01-01), so a run does not depend on the clock.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_893_456_000)
}

/// The input as a serialized `IpnsEntry` for peer 1's name, as a `/pk/` value for peer 1,
/// as a DHT key, and as name and RFC 3339 text. Invariants: a decoded record keeps its
/// exact bytes; a valid record stops validating once expired and is `Equal` only to
/// itself; a name printed and parsed again, or turned into its DHT key and back, is the
/// same name; a parsed time formatted and parsed again is the same time.
pub fn ipns_record(data: &[u8]) {
    if let Ok(record) = Record::decode(data) {
        assert_eq!(record.as_bytes(), data, "a decoded record lost its bytes");
        assert_eq!(
            rfc3339::parse(record.validity_text()).ok(),
            Some(record.validity())
        );
    }
    if let Ok(record) = ipns::validate(&NAME, data, now()) {
        assert_eq!(ipns::select(&record, &record), Ordering::Equal);
        if let Some(later) = record.validity().checked_add(Duration::from_secs(1)) {
            assert!(
                ipns::validate(&NAME, data, later).is_err(),
                "an expired record validated"
            );
        }
    }
    let pk_key = [ipns::PK_PREFIX, &NAME.peer_id().to_bytes()].concat();
    if let Ok(public) = ipns::validate_pk_record(&pk_key, data) {
        assert_eq!(public.encode_protobuf(), data);
        assert_eq!(public.to_peer_id(), NAME.peer_id());
    }
    if let Ok(name) = Name::from_routing_key(data) {
        assert_eq!(Name::from_routing_key(&name.routing_key()).ok(), Some(name));
    }
    let s = text(data);
    if let Ok((name, rest)) = Name::from_path(&s) {
        let path = format!("{}{rest}", name.to_path());
        assert_eq!(Name::from_path(&path).ok(), Some((name, rest)));
    }
    if let Ok(name) = s.parse::<Name>() {
        assert_eq!(name.to_string().parse::<Name>().ok(), Some(name));
    }
    if let Ok(t) = rfc3339::parse(data)
        && let Ok(formatted) = rfc3339::format(t)
    {
        assert_eq!(rfc3339::parse(formatted.as_bytes()).ok(), Some(t));
    }
}
