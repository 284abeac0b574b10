//! Embedding ipfsd as a library with a repository on disk: add bytes and a directory
//! through a `Node`, read them back, hash with another profile, pin and collect garbage.
//! The repository is reopened at the end: what was pinned is still there.
//!
//! Run with `cargo run -p ipfsd-node --example embed`.

use dag::import::Profile;
use node::{AddOptions, Node};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("repo");
    // Created on first use (default config); offline: no swarm, no DHT.
    let node = Node::builder().repo(&repo).offline().spawn().await?;

    // Bytes in, pinned by default, with the repository's import settings (Kubo's defaults).
    let added = node
        .add(b"hello world\n".to_vec(), AddOptions::default())
        .root()
        .await?;
    println!("added {} ({} bytes of DAG)", added.cid, added.tsize);
    let text = node.cat(&added.cid.to_string(), ..).await?.bytes().await?;
    assert_eq!(&text[..], b"hello world\n");

    // A directory tree, with the CIDv1 profile, only hashed (nothing stored).
    let tree = dir.path().join("site");
    std::fs::create_dir_all(tree.join("css"))?;
    std::fs::write(tree.join("index.html"), "<h1>hi</h1>\n")?;
    std::fs::write(tree.join("css/site.css"), "h1 { color: teal }\n")?;
    let v1 = node
        .add(
            tree.as_path(),
            AddOptions::default()
                .params(Profile::UnixfsV1_2025.params())
                .only_hash(true),
        )
        .root()
        .await?;
    println!("site would be {} under unixfs-v1-2025", v1.cid);

    // Stored with the defaults but not pinned, then listed.
    let site = node
        .add(tree.as_path(), AddOptions::default().pin(false))
        .root()
        .await?;
    for entry in node.ls(&site.cid.to_string()).await? {
        println!("  {} {}", entry.cid, entry.name);
    }

    // The unpinned site is garbage; the pinned file is not.
    let report = node.gc().await?;
    println!("gc removed {} blocks", report.removed.len());
    assert!(node.block().has(&added.cid).await?);
    assert!(!node.block().has(&site.cid).await?);
    node.shutdown().await;
    drop(node);

    // The repository keeps it all: reopened, the pin is still there.
    let node = Node::builder().repo(&repo).offline().spawn().await?;
    let pins = node.pin().ls().await?;
    println!(
        "after reopening: {} pin(s), first {}",
        pins.len(),
        pins[0].0
    );
    node.shutdown().await;
    Ok(())
}
