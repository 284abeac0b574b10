//! `ipfsd pin add|rm|ls|verify`.

use super::{Ctx, parse_bool, resolve};
use crate::output::ignore_broken_pipe;
use anyhow::{Result, bail};
use dag::store::{PinKind, PinMode, PinProblem};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum PinCommand {
    /// Pin objects (recursively by default).
    Add {
        /// <cid>[/path] to pin.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Pin the whole DAG [default: true]; false pins only the block.
        #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
        recursive: Option<bool>,
    },
    /// Remove pins.
    Rm {
        /// <cid>[/path] to unpin.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// List pins.
    Ls {
        /// Only these CIDs (and say how each is pinned).
        paths: Vec<String>,
        /// recursive, direct, indirect or all.
        #[arg(short = 't', long = "type", default_value = "all")]
        kind: String,
        /// Print only the CIDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Check that every pinned DAG is complete and intact.
    Verify {
        /// Also print the pins that are fine.
        #[arg(long)]
        verbose: bool,
        /// Print only the CIDs of broken pins.
        #[arg(short, long)]
        quiet: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: PinCommand) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        PinCommand::Add { paths, recursive } => {
            let mode = if recursive.unwrap_or(true) {
                PinMode::Recursive
            } else {
                PinMode::Direct
            };
            for p in paths {
                let cid = resolve(store, &p)?;
                store.pin_add(&cid, mode)?;
                let how = if mode == PinMode::Recursive {
                    "recursively"
                } else {
                    "directly"
                };
                ignore_broken_pipe(writeln!(out, "pinned {cid} {how}"))?;
            }
        }
        PinCommand::Rm { paths } => {
            for p in paths {
                let cid = resolve(store, &p)?;
                store.pin_rm(&cid)?;
                ignore_broken_pipe(writeln!(out, "unpinned {cid}"))?;
            }
        }
        PinCommand::Ls { paths, kind, quiet } => {
            let (rec, dir, ind) = match kind.as_str() {
                "all" => (true, true, true),
                "recursive" => (true, false, false),
                "direct" => (false, true, false),
                "indirect" => (false, false, true),
                other => {
                    bail!("invalid pin type {other:?}: expected recursive, direct, indirect or all")
                }
            };
            let mut rows: Vec<(String, String)> = Vec::new();
            if paths.is_empty() {
                for (cid, mode) in store.pins()? {
                    if (mode == PinMode::Recursive && rec) || (mode == PinMode::Direct && dir) {
                        rows.push((cid.to_string(), mode.to_string()));
                    }
                }
                if ind {
                    rows.extend(
                        store
                            .indirect_pins()?
                            .into_iter()
                            .map(|c| (c.to_string(), "indirect".into())),
                    );
                }
            } else {
                for p in paths {
                    let cid = resolve(store, &p)?;
                    let label = match store.pin_status(&cid)? {
                        Some(PinKind::Recursive) if rec => "recursive".to_string(),
                        Some(PinKind::Direct) if dir => "direct".to_string(),
                        Some(PinKind::Indirect { via }) if ind => format!("indirect through {via}"),
                        _ => bail!("path '{p}' is not pinned"),
                    };
                    rows.push((cid.to_string(), label));
                }
            }
            for (cid, label) in rows {
                let line = if quiet { cid } else { format!("{cid} {label}") };
                ignore_broken_pipe(writeln!(out, "{line}"))?;
            }
        }
        PinCommand::Verify { verbose, quiet } => {
            let mut broken = 0;
            for report in store.pin_verify()? {
                let ok = report.is_ok();
                if !ok {
                    broken += 1;
                }
                if ok && !verbose {
                    continue;
                }
                let line = if quiet {
                    report.cid.to_string()
                } else if ok {
                    format!("{} ok", report.cid)
                } else {
                    let problems: Vec<String> = report.problems.iter().map(describe).collect();
                    format!("{} broken: {}", report.cid, problems.join("; "))
                };
                ignore_broken_pipe(writeln!(out, "{line}"))?;
            }
            if broken > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(p: &PinProblem) -> String {
    match p {
        PinProblem::Missing { cid } => format!("missing block {cid}"),
        PinProblem::Corrupt { cid } => format!("corrupt block {cid}"),
        PinProblem::Undecodable { cid } => format!("undecodable block {cid}"),
        other => format!("{other:?}"),
    }
}
