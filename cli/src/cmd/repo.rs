//! `ipfsd init` and `ipfsd repo gc|stat|verify`.

use super::Ctx;
use crate::output::ignore_broken_pipe;
use anyhow::{Context, Result};
use dag::import::Profile;
use node::config::ImportConfig;
use node::{Config, Repo};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Import profile written into the config: unixfs-v0-2015 (default) or unixfs-v1-2025.
    #[arg(long)]
    profile: Option<String>,
}

pub fn init(ctx: &Ctx, args: InitArgs) -> Result<ExitCode> {
    let mut config = Config::default();
    if let Some(name) = &args.profile {
        let profile = Profile::from_name(name).with_context(|| {
            format!("unknown profile {name:?} (expected unixfs-v0-2015 or unixfs-v1-2025)")
        })?;
        config.import = ImportConfig::from_params(&profile.params(), None);
    }
    let repo = Repo::init(&ctx.repo_path, &config)?;
    println!("initialized ipfsd repository at {}", repo.path().display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// Remove every block not reachable from a pin.
    Gc {
        /// Print nothing per removed block.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show repository statistics.
    Stat {
        /// Print sizes in human units.
        #[arg(short = 'H', long)]
        human: bool,
    },
    /// Re-hash every stored block and report those that do not match.
    Verify,
}

pub fn run(ctx: &Ctx, cmd: RepoCommand) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        RepoCommand::Gc { quiet } => {
            let report = store.gc()?;
            if !quiet {
                for cid in &report.removed {
                    ignore_broken_pipe(writeln!(out, "removed {cid}"))?;
                }
            }
        }
        RepoCommand::Stat { human } => {
            let s = store.stat()?;
            let size = |n: u64| if human { human_bytes(n) } else { n.to_string() };
            let text = format!(
                "NumObjects: {}\nRepoSize:   {}\nDataSize:   {}\nRepoPath:   {}\nVersion:    ipfsd-repo@{}\n",
                s.num_blocks,
                size(s.file_size),
                size(s.total_size),
                repo.path().display(),
                node::repo::REPO_VERSION,
            );
            ignore_broken_pipe(out.write_all(text.as_bytes()))?;
        }
        RepoCommand::Verify => {
            let report = store.verify()?;
            for cid in &report.corrupt {
                ignore_broken_pipe(writeln!(out, "block {cid} is corrupt"))?;
            }
            for cid in &report.unverifiable {
                ignore_broken_pipe(writeln!(
                    out,
                    "block {cid} uses a hash function that cannot be checked"
                ))?;
            }
            if !report.corrupt.is_empty() {
                anyhow::bail!(
                    "verify complete, {} of {} blocks are corrupt",
                    report.corrupt.len(),
                    report.checked
                );
            }
            ignore_broken_pipe(writeln!(out, "verified {} blocks: repo ok", report.checked))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
