//! `ipfsd dag put|get|resolve|stat`: offline through [`node::ipld`] on the repository,
//! or through the daemon's `/api/v0/dag/*` (which runs the same code and, online, fetches
//! missing blocks over BitSwap).

use super::parse_bool;
use super::read::bool_str;
use crate::output::{columns, ignore_broken_pipe};
use crate::remote::{self, Client};
use anyhow::{Context, Result, bail};
use dag::Cid;
use node::ipld::{self, PutOptions, StatSummary};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the command works.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// The repository, opened here.
    Local(&'a dag::Store),
    /// The daemon holding it.
    Remote(&'a Client),
}

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// Files holding one node each; stdin when none.
    files: Vec<PathBuf>,
    /// Codec the node is stored in (dag-cbor, dag-json, dag-pb, json, cbor, raw).
    #[arg(long, default_value = "dag-cbor")]
    store_codec: String,
    /// Codec the input is in (dag-json, dag-cbor, json, cbor, raw).
    #[arg(long, default_value = "dag-json")]
    input_codec: String,
    /// Hash function (sha2-256, sha2-512, sha3-256, blake2b-256, blake3, ...).
    #[arg(long, default_value = "sha2-256")]
    hash: String,
    /// Pin each node recursively (every block it links to must be stored).
    #[arg(long)]
    pin: bool,
    /// Store nodes over 1 MiB (peers will not exchange them).
    #[arg(long)]
    allow_big_block: bool,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// <cid>[/path]: the path may end inside a node (a field, a list element).
    path: String,
    /// Codec to print in (dag-json, dag-cbor, json, cbor, raw, dag-pb).
    #[arg(long, default_value = "dag-json")]
    output_codec: String,
}

#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// <cid>[/path] of each root.
    #[arg(required = true)]
    roots: Vec<String>,
    /// Show progress on stderr (when it is a terminal) [default: true].
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    progress: Option<bool>,
}

/// Largest input `dag put` reads (the daemon's request limit too).
const MAX_INPUT: u64 = node::api::MAX_SMALL_BODY as u64;

fn read_input(input: Option<&PathBuf>) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let read = match input {
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut data))
            .with_context(|| format!("reading {}", p.display()))?,
        None => std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut data)
            .context("reading stdin")?,
    };
    if read as u64 > MAX_INPUT {
        bail!("input is larger than the {MAX_INPUT}-byte limit");
    }
    Ok(data)
}

pub fn put(target: Target<'_>, a: PutArgs) -> Result<ExitCode> {
    // Flags are checked here first, so a bad one reads the same offline and online.
    let opts = PutOptions {
        input: ipld::input_codec(&a.input_codec)?,
        store: ipld::output_codec("store", &a.store_codec)?,
        hash: ipld::hash_named(&a.hash)?,
        allow_big_block: a.allow_big_block,
    };
    let inputs: Vec<Option<PathBuf>> = if a.files.is_empty() {
        vec![None]
    } else {
        a.files.into_iter().map(Some).collect()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for input in inputs {
        let data = read_input(input.as_ref())?;
        let cid = match target {
            Target::Local(store) => {
                let block = ipld::put_block(&data, &opts)?;
                let cid = *block.cid();
                ipld::store_blocks(store, vec![block], a.pin)?;
                cid.to_string()
            }
            Target::Remote(client) => {
                let b = remote::boundary();
                let body = remote::single_part(&b, "", std::io::Cursor::new(data));
                let args = [
                    ("input-codec", a.input_codec.as_str()),
                    ("store-codec", a.store_codec.as_str()),
                    ("hash", a.hash.as_str()),
                    ("pin", bool_str(a.pin)),
                    ("allow-big-block", bool_str(a.allow_big_block)),
                ];
                let mut cids = Vec::new();
                for line in remote::lines(client.post_multipart("dag/put", &args, &b, body)?) {
                    cids.push(remote::field(&line?["Cid"], "/"));
                }
                match <[String; 1]>::try_from(cids) {
                    Ok([cid]) => cid,
                    Err(cids) => bail!("the daemon stored {} nodes, not one", cids.len()),
                }
            }
        };
        ignore_broken_pipe(writeln!(out, "{cid}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn get(target: Target<'_>, a: GetArgs) -> Result<ExitCode> {
    ipld::output_codec("output", &a.output_codec)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match target {
        Target::Local(store) => {
            let codec = ipld::output_codec("output", &a.output_codec)?;
            let data = ipld::get(store, &a.path, codec)?;
            ignore_broken_pipe(out.write_all(&data))?;
        }
        Target::Remote(client) => {
            let body = client.post(
                "dag/get",
                &[("arg", &a.path), ("output-codec", &a.output_codec)],
            )?;
            super::read::copy_raw(body, &mut out)?;
        }
    }
    ignore_broken_pipe(out.flush())?;
    Ok(ExitCode::SUCCESS)
}

pub fn resolve(target: Target<'_>, path: &str) -> Result<ExitCode> {
    let (cid, rem) = match target {
        Target::Local(store) => {
            let r = ipld::resolve(store, path)?;
            (r.cid.to_string(), r.rem)
        }
        Target::Remote(client) => {
            let v = client.json("dag/resolve", &[("arg", path)])?;
            (remote::field(&v["Cid"], "/"), remote::field(&v, "RemPath"))
        }
    };
    let shown = if rem.is_empty() {
        cid
    } else {
        format!("{cid}/{rem}")
    };
    ignore_broken_pipe(writeln!(std::io::stdout().lock(), "{shown}"))?;
    Ok(ExitCode::SUCCESS)
}

fn show_progress(blocks: u64, bytes: u64) {
    let _ = write!(
        std::io::stderr().lock(),
        "\rFetched/Processed {blocks} blocks, {bytes} bytes"
    );
}

pub fn stat(target: Target<'_>, a: StatArgs) -> Result<ExitCode> {
    let progress = a.progress.unwrap_or(true) && std::io::stderr().is_terminal();
    let summary = match target {
        Target::Local(store) => {
            let roots = a
                .roots
                .iter()
                .map(|r| super::resolve(store, r))
                .collect::<Result<Vec<Cid>>>()?;
            ipld::stat(store, &roots, |s| {
                if progress {
                    show_progress(s.unique_blocks, s.total_size);
                }
                true
            })?
        }
        Target::Remote(client) => {
            let mut args: Vec<(&str, &str)> = a.roots.iter().map(|r| ("arg", r.as_str())).collect();
            args.push(("progress", bool_str(progress)));
            let mut last = None;
            for line in remote::lines(client.post("dag/stat", &args)?) {
                let line = line?;
                if progress {
                    show_progress(
                        remote::number(&line, "UniqueBlocks")?,
                        remote::number(&line, "TotalSize")?,
                    );
                }
                last = Some(line);
            }
            let Some(v) = last else {
                bail!("the daemon sent no dag stat answer");
            };
            summary_of(&v)?
        }
    };
    if progress {
        eprintln!();
    }
    let mut rows = vec![vec!["CID".to_string(), "Blocks".into(), "Size".into()]];
    for d in &summary.dags {
        rows.push(vec![
            d.cid.to_string(),
            d.blocks.to_string(),
            d.size.to_string(),
        ]);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    ignore_broken_pipe(columns(&mut out, &rows))?;
    ignore_broken_pipe(write!(
        out,
        "\nSummary\nTotal Size: {}\nUnique Blocks: {}\nShared Size: {}\nRatio: {:.6}\n",
        summary.total_size,
        summary.unique_blocks,
        summary.shared_size(),
        summary.ratio()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon's final `dag/stat` object as a summary.
fn summary_of(v: &serde_json::Value) -> Result<StatSummary> {
    let total_size = remote::number(v, "TotalSize")?;
    let shared = remote::number(v, "SharedSize")?;
    let mut dags = Vec::new();
    for d in v["DagStats"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        dags.push(ipld::DagStat {
            cid: dag::block::parse_cid(&remote::field(&d["Cid"], "/"))?,
            size: remote::number(d, "Size")?,
            blocks: remote::number(d, "NumBlocks")?,
        });
    }
    Ok(StatSummary {
        unique_blocks: remote::number(v, "UniqueBlocks")?,
        total_size,
        redundant_size: total_size + shared,
        dags,
    })
}
