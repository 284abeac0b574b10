//! Reading commands: `cat`, `get`, `ls`, `refs`.

use super::name::offline_ipfs_path;
use super::{Ctx, first_failing, resolve, stream_failure, untar};
use crate::output::{columns, ignore_broken_pipe};
use crate::remote::{self, Client, RawStream};
use anyhow::{Context, Result, bail};
use dag::Cid;
use dag::export::{self, FileReader, Kind};
use std::collections::HashSet;
use std::io::{BufWriter, Read, Write};
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
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let res = match ctx.client()? {
        Some(client) => cat_remote(&client, &args, &mut out),
        None => cat_local(ctx, &args, &mut out),
    };
    // What was read before an error is printed, like a partial read offline.
    let flushed = ignore_broken_pipe(out.flush());
    res?;
    flushed?;
    Ok(ExitCode::SUCCESS)
}

fn cat_local(ctx: &Ctx, args: &CatArgs, out: &mut impl Write) -> Result<()> {
    let repo = ctx.repo()?;
    let store = repo.store();
    let mut length = args.length;
    let mut offset = args.offset;
    for p in &args.paths {
        let cid = resolve(store, &offline_ipfs_path(ctx, p)?)?;
        let mut reader = FileReader::open(store, &cid, offset, length)?;
        offset = offset.saturating_sub(reader.size());
        if let Some(l) = length.as_mut() {
            *l -= reader.remaining();
        }
        while let Some(piece) = reader.next_piece()? {
            if let Err(e) = out.write_all(&piece) {
                return Ok(ignore_broken_pipe(Err(e))?);
            }
        }
    }
    Ok(())
}

/// One request for every path (the daemon applies offset and length across them as
/// offline); when it refuses a path, the ones before it are printed first, as offline.
fn cat_remote(client: &Client, args: &CatArgs, out: &mut impl Write) -> Result<()> {
    let offset = args.offset.to_string();
    let length = args.length.map(|l| l.to_string());
    let query = |paths: &[String]| {
        let mut q: Vec<(&str, &str)> = paths.iter().map(|p| ("arg", p.as_str())).collect();
        q.push(("offset", &offset));
        if let Some(l) = &length {
            q.push(("length", l));
        }
        client.post("cat", &q)
    };
    let body = match query(&args.paths) {
        Ok(body) => body,
        Err(e) if args.paths.len() > 1 => {
            let probe = |p: &str| client.post("cat", &[("arg", p), ("length", "0")]).map(drop);
            let Some((i, bad)) = first_failing(&args.paths, probe) else {
                return Err(e);
            };
            if i > 0 {
                copy_raw(query(&args.paths[..i])?, out)?;
            }
            return Err(bad);
        }
        Err(e) => return Err(e),
    };
    copy_raw(body, out)
}

/// Copies a raw stream to `out`; a closed `out` (`| head`) ends it quietly.
pub(super) fn copy_raw(body: ureq::Body, out: &mut impl Write) -> Result<()> {
    let mut stream = RawStream::new(body);
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(stream_failure(e)),
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            return Ok(ignore_broken_pipe(Err(e))?);
        }
    }
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
    enum Source {
        Local(Box<node::Repo>, Cid),
        Remote(ureq::Body),
    }
    // The path is resolved (and refused) before anything is written.
    let source = match ctx.client()? {
        Some(client) => Source::Remote(client.post("get", &[("arg", &args.path)])?),
        None => {
            let target = offline_ipfs_path(ctx, &args.path)?;
            let repo = ctx.repo()?;
            let cid = resolve(repo.store(), &target)?;
            Source::Local(Box::new(repo), cid)
        }
    };
    let dest = match args.output {
        Some(d) => d,
        None => PathBuf::from(node::path::download_name(&args.path)?),
    };
    if dest.exists() && !dest.is_dir() {
        std::fs::remove_file(&dest)?;
    }
    crate::output::outln!("Saving file(s) to {}", dest.display());
    match source {
        Source::Local(repo, cid) => export::write_tree(repo.store(), &cid, &dest)?,
        Source::Remote(body) => untar::extract(RawStream::new(body), &dest)?,
    }
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

/// One entry of a listed directory.
struct LsEntry {
    cid: String,
    /// The file size; `None` for a directory.
    size: Option<u64>,
    name: String,
}

pub fn ls(ctx: &Ctx, args: LsArgs) -> Result<ExitCode> {
    let client = ctx.client()?;
    let repo = match client {
        Some(_) => None,
        None => Some(ctx.repo()?),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let many = args.paths.len() > 1;
    for (i, p) in args.paths.iter().enumerate() {
        // Path by path, so what is listed before a bad path is printed, as offline.
        let entries = match (&client, &repo) {
            (Some(client), _) => ls_remote(client, p)?,
            (None, Some(repo)) => ls_local(repo.store(), &offline_ipfs_path(ctx, p)?)?,
            (None, None) => unreachable!("a repository is open when there is no daemon"),
        };
        let mut rows = Vec::with_capacity(entries.len() + 1);
        if args.headers {
            rows.push(vec!["Hash".into(), "Size".into(), "Name".into()]);
        }
        for e in entries {
            rows.push(match e.size {
                None => vec![e.cid, "-".into(), format!("{}/", e.name)],
                Some(size) => vec![e.cid, size.to_string(), e.name],
            });
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

fn ls_local(store: &dag::Store, p: &str) -> Result<Vec<LsEntry>> {
    let cid = resolve(store, p)?;
    if export::load(store, &cid)?.kind() != Kind::Directory {
        return Ok(Vec::new());
    }
    // In the directory's own order, as the daemon's `ls` gives it.
    let mut out = Vec::new();
    for e in export::entries(store, &cid)? {
        let e = e?;
        let child = export::load(store, &e.cid)?;
        out.push(LsEntry {
            cid: e.cid.to_string(),
            size: (child.kind() != Kind::Directory).then(|| child.filesize()),
            name: e.name,
        });
    }
    Ok(out)
}

fn ls_remote(client: &Client, p: &str) -> Result<Vec<LsEntry>> {
    let answer = client.json("ls", &[("arg", p)])?;
    let links = answer["Objects"]
        .as_array()
        .and_then(|objects| objects.first())
        .and_then(|o| o["Links"].as_array())
        .with_context(|| format!("the daemon's answer to ls has no links: {answer}"))?;
    links
        .iter()
        .map(|l| {
            Ok(LsEntry {
                cid: remote::field(l, "Hash"),
                size: match remote::number(l, "Type")? {
                    1 => None,
                    _ => Some(remote::number(l, "Size")?),
                },
                name: remote::field(l, "Name"),
            })
        })
        .collect()
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
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let res = match ctx.client()? {
        Some(client) => refs_remote(&client, &args, &mut out),
        None => refs_local(ctx, &args, &mut out),
    };
    let flushed = ignore_broken_pipe(out.flush());
    res?;
    flushed?;
    Ok(ExitCode::SUCCESS)
}

fn refs_local(ctx: &Ctx, args: &RefsArgs, out: &mut impl Write) -> Result<()> {
    let repo = ctx.repo()?;
    let store = repo.store();
    if args.paths == ["local"] {
        for cid in store.all_cids()? {
            ignore_broken_pipe(writeln!(out, "{}", cid?))?;
        }
        return Ok(());
    }
    let mut seen = HashSet::new();
    for p in &args.paths {
        let root = resolve(store, p)?;
        node::ops::walk_refs(store, root, args.recursive, args.unique, &mut seen, |cid| {
            if args.recursive && !dag::Codec::of(cid).follows_links() {
                warn_unfollowed(cid);
            }
            ignore_broken_pipe(writeln!(out, "{cid}"))
        })
        .map_err(|e| match e {
            node::ops::RefsError::Export(e) => anyhow::Error::new(e),
            node::ops::RefsError::Callback(e) => anyhow::Error::new(e),
            other => anyhow::anyhow!("{other}"),
        })?;
    }
    Ok(())
}

/// Tells (on stderr) that `refs -r` cannot descend into `cid`: its codec is unknown.
fn warn_unfollowed(cid: &dag::Cid) {
    eprintln!(
        "warning: {cid} has codec {}, which ipfsd cannot follow: its links (if any) are not listed",
        dag::Codec::of(cid)
    );
}

/// One request for every path (`--unique` spans them); when the daemon refuses a path,
/// the references of the ones before it are printed first, as offline.
fn refs_remote(client: &Client, args: &RefsArgs, out: &mut impl Write) -> Result<()> {
    let print = |body: ureq::Body, out: &mut dyn Write| -> Result<()> {
        for line in remote::lines(body) {
            let line = line?;
            let err = remote::field(&line, "Err");
            if !err.is_empty() {
                bail!("{err}");
            }
            let cid = remote::field(&line, "Ref");
            if line["Unfollowed"] == serde_json::Value::Bool(true)
                && let Ok(cid) = dag::block::parse_cid(&cid)
            {
                warn_unfollowed(&cid);
            }
            ignore_broken_pipe(writeln!(out, "{cid}"))?;
        }
        Ok(())
    };
    if args.paths == ["local"] {
        return print(client.post("refs/local", &[])?, out);
    }
    let query = |paths: &[String]| {
        let mut q: Vec<(&str, &str)> = paths.iter().map(|p| ("arg", p.as_str())).collect();
        q.push(("recursive", bool_str(args.recursive)));
        q.push(("unique", bool_str(args.unique)));
        client.post("refs", &q)
    };
    let body = match query(&args.paths) {
        Ok(body) => body,
        Err(e) if args.paths.len() > 1 => {
            let probe = |p: &str| {
                let body = client.post("refs", &[("arg", p)])?;
                remote::lines(body).try_for_each(|l| l.map(drop))
            };
            let Some((i, bad)) = first_failing(&args.paths, probe) else {
                return Err(e);
            };
            if i > 0 {
                print(query(&args.paths[..i])?, out)?;
            }
            return Err(bad);
        }
        Err(e) => return Err(e),
    };
    print(body, out)
}

/// A boolean flag's value in a request.
pub(super) fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}
