//! Running a reference script (`node tests/interop/X.mjs ...`) with a deadline: its exit
//! status (`None` when it was killed at the deadline), its output, and how long it took.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a script did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status; `None` when killed at the deadline.
    pub status: Option<std::process::ExitStatus>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `node SCRIPT ARGS...`, killing it past `timeout`.
pub fn run_node(
    script: &Path,
    args: &[&std::ffi::OsStr],
    timeout: Duration,
) -> std::io::Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "running node {} (is Node.js >= 20 installed?): {e}",
                    script.display()
                ),
            )
        })?;
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    Ok(Outcome {
        status,
        stdout: text(out),
        stderr: text(err),
        elapsed: start.elapsed(),
    })
}
