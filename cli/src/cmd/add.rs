//! `ipfsd add`: import files, directories or stdin.

use super::read::bool_str;
use super::upload::AddBody;
use super::{Ctx, parse_bool};
use crate::remote::{self, Client};
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
    /// Hash function (Kubo's names: sha2-256, sha2-512, sha3-256, sha3-512, keccak-256,
    /// blake2b-256, blake2b-512, blake2s-256, blake3, identity). Anything but sha2-256
    /// makes CIDv1 (and raw leaves unless --raw-leaves is given).
    #[arg(long, value_name = "NAME")]
    hash: Option<String>,
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
    fn params(&self, config_params: Params, config_raw_leaves: bool) -> Result<Params> {
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
        if let Some(name) = &self.hash {
            let hash = dag::HashFn::from_name(name)?;
            let raw_leaves_set =
                self.raw_leaves.is_some() || (self.profile.is_none() && config_raw_leaves);
            p.set_hash(hash, self.cid_version.is_some(), raw_leaves_set)?;
        }
        p.hidden = self.hidden;
        Ok(p)
    }
}

pub fn run(ctx: &Ctx, args: AddArgs) -> Result<ExitCode> {
    let client = ctx.client()?;
    // Only-hash needs no store, so it also works while a daemon holds the repository.
    let (repo, config_params, config_raw_leaves) = if client.is_some() {
        (None, Params::default(), false)
    } else if args.only_hash {
        match ctx.config() {
            Ok(c) => (None, c.import.params()?, c.import.raw_leaves.is_some()),
            Err(_) => (None, Params::default(), false),
        }
    } else {
        let repo = ctx.repo()?;
        let import = &repo.config().import;
        let (params, raw_set) = (import.params()?, import.raw_leaves.is_some());
        (Some(repo), params, raw_set)
    };
    // Online the daemon applies its config; the flags are checked here all the same, so
    // a bad one is reported before anything is sent, in the same words.
    let params = args.params(config_params, config_raw_leaves)?;
    if client.is_some() && args.max_links.is_some() {
        bail!("--max-links cannot be used through the daemon (its API has no such flag)");
    }
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
    let mut printer = Printer::new(&args, bar.as_ref());

    let last = match (&client, &repo) {
        (Some(client), _) => add_remote(client, &args, &mut printer)?,
        (None, None) => import(&args, params, &mut Discard::default(), &mut printer)?
            .last()
            .map(|a| a.cid.to_string()),
        (None, Some(repo)) => {
            let mut writer = repo.store().writer()?;
            let roots = import(&args, params, &mut writer, &mut printer)?;
            node::ops::finish_add(writer, &roots, args.pin.unwrap_or(true))?;
            roots.last().map(|a| a.cid.to_string())
        }
    };
    printer.finish()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let (true, Some(last)) = (args.quieter, last) {
        crate::output::outln!("{last}");
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

/// Prints added entries as Kubo does, from the importer's events or the daemon's answer.
struct Printer<'a> {
    out: std::io::LineWriter<std::io::StdoutLock<'static>>,
    quiet: bool,
    quieter: bool,
    bar: Option<&'a ProgressBar>,
    write_err: Option<std::io::Error>,
}

impl<'a> Printer<'a> {
    fn new(args: &AddArgs, bar: Option<&'a ProgressBar>) -> Self {
        Printer {
            out: std::io::LineWriter::new(std::io::stdout().lock()),
            quiet: args.quiet,
            quieter: args.quieter,
            bar,
            write_err: None,
        }
    }

    fn progress(&self, bytes: u64) {
        if let Some(b) = self.bar {
            b.set_position(bytes);
        }
    }

    /// One entry done: `name` is its path, or its CID when it has none.
    fn added(&mut self, cid: &str, name: &str) {
        if self.quieter {
            return;
        }
        let line = if self.quiet {
            format!("{cid}\n")
        } else {
            format!("added {cid} {name}\n")
        };
        let out = &mut self.out;
        let res = match self.bar {
            Some(b) => b.suspend(|| out.write_all(line.as_bytes())),
            None => out.write_all(line.as_bytes()),
        };
        if let Err(e) = res {
            self.write_err.get_or_insert(e);
        }
    }

    /// A closed stdout is fine (`add ... | head`); any other write error is not.
    fn finish(mut self) -> Result<()> {
        if let Err(e) = self.out.flush() {
            self.write_err.get_or_insert(e);
        }
        match self.write_err {
            Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Imports every input into `sink`, printing entries as they complete; returns the roots.
fn import<S: Sink>(
    args: &AddArgs,
    params: Params,
    sink: &mut S,
    printer: &mut Printer<'_>,
) -> Result<Vec<Added>> {
    let mut on_event = |e: Event<'_>| match e {
        Event::Progress { bytes } => printer.progress(bytes),
        Event::Added(a) => {
            let cid = a.cid.to_string();
            printer.added(&cid, if a.path.is_empty() { &cid } else { &a.path });
        }
    };
    let mut importer = Importer::new(params, sink)?.on_event(&mut on_event);
    if args.paths.is_empty() {
        let stdin = std::io::stdin();
        Ok(vec![importer.add_reader(stdin, "")?])
    } else {
        Ok(importer.add_paths(&args.paths, args.recursive, args.wrap)?)
    }
}

/// Uploads every input to the daemon's `add`, printing the entries it reports; returns
/// the CID of the last root.
fn add_remote(
    client: &Client,
    args: &AddArgs,
    printer: &mut Printer<'_>,
) -> Result<Option<String>> {
    let (walk, unnamed) = if args.paths.is_empty() {
        (None, false)
    } else {
        let (walk, unnamed) =
            dag::import::walk(&args.paths, args.recursive, args.wrap, args.hidden)?;
        (Some(walk), unnamed)
    };
    let body = AddBody::new(walk, printer.bar.cloned());
    let (boundary, failure) = (body.boundary(), body.failure());
    let cid_version = args.cid_version.map(|v| v.to_string());
    let mut q: Vec<(&str, &str)> = vec![
        ("pin", bool_str(args.pin.unwrap_or(true))),
        ("only-hash", bool_str(args.only_hash)),
        ("quieter", bool_str(args.quieter)),
    ];
    // Stdin is never wrapped (as offline); `add -r .` wraps the directory's entries.
    if (args.wrap && !args.paths.is_empty()) || unnamed {
        q.push(("wrap-with-directory", "true"));
    }
    if let Some(v) = &cid_version {
        q.push(("cid-version", v));
    }
    if let Some(raw) = args.raw_leaves {
        q.push(("raw-leaves", bool_str(raw)));
    }
    if let Some(c) = &args.chunker {
        q.push(("chunker", c));
    }
    if let Some(h) = &args.hash {
        q.push(("hash", h));
    }
    if let Some(p) = &args.profile {
        q.push(("profile", p));
    }
    let mut last = None;
    let res = client
        .post_multipart("add", &q, &boundary, body)
        .and_then(|answer| {
            for line in remote::lines(answer) {
                let line = line?;
                if line.get("Hash").is_none() {
                    continue; // progress
                }
                let cid = remote::field(&line, "Hash");
                printer.added(&cid, &remote::field(&line, "Name"));
                last = Some(cid);
            }
            Ok(())
        });
    // A file that could not be read cut the upload short: that is the error to report.
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e.into());
    }
    res?;
    Ok(last)
}
