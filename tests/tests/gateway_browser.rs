//! The HTTP gateway in a real browser. A daemon started in-process on 127.0.0.1 gets the
//! static test site (`tests/fixtures/site/`: pages, a stylesheet, a script, a PNG, a WebM
//! video, a directory without `index.html`) through its RPC API, as `ipfsd add -r
//! --cid-version 1` sends it; then `tests/interop/browser.mjs` drives Debian's headless
//! Chromium through the gateway: the site renders with its CSS and image, relative links
//! work, the video seeks, the directory listing is navigable, and the subdomain form
//! (`http://<cidv1>.ipfs.localhost:<port>/`) serves the same site; the HTML view of a
//! dag-cbor node with hostile keys shows them as text, and its link to the site opens it.
//! The screenshots of every step, the script's JSON summary and its log are left in
//! `target/test-artifacts/gateway-browser/`.
//!
//! Needs Chromium and the JS packages: `bash scripts/setup-peers.sh` (the README's test
//! command runs it). Skipped with `IPFSD_SKIP_INTEROP=1` or `SKIP_BROWSER=1`, or when
//! `/usr/bin/chromium` or `playwright-core` is missing — except under CI (`CI=true` or
//! `IPFSD_REQUIRE_PEERS=1`), where each of these fails the test instead.

use anyhow::{Context, Result, bail, ensure};
use ipfsd_tests::script::{Outcome, run_node};
use ipfsd_tests::testnet::{TestNode, init_repo};
use ipfsd_tests::{skip_browser, workspace_root};
use std::path::{Path, PathBuf};

use std::time::Duration;

/// How long the browser script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// The browser the script drives.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Every check `browser.mjs` reports when all passed.
const CHECKS: [&str; 13] = [
    "index",
    "about",
    "back",
    "video",
    "listing",
    "listing.enter",
    "listing.parent",
    "listing.file",
    "subdomain",
    "subdomain.about",
    "subdomain.listing",
    "dag.view",
    "dag.link",
];
const SETUP_HINT: &str =
    "run `bash scripts/setup-peers.sh` to install Chromium and the JS packages";

/// Why the browser test cannot run here, if it cannot.
fn missing_dependency() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    let pw = workspace_root().join("tests/interop/node_modules/playwright-core/package.json");
    if !pw.is_file() {
        return Some(format!("{} is missing", pw.display()));
    }
    None
}

/// The fixture as multipart parts under the top directory `site`: each directory before
/// its entries, names sorted.
fn site_parts(dir: &Path, rel: &str, out: &mut Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
    out.push((rel.to_string(), None));
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e
            .file_name()
            .into_string()
            .map_err(|n| anyhow::anyhow!("fixture name {n:?} is not UTF-8"))?;
        let path = e.path();
        let child = format!("{rel}/{name}");
        if e.file_type()?.is_dir() {
            site_parts(&path, &child, out)?;
        } else {
            let data =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push((child, Some(data)));
        }
    }
    Ok(())
}

/// Runs `node browser.mjs GATEWAY CID OUTDIR DAG`, killing it past [`SCRIPT_TIMEOUT`].
fn run_script(gateway: &str, cid: &str, out_dir: &Path, dag: &str) -> Result<Outcome> {
    let script = workspace_root().join("tests/interop/browser.mjs");
    Ok(run_node(
        &script,
        &[
            gateway.as_ref(),
            cid.as_ref(),
            out_dir.as_os_str(),
            dag.as_ref(),
        ],
        SCRIPT_TIMEOUT,
    )?)
}

/// A dag-cbor node linking to the site, with keys and strings that would be markup and
/// script if the gateway's HTML view did not escape them; imported (not pinned) as a CAR.
fn add_dag_node(node: &TestNode, site: &str) -> Result<String> {
    use dag::codec::{Codec, Ipld};
    let site = dag::block::parse_cid(site)?;
    let value = Ipld::Map(
        [
            (
                "<img src=x onerror=window.pwned=1>".to_string(),
                Ipld::String("<script>window.pwned=2</script>".into()),
            ),
            ("site".to_string(), Ipld::Link(site)),
        ]
        .into_iter()
        .collect(),
    );
    let data = dag::codec::encode(Codec::DagCbor, &value)?;
    let block = dag::Block::encode(dag::Version::V1, Codec::DagCbor.code(), data);
    let car = ipfsd_tests::hostile::car(&[*block.cid()], std::slice::from_ref(&block));
    node.call_with_file("dag/import", &[("pin-roots", "false")], &car)
        .ok();
    Ok(block.cid().to_string())
}

#[test]
fn static_site_in_headless_chromium() -> Result<()> {
    if skip_browser(missing_dependency()) {
        return Ok(());
    }

    let root = workspace_root().canonicalize()?;
    let artifacts: PathBuf = root.join("target/test-artifacts/gateway-browser");
    if artifacts.exists() {
        std::fs::remove_dir_all(&artifacts)
            .with_context(|| format!("clearing {}", artifacts.display()))?;
    }
    std::fs::create_dir_all(&artifacts)?;

    let mut parts = Vec::new();
    site_parts(&root.join("tests/fixtures/site"), "site", &mut parts)?;
    let borrowed: Vec<(&str, Option<&[u8]>)> = parts
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_deref()))
        .collect();

    let tmp = tempfile::tempdir()?;
    let repo = tmp.path().join("repo");
    drop(init_repo(&repo, None, |c| {
        c.addresses.gateway = "/ip4/127.0.0.1/tcp/0".into();
    }));
    let node = TestNode::start(&repo, None);
    let gateway = node.gateway_url().to_string();
    ensure!(
        gateway.starts_with("http://127.0.0.1:"),
        "gateway URL {gateway} is not on 127.0.0.1"
    );

    let added = node
        .call_with_parts("add", &[("cid-version", "1")], &borrowed)
        .ok()
        .lines();
    let top = added.last().context("add answered nothing")?;
    ensure!(
        top["Name"] == "site",
        "the last added entry is not the top directory: {top}"
    );
    let cid = top["Hash"].as_str().context("no Hash")?.to_string();
    // The content is in the node before the gateway is blamed for anything.
    let index = std::fs::read(root.join("tests/fixtures/site/index.html"))?;
    ensure!(
        node.cat(&format!("{cid}/index.html")) == index,
        "cat of index.html differs"
    );
    let dag_cid = add_dag_node(&node, &cid)?;
    eprintln!("site added as {cid}, a dag-cbor node linking it as {dag_cid}; gateway at {gateway}");

    let outcome = run_script(&gateway, &cid, &artifacts, &dag_cid);
    // Stop the daemon whatever the script did.
    node.stop();
    let outcome = outcome?;

    std::fs::write(artifacts.join("browser.log"), &outcome.stderr)?;
    std::fs::write(artifacts.join("summary.json"), &outcome.stdout)?;
    eprintln!("--- browser.mjs stderr ---\n{}", outcome.stderr);
    eprintln!("screenshots in {}", artifacts.display());
    match outcome.status {
        None => bail!(
            "browser.mjs did not finish within {SCRIPT_TIMEOUT:?}; killed. stdout: {}",
            outcome.stdout
        ),
        Some(s) if s.code() == Some(3) => bail!(
            "browser.mjs cannot load playwright-core or Chromium: {SETUP_HINT}\n{}",
            outcome.stderr
        ),
        Some(s) if !s.success() => bail!(
            "browser.mjs failed ({s}): {}\nsummary: {}",
            outcome
                .stderr
                .lines()
                .find(|l| l.starts_with("browser.mjs: FAILED"))
                .unwrap_or("(no FAILED line)"),
            outcome.stdout.trim()
        ),
        Some(_) => {}
    }
    let summary: serde_json::Value = serde_json::from_str(outcome.stdout.trim())
        .with_context(|| format!("summary is not JSON: {:?}", outcome.stdout))?;
    ensure!(summary["ok"] == true, "summary says not ok: {summary}");
    for check in CHECKS {
        ensure!(
            !summary["checks"][check].is_null(),
            "summary lacks check {check}: {summary}"
        );
    }
    ensure!(
        summary["blocked"].as_array().is_some_and(|b| b.is_empty()),
        "the browser tried to leave loopback: {}",
        summary["blocked"]
    );
    let shots = summary["screenshots"].as_array().map_or(0, Vec::len);
    for s in summary["screenshots"].as_array().into_iter().flatten() {
        let f = artifacts.join(s.as_str().context("screenshot name")?);
        ensure!(f.is_file(), "screenshot {} was not written", f.display());
    }
    ensure!(shots >= CHECKS.len(), "only {shots} screenshots");
    eprintln!(
        "browser.mjs ok in {:?}: {shots} screenshots",
        outcome.elapsed
    );
    Ok(())
}
