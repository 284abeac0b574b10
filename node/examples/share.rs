//! Two in-memory nodes in one process: `alice` adds a directory; `bob` finds her as its
//! provider in the DHT, fetches a file over BitSwap and checks it byte for byte, then
//! resolves the IPNS name she published for the directory.
//!
//! Run with `cargo run -p ipfsd-node --example share`.

use node::{AddOptions, Node, Publish};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    // In memory, listening on a free loopback port, no bootstrap peers.
    let alice = Node::builder().in_memory().spawn().await?;
    let alice_addr = alice.listen_addrs().await?[0].to_string();
    let bob = Node::builder()
        .in_memory()
        .bootstrap([alice_addr])
        .spawn()
        .await?;

    // Alice adds a small site: pinned, and announced to the DHT in the background.
    let dir = tempfile::tempdir()?;
    let site = dir.path().join("site");
    std::fs::create_dir(&site)?;
    std::fs::write(site.join("index.html"), "<h1>shared from alice</h1>\n")?;
    let photo: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("photo.bin"), &photo)?;
    let root = alice.add(site, AddOptions::default()).root().await?.cid;
    println!("alice added the site: {root}");

    // Bob finds who provides it, through the DHT.
    let deadline = Instant::now() + Duration::from_secs(10);
    let provider = loop {
        let found = bob.routing().find_providers(&root, 4).await?;
        if let Some(p) = found.into_iter().find(|p| p.peer == alice.peer_id()) {
            break p.peer;
        }
        if Instant::now() > deadline {
            return Err("no provider found".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("bob found provider {provider}");

    // ...and streams the photo from her over BitSwap.
    let content = bob.cat(&format!("/ipfs/{root}/photo.bin"), ..).await?;
    let fetched = content.cid();
    let bytes = content.bytes().await?;
    println!(
        "bob fetched {fetched}: {} bytes, byte-for-byte match: {}",
        bytes.len(),
        bytes[..] == photo[..]
    );

    // Alice names the site; Bob resolves the name and reads through it.
    let published = alice
        .names()
        .publish(&format!("/ipfs/{root}"), Publish::default())
        .await?;
    let name = format!("/ipns/{}", published.name);
    let resolved = bob.names().resolve(&name).await?;
    let index = bob
        .cat(&format!("{name}/index.html"), ..)
        .await?
        .bytes()
        .await?;
    println!("bob resolved {name} -> {resolved}");
    print!(
        "index.html via the name: {}",
        String::from_utf8_lossy(&index)
    );

    alice.shutdown().await;
    bob.shutdown().await;
    println!("done in {:.2?}", started.elapsed());
    if bytes[..] != photo[..] || resolved != format!("/ipfs/{root}") {
        return Err("mismatch".into());
    }
    Ok(())
}
