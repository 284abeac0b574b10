//! The real JS client for Kubo's RPC API (`kubo-rpc-client`, unmodified) against an ipfsd
//! daemon started in-process on 127.0.0.1: `tests/interop/rpc-client.mjs` adds, cats, lists,
//! pins, exports and reads blocks through it and checks every answer against values computed
//! independently of ipfsd (see that script). Then the daemon must stop promptly and clean up.
//!
//! Needs the JS packages: `bash scripts/setup-peers.sh` (the README's test command runs it).
//! Set `IPFSD_SKIP_INTEROP=1` to skip this test on a machine without them (not under CI).

use anyhow::{Context, Result, bail, ensure};
use ipfsd_tests::script::{Outcome, run_node};
use node::daemon::{Daemon, Overrides};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the client script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the daemon may take to stop once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

const SETUP_HINT: &str = "run `bash scripts/setup-peers.sh` to install the reference peers";

use ipfsd_tests::{skip_interop as skip, workspace_root as root};

/// Runs `node rpc-client.mjs URL WORKDIR`, killing it past [`SCRIPT_TIMEOUT`].
fn run_script(url: &str, workdir: &Path) -> Result<Outcome> {
    let script = root().join("tests/interop/rpc-client.mjs");
    Ok(run_node(
        &script,
        &[url.as_ref(), workdir.as_os_str()],
        SCRIPT_TIMEOUT,
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubo_rpc_client_against_daemon() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let client = root().join("tests/interop/node_modules/kubo-rpc-client/package.json");
    ensure!(
        client.is_file(),
        "{} is missing: {SETUP_HINT}",
        client.display()
    );

    let tmp = tempfile::tempdir()?;
    let repo_path = tmp.path().join("repo");
    let workdir = tmp.path().join("work");
    std::fs::create_dir(&workdir)?;
    let repo = node::Repo::init(&repo_path, &node::Config::default())?;
    let peer_id = repo.identity().peer_id().to_string();
    let daemon = Daemon::start(
        repo,
        Overrides {
            api: Some("/ip4/127.0.0.1/tcp/0".into()),
            gateway: Some("/ip4/127.0.0.1/tcp/0".into()),
            swarm: vec!["/ip4/127.0.0.1/tcp/0".into()],
            offline: false,
            ..Overrides::default()
        },
    )
    .await?;
    let addr = daemon.api_addr();
    ensure!(addr.ip().is_loopback(), "API bound to {addr}, not loopback");
    let api_file = repo_path.join(node::daemon::API_FILE);
    assert_eq!(
        std::fs::read_to_string(&api_file)?,
        format!("/ip4/127.0.0.1/tcp/{}", addr.port()),
        "api file names the bound address"
    );

    let url = format!("http://127.0.0.1:{}", addr.port());
    let wd = workdir.clone();
    let outcome = tokio::task::spawn_blocking(move || run_script(&url, &wd)).await??;

    // Stop the daemon whatever the script did, so a failure does not leave it serving.
    daemon.shutdown();
    let stopping = Instant::now();
    let stopped = tokio::time::timeout(STOP_TIMEOUT, daemon.wait()).await;

    eprintln!("--- rpc-client.mjs stderr ---\n{}", outcome.stderr);
    match outcome.status {
        None => bail!(
            "rpc-client.mjs did not finish within {SCRIPT_TIMEOUT:?}; killed. stdout: {}",
            outcome.stdout
        ),
        Some(s) if s.code() == Some(3) => bail!(
            "rpc-client.mjs cannot load its JS dependencies: {SETUP_HINT}\n{}",
            outcome.stderr
        ),
        Some(s) if !s.success() => bail!(
            "rpc-client.mjs failed ({s}):\n{}\nsummary: {}",
            outcome
                .stderr
                .lines()
                .find(|l| l.starts_with("rpc-client.mjs:"))
                .unwrap_or(""),
            outcome.stdout.trim()
        ),
        Some(_) => {}
    }
    let summary: serde_json::Value = serde_json::from_str(outcome.stdout.trim())
        .with_context(|| format!("summary is not JSON: {:?}", outcome.stdout))?;
    ensure!(summary["ok"] == true, "summary says not ok: {summary}");
    for check in [
        "version",
        "add.string",
        "add.bytes",
        "cat",
        "addAll.directory",
        "addAll.wrapWithDirectory",
        "ls",
        "pin.ls",
        "pin.rm",
        "pin.add",
        "dag.export",
        "refs",
        "block",
    ] {
        ensure!(
            !summary["checks"][check].is_null(),
            "summary lacks check {check}: {summary}"
        );
    }
    ensure!(
        workdir.join("export.car").is_file(),
        "the script did not write the exported CAR"
    );
    eprintln!("rpc-client.mjs ok in {:?}: {summary}", outcome.elapsed);

    match stopped {
        Err(_) => bail!("daemon did not stop within {STOP_TIMEOUT:?} of shutdown"),
        Ok(r) => r.context("daemon stopped with an error")?,
    }
    eprintln!("daemon stopped in {:?}", stopping.elapsed());
    ensure!(
        !api_file.exists(),
        "{} still exists after shutdown",
        api_file.display()
    );
    // The port is released: binding it proves that. A released ephemeral port may be
    // taken by another process at once, so a failed bind is not the verdict; then whatever
    // listens there must not be this daemon.
    if let Err(e) = std::net::TcpListener::bind(addr) {
        eprintln!("{addr} is taken again after shutdown ({e}): checking it is not this daemon");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let answer = agent
            .post(&format!("http://{addr}/api/v0/id"))
            .send_empty()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        ensure!(
            !answer.contains(&peer_id),
            "{addr} still answers as this daemon after shutdown: {answer}"
        );
    }
    Ok(())
}
