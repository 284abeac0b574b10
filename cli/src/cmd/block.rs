//! `ipfsd block get|put|stat|rm`.

use super::Ctx;
use crate::output::ignore_broken_pipe;
use anyhow::{Context, Result, bail};
use dag::block::{self, Block, DAG_PB, RAW};
use dag::{Cid, Version};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum BlockCommand {
    /// Write a block's raw bytes to stdout.
    Get {
        /// The block's CID.
        cid: String,
    },
    /// Store a block read from a file (or stdin) and print its CID.
    Put {
        /// Files to read; stdin when none.
        files: Vec<PathBuf>,
        /// Codec of the new CID: raw or dag-pb.
        #[arg(long, default_value = "raw")]
        cid_codec: String,
        /// Hash function (only sha2-256).
        #[arg(long, default_value = "sha2-256")]
        mhtype: String,
        /// Pin the block directly.
        #[arg(long)]
        pin: bool,
    },
    /// Print a block's size.
    Stat {
        /// The block's CID.
        cid: String,
    },
    /// Remove blocks.
    Rm {
        /// CIDs to remove.
        #[arg(required = true)]
        cids: Vec<String>,
        /// Ignore blocks that do not exist.
        #[arg(short, long)]
        force: bool,
        /// Print nothing.
        #[arg(short, long)]
        quiet: bool,
    },
}

/// Largest block accepted by `block put` (what peers exchange).
const MAX_BLOCK: u64 = 2 << 20;

pub fn run(ctx: &Ctx, cmd: BlockCommand) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        BlockCommand::Get { cid } => {
            let cid = block::parse_cid(&cid)?;
            let data = dag::export::get(store, &cid)?;
            ignore_broken_pipe(out.write_all(&data))?;
        }
        BlockCommand::Put {
            files,
            cid_codec,
            mhtype,
            pin,
        } => {
            if mhtype != "sha2-256" {
                bail!("unsupported hash function {mhtype:?}: only sha2-256");
            }
            let codec = match cid_codec.as_str() {
                "raw" => RAW,
                "dag-pb" | "protobuf" => DAG_PB,
                other => bail!("unsupported codec {other:?}: expected raw or dag-pb"),
            };
            let inputs: Vec<Option<PathBuf>> = if files.is_empty() {
                vec![None]
            } else {
                files.into_iter().map(Some).collect()
            };
            for input in inputs {
                let mut data = Vec::new();
                let read = match &input {
                    Some(p) => std::fs::File::open(p)
                        .and_then(|f| f.take(MAX_BLOCK + 1).read_to_end(&mut data))
                        .with_context(|| format!("reading {}", p.display()))?,
                    None => std::io::stdin()
                        .take(MAX_BLOCK + 1)
                        .read_to_end(&mut data)
                        .context("reading stdin")?,
                };
                if read as u64 > MAX_BLOCK {
                    bail!("block is larger than the 2 MiB limit");
                }
                if codec == DAG_PB {
                    dag::pb::Node::decode(&data).context("input is not a valid dag-pb node")?;
                }
                let block = Block::encode(Version::V1, codec, data);
                let cid = *block.cid();
                store.put(block)?;
                if pin {
                    store.pin_add(&cid, dag::store::PinMode::Direct)?;
                }
                ignore_broken_pipe(writeln!(out, "{cid}"))?;
            }
        }
        BlockCommand::Stat { cid } => {
            let cid: Cid = block::parse_cid(&cid)?;
            let size = match block::identity_data(&cid) {
                Some(d) => d.len() as u64,
                None => store
                    .size(&cid)?
                    .ok_or(dag::SourceError::NotFound { cid })?,
            };
            ignore_broken_pipe(write!(out, "Key: {cid}\nSize: {size}\n"))?;
        }
        BlockCommand::Rm { cids, force, quiet } => {
            let mut failed = false;
            for c in cids {
                let cid = block::parse_cid(&c)?;
                if let Some(kind) = store.pin_status(&cid)? {
                    eprintln!("Error: cannot remove {cid}: pinned ({kind:?})");
                    failed = true;
                    continue;
                }
                let removed = store.delete(&cid)?;
                if !removed && !force {
                    eprintln!("Error: cannot remove {cid}: block not found");
                    failed = true;
                    continue;
                }
                if removed && !quiet {
                    ignore_broken_pipe(writeln!(out, "removed {cid}"))?;
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
