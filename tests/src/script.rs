//! Running a reference script (`node tests/interop/X.mjs ...`, `python3 kubo.py ...`) with
//! a deadline. This is the one place that enforces it: every script a test starts runs in
//! its own process group ([`Group`]), and past its deadline the whole group is stopped
//! (SIGTERM, then SIGKILL after [`TERM_GRACE`]), so a hung script — or a helper process it
//! started — fails the test instead of hanging it.
//!
//! Data flow: [`run`] spawns the command as a [`Group`], drains its stdout and stderr on two
//! threads, waits until it exits or its deadline passes, and answers an [`Outcome`] (status
//! `None` when it was killed). [`Outcome::stdout_if_ok`] turns an outcome into the script's
//! stdout or an error naming the script, its status and its stderr. Long-running peers
//! ([`crate::peer::LinePeer`], the Kubo DHT peers) hold a [`Group`] directly and stop it
//! when dropped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a process group gets to exit after SIGTERM before it gets SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);
/// How long the output pipes may stay open once the script has exited (a helper process
/// that escaped its group could hold them forever).
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// What a script did.
#[derive(Debug)]
pub struct Outcome {
    /// What ran (for messages).
    pub what: String,
    /// Exit status; `None` when killed at the deadline.
    pub status: Option<ExitStatus>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// The deadline it had.
    pub timeout: Duration,
}

impl Outcome {
    /// Its stdout if it exited with status 0; otherwise an error that says whether it was
    /// killed at its deadline or failed, with its stderr.
    pub fn stdout_if_ok(&self) -> anyhow::Result<&str> {
        match self.status {
            Some(s) if s.success() => Ok(&self.stdout),
            Some(s) => anyhow::bail!(
                "{} failed ({s}) after {:?}: {}\n(run `bash scripts/setup-peers.sh` to install the reference peers)",
                self.what,
                self.elapsed,
                self.stderr.trim_end()
            ),
            None => anyhow::bail!(
                "{} did not finish within its deadline of {:?}: killed. stderr: {}",
                self.what,
                self.timeout,
                self.stderr.trim_end()
            ),
        }
    }
}

/// A child process leading its own process group; the group is stopped when dropped (also
/// when a test panics).
#[derive(Debug)]
pub struct Group {
    child: Child,
    status: Option<ExitStatus>,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Group> {
        let child = cmd.process_group(0).spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot start {:?}: {e}", cmd.get_program()),
            )
        })?;
        Ok(Group {
            child,
            status: None,
        })
    }

    /// The leader, to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The leader's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The leader's exit status, if it has exited (it is reaped then).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the leader to exit by itself until `deadline`.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the whole group. Only while the leader is not reaped: its process
    /// id (the group's id) cannot have been reused then.
    fn signal(&mut self, signal: &str) {
        if self.try_status().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Stops the group if its leader still runs: SIGTERM, then SIGKILL after
    /// [`TERM_GRACE`]; reaps the leader. Its status if it exited by itself before.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(s) = self.try_status() {
            return Some(s);
        }
        self.signal("TERM");
        if self.wait_until(Instant::now() + TERM_GRACE).is_none() {
            self.signal("KILL");
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        None
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `r` to its end on a thread; the text arrives on the receiver.
fn drain(r: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Runs `cmd` (stdin closed, output captured) in its own process group, stopping the group
/// past `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> std::io::Result<Outcome> {
    let what = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let start = Instant::now();
    let mut group = Group::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let out = drain(group.child().stdout.take());
    let err = drain(group.child().stderr.take());
    let status = match group.wait_until(start + timeout) {
        Some(s) => Some(s),
        None => {
            group.stop();
            None
        }
    };
    let text = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(PIPE_GRACE)
            .unwrap_or_else(|_| format!("(output still open {PIPE_GRACE:?} after exit)"))
    };
    Ok(Outcome {
        what,
        status,
        stdout: text(out),
        stderr: text(err),
        elapsed: start.elapsed(),
        timeout,
    })
}

/// Checks a CAR with the JS reference (`tests/interop/car-verify.mjs`: `@ipld/car` and
/// multiformats, every block hashed with its own function) for the content path `target`,
/// optionally an entity-bytes `range` (offset, length); answers the script's JSON report
/// (panics unless it ran and succeeded).
pub fn car_verify(car: &[u8], target: &str, range: Option<(u64, u64)>) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("x.car");
    std::fs::write(&file, car).expect("write the CAR");
    let script = crate::workspace_root().join("tests/interop/car-verify.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script).arg(&file).arg(target);
    if let Some((o, l)) = range {
        cmd.arg(o.to_string()).arg(l.to_string());
    }
    let out = run(&mut cmd, Duration::from_secs(60)).expect("run node");
    let stdout = out
        .stdout_if_ok()
        .unwrap_or_else(|e| panic!("car-verify.mjs: {e:#}"));
    serde_json::from_str(stdout).expect("JSON")
}

/// Runs `node SCRIPT ARGS...` with [`run`].
pub fn run_node(
    script: &Path,
    args: &[&std::ffi::OsStr],
    timeout: Duration,
) -> std::io::Result<Outcome> {
    run(Command::new("node").arg(script).args(args), timeout).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "running node {} (is Node.js >= 20 installed?): {e}",
                script.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script that hangs — and leaves a grandchild holding its output pipe — is killed
    /// with its whole group at the deadline, and the caller is told so.
    #[test]
    fn a_hung_script_and_its_children_are_killed_at_the_deadline() {
        let o = run(
            Command::new("sh").args(["-c", "sleep 600 & echo started; wait"]),
            Duration::from_millis(500),
        )
        .expect("sh runs");
        assert!(o.status.is_none(), "{o:?}");
        assert_eq!(o.stdout, "started\n", "{o:?}");
        let e = o.stdout_if_ok().expect_err("killed is not ok").to_string();
        assert!(e.contains("did not finish within"), "{e}");
        // The grandchild (`sleep 600`) held the pipe: had it survived, stdout would be the
        // "(output still open ...)" placeholder, not what the script printed.
    }

    #[test]
    fn a_failing_script_is_an_error_with_its_stderr() {
        let o = run(
            Command::new("sh").args(["-c", "echo nope >&2; exit 4"]),
            Duration::from_secs(20),
        )
        .expect("sh runs");
        assert_eq!(o.status.and_then(|s| s.code()), Some(4));
        let e = o.stdout_if_ok().expect_err("exit 4").to_string();
        assert!(e.contains("nope"), "{e}");
        let o = run(
            Command::new("sh").args(["-c", "echo yes"]),
            Duration::from_secs(20),
        )
        .expect("sh runs");
        assert_eq!(o.stdout_if_ok().expect("ok"), "yes\n");
    }
}
