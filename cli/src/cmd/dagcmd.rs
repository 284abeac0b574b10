//! `ipfsd dag import|export`: DAGs as CAR v1 files.

use super::{Ctx, parse_bool, resolve};
use crate::output::ignore_broken_pipe;
use anyhow::{Context, Result};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum DagCommand {
    /// Write the DAG under a root as a CAR v1 stream to stdout.
    Export {
        /// <cid>[/path] of the root.
        root: String,
    },
    /// Import blocks from CAR files (or stdin); every block is verified first.
    Import {
        /// CAR files; stdin when none.
        files: Vec<PathBuf>,
        /// Pin the roots named in each CAR header [default: true].
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
        pin_roots: Option<bool>,
        /// Print block counts.
        #[arg(long)]
        stats: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: DagCommand) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    match cmd {
        DagCommand::Export { root } => {
            let cid = resolve(store, &root)?;
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            match dag::car::export(store, &cid, &mut out) {
                Err(dag::car::CarError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => {
                    other?;
                }
            }
            ignore_broken_pipe(out.flush())?;
        }
        DagCommand::Import {
            files,
            pin_roots,
            stats,
        } => {
            let pin = pin_roots.unwrap_or(true);
            let inputs: Vec<Option<PathBuf>> = if files.is_empty() {
                vec![None]
            } else {
                files.into_iter().map(Some).collect()
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for input in inputs {
                let report = match &input {
                    Some(p) => {
                        let f = std::fs::File::open(p)
                            .with_context(|| format!("opening {}", p.display()))?;
                        dag::car::import(store, BufReader::with_capacity(1 << 20, f), pin)
                    }
                    None => dag::car::import(store, BufReader::new(std::io::stdin()), pin),
                }?;
                if pin {
                    for root in &report.roots {
                        ignore_broken_pipe(writeln!(out, "Pinned root\t{root}\tsuccess"))?;
                    }
                }
                if stats {
                    ignore_broken_pipe(writeln!(
                        out,
                        "Imported {} blocks ({} bytes)",
                        report.blocks, report.bytes
                    ))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
