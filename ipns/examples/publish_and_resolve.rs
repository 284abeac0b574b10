//! Creating, serializing, validating and selecting IPNS records with the
//! `ipns` crate, as the node does around its DHT calls.
//!
//! Run with `cargo run -p ipfsd-ipns --example publish_and_resolve`.

use std::time::{Duration, SystemTime};

use libp2p_identity::Keypair;

fn main() -> Result<(), ipns::Error> {
    let key = Keypair::generate_ed25519();
    let name = ipns::Name::new(key.public().to_peer_id());
    let now = SystemTime::now();
    let eol = now + Duration::from_secs(48 * 3600);
    let ttl = Duration::from_secs(5 * 60);

    // Publisher: sign two versions; the bytes go to the DHT under the routing key.
    let v1 = ipns::Record::create(&key, b"/ipfs/bafkqaddwgevxmmraojswg33smq", 1, eol, ttl)?;
    let v2 = ipns::Record::create(&key, b"/ipfs/bafkqadtwgiww63tmpeqhezldn5zgi", 2, eol, ttl)?;
    println!("name        {name}");
    println!("path        {}", name.to_path());
    println!("routing key {} bytes", name.routing_key().len());
    println!("record      {} bytes", v2.as_bytes().len());

    // Resolver: parse the name, validate what peers returned, keep the best.
    let parsed: ipns::Name = name.to_string().parse()?;
    let received = [v1.encode(), v2.encode()];
    let valid: Vec<ipns::Record> = received
        .iter()
        .filter_map(|bytes| ipns::validate(&parsed, bytes, now).ok())
        .collect();
    if let Some(best) = ipns::best(&valid) {
        println!(
            "resolved    {} (sequence {})",
            String::from_utf8_lossy(best.value()),
            best.sequence()
        );
    }
    Ok(())
}
