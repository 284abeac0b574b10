//! `ipfsd pin add|rm|ls|verify`.

use super::read::bool_str;
use super::{Ctx, parse_bool};
use crate::output::ignore_broken_pipe;
use crate::remote::{self, Client};
use anyhow::{Context, Result};
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
    match ctx.client()? {
        Some(client) => run_remote(&client, cmd),
        None => run_local(ctx, cmd),
    }
}

fn how(recursive: bool) -> &'static str {
    if recursive { "recursively" } else { "directly" }
}

/// Prints `pin ls` rows: `<cid> <type>`, or only the CID.
fn print_pins(rows: impl IntoIterator<Item = Result<(String, String)>>, quiet: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for row in rows {
        let (cid, label) = row?;
        let line = if quiet { cid } else { format!("{cid} {label}") };
        ignore_broken_pipe(writeln!(out, "{line}"))?;
    }
    Ok(())
}

/// One pinned DAG's check: its root, what is wrong below it (empty when fine), and the
/// blocks in it whose codec ipfsd cannot follow (`<cid> (codec 0x…)`).
struct PinCheck {
    cid: String,
    problems: Vec<String>,
    unfollowed: Vec<String>,
}

/// How `pin verify` names a block whose codec cannot be followed.
fn unfollowed(cid: &str, codec: &str) -> String {
    format!("{cid} (codec {codec})")
}

/// Prints `pin verify` results; fails (without an error line) when a pin is broken.
fn print_checks(
    checks: impl IntoIterator<Item = Result<PinCheck>>,
    verbose: bool,
    quiet: bool,
) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut broken = 0;
    for check in checks {
        let check = check?;
        let ok = check.problems.is_empty();
        if !ok {
            broken += 1;
        }
        // A pin with blocks ipfsd cannot follow is always named: what they link to is not
        // protected by it.
        let note = check.unfollowed.is_empty();
        if ok && !verbose && (note || quiet) {
            continue;
        }
        let note = if note {
            String::new()
        } else {
            format!("; links not followed in {}", check.unfollowed.join(", "))
        };
        let line = if quiet {
            check.cid
        } else if ok {
            format!("{} ok{note}", check.cid)
        } else {
            format!("{} broken: {}{note}", check.cid, check.problems.join("; "))
        };
        ignore_broken_pipe(writeln!(out, "{line}"))?;
    }
    Ok(if broken > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_local(ctx: &Ctx, cmd: PinCommand) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store().clone();
    let store = &store;
    match cmd {
        // Pinning and unpinning go through the node (offline), as the daemon's do.
        PinCommand::Add { paths, recursive } => {
            let recursive = recursive.unwrap_or(true);
            super::name::with_offline_node(repo, |node| async move {
                let mut out = std::io::stdout().lock();
                for p in paths {
                    let cid = node.pin().add(&p, recursive).await?;
                    ignore_broken_pipe(writeln!(out, "pinned {cid} {}", how(recursive)))?;
                }
                Ok(())
            })?;
        }
        PinCommand::Rm { paths } => {
            super::name::with_offline_node(repo, |node| async move {
                let mut out = std::io::stdout().lock();
                for p in paths {
                    let (cid, _) = node.pin().rm(&p).await?;
                    ignore_broken_pipe(writeln!(out, "unpinned {cid}"))?;
                }
                Ok(())
            })?;
        }
        PinCommand::Ls { paths, kind, quiet } => {
            let rows = node::ops::pin_list(store, node::ops::PinTypes::parse(&kind)?, &paths)?;
            print_pins(rows.into_iter().map(Ok), quiet)?;
        }
        PinCommand::Verify { verbose, quiet } => {
            let checks = store.pin_verify()?.into_iter().map(|report| {
                Ok(PinCheck {
                    cid: report.cid.to_string(),
                    problems: report.problems.iter().map(ToString::to_string).collect(),
                    unfollowed: report
                        .unfollowed
                        .iter()
                        .map(|c| unfollowed(&c.to_string(), &dag::Codec::of(c).to_string()))
                        .collect(),
                })
            });
            return print_checks(checks, verbose, quiet);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_remote(client: &Client, cmd: PinCommand) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        // Path by path, so those before a bad path are pinned and printed, as offline.
        PinCommand::Add { paths, recursive } => {
            let recursive = recursive.unwrap_or(true);
            for p in paths {
                let answer = client.json(
                    "pin/add",
                    &[("arg", &p), ("recursive", bool_str(recursive))],
                )?;
                for cid in pinned(&answer)? {
                    ignore_broken_pipe(writeln!(out, "pinned {cid} {}", how(recursive)))?;
                }
            }
        }
        PinCommand::Rm { paths } => {
            for p in paths {
                for cid in pinned(&client.json("pin/rm", &[("arg", &p)])?)? {
                    ignore_broken_pipe(writeln!(out, "unpinned {cid}"))?;
                }
            }
        }
        PinCommand::Ls { paths, kind, quiet } => {
            node::ops::PinTypes::parse(&kind)?; // refused client-side, as offline
            let mut q: Vec<(&str, &str)> = paths.iter().map(|p| ("arg", p.as_str())).collect();
            q.extend([("type", kind.as_str()), ("stream", "true")]);
            let rows = remote::lines(client.post("pin/ls", &q)?)
                .map(|l| l.map(|l| (remote::field(&l, "Cid"), remote::field(&l, "Type"))));
            print_pins(rows, quiet)?;
        }
        PinCommand::Verify { verbose, quiet } => {
            let body = client.post("pin/verify", &[("verbose", bool_str(verbose))])?;
            let checks = remote::lines(body).map(|l| {
                let l = l?;
                let bad = l["BadNodes"].as_array().cloned().unwrap_or_default();
                let problems = bad
                    .iter()
                    .map(|b| match remote::field(b, "Cid") {
                        cid if cid.is_empty() => remote::field(b, "Err"),
                        cid => format!("{} {cid}", remote::field(b, "Err")),
                    })
                    .collect();
                let unfollowed = l["Unfollowed"]
                    .as_array()
                    .map(|u| {
                        u.iter()
                            .map(|b| {
                                unfollowed(&remote::field(b, "Cid"), &remote::field(b, "Codec"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(PinCheck {
                    cid: remote::field(&l, "Cid"),
                    problems,
                    unfollowed,
                })
            });
            return print_checks(checks, verbose, quiet);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The CIDs of a `pin/add` or `pin/rm` answer.
fn pinned(answer: &serde_json::Value) -> Result<Vec<String>> {
    let pins = answer["Pins"]
        .as_array()
        .with_context(|| format!("the daemon's answer has no pins: {answer}"))?;
    Ok(pins
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect())
}
