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

/// Treats a closed pipe on stdout (`ipfsd cat x | head`) as success.
pub fn ignore_broken_pipe(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
