//! In-process ipfsd daemons for multi-node tests: each [`TestNode`] is a real
//! [`node::daemon::Daemon`] (RPC API, swarm, DHT) on 127.0.0.1 with ephemeral ports, on its
//! own small runtime, driven through its HTTP API like any client would.

use node::daemon::{Daemon, Overrides};
use node::{Config, Repo};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest wait for a daemon to start or stop.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for one API call.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates a repository at `path` with an identity of at least `difficulty` PoW bits
/// (`None`: 0, the fastest), after `edit` has adjusted its config.
pub fn init_repo(path: &Path, difficulty: Option<u32>, edit: impl FnOnce(&mut Config)) -> Repo {
    let mut config = Config::default();
    config.addresses.swarm = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.addresses.api = "/ip4/127.0.0.1/tcp/0".into();
    edit(&mut config);
    let d = difficulty.unwrap_or(0);
    Repo::init_with_identity(path, &config, || {
        node::identity::Identity::generate_with_difficulty(d)
    })
    .expect("init repo")
}

/// Replaces the bootstrap list in the config of the (stopped) node at `path`.
pub fn set_bootstrap(path: &Path, peers: Vec<String>) {
    let mut config = node::repo::load_config(path).expect("read config");
    config.bootstrap = peers;
    node::repo::save_config(path, &config).expect("write config");
}

/// An API answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as newline-delimited JSON.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect()
    }

    /// Panics unless the status is 200.
    pub fn ok(self) -> Reply {
        assert_eq!(self.status, 200, "API call failed: {}", self.text());
        self
    }
}

/// A daemon running in this process.
pub struct TestNode {
    /// The repository directory.
    pub repo_path: PathBuf,
    url: String,
    stop: node::CancellationToken,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<Result<(), String>>>,
    peer_id: String,
    swarm_addr: String,
    gateway_url: String,
}

impl std::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNode")
            .field("peer_id", &self.peer_id)
            .field("swarm_addr", &self.swarm_addr)
            .finish_non_exhaustive()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(CALL_TIMEOUT))
        .build()
        .new_agent()
}

/// The reply; a body cut off mid-stream (the daemon failed after sending the status)
/// becomes status 599 with the error as the body.
fn reply(resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    match resp.into_body().into_reader().read_to_end(&mut body) {
        Ok(_) => Reply { status, body },
        Err(e) => Reply {
            status: 599,
            body: format!("body cut off after {} bytes: {e}", body.len()).into_bytes(),
        },
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl TestNode {
    /// Starts a daemon on the repository at `repo_path` (created by [`init_repo`]).
    /// `swarm` overrides the swarm listen address. Never a port an earlier node got from
    /// port 0: once released, another process may hold it (restart on `None`, a new
    /// ephemeral port, and tell the peers with [`set_bootstrap`] or `swarm/connect`).
    pub fn start(repo_path: &Path, swarm: Option<&str>) -> TestNode {
        let repo = Repo::open(repo_path).expect("open repo");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let swarm = swarm.map(String::from);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                // Above the gateway's 32 turns for requests waiting on the network,
                // so tests can fill them all (threads start only when needed).
                .max_blocking_threads(64)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let overrides = Overrides {
                    api: Some("/ip4/127.0.0.1/tcp/0".into()),
                    gateway: Some("/ip4/127.0.0.1/tcp/0".into()),
                    swarm: swarm.into_iter().collect(),
                    ..Overrides::default()
                };
                match Daemon::start(repo, overrides).await {
                    Ok(daemon) => {
                        let _ = ready_tx.send(Ok((
                            daemon.api_addr(),
                            daemon.gateway_addr(),
                            daemon.shutdown_handle(),
                        )));
                        let _ = done_tx.send(daemon.wait().await.map_err(|e| e.to_string()));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let (addr, gateway, stop) = ready_rx
            .recv_timeout(START_TIMEOUT)
            .expect("daemon ready in time")
            .unwrap_or_else(|e| panic!("daemon failed to start: {e}"));
        assert!(addr.ip().is_loopback());
        let mut node = TestNode {
            repo_path: repo_path.to_path_buf(),
            url: format!("http://{addr}/api/v0"),
            stop,
            done: std::sync::Mutex::new(done),
            peer_id: String::new(),
            swarm_addr: String::new(),
            gateway_url: gateway.map(|g| format!("http://{g}")).unwrap_or_default(),
        };
        let id = node.call("id", &[]).ok().json();
        node.peer_id = id["ID"].as_str().expect("ID").to_string();
        node.swarm_addr = id["Addresses"][0]
            .as_str()
            .expect("a swarm address")
            .to_string();
        assert!(
            node.swarm_addr.starts_with("/ip4/127.0.0.1/"),
            "{}",
            node.swarm_addr
        );
        node
    }

    /// The RPC API's base URL (`http://127.0.0.1:<port>/api/v0`).
    pub fn api_url(&self) -> &str {
        &self.url
    }

    /// The HTTP gateway's base URL (`http://127.0.0.1:<port>`).
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// The node's peer ID.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// Its first swarm address, with `/p2p/<id>`.
    pub fn swarm_addr(&self) -> &str {
        &self.swarm_addr
    }

    /// The swarm address without `/p2p/…` (to listen on it again after a restart).
    pub fn listen_addr(&self) -> String {
        self.swarm_addr
            .split("/p2p/")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// POSTs `cmd` with query `args`.
    pub fn call(&self, cmd: &str, args: &[(&str, &str)]) -> Reply {
        let query: Vec<String> = args
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let url = format!("{}/{cmd}?{}", self.url, query.join("&"));
        reply(agent().post(&url).send_empty().expect("request"))
    }

    /// POSTs `cmd` with one file part holding `data`.
    pub fn call_with_file(&self, cmd: &str, args: &[(&str, &str)], data: &[u8]) -> Reply {
        self.call_with_parts(cmd, args, &[("file", Some(data))])
    }

    /// POSTs `cmd` with multipart parts named by path: `Some(data)` is a file, `None` a
    /// directory (Kubo's `application/x-directory` convention).
    pub fn call_with_parts(
        &self,
        cmd: &str,
        args: &[(&str, &str)],
        parts: &[(&str, Option<&[u8]>)],
    ) -> Reply {
        let query: Vec<String> = args
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let url = format!("{}/{cmd}?{}", self.url, query.join("&"));
        let boundary = "ipfsd-test-boundary-7d1f";
        let mut body = Vec::new();
        for (path, data) in parts {
            let ty = if data.is_some() {
                "application/octet-stream"
            } else {
                "application/x-directory"
            };
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {ty}\r\n\r\n",
                    encode(path)
                )
                .as_bytes(),
            );
            body.extend_from_slice(data.unwrap_or_default());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        reply(
            agent()
                .post(&url)
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..])
                .expect("request"),
        )
    }

    /// Adds a directory tree (parts as in [`TestNode::call_with_parts`], all under one top
    /// directory, parents before children); answers the top directory's CID.
    pub fn add_tree(&self, parts: &[(&str, Option<&[u8]>)]) -> String {
        self.add_tree_with(&[], parts)
    }

    /// [`TestNode::add_tree`] with `add` flags (e.g. `cid-version`).
    pub fn add_tree_with(&self, args: &[(&str, &str)], parts: &[(&str, Option<&[u8]>)]) -> String {
        let lines = self.call_with_parts("add", args, parts).ok().lines();
        lines
            .last()
            .and_then(|l| l["Hash"].as_str())
            .expect("a Hash")
            .to_string()
    }

    /// `cat` of a path: the bytes (panics unless 200).
    pub fn cat(&self, path: &str) -> Vec<u8> {
        self.call("cat", &[("arg", path)]).ok().body
    }

    /// Adds `data` as a file; answers its CID.
    pub fn add(&self, data: &[u8]) -> String {
        let lines = self.call_with_file("add", &[], data).ok().lines();
        lines
            .last()
            .and_then(|l| l["Hash"].as_str())
            .expect("a Hash")
            .to_string()
    }

    /// `block/put` of `data` with `args` (`cid-codec`, `mhtype`, …); answers its CID.
    pub fn block_put(&self, args: &[(&str, &str)], data: &[u8]) -> String {
        self.call_with_file("block/put", args, data).ok().lines()[0]["Key"]
            .as_str()
            .expect("a Key")
            .to_string()
    }

    /// `routing/findprovs`: the provider peer IDs found.
    pub fn findprovs(&self, cid: &str) -> Vec<String> {
        self.call("routing/findprovs", &[("arg", cid)])
            .ok()
            .lines()
            .iter()
            .filter(|e| e["Type"] == 4)
            .flat_map(|e| e["Responses"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["ID"].as_str().map(String::from))
            .collect()
    }

    /// `name/resolve` of `name`, skipping the cache: the path, or the status and error.
    pub fn resolve_name(&self, name: &str) -> Result<String, String> {
        let r = self.call("name/resolve", &[("arg", name), ("nocache", "true")]);
        if r.status == 200 {
            Ok(r.json()["Path"].as_str().expect("Path").to_string())
        } else {
            Err(format!("{}: {}", r.status, r.text()))
        }
    }

    /// Peer IDs of the connected peers.
    pub fn peers(&self) -> Vec<String> {
        let v = self.call("swarm/peers", &[]).ok().json();
        v["Peers"]
            .as_array()
            .unwrap_or_else(|| panic!("swarm/peers answers no Peers array: {v}"))
            .iter()
            .map(|p| {
                p["Peer"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a peer without Peer: {v}"))
                    .to_string()
            })
            .collect()
    }

    /// Stops the daemon and waits until it has (repository closed).
    pub fn stop(self) {
        self.stop.cancel();
        let r = self
            .done
            .lock()
            .expect("not poisoned")
            .recv_timeout(START_TIMEOUT)
            .expect("daemon stops in time");
        r.expect("daemon stopped cleanly");
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Random-looking unique content, so runs never collide.
pub fn unique_bytes(tag: &str) -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{tag} {nanos} {}", std::process::id()).into_bytes()
}

/// Starts `n` nodes under `dir/<prefix><i>`, each bootstrapping to the one before it.
pub fn chain(
    dir: &std::path::Path,
    prefix: &str,
    n: usize,
    difficulty: Option<u32>,
    edit: impl Fn(&mut node::Config),
) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::new();
    for i in 0..n {
        let path = dir.join(format!("{prefix}{i}"));
        let bootstrap: Vec<String> = nodes
            .last()
            .map(|prev| vec![prev.swarm_addr().to_string()])
            .unwrap_or_default();
        init_repo(&path, difficulty, |c| {
            c.bootstrap = bootstrap;
            edit(c);
        });
        nodes.push(TestNode::start(&path, None));
    }
    nodes
}

/// Entries in `node`'s WAN routing table.
pub fn wan_table(node: &TestNode) -> u64 {
    node.call("stats/dht", &[]).ok().json()["RoutingTable"]["WAN"]
        .as_u64()
        .unwrap_or(0)
}
