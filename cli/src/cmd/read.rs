//! Reading commands: `cat`, `get`, `ls`, `refs`.

use super::{Ctx, parse_path, resolve};
use crate::output::{columns, ignore_broken_pipe};
use anyhow::Result;
use dag::Cid;
use dag::export::{self, FileReader, Kind};
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// <cid>[/path] or /ipfs/<cid>[/path] of files to print.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Byte offset to start at.
    #[arg(short, long, default_value_t = 0)]
    offset: u64,
    /// Maximum number of bytes to print.
    #[arg(short, long)]
    length: Option<u64>,
}

pub fn cat(ctx: &Ctx, args: CatArgs) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut length = args.length;
    let mut offset = args.offset;
    for p in &args.paths {
        let cid = resolve(store, p)?;
        let mut reader = FileReader::open(store, &cid, offset, length)?;
        offset = offset.saturating_sub(reader.size());
        if let Some(l) = length.as_mut() {
            *l -= reader.remaining();
        }
        while let Some(piece) = reader.next_piece()? {
            if let Err(e) = out.write_all(&piece) {
                ignore_broken_pipe(Err(e))?;
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    ignore_broken_pipe(out.flush())?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// <cid>[/path] to download.
    path: String,
    /// Where to write it [default: the last path component, or the CID].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn get(ctx: &Ctx, args: GetArgs) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let cid = resolve(repo.store(), &args.path)?;
    let dest = args.output.unwrap_or_else(|| {
        let (root, inner) = parse_path(&args.path).map_or((cid, String::new()), |x| x);
        match inner.rsplit('/').find(|s| !s.is_empty()) {
            Some(last) => PathBuf::from(last),
            None => PathBuf::from(root.to_string()),
        }
    });
    if dest.exists() && !dest.is_dir() {
        std::fs::remove_file(&dest)?;
    }
    println!("Saving file(s) to {}", dest.display());
    export::write_tree(repo.store(), &cid, &dest)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Directories to list, as <cid>[/path].
    #[arg(required = true)]
    paths: Vec<String>,
    /// Print a header row.
    #[arg(short = 'v', long)]
    headers: bool,
}

pub fn ls(ctx: &Ctx, args: LsArgs) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let many = args.paths.len() > 1;
    for (i, p) in args.paths.iter().enumerate() {
        let cid = resolve(store, p)?;
        let entries = match export::load(store, &cid)?.kind() {
            Kind::Directory => export::list(store, &cid)?,
            _ => Vec::new(),
        };
        let mut rows = Vec::with_capacity(entries.len() + 1);
        if args.headers {
            rows.push(vec!["Hash".into(), "Size".into(), "Name".into()]);
        }
        for e in entries {
            let child = export::load(store, &e.cid)?;
            let row = match child.kind() {
                Kind::Directory => vec![e.cid.to_string(), "-".into(), format!("{}/", e.name)],
                _ => vec![e.cid.to_string(), child.filesize().to_string(), e.name],
            };
            rows.push(row);
        }
        let res = (|| {
            if many {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "{p}:")?;
            }
            columns(&mut out, &rows)
        })();
        ignore_broken_pipe(res)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct RefsArgs {
    /// <cid>[/path] whose links to list, or `local` for every stored block.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Follow links recursively.
    #[arg(short, long)]
    recursive: bool,
    /// Print each CID only once.
    #[arg(short, long)]
    unique: bool,
}

pub fn refs(ctx: &Ctx, args: RefsArgs) -> Result<ExitCode> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.paths == ["local"] {
        for cid in store.all_cids()? {
            ignore_broken_pipe(writeln!(out, "{}", cid?))?;
        }
        ignore_broken_pipe(out.flush())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut seen = HashSet::new();
    for p in &args.paths {
        let root = resolve(store, p)?;
        // Depth-first, children in link order, like Kubo.
        let mut stack: Vec<Cid> = vec![root];
        let mut first = true;
        while let Some(cid) = stack.pop() {
            if !first && args.unique && !seen.insert(cid) {
                continue;
            }
            let is_root = std::mem::replace(&mut first, false);
            if !is_root {
                ignore_broken_pipe(writeln!(out, "{cid}"))?;
                if !args.recursive {
                    continue;
                }
            }
            let data = export::get(store, &cid)?;
            let links = dag::pb::links_of(&cid, &data)
                .map_err(|source| dag::export::ExportError::Decode { cid, source })?;
            stack.extend(links.into_iter().rev());
        }
    }
    ignore_broken_pipe(out.flush())?;
    Ok(ExitCode::SUCCESS)
}
