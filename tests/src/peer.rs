//! A reference peer driven line by line: a child process (`kubo.py peer`,
//! `helia-peer.mjs`) that prints one JSON line when it is up, then answers each command
//! written to its stdin with exactly one JSON line. Every wait is bounded; the child runs
//! in its own process group ([`crate::script::Group`]) and is told to quit (then the group
//! is stopped) when the handle drops, also when a test panics.

use crate::script::Group;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a peer gets to quit before it is killed.
const QUIT_GRACE: Duration = Duration::from_secs(10);

/// A running line-protocol peer.
pub struct LinePeer {
    name: String,
    child: Group,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// The JSON line it printed when it came up.
    pub ready: Value,
}

impl std::fmt::Debug for LinePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinePeer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LinePeer {
    /// Starts `cmd` and waits (at most `timeout`) for its first line, which must be a JSON
    /// object with `"ok": true`. Panics otherwise (with the peer's name).
    pub fn spawn(name: &str, mut cmd: Command, timeout: Duration) -> LinePeer {
        let mut child = Group::spawn(
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let stdout = child.child().stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = LinePeer {
            name: name.to_string(),
            stdin: child.child().stdin.take(),
            child,
            lines,
            ready: Value::Null,
        };
        peer.ready = peer.next_line(timeout, "its ready line");
        assert_eq!(
            peer.ready["ok"], true,
            "{name} did not come up: {}",
            peer.ready
        );
        peer
    }

    fn next_line(&mut self, timeout: Duration, what: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => {
                    return serde_json::from_str(&line).unwrap_or_else(|e| {
                        panic!("{}: {what} is not JSON ({e}): {line}", self.name)
                    });
                }
                Err(_) => panic!("{}: no answer ({what}) within {timeout:?}", self.name),
            }
        }
    }

    /// Sends one command line and returns its JSON answer (waiting at most `timeout`).
    pub fn call(&mut self, line: &str, timeout: Duration) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot send {line:?}: {e}", self.name));
        self.next_line(timeout, line)
    }

    /// Like [`LinePeer::call`], panicking unless the answer has `"ok": true`.
    pub fn ok(&mut self, line: &str, timeout: Duration) -> Value {
        let v = self.call(line, timeout);
        assert_eq!(v["ok"], true, "{}: {line:?} failed: {v}", self.name);
        v
    }
}

impl Drop for LinePeer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit");
        }
        if self.child.wait_until(Instant::now() + QUIT_GRACE).is_none() {
            self.child.stop();
        }
    }
}
