//! Output helpers: error lines, aligned columns, and writing to a stdout that may close.

use std::io::{self, Write};

/// Prints `Error: ...` with the cause chain, skipping causes already quoted by the message.
pub fn print_error(err: &anyhow::Error) {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    let _ = writeln!(io::stderr().lock(), "Error: {line}");
}

/// Writes rows as columns separated by at least one space (like Go's tabwriter).
pub fn columns(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$} ", w = widths[i]));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `println!` for a command's output. Stdout closed by its reader (`ipfsd swarm peers |
/// head -1`) is no failure: the rest of the output is dropped and the command still does
/// its work (`get` prints before it downloads) and succeeds, as `add` into a closed pipe
/// does, where `println!` panics. Any other write error ends the command with the error.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($t:tt)*) => {
        $crate::output::line(format_args!($($t)*))
    };
}
pub(crate) use outln;

/// Set once stdout's reader went away: later lines are not written.
static STDOUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes one line of output (see [`outln`]).
pub fn line(args: std::fmt::Arguments<'_>) {
    use std::sync::atomic::Ordering;
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    match writeln!(out, "{args}") {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_GONE.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            print_error(&anyhow::Error::new(e).context("cannot write the output"));
            std::process::exit(1);
        }
    }
}

/// Whether stdout's reader went away (a command printing until interrupted stops then).
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(std::sync::atomic::Ordering::Relaxed)
}

/// A daemon's status line: written if stdout still takes it (a daemon keeps running when
/// whoever read its first lines went away).
pub fn status(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stdout().lock(), "{args}");
}

/// Treats a closed pipe on stdout (`ipfsd cat x | head`) as success.
pub fn ignore_broken_pipe(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
