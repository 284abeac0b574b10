//! `ipfsd add`: import files, directories or stdin.

use super::{Ctx, parse_bool};
use anyhow::{Context, Result, bail};
use dag::Version;
use dag::import::{Added, Discard, Event, Importer, Params, Profile, Sink};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Inputs below this size get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Files or directories to add; reads stdin when none is given.
    paths: Vec<PathBuf>,
    /// Add directories recursively.
    #[arg(short, long)]
    recursive: bool,
    /// Wrap the added files in a directory (reported last, as the root).
    #[arg(short, long)]
    wrap: bool,
    /// Only compute the CIDs; store nothing.
    #[arg(short = 'n', long)]
    only_hash: bool,
    /// CID version (0 or 1). 1 implies --raw-leaves unless that is given.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    cid_version: Option<u8>,
    /// Store file chunks as raw blocks.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    raw_leaves: Option<bool>,
    /// Chunking algorithm: size-N (fixed N-byte chunks).
    #[arg(long, short = 's', value_name = "size-N")]
    chunker: Option<String>,
    /// Pin what is added [default: true].
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pin: Option<bool>,
    /// Print only the CIDs.
    #[arg(short, long)]
    quiet: bool,
    /// Print only the final root CID.
    #[arg(short = 'Q', long)]
    quieter: bool,
    /// Include files whose names start with '.'.
    #[arg(short = 'H', long)]
    hidden: bool,
    /// Import profile: unixfs-v0-2015 or unixfs-v1-2025.
    #[arg(long)]
    profile: Option<String>,
    /// Maximum links per file node (overrides the profile).
    #[arg(long, hide = true)]
    max_links: Option<usize>,
    /// Show a progress bar (default: when stderr is a terminal).
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    progress: Option<bool>,
}

impl AddArgs {
    /// Import parameters: config defaults, then the profile, then explicit flags.
    fn params(&self, config_params: Params) -> Result<Params> {
        let mut p = match &self.profile {
            Some(name) => Profile::from_name(name)
                .with_context(|| {
                    format!("unknown profile {name:?} (expected unixfs-v0-2015 or unixfs-v1-2025)")
                })?
                .params(),
            None => config_params,
        };
        if let Some(v) = self.cid_version {
            p.cid_version = if v == 0 { Version::V0 } else { Version::V1 };
            if self.raw_leaves.is_none() {
                p.raw_leaves = v == 1;
            }
        }
        if let Some(raw) = self.raw_leaves {
            p.raw_leaves = raw;
        }
        if let Some(c) = &self.chunker {
            p.chunk_size = dag::chunker::parse_chunker(c).with_context(|| {
                format!("invalid chunker {c:?}: expected size-N with 1 <= N <= 2097152")
            })?;
        }
        if let Some(n) = self.max_links {
            p.max_links = n;
        }
        p.hidden = self.hidden;
        Ok(p)
    }
}

pub fn run(ctx: &Ctx, args: AddArgs) -> Result<ExitCode> {
    // Only-hash needs no store, so it also works while a daemon holds the repository.
    let (repo, config_params) = if args.only_hash {
        let params = match ctx.config() {
            Ok(c) => c.import.params()?,
            Err(_) => Params::default(),
        };
        (None, params)
    } else {
        let repo = ctx.repo()?;
        let params = repo.config().import.params()?;
        (Some(repo), params)
    };
    let params = args.params(config_params)?;
    for p in &args.paths {
        if !args.recursive && p.is_dir() {
            bail!("{} is a directory, use -r to add directories", p.display());
        }
    }
    let total = args
        .paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| if m.is_file() { m.len() } else { 0 }))
        .sum();
    let show_progress = args
        .progress
        .unwrap_or_else(|| std::io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES);
    let bar = show_progress.then(|| progress_bar(total));

    let roots = match &repo {
        None => import(&args, params, &mut Discard::default(), bar.as_ref())?,
        Some(repo) => {
            let mut writer = repo.store().writer()?;
            let roots = import(&args, params, &mut writer, bar.as_ref())?;
            node::ops::finish_add(repo.store(), writer, &roots, args.pin.unwrap_or(true))?;
            roots
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let (true, Some(last)) = (args.quieter, roots.last()) {
        println!("{}", last.cid);
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = if total > 0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::new_spinner()
    };
    let style = ProgressStyle::with_template(
        "{bytes:>10} / {total_bytes} [{wide_bar}] {percent:>3}% {bytes_per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Imports every input into `sink`, printing entries as Kubo does; returns the roots.
fn import<S: Sink>(
    args: &AddArgs,
    params: Params,
    sink: &mut S,
    bar: Option<&ProgressBar>,
) -> Result<Vec<Added>> {
    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut write_err = None;
    let mut on_event = |e: Event<'_>| match e {
        Event::Progress { bytes } => {
            if let Some(b) = bar {
                b.set_position(bytes);
            }
        }
        Event::Added(a) => {
            if args.quieter {
                return;
            }
            let name = if a.path.is_empty() {
                a.cid.to_string()
            } else {
                a.path.clone()
            };
            let line = if args.quiet {
                format!("{}\n", a.cid)
            } else {
                format!("added {} {}\n", a.cid, name)
            };
            let res = match bar {
                Some(b) => b.suspend(|| out.write_all(line.as_bytes())),
                None => out.write_all(line.as_bytes()),
            };
            if let Err(e) = res {
                write_err.get_or_insert(e);
            }
        }
    };
    let mut importer = Importer::new(params, sink)?.on_event(&mut on_event);
    let mut roots = Vec::new();
    if args.paths.is_empty() {
        let stdin = std::io::stdin();
        roots.push(importer.add_reader(stdin, "")?);
    } else {
        roots = importer.add_paths(&args.paths, args.recursive, args.wrap)?;
    }
    match write_err {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(roots),
    }
}
