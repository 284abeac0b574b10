//! `ipfsd block get|put|stat|rm`.

use super::Ctx;
use super::read::bool_str;
use crate::output::ignore_broken_pipe;
use crate::remote::{self, Client};
use anyhow::{Context, Result, bail};
use dag::block::{self, DAG_PB};
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
        /// Codec of the new CID (raw, dag-pb, dag-cbor, dag-json, json, cbor, ...).
        #[arg(long, default_value = "raw")]
        cid_codec: String,
        /// Hash function (sha2-256, sha2-512, sha3-256, sha3-512, blake2b-256, blake3, ...).
        #[arg(long, default_value = "sha2-256")]
        mhtype: String,
        /// Digest length in bytes (-1: the function's own).
        #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
        mhlen: i64,
        /// Deprecated: the codec (`v0` for a CIDv0 dag-pb block); use --cid-codec.
        #[arg(long, hide = true, conflicts_with = "cid_codec")]
        format: Option<String>,
        /// Pin the block directly.
        #[arg(long)]
        pin: bool,
        /// Store blocks over 1 MiB (peers will not exchange them).
        #[arg(long)]
        allow_big_block: bool,
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
    let client = ctx.client()?;
    let repo = match client {
        Some(_) => None,
        None => Some(ctx.repo()?),
    };
    let target = match (&client, &repo) {
        (Some(client), _) => Target::Remote(client),
        (None, Some(repo)) => Target::Local(repo.store()),
        (None, None) => unreachable!("a repository is open when there is no daemon"),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        BlockCommand::Get { cid } => {
            let cid = block::parse_cid(&cid)?;
            match target {
                Target::Local(store) => {
                    let data = dag::export::get(store, &cid)?;
                    ignore_broken_pipe(out.write_all(&data))?;
                }
                Target::Remote(client) => {
                    let body = client.post("block/get", &[("arg", &cid.to_string())])?;
                    let res = std::io::copy(&mut body.into_reader(), &mut out).map(drop);
                    ignore_broken_pipe(res)?;
                }
            }
        }
        BlockCommand::Put {
            files,
            cid_codec,
            mhtype,
            mhlen,
            format,
            pin,
            allow_big_block,
        } => {
            // Flags are checked here first, so a bad one reads the same offline and online.
            let (codec, version) = match format.as_deref() {
                Some("v0") => (DAG_PB, Version::V0),
                Some(name) => (codec_named(name)?, Version::V1),
                None => (codec_named(&cid_codec)?, Version::V1),
            };
            let hash = node::ipld::hash_named(&mhtype)?;
            let mhlen = match mhlen {
                -1 => None,
                n => Some(usize::try_from(n).context("--mhlen must be -1 or a length")?),
            };
            let inputs: Vec<Option<PathBuf>> = if files.is_empty() {
                vec![None]
            } else {
                files.into_iter().map(Some).collect()
            };
            // Input by input, each checked here first, so errors read and come as offline.
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
                let block =
                    node::ipld::checked_block(data, version, codec, hash, mhlen, allow_big_block)?;
                let cid = match target {
                    Target::Local(store) => {
                        let cid = *block.cid();
                        store.put(block)?;
                        if pin {
                            store.pin_add(&cid, dag::store::PinMode::Direct)?;
                        }
                        cid.to_string()
                    }
                    Target::Remote(client) => {
                        let b = remote::boundary();
                        let data = block.data().clone();
                        let body = remote::single_part(&b, "", std::io::Cursor::new(data));
                        let codec_arg = dag::codec::Codec::from_code(codec).to_string();
                        let mhlen_arg = mhlen.map_or("-1".to_string(), |n| n.to_string());
                        let mut args = vec![
                            ("mhtype", hash.name()),
                            ("mhlen", mhlen_arg.as_str()),
                            ("pin", bool_str(pin)),
                            ("allow-big-block", bool_str(allow_big_block)),
                        ];
                        match version {
                            Version::V0 => args.push(("format", "v0")),
                            Version::V1 => args.push(("cid-codec", codec_arg.as_str())),
                        }
                        let answer = client.post_multipart("block/put", &args, &b, body)?;
                        let mut keys = Vec::new();
                        for line in remote::lines(answer) {
                            keys.push(remote::field(&line?, "Key"));
                        }
                        match <[String; 1]>::try_from(keys) {
                            Ok([key]) => key,
                            Err(keys) => bail!("the daemon stored {} blocks, not one", keys.len()),
                        }
                    }
                };
                ignore_broken_pipe(writeln!(out, "{cid}"))?;
            }
        }
        BlockCommand::Stat { cid } => {
            let cid: Cid = block::parse_cid(&cid)?;
            let size = match (block::identity_data(&cid), target) {
                (Some(d), _) => d.len() as u64,
                (None, Target::Local(store)) => store
                    .size(&cid)?
                    .ok_or(dag::SourceError::NotFound { cid })?,
                (None, Target::Remote(client)) => {
                    let answer = client.json("block/stat", &[("arg", &cid.to_string())])?;
                    remote::number(&answer, "Size")?
                }
            };
            ignore_broken_pipe(write!(out, "Key: {cid}\nSize: {size}\n"))?;
        }
        BlockCommand::Rm { cids, force, quiet } => {
            let mut failed = false;
            match target {
                Target::Local(store) => {
                    for c in cids {
                        let cid = block::parse_cid(&c)?;
                        let error = match store.pin_status(&cid)? {
                            Some(kind) => Some(format!("cannot remove {cid}: pinned ({kind:?})")),
                            None => match store.delete(&cid)? {
                                true => None,
                                false if force => continue,
                                false => Some(format!("cannot remove {cid}: block not found")),
                            },
                        };
                        failed |= report_rm(&mut out, &cid.to_string(), error, quiet)?;
                    }
                }
                Target::Remote(client) => {
                    // The valid CIDs before the first invalid one are removed, as offline.
                    let parsed: Vec<Result<Cid, _>> =
                        cids.iter().map(|c| block::parse_cid(c)).collect();
                    let valid: Vec<String> = parsed
                        .iter()
                        .map_while(|c| c.as_ref().ok().map(Cid::to_string))
                        .collect();
                    if !valid.is_empty() {
                        let mut q: Vec<(&str, &str)> =
                            valid.iter().map(|c| ("arg", c.as_str())).collect();
                        q.push(("force", bool_str(force)));
                        for line in remote::lines(client.post("block/rm", &q)?) {
                            let line = line?;
                            let error =
                                Some(remote::field(&line, "Error")).filter(|e| !e.is_empty());
                            failed |=
                                report_rm(&mut out, &remote::field(&line, "Hash"), error, quiet)?;
                        }
                    }
                    if let Some(Err(e)) = parsed.into_iter().find(Result::is_err) {
                        out.flush()?;
                        return Err(e.into());
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The multicodec code of a codec name.
fn codec_named(name: &str) -> Result<u64> {
    match dag::codec::Codec::from_name(name) {
        Some(c) => Ok(c.code()),
        None => bail!("unknown codec {name:?} (see `ipfsd cid codecs`)"),
    }
}

/// Where blocks live for this command.
#[derive(Clone, Copy)]
enum Target<'a> {
    Local(&'a dag::Store),
    Remote(&'a Client),
}

/// Prints one `block rm` result; answers whether it failed.
fn report_rm(out: &mut impl Write, cid: &str, error: Option<String>, quiet: bool) -> Result<bool> {
    match error {
        Some(e) => {
            out.flush()?;
            eprintln!("Error: {e}");
            Ok(true)
        }
        None => {
            if !quiet {
                ignore_broken_pipe(writeln!(out, "removed {cid}"))?;
            }
            Ok(false)
        }
    }
}
