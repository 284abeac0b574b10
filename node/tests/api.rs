//! The RPC API against a daemon started in-process on 127.0.0.1 (ephemeral port): method,
//! host, origin and referer checks, malformed bodies, streaming add/cat, concurrent clients, shutdown.

use node::daemon::{Daemon, Overrides};
use node::{Config, Repo};
use std::io::Read;
use std::time::{Duration, Instant};

struct TestDaemon {
    client: Client,
    repo_path: std::path::PathBuf,
    stop: node::CancellationToken,
    done: std::sync::mpsc::Receiver<Result<(), String>>,
    _dir: tempfile::TempDir,
}

fn start(config: Config) -> TestDaemon {
    start_with(config, false)
}

/// A daemon without the network (a missing block is then an error, not a fetch).
fn start_offline(config: Config) -> TestDaemon {
    start_with(config, true)
}

fn start_with(config: Config, offline: bool) -> TestDaemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo_path = dir.path().join("repo");
    let repo = Repo::init(&repo_path, &config).expect("init");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let overrides = Overrides {
                api: Some("/ip4/127.0.0.1/tcp/0".into()),
                gateway: Some("/ip4/127.0.0.1/tcp/0".into()),
                swarm: vec!["/ip4/127.0.0.1/tcp/0".into()],
                offline,
                ..Overrides::default()
            };
            let daemon = Daemon::start(repo, overrides).await.expect("daemon starts");
            ready_tx
                .send((daemon.api_addr(), daemon.shutdown_handle()))
                .expect("ready");
            let _ = done_tx.send(daemon.wait().await.map_err(|e| e.to_string()));
        });
    });
    let (addr, stop) = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("daemon ready in time");
    assert!(addr.ip().is_loopback());
    TestDaemon {
        client: Client {
            url: format!("http://{addr}/api/v0"),
            addr,
        },
        repo_path,
        stop,
        done,
        _dir: dir,
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = self.done.recv_timeout(Duration::from_secs(10));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect()
    }
}

fn reply(resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .read_to_end(&mut body)
        .expect("body");
    Reply { status, body }
}

/// Talks to a daemon's API.
struct Client {
    url: String,
    addr: std::net::SocketAddr,
}

impl std::ops::Deref for TestDaemon {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Client {
    fn post(&self, cmd: &str) -> Reply {
        reply(
            agent()
                .post(&format!("{}/{cmd}", self.url))
                .send_empty()
                .expect("request"),
        )
    }

    fn multipart(&self, cmd: &str, boundary: &str, body: Vec<u8>) -> Reply {
        reply(
            agent()
                .post(&format!("{}/{cmd}", self.url))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..])
                .expect("request"),
        )
    }

    /// Adds `files` (name, bytes) in one multipart upload; answers the NDJSON lines.
    fn add(&self, query: &str, files: &[(&str, &[u8])]) -> Reply {
        let boundary = "ipfsd-test-boundary";
        let mut body = Vec::new();
        for (name, data) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.multipart(&format!("add?{query}"), boundary, body)
    }

    /// `POST /api/v0/<cmd>` over a plain socket, with `TE: trailers` if asked; answers
    /// the raw response (head, chunked body, trailers) as the server sent it, until it
    /// closed the connection (cleanly or not).
    fn raw_post(&self, cmd: &str, te_trailers: bool) -> String {
        use std::io::Write;
        let mut conn = std::net::TcpStream::connect(self.addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let te = if te_trailers { "TE: trailers\r\n" } else { "" };
        write!(
            conn,
            "POST /api/v0/{cmd} HTTP/1.1\r\nHost: {}\r\n{te}Connection: close\r\nContent-Length: 0\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut out = Vec::new();
        match conn.read_to_end(&mut out) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("reading the answer to {cmd}: {e}"),
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn local_refs(&self) -> Vec<serde_json::Value> {
        let r = self.post("refs/local");
        assert_eq!(r.status, 200, "{}", r.text());
        r.lines()
    }
}

fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn methods_other_than_post_get_405_and_unknown_commands_404() {
    let d = start(Config::default());
    for cmd in ["version", "add", "cat?arg=x", "pin/ls", "shutdown"] {
        let r = reply(
            agent()
                .get(&format!("{}/{cmd}", d.url))
                .call()
                .expect("request"),
        );
        assert_eq!(r.status, 405, "GET {cmd}");
        assert_eq!(r.json()["Type"], "error");
    }
    let r = d.post("no/such/command");
    assert_eq!(r.status, 404);
    // The daemon is still up: GET shutdown did nothing.
    assert_eq!(d.post("version").status, 200);
}

#[test]
fn browser_origins_are_refused_unless_allowed() {
    let d = start(Config::default());
    let evil = reply(
        agent()
            .post(&format!("{}/version", d.url))
            .header("Origin", "http://evil.example")
            .send_empty()
            .expect("req"),
    );
    assert_eq!(evil.status, 403);
    let r = reply(
        agent()
            .post(&format!("{}/add", d.url))
            .header("Origin", "http://evil.example")
            .header("Content-Type", "multipart/form-data; boundary=b")
            .send(&b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nx\r\n--b--\r\n"[..])
            .expect("req"),
    );
    assert_eq!(r.status, 403);
    assert!(d.local_refs().is_empty(), "a refused add wrote nothing");

    let allowed = Config::default()
        .with(
            "API.HTTPHeaders.Access-Control-Allow-Origin",
            serde_json::json!(["http://localhost:3000"]),
        )
        .expect("config");
    let d = start(allowed);
    let ok = reply(
        agent()
            .post(&format!("{}/version", d.url))
            .header("Origin", "http://localhost:3000")
            .send_empty()
            .expect("req"),
    );
    assert_eq!(ok.status, 200);
    let evil = reply(
        agent()
            .post(&format!("{}/version", d.url))
            .header("Origin", "http://localhost:3001")
            .send_empty()
            .expect("req"),
    );
    assert_eq!(evil.status, 403);
}

/// Sends `POST /api/v0/<cmd>` with exactly `headers` (the `Host` included, or left out) on
/// a raw connection; answers the status.
fn raw_post(d: &TestDaemon, cmd: &str, headers: &[(&str, &str)]) -> u16 {
    use std::io::{BufRead, Write};
    let addr: std::net::SocketAddr = d
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/api/v0")
        .parse()
        .expect("addr");
    assert!(addr.ip().is_loopback());
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!("POST /api/v0/{cmd} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut line = String::new();
    std::io::BufReader::new(s)
        .read_line(&mut line)
        .expect("status line");
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"))
}

/// Kubo's checks and DNS rebinding (issue 14, item 9): a page that sends only a
/// `Referer`, or reaches 127.0.0.1 through a domain of its own (`Host` names it), is
/// refused — `shutdown` included —, while the CLI's and local tools' requests pass.
#[test]
fn foreign_referers_and_hosts_are_refused() {
    let config = Config::default()
        .with("API.AllowedHosts", serde_json::json!(["ipfs.lan"]))
        .expect("config");
    let d = start(config);
    let own = d
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/api/v0")
        .to_string();
    let port = own.rsplit(':').next().expect("port").to_string();
    let rebound = format!("rebind.example:{port}");
    let own_page = format!("http://{own}/webui/");
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![("Host", &own), ("Referer", "http://evil.example/page.html")],
        vec![("Host", &own), ("Referer", "https://evil.example")],
        vec![("Host", &rebound)],
        vec![
            ("Host", &rebound),
            ("Origin", &own_page[..own_page.len() - 7]),
        ],
        vec![("Host", "evil.example")],
    ];
    for cmd in ["version", "shutdown"] {
        for headers in &refused {
            assert_eq!(raw_post(&d, cmd, headers), 403, "{cmd} {headers:?}");
        }
    }
    let localhost = format!("localhost:{port}");
    let accepted: Vec<Vec<(&str, &str)>> = vec![
        vec![("Host", &own)],
        vec![("Host", &localhost)],
        vec![("Host", "ipfs.lan")],
        vec![("Host", &own), ("Referer", &own_page)],
        vec![],
    ];
    for headers in &accepted {
        assert_eq!(raw_post(&d, "version", headers), 200, "{headers:?}");
    }
    // The refused shutdowns did nothing; the client the CLI uses still gets through.
    assert_eq!(d.post("version").status, 200);
    assert!(
        d.done.recv_timeout(Duration::from_millis(0)).is_err(),
        "still running"
    );
}

#[test]
fn malformed_multipart_is_a_clear_400_and_writes_nothing() {
    let d = start(Config::default());
    for body in [
        &b"garbage"[..],
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nunterminated",
    ] {
        let r = d.multipart("add", "b", body.to_vec());
        let text = r.text();
        assert!(text.contains("malformed multipart"), "{} {text}", r.status);
        assert!(!text.contains("\"Hash\""), "nothing was added: {text}");
    }
    let r = reply(
        agent()
            .post(&format!("{}/add", d.url))
            .header("Content-Type", "text/plain")
            .send(&b"x"[..])
            .expect("req"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.multipart("block/put", "b", b"nope".to_vec());
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        d.local_refs().is_empty(),
        "malformed requests wrote nothing"
    );
    let pins = d.post("pin/ls").json();
    assert_eq!(pins["Keys"], serde_json::json!({}));
}

#[test]
fn arguments_are_validated_and_bounded() {
    let d = start(Config::default());
    let r = d.post("cat");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["Message"]
            .as_str()
            .is_some_and(|m| m.contains("required"))
    );
    let r = d.post("cat?arg=not-a-cid");
    assert_eq!(r.status, 400);
    let r = d.post("cat?arg=QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.json()["Message"]
            .as_str()
            .is_some_and(|m| m.contains("not found"))
    );
    let many: String = (0..2000).map(|i| format!("arg={i}&")).collect();
    let r = d.post(&format!("pin/add?{many}"));
    assert_eq!(r.status, 400);
    let r = d.post("pin/add?arg=QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH&recursive=maybe");
    assert_eq!(r.status, 400);
}

#[test]
fn add_cat_pin_and_stream_shapes() {
    let d = start(Config::default());
    let r = d.add("", &[("hello.txt", b"hello world\n")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.lines(),
        vec![
            serde_json::json!({"Name": "hello.txt", "Hash": "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "Size": "20"})
        ]
    );
    let big = data(1, 3 << 20);
    let r = d.add("cid-version=1&progress=true", &[("big.bin", &big)]);
    let lines = r.lines();
    let last = lines.last().expect("a result line");
    assert!(
        lines.iter().any(|l| l.get("Bytes").is_some()),
        "progress lines"
    );
    let cid = last["Hash"].as_str().expect("hash").to_string();
    assert!(cid.starts_with("bafy"), "{cid}");
    let back = d.post(&format!("cat?arg={cid}"));
    assert_eq!(back.status, 200);
    assert!(back.body == big, "cat returns the bytes added");
    let part = d.post(&format!("cat?arg={cid}&offset=1000000&length=70000"));
    assert!(part.body == big[1_000_000..1_070_000]);
    let pins = d.post("pin/ls?type=recursive").json();
    assert!(pins["Keys"].get(&cid).is_some(), "{pins}");
    let r = d.add(
        "pin=false&wrap-with-directory=true",
        &[("a", b"a"), ("b", b"b")],
    );
    let lines = r.lines();
    assert_eq!(lines.len(), 3, "two files then the wrapper: {lines:?}");
    let wrapper = lines[2]["Hash"].as_str().expect("hash");
    let ls = d.post(&format!("ls?arg={wrapper}")).json();
    let names: Vec<&str> = ls["Objects"][0]["Links"]
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|l| l["Name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(
        d.post("pin/ls").json()["Keys"]
            .as_object()
            .expect("pin/ls answers Keys")
            .get(wrapper)
            .is_none(),
        "pin=false"
    );
    let gc = d.post("repo/gc");
    assert_eq!(gc.status, 200);
    assert_eq!(
        gc.lines().len(),
        3,
        "the unpinned wrapper and its two files: {}",
        gc.text()
    );
}

#[test]
fn twenty_concurrent_clients_add_and_cat() {
    let d = start(Config::default());
    let (url, addr) = (d.url.clone(), d.addr);
    let threads: Vec<_> = (0..20u64)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let d = Client { url, addr };
                let mine = data(100 + i, 200_000 + (i as usize) * 7919);
                let r = d.add("", &[("f", &mine)]);
                assert_eq!(r.status, 200, "{}", r.text());
                let cid = r.lines().last().expect("line")["Hash"]
                    .as_str()
                    .expect("hash")
                    .to_string();
                let back = d.post(&format!("cat?arg={cid}"));
                assert!(back.body == mine, "client {i} read back its own bytes");
                cid
            })
        })
        .collect();
    let cids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let pins = d.post("pin/ls?type=recursive").json();
    for cid in &cids {
        assert!(pins["Keys"].get(cid).is_some(), "{cid} pinned");
    }
    let verify = d.post("repo/verify");
    assert!(verify.text().contains("\"Corrupt\":0"), "{}", verify.text());
}

#[test]
fn shutdown_is_prompt_and_removes_the_api_file() {
    let d = start(Config::default());
    let api_file = d.repo_path.join(node::daemon::API_FILE);
    let written = std::fs::read_to_string(&api_file).expect("api file");
    assert!(written.starts_with("/ip4/127.0.0.1/tcp/"), "{written}");
    d.add("", &[("x", b"x")]);
    let t = Instant::now();
    assert_eq!(d.post("shutdown").status, 200);
    let res = d
        .done
        .recv_timeout(Duration::from_secs(2))
        .expect("stopped within 2 s");
    assert!(res.is_ok(), "{res:?}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(!api_file.exists(), "api file removed");
    // What was acknowledged is on disk: the repo reopens with the pin.
    let repo = Repo::open(&d.repo_path).expect("reopen after shutdown");
    assert_eq!(repo.store().pins().expect("pins").len(), 1);
}

/// The end of a complete chunked body without trailers.
const LAST_CHUNK: &str = "\r\n0\r\n\r\n";

#[test]
fn a_stream_that_fails_midway_ends_with_x_stream_error_or_a_broken_body() {
    let d = start_offline(Config::default());
    // 16 leaves; the ninth is then removed, so every walk of the file fails midway.
    let file = data(7, 1 << 20);
    let r = d.add("pin=false&chunker=size-65536", &[("f.bin", &file)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let root = r.lines()[0]["Hash"].as_str().expect("hash").to_string();
    let leaves = d.post(&format!("refs?arg={root}")).lines();
    assert_eq!(leaves.len(), 16, "{leaves:?}");
    let gone = leaves[8]["Ref"].as_str().expect("ref").to_string();
    let rm = d.post(&format!("block/rm?arg={gone}"));
    assert_eq!(rm.lines()[0]["Error"], "", "{}", rm.text());

    for cmd in [
        format!("cat?arg={root}"),
        format!("get?arg={root}"),
        format!("dag/export?arg={root}"),
        format!("refs?arg={root}&recursive=true"),
    ] {
        // A client that reads trailers: a complete body, then Kubo's trailer naming the
        // missing block.
        let a = d.raw_post(&cmd, true);
        assert!(a.starts_with("HTTP/1.1 200"), "{cmd}: {a:.300}");
        let lower = a.to_ascii_lowercase();
        assert!(
            lower.contains("\r\ntrailer: x-stream-error\r\n"),
            "{cmd}: {a:.300}"
        );
        let trailer = lower
            .rsplit_once("\r\n0\r\nx-stream-error: ")
            .unwrap_or_else(|| {
                panic!(
                    "{cmd}: no X-Stream-Error trailer: {:?}",
                    &a[a.len().saturating_sub(300)..]
                )
            })
            .1;
        assert!(
            trailer.contains(&gone.to_ascii_lowercase()),
            "{cmd}: {trailer}"
        );
        assert!(trailer.ends_with("\r\n\r\n"), "{cmd}: {trailer:?}");
        // Any other client: the body is broken off (no last chunk), so it cannot pass for
        // a complete answer.
        let a = d.raw_post(&cmd, false);
        assert!(a.starts_with("HTTP/1.1 200"), "{cmd}: {a:.300}");
        assert!(!a.ends_with(LAST_CHUNK), "{cmd}: a complete body");
        assert!(a.contains(&gone), "{cmd}: the error object names the block");
    }
    // cat delivered the leaves before the missing one.
    let a = d.raw_post(&format!("cat?arg={root}"), true);
    assert!(a.len() > 8 * 65536, "{}", a.len());
}

/// Starts a multipart upload to `cmd` that announces more than it sends: the part header
/// and `part`, then nothing (the socket stays open).
fn stall_upload(addr: std::net::SocketAddr, cmd: &str, part: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let boundary = "stalled-upload-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "POST /api/v0/{cmd} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 100000000\r\n\r\n{head}"
    )
    .expect("send head");
    conn.write_all(part).expect("send part");
    conn.flush().expect("flush");
    conn
}

/// A CAR of a 1 MiB file in 16 leaves (exported from a scratch daemon).
fn sample_car() -> Vec<u8> {
    let d = start_offline(Config::default());
    let r = d.add("chunker=size-65536", &[("f", &data(11, 1 << 20))]);
    let root = r.lines()[0]["Hash"].as_str().expect("hash").to_string();
    let car = d.post(&format!("dag/export?arg={root}"));
    assert_eq!(car.status, 200);
    car.body
}

/// Waits until the daemon has received (spooled) `len` bytes of an upload.
fn wait_spooled(repo: &std::path::Path, len: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = std::fs::read_dir(repo)
            .expect("repo dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
            .filter_map(|e| e.metadata().ok())
            .any(|m| m.len() >= len);
        if got {
            return;
        }
        assert!(Instant::now() < deadline, "the upload was not received");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stalled_dag_import_holds_no_lock_and_ends_after_the_idle_timeout() {
    let car = sample_car();
    let part = &car[..200_000]; // the header and three whole blocks, then the stall

    // A long idle timeout: writes must go on while the upload stalls.
    let mut config = Config::default();
    config.api.upload_idle_timeout = "1h".into();
    let d = start_offline(config);
    let stalled = stall_upload(d.addr, "dag/import", part);
    wait_spooled(&d.repo_path, part.len() as u64);
    let r = d.add("pin=false", &[("a.txt", b"written while an import stalls")]);
    assert_eq!(r.status, 200, "add: {}", r.text());
    let added = r.lines()[0]["Hash"].as_str().expect("hash").to_string();
    let boundary = "b";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nblock bytes\r\n--{boundary}--\r\n"
    );
    let r = d.multipart("block/put", boundary, body.into_bytes());
    assert_eq!(r.status, 200, "block/put: {}", r.text());
    let r = d.post(&format!("pin/add?arg={added}&recursive=false"));
    assert_eq!(r.status, 200, "pin/add: {}", r.text());
    let r = d.post("repo/gc");
    assert_eq!(r.status, 200, "repo/gc: {}", r.text());
    // The stalled upload is still open and unanswered.
    stalled.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 1];
    assert!(
        matches!((&stalled).read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the stalled upload was answered"
    );
    drop(stalled);

    // A short one: the stalled upload ends with an error and imports nothing.
    let mut config = Config::default();
    config.api.upload_idle_timeout = "1s".into();
    let d = start_offline(config);
    let before = d.local_refs().len();
    for cmd in ["dag/import", "add"] {
        let mut stalled = stall_upload(d.addr, cmd, part);
        stalled
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut answer = Vec::new();
        let _ = stalled.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{cmd}: {answer}");
        assert!(answer.contains("stalled"), "{cmd}: {answer}");
    }
    assert_eq!(d.local_refs().len(), before, "nothing imported");
    let leftovers = std::fs::read_dir(&d.repo_path)
        .expect("repo dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0, "spool files are removed");
}
