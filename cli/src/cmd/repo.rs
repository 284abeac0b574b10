//! `ipfsd init` and `ipfsd repo gc|stat|verify`.

use super::Ctx;
use crate::output::ignore_broken_pipe;
use crate::remote;
use anyhow::{Context, Result};
use dag::import::Profile;
use node::config::ImportConfig;
use node::{Config, Repo};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// S/Kademlia proof of work: draw keys until sha256(peer ID) has this many leading
    /// zero bits (at most 24).
    #[arg(long, default_value_t = node::identity::DEFAULT_DIFFICULTY,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(node::identity::MAX_DIFFICULTY)))]
    pow_difficulty: u32,
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
    let difficulty = args.pow_difficulty;
    let repo = Repo::init_with_identity(&ctx.repo_path, &config, || {
        node::identity::Identity::generate_with_difficulty(difficulty)
    })?;
    crate::output::outln!("initialized ipfsd repository at {}", repo.path().display());
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

/// What `repo stat` prints.
struct Stat {
    blocks: u64,
    repo_size: u64,
    storage_max: u64,
    data_size: u64,
    path: String,
    version: String,
}

/// One line of `repo gc`'s answer.
enum GcLine {
    /// A removed block.
    Removed(String),
    /// A block of a pinned DAG kept as a leaf: its codec cannot be followed.
    Unfollowed {
        pin: String,
        cid: String,
        codec: String,
    },
}

impl GcLine {
    /// From a line of the daemon's `repo/gc` stream.
    fn from_json(v: &serde_json::Value) -> Self {
        match v.get("Unfollowed") {
            Some(u) => GcLine::Unfollowed {
                pin: remote::field(u, "Pin"),
                cid: remote::field(u, "Cid"),
                codec: remote::field(u, "Codec"),
            },
            None => GcLine::Removed(remote::field(&v["Key"], "/")),
        }
    }
}

/// What `repo verify` found: a report line per bad block, and the counts.
struct Verified {
    lines: Vec<String>,
    checked: u64,
    corrupt: u64,
}

pub fn run(ctx: &Ctx, cmd: RepoCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    let repo = match client {
        Some(_) => None,
        None => Some(ctx.repo()?),
    };
    let store = repo.as_ref().map(Repo::store);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        RepoCommand::Gc { quiet } => {
            let lines: Box<dyn Iterator<Item = Result<GcLine>>> = match (&client, store) {
                (Some(client), _) => Box::new(
                    remote::lines(client.post("repo/gc", &[])?)
                        .map(|l| l.map(|l| GcLine::from_json(&l))),
                ),
                (None, Some(store)) => {
                    let report = store.gc()?;
                    let unfollowed = report.unfollowed.into_iter().map(|u| {
                        Ok(GcLine::Unfollowed {
                            pin: u.pin.to_string(),
                            cid: u.cid.to_string(),
                            codec: dag::Codec::of(&u.cid).to_string(),
                        })
                    });
                    Box::new(
                        report
                            .removed
                            .into_iter()
                            .map(|cid| Ok(GcLine::Removed(cid.to_string())))
                            .chain(unfollowed),
                    )
                }
                (None, None) => unreachable!("a repository is open when there is no daemon"),
            };
            for line in lines {
                match line? {
                    GcLine::Removed(cid) if !quiet => {
                        ignore_broken_pipe(writeln!(out, "removed {cid}"))?;
                    }
                    GcLine::Removed(_) => {}
                    // On stderr: stdout stays the list of removed blocks.
                    GcLine::Unfollowed { pin, cid, codec } => eprintln!(
                        "warning: pin {pin}: block {cid} has codec {codec}, which ipfsd cannot follow: kept as a leaf, whatever it links to is not protected"
                    ),
                }
            }
        }
        RepoCommand::Stat { human } => {
            let s = match (&client, store) {
                (Some(client), _) => {
                    let v = client.json("repo/stat", &[])?;
                    Stat {
                        blocks: remote::number(&v, "NumObjects")?,
                        repo_size: remote::number(&v, "RepoSize")?,
                        storage_max: remote::number(&v, "StorageMax")?,
                        data_size: remote::number(&v, "DataSize")?,
                        path: ctx.shown_repo_path(&remote::field(&v, "RepoPath")),
                        version: remote::field(&v, "Version"),
                    }
                }
                (None, Some(store)) => {
                    let s = store.stat()?;
                    Stat {
                        blocks: s.num_blocks,
                        repo_size: s.file_size,
                        storage_max: ctx.config()?.datastore_settings()?.storage_max,
                        data_size: s.total_size,
                        path: ctx.repo_path.display().to_string(),
                        version: format!("ipfsd-repo@{}", node::repo::REPO_VERSION),
                    }
                }
                (None, None) => unreachable!("a repository is open when there is no daemon"),
            };
            let size = |n: u64| if human { human_bytes(n) } else { n.to_string() };
            let text = format!(
                "NumObjects: {}\nRepoSize:   {}\nStorageMax: {}\nDataSize:   {}\nRepoPath:   {}\nVersion:    {}\n",
                s.blocks,
                size(s.repo_size),
                size(s.storage_max),
                size(s.data_size),
                s.path,
                s.version,
            );
            ignore_broken_pipe(out.write_all(text.as_bytes()))?;
        }
        RepoCommand::Verify => {
            let v = match (&client, store) {
                (Some(client), _) => {
                    let mut v = Verified {
                        lines: Vec::new(),
                        checked: 0,
                        corrupt: 0,
                    };
                    let mut summary = false;
                    for l in remote::lines(client.post("repo/verify", &[])?) {
                        let l = l?;
                        match l.get("Checked") {
                            Some(_) => {
                                v.checked = remote::number(&l, "Checked")?;
                                v.corrupt = remote::number(&l, "Corrupt")?;
                                summary = true;
                            }
                            None => v.lines.push(remote::field(&l, "Msg")),
                        }
                    }
                    // Never "repo ok" from an answer that did not say so.
                    anyhow::ensure!(
                        summary,
                        "the daemon's repo verify answer ended without its summary"
                    );
                    v
                }
                (None, Some(store)) => {
                    let report = store.verify()?;
                    let corrupt = report
                        .corrupt
                        .iter()
                        .map(|cid| format!("block {cid} is corrupt"));
                    let unverifiable = report.unverifiable.iter().map(|cid| {
                        format!("block {cid} uses a hash function that cannot be checked")
                    });
                    Verified {
                        lines: corrupt.chain(unverifiable).collect(),
                        checked: report.checked,
                        corrupt: report.corrupt.len() as u64,
                    }
                }
                (None, None) => unreachable!("a repository is open when there is no daemon"),
            };
            for line in &v.lines {
                ignore_broken_pipe(writeln!(out, "{line}"))?;
            }
            if v.corrupt > 0 {
                anyhow::bail!(
                    "verify complete, {} of {} blocks are corrupt",
                    v.corrupt,
                    v.checked
                );
            }
            ignore_broken_pipe(writeln!(out, "verified {} blocks: repo ok", v.checked))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn human_bytes(n: u64) -> String {
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
