//! Embedding ipfsd as a library: create a repository, import a file and a directory,
//! read them back, pin and collect garbage, all without the CLI.
//!
//! Run with `cargo run -p ipfsd-node --example embed`.

use anyhow::Result;
use dag::export::{self, FileReader};
use dag::import::{Importer, Params, Profile};
use dag::store::PinMode;
use node::{Config, Repo};

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let repo = Repo::init(&dir.path().join("repo"), &Config::default())?;
    let store = repo.store();

    // Import a byte stream with the repository's configured parameters (Kubo's defaults).
    let params = repo.config().import.params()?;
    let mut writer = store.writer()?;
    let added =
        Importer::new(params, &mut writer)?.add_reader(&b"hello world\n"[..], "hello.txt")?;
    writer.finish_and_pin(added.cid, PinMode::Recursive)?;
    println!("added {} ({} bytes of DAG)", added.cid, added.tsize);

    // Read it back through the exporter (verified block by block).
    let mut out = Vec::new();
    FileReader::open(store, &added.cid, 0, None)?.copy_to(&mut out)?;
    assert_eq!(out, b"hello world\n");

    // A directory tree, with the CIDv1 profile, only hashed (nothing stored).
    let tree = dir.path().join("site");
    std::fs::create_dir_all(tree.join("css"))?;
    std::fs::write(tree.join("index.html"), "<h1>hi</h1>\n")?;
    std::fs::write(tree.join("css/site.css"), "h1 { color: teal }\n")?;
    let mut discard = dag::import::Discard::default();
    let v1 = Importer::new(Profile::UnixfsV1_2025.params(), &mut discard)?.add_path(&tree, true)?;
    println!("site would be {} under unixfs-v1-2025", v1.cid);

    // Store it with the defaults and list it.
    let mut writer = store.writer()?;
    let site = Importer::new(Params::default(), &mut writer)?.add_path(&tree, true)?;
    writer.finish()?;
    for entry in export::list(store, &site.cid)? {
        println!("  {} {}", entry.cid, entry.name);
    }

    // The unpinned site is garbage; the pinned file is not.
    let report = store.gc()?;
    println!("gc removed {} blocks", report.removed.len());
    assert!(store.has(&added.cid)?);
    assert!(!store.has(&site.cid)?);
    Ok(())
}
