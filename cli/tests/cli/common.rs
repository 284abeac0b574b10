//! Helpers shared by the `ipfsd` integration tests: a throwaway repository, running the
//! real binary with a deadline, and checks on its output.
//!
//! Every child process is waited for with a deadline and killed when it passes it, so a
//! hung command fails its test instead of hanging the suite.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any single command may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// How commands reach the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each command opens the repository itself.
    Offline,
    /// A daemon holds the repository; each command goes through its RPC API.
    Online,
}

/// Longest wait for a daemon to start, or to stop when asked.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `ipfsd daemon` for a test repository.
#[derive(Debug)]
struct Daemon {
    child: Child,
    log: PathBuf,
    /// The API address it wrote to the `api` file.
    api: String,
}

/// A fresh temp directory holding a repository (`repo/`) and a work area (`work/`, the
/// current directory of every command, so relative paths name files in it). With a
/// daemon, the daemon is stopped when the `Repo` is dropped, also when a test panics.
#[derive(Debug)]
pub struct Repo {
    /// The repository directory (passed as `--repo`).
    pub path: PathBuf,
    /// Scratch space for input and output files.
    pub work: PathBuf,
    daemon: Option<Daemon>,
    daemons_started: u32,
    // Last: removed after the daemon has stopped (see `Drop`).
    tmp: tempfile::TempDir,
}

impl Repo {
    /// A temp dir with an initialized repository, used offline.
    pub fn init() -> Repo {
        let repo = Repo::uninit();
        // No proof of work: the default difficulty takes seconds in a debug build.
        let out = repo.ok(&["init", "--pow-difficulty", "0"]);
        assert_eq!(
            out,
            format!("initialized ipfsd repository at {}\n", repo.path.display())
        );
        repo
    }

    /// A temp dir with an initialized repository and a daemon serving it (on 127.0.0.1,
    /// a free port): every command then goes through the daemon.
    pub fn init_online() -> Repo {
        let mut repo = Repo::init();
        repo.start_daemon();
        repo
    }

    /// [`Repo::init`] or [`Repo::init_online`].
    pub fn new(mode: Mode) -> Repo {
        match mode {
            Mode::Offline => Repo::init(),
            Mode::Online => Repo::init_online(),
        }
    }

    /// Like [`Repo::init`], with the repository at `path` (e.g. on a small file system);
    /// scratch files stay in a temp dir.
    pub fn init_at(path: PathBuf) -> Repo {
        let mut repo = Repo::uninit();
        repo.path = path;
        repo.ok(&["init", "--pow-difficulty", "0"]);
        repo
    }

    /// A temp dir where the repository has not been created.
    pub fn uninit() -> Repo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("repo");
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).expect("mkdir work");
        Repo {
            path,
            work,
            daemon: None,
            daemons_started: 0,
            tmp,
        }
    }

    /// The running daemon's API multiaddr.
    pub fn api(&self) -> String {
        self.daemon.as_ref().expect("a daemon runs").api.clone()
    }

    /// The running daemon's process ID.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("a daemon runs").child.id()
    }

    /// What the running daemon has logged so far (its stdout and stderr).
    pub fn daemon_log(&self) -> String {
        let d = self.daemon.as_ref().expect("a daemon runs");
        std::fs::read_to_string(&d.log).unwrap_or_default()
    }

    /// Starts `ipfsd daemon` for the repository, listening on 127.0.0.1 only, and waits
    /// until its `api` file names an address that accepts connections.
    pub fn start_daemon(&mut self) {
        self.start_daemon_with(&[]);
    }

    /// [`Repo::start_daemon`] with global flags (e.g. `--offline`: no network, so a
    /// missing block is an error rather than a fetch).
    pub fn start_daemon_with(&mut self, flags: &[&str]) {
        if let Err(log) = self.try_start_daemon_with(flags) {
            panic!("{log}");
        }
    }

    /// Like [`Repo::start_daemon`]; a daemon that exits instead of starting is an `Err`
    /// with its log.
    pub fn try_start_daemon(&mut self) -> Result<(), String> {
        self.try_start_daemon_with(&[])
    }

    /// [`Repo::try_start_daemon`] with global flags.
    pub fn try_start_daemon_with(&mut self, flags: &[&str]) -> Result<(), String> {
        self.try_start_daemon_args(flags, &[])
    }

    /// [`Repo::try_start_daemon`] with global flags and flags of `daemon` itself (e.g.
    /// `--enable-gc`).
    pub fn try_start_daemon_args(
        &mut self,
        flags: &[&str],
        daemon_flags: &[&str],
    ) -> Result<(), String> {
        assert!(self.daemon.is_none(), "a daemon already runs");
        self.daemons_started += 1;
        let log = self
            .tmp
            .path()
            .join(format!("daemon-{}.log", self.daemons_started));
        let file = std::fs::File::create(&log).expect("daemon log");
        let mut child = bin()
            .arg("--repo")
            .arg(&self.path)
            .args(flags)
            .args([
                "daemon",
                "--api-addr",
                "/ip4/127.0.0.1/tcp/0",
                "--gateway-addr",
                "/ip4/127.0.0.1/tcp/0",
                "--swarm-addr",
                "/ip4/127.0.0.1/tcp/0",
            ])
            .args(daemon_flags)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("spawn daemon");
        let api_file = self.path.join("api");
        let deadline = Instant::now() + DAEMON_TIMEOUT;
        let api = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(format!(
                    "the daemon exited ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            let ready = std::fs::read_to_string(&api_file)
                .ok()
                .and_then(|api| Some((socket_addr(&api)?, api)))
                .filter(|(addr, _)| {
                    std::net::TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok()
                });
            if let Some((addr, api)) = ready {
                assert!(addr.ip().is_loopback(), "the daemon listens on {addr}");
                break api;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the daemon did not start within {DAEMON_TIMEOUT:?}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.daemon = Some(Daemon { child, log, api });
        Ok(())
    }

    /// Stops the daemon: `ipfsd shutdown`, then a kill if it has not exited in time.
    /// Answers whether it stopped by itself. Never panics (it runs in `Drop`).
    pub fn stop_daemon(&mut self) -> bool {
        let Some(mut d) = self.daemon.take() else {
            return true;
        };
        let asked = bin()
            .arg("--api")
            .arg(&d.api)
            .arg("shutdown")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
            .map(|mut c| wait_or_kill(&mut c, DAEMON_TIMEOUT));
        let stopped = wait_or_kill(&mut d.child, DAEMON_TIMEOUT);
        let clean =
            matches!(asked, Some(Some(s)) if s.success()) && stopped.is_some_and(|s| s.success());
        if !clean && !std::thread::panicking() {
            eprintln!(
                "daemon log:\n{}",
                std::fs::read_to_string(&d.log).unwrap_or_default()
            );
        }
        clean
    }

    /// SIGKILLs the daemon, leaving its stale `api` file behind.
    pub fn kill_daemon(&mut self) {
        let mut d = self.daemon.take().expect("a daemon runs");
        d.child.kill().expect("kill daemon");
        d.child.wait().expect("wait daemon");
    }

    /// `ipfsd --repo <path> <args>`, run in the work directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.arg("--repo")
            .arg(&self.path)
            .args(args)
            .current_dir(&self.work);
        c
    }

    /// Runs a command with stdin closed.
    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.cmd(args), None)
    }

    /// Runs a command with `input` on stdin.
    pub fn run_in(&self, args: &[&str], input: &[u8]) -> Output {
        run(&mut self.cmd(args), Some(input.to_vec()))
    }

    /// Runs a command that must succeed quietly; its stdout as text.
    pub fn ok(&self, args: &[&str]) -> String {
        text(expect_ok(args, self.run(args)))
    }

    /// Like [`Repo::ok`], with `input` on stdin.
    pub fn ok_in(&self, args: &[&str], input: &[u8]) -> String {
        text(expect_ok(args, self.run_in(args, input)))
    }

    /// Runs a command that must succeed quietly; its stdout as bytes.
    pub fn ok_bytes(&self, args: &[&str]) -> Vec<u8> {
        expect_ok(args, self.run(args))
    }

    /// Runs a command that must fail cleanly; its one `Error: ...` line (without newline).
    pub fn fail(&self, args: &[&str]) -> String {
        expect_error(args, &self.run(args))
    }

    /// Like [`Repo::fail`], with `input` on stdin.
    pub fn fail_in(&self, args: &[&str], input: &[u8]) -> String {
        expect_error(args, &self.run_in(args, input))
    }

    /// Writes `data` to `work/<rel>` (creating parents) and answers the path.
    pub fn file(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.work.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, data).expect("write file");
        p
    }

    /// Creates the directory `work/<rel>` (and parents).
    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = self.work.join(rel);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    }

    /// `add -Q <args>`: the root CID.
    pub fn add(&self, args: &[&str]) -> String {
        let mut all = vec!["add", "-Q"];
        all.extend_from_slice(args);
        self.ok(&all).trim_end().to_string()
    }

    /// `cat <path>` as bytes.
    pub fn cat(&self, path: &str) -> Vec<u8> {
        self.ok_bytes(&["cat", path])
    }

    /// The multihashes of every stored block (from `refs local`).
    pub fn local(&self) -> BTreeSet<Vec<u8>> {
        self.ok(&["refs", "local"]).lines().map(multihash).collect()
    }

    /// Runs `repo gc`; answers the multihashes it reports removed and its line count.
    pub fn gc(&self) -> (BTreeSet<Vec<u8>>, usize) {
        let out = self.ok(&["repo", "gc"]);
        let removed = out
            .lines()
            .map(|l| {
                multihash(
                    l.strip_prefix("removed ")
                        .unwrap_or_else(|| panic!("bad gc line {l:?}")),
                )
            })
            .collect();
        (removed, out.lines().count())
    }

    /// `NumObjects` from `repo stat`.
    pub fn num_objects(&self) -> u64 {
        stat_field(&self.ok(&["repo", "stat"]), "NumObjects")
            .parse()
            .expect("NumObjects is a number")
    }

    /// The pins, as `pin ls` prints them, sorted.
    pub fn pins(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&["pin", "ls"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// Waits up to `timeout` for the child, then kills it; its status if it exited by itself.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A port on 127.0.0.1 that the test holds and nothing listens on: a socket bound to it
/// but not listening (connections are refused), so no other process can take the port
/// while the socket lives. Answers the socket and the `/ip4/127.0.0.1/tcp/<port>` address.
pub fn held_port() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4()
        .and_then(|s| s.bind(([127, 0, 0, 1], 0).into()).map(|()| s))
        .expect("bind a port");
    let port = socket.local_addr().expect("bound port").port();
    (socket, format!("/ip4/127.0.0.1/tcp/{port}"))
}

/// The socket address of an `/ip4/<ip>/tcp/<port>` multiaddr.
pub fn socket_addr(api: &str) -> Option<std::net::SocketAddr> {
    let parts: Vec<&str> = api.trim().split('/').collect();
    match parts[..] {
        ["", "ip4", ip, "tcp", port] => Some(std::net::SocketAddr::new(
            ip.parse().ok()?,
            port.parse().ok()?,
        )),
        _ => None,
    }
}

/// The binary with a scrubbed environment: no `IPFSD_PATH`, and a `HOME` that does not
/// exist, so a command that ignored `--repo` could never touch a real repository.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ipfsd"));
    c.env_remove("IPFSD_PATH")
        .env("HOME", "/nonexistent/ipfsd-test-home")
        .env_remove("RUST_BACKTRACE");
    c
}

/// Runs `cmd` to completion (stdin closed, or fed `input` from a thread), collecting its
/// output, within [`TIMEOUT`].
pub fn run(cmd: &mut Command, input: Option<Vec<u8>>) -> Output {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ipfsd");
    let stdin = child.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let (Some(mut pipe), Some(data)) = (stdin, input) {
            // The command may legitimately stop reading (an error): ignore EPIPE.
            let _ = pipe.write_all(&data);
        }
    });
    let (out, err) = drain(&mut child);
    let status = wait_deadline(&mut child, TIMEOUT);
    feeder.join().expect("stdin feeder");
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Starts threads reading the child's stdout and stderr to the end.
pub fn drain(child: &mut Child) -> (JoinHandle<Vec<u8>>, JoinHandle<Vec<u8>>) {
    (read_all(child.stdout.take()), read_all(child.stderr.take()))
}

fn read_all(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for the child; kills it (and fails the test) after `timeout`.
pub fn wait_deadline(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ipfsd (pid {}) did not finish within {timeout:?}",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "ipfsd {}\nstatus: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(2000)]),
        String::from_utf8_lossy(&out.stderr),
    )
}

/// Asserts success with an empty stderr; answers stdout.
pub fn expect_ok(args: &[&str], out: Output) -> Vec<u8> {
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "expected success:\n{}",
        describe(args, &out)
    );
    out.stdout
}

/// Asserts a clean failure: non-zero exit, no panic, stderr exactly one line starting with
/// `Error: `. Answers that line.
pub fn expect_error(args: &[&str], out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let ctx = describe(args, out);
    assert!(!out.status.success(), "expected failure:\n{ctx}");
    assert_eq!(out.status.code(), Some(1), "expected exit code 1:\n{ctx}");
    assert!(!err.contains("panicked"), "panic:\n{ctx}");
    assert!(
        err.starts_with("Error: ") && err.ends_with('\n'),
        "expected `Error: ...` line:\n{ctx}"
    );
    assert_eq!(
        err.lines().count(),
        1,
        "expected exactly one stderr line:\n{ctx}"
    );
    err.trim_end().to_string()
}

/// Stdout as UTF-8 text.
pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("stdout is UTF-8")
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The multihash bytes of a CID string (so CIDv0 and CIDv1 of one block compare equal).
pub fn multihash(cid: &str) -> Vec<u8> {
    dag::block::parse_cid(cid.trim())
        .expect("valid CID")
        .hash()
        .to_bytes()
}

/// Multihashes of a DAG's blocks: the root and everything `refs -r` reaches.
pub fn dag_blocks(r: &Repo, root: &str) -> BTreeSet<Vec<u8>> {
    let mut all: BTreeSet<Vec<u8>> = r.ok(&["refs", "-r", root]).lines().map(multihash).collect();
    all.insert(multihash(root));
    all
}

/// The value of `Key: value` in `repo stat` output.
pub fn stat_field(stat: &str, key: &str) -> String {
    stat.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {stat:?}"))
        .trim()
        .to_string()
}

/// An HTTP client for the daemon's API and gateway: statuses are answers, not errors,
/// and every request ends within a minute.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// Deterministic pseudo-random bytes (xorshift64), different per seed.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Asserts two trees are identical: same names, types, file bytes and symlink targets.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ma, mb) = (
        std::fs::symlink_metadata(a).expect("stat a"),
        std::fs::symlink_metadata(b).expect("stat b"),
    );
    let kind = |m: &std::fs::Metadata| (m.is_dir(), m.is_file(), m.file_type().is_symlink());
    assert_eq!(
        kind(&ma),
        kind(&mb),
        "{} and {} differ in type",
        a.display(),
        b.display()
    );
    if ma.file_type().is_symlink() {
        assert_eq!(
            std::fs::read_link(a).expect("readlink"),
            std::fs::read_link(b).expect("readlink")
        );
    } else if ma.is_file() {
        assert!(
            std::fs::read(a).expect("read") == std::fs::read(b).expect("read"),
            "{} differs",
            b.display()
        );
    } else {
        let names = |p: &Path| -> BTreeSet<std::ffi::OsString> {
            std::fs::read_dir(p)
                .expect("read_dir")
                .map(|e| e.expect("entry").file_name())
                .collect()
        };
        let (na, nb) = (names(a), names(b));
        assert_eq!(
            na,
            nb,
            "entries of {} and {} differ",
            a.display(),
            b.display()
        );
        for n in na {
            assert_same_tree(&a.join(&n), &b.join(&n));
        }
    }
}
