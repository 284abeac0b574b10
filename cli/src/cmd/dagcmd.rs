//! `ipfsd dag import|export` (DAGs as CAR v1 files) and `dag put|get|resolve|stat` (IPLD
//! nodes in any codec; the work is in [`super::ipld`]).

use super::read::{bool_str, copy_raw};
use super::{Ctx, parse_bool, resolve};
use crate::output::ignore_broken_pipe;
use crate::remote::{self, Client};
use anyhow::{Context, Result, bail};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum DagCommand {
    /// Store IPLD nodes read from files (or stdin), one node per input, and print their CIDs.
    Put(super::ipld::PutArgs),
    /// Print the node (or the value inside a node) a path names, in a codec.
    Get(super::ipld::GetArgs),
    /// Print the block a path ends in and the rest of the path inside it.
    Resolve {
        /// <cid>[/path] or /ipfs/<cid>[/path].
        path: String,
    },
    /// Print the size and block count of DAGs (shared blocks counted once in the summary).
    Stat(super::ipld::StatArgs),
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
    let client = ctx.client()?;
    let repo = match client {
        Some(_) => None,
        None => Some(ctx.repo()?),
    };
    let target = match (&client, &repo) {
        (Some(client), _) => super::ipld::Target::Remote(client),
        (None, Some(repo)) => super::ipld::Target::Local(repo.store()),
        (None, None) => unreachable!("a repository is open when there is no daemon"),
    };
    match cmd {
        DagCommand::Put(a) => return super::ipld::put(target, a),
        DagCommand::Get(a) => return super::ipld::get(target, a),
        DagCommand::Resolve { path } => return super::ipld::resolve(target, &path),
        DagCommand::Stat(a) => return super::ipld::stat(target, a),
        DagCommand::Export { root } => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            let res = match (&client, &repo) {
                (Some(client), _) => client
                    .post("dag/export", &[("arg", &root)])
                    .and_then(|body| copy_raw(body, &mut out)),
                (None, Some(repo)) => export_local(repo.store(), &root, &mut out),
                (None, None) => unreachable!("a repository is open when there is no daemon"),
            };
            let flushed = ignore_broken_pipe(out.flush());
            res?;
            flushed?;
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
            // Input by input (statistics are per input), each streamed, never buffered.
            for input in inputs {
                let reader: Box<dyn Read + Send> = match &input {
                    Some(p) => Box::new(
                        std::fs::File::open(p)
                            .with_context(|| format!("opening {}", p.display()))?,
                    ),
                    None => Box::new(std::io::stdin()),
                };
                let report = match (&client, &repo) {
                    (Some(client), _) => import_remote(client, reader, pin)?,
                    (None, Some(repo)) => {
                        let report = dag::car::import(
                            repo.store(),
                            BufReader::with_capacity(1 << 20, reader),
                            pin,
                        )?;
                        Imported {
                            roots: report.roots.iter().map(ToString::to_string).collect(),
                            blocks: report.blocks,
                            bytes: report.bytes,
                        }
                    }
                    (None, None) => unreachable!("a repository is open when there is no daemon"),
                };
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

fn export_local(store: &dag::Store, root: &str, out: &mut impl Write) -> Result<()> {
    let cid = resolve(store, root)?;
    match dag::car::export(store, &cid, out) {
        Err(dag::car::CarError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(())
        }
        other => Ok(other.map(drop)?),
    }
}

/// What one CAR import did.
struct Imported {
    roots: Vec<String>,
    blocks: u64,
    bytes: u64,
}

fn import_remote(client: &Client, reader: Box<dyn Read + Send>, pin: bool) -> Result<Imported> {
    let b = remote::boundary();
    let body = remote::single_part(&b, "", reader);
    let args = [("pin-roots", bool_str(pin)), ("stats", "true")];
    let mut report = Imported {
        roots: Vec::new(),
        blocks: 0,
        bytes: 0,
    };
    for line in remote::lines(client.post_multipart("dag/import", &args, &b, body)?) {
        let line = line?;
        if let Some(root) = line.get("Root") {
            report.roots.push(remote::field(&root["Cid"], "/"));
            let err = remote::field(root, "PinErrorMsg");
            if !err.is_empty() {
                bail!("{err}");
            }
        } else if let Some(s) = line.get("Stats") {
            report.blocks = remote::number(s, "BlockCount")?;
            report.bytes = remote::number(s, "BlockBytesCount")?;
        }
    }
    Ok(report)
}
