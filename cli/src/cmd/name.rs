//! `key` (the keystore) and `name` (IPNS publish and resolve). With a daemon running they
//! go through its API; without one, keys are managed in the repository directly,
//! `name publish --allow-offline` signs and stores a record locally (a daemon started
//! later puts it to the DHT and republishes it), and `name resolve` answers for the
//! node's own names.

use super::{Ctx, parse_bool};
use crate::remote::{self, Client};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use node::keystore::{KeyInfo, Keystore};
use node::names::{Names, ResolveOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new key and print its IPNS name.
    Gen {
        /// The key's name.
        name: String,
        /// The key type.
        #[arg(short = 't', long = "type", default_value = "ed25519")]
        kind: String,
    },
    /// List the keys (`self` is the node's identity).
    List {
        /// Also print each key's IPNS name.
        #[arg(short = 'l')]
        long: bool,
    },
    /// Remove keys.
    Rm {
        /// The keys' names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Also print each key's IPNS name.
        #[arg(short = 'l')]
        long: bool,
    },
    /// Rename a key.
    Rename {
        /// The current name.
        old: String,
        /// The new name.
        new: String,
        /// Replace a key that has the new name.
        #[arg(short, long)]
        force: bool,
    },
    /// Write a key to a file (libp2p protobuf format; whoever has it can publish). Reads
    /// the repository's keystore directly, also while a daemon runs.
    Export {
        /// The key's name.
        name: String,
        /// Where to write it [default: ./<name>.key].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Add a key from a file written by `key export` (or Kubo's `ipfs key export`).
    Import {
        /// The name to give it.
        name: String,
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NameCommand {
    /// Point a name (the node's own, or a key's) at a path, signed, and put it to the DHT.
    Publish(PublishArgs),
    /// Print the path a name points at.
    Resolve {
        /// /ipns/<name>[/path] or a name [default: the node's own].
        name: Option<String>,
        /// Follow names that point at names until an /ipfs/ path [default: true].
        #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
        recursive: Option<bool>,
        /// Do not use cached answers.
        #[arg(short, long)]
        nocache: bool,
        /// Print each better answer as it is found.
        #[arg(short, long)]
        stream: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// /ipfs/<cid>[/path], /ipns/<name>[/path] or a CID.
    path: String,
    /// The key to publish with: a name from `key list` or an IPNS name.
    #[arg(short, long, default_value = "self")]
    key: String,
    /// How long the record stays valid [default: Ipns.RecordLifetime, 24h].
    #[arg(long, value_parser = duration)]
    lifetime: Option<Duration>,
    /// How long resolvers may cache the record.
    #[arg(long, value_parser = duration, default_value = "5m")]
    ttl: Duration,
    /// The record's sequence number (above the current one) [default: the next].
    #[arg(long)]
    sequence: Option<u64>,
    /// Store the record locally when it cannot reach the network.
    #[arg(long)]
    allow_offline: bool,
    /// Check that the path resolves (from the store, or the network) before publishing
    /// [default: true].
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    resolve: Option<bool>,
    /// Print only the name.
    #[arg(short = 'Q', long)]
    quieter: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    node::config::parse_duration(s)
        .ok_or_else(|| format!("expected a duration like 24h, 5m, 30s or 500ms, got {s:?}"))
}

fn keystore(ctx: &Ctx) -> Result<Keystore> {
    let identity = node::identity::Identity::load(&ctx.repo_path)?;
    Ok(Keystore::new(&ctx.repo_path, identity.keypair().clone()))
}

/// The repository's naming without a network (own names only).
pub fn offline_names(ctx: &Ctx) -> Result<Names> {
    let config = ctx.config()?;
    Ok(Names::open(
        Some(&ctx.repo_path),
        keystore(ctx)?,
        None,
        config.ipns.resolve_cache_size,
    )?)
}

/// Runs `f` on a small runtime (the offline naming code is async).
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime")?;
    Ok(rt.block_on(f))
}

/// Runs `f` with an offline [`node::Node`] on `repo` (the daemon's rules, no network), then
/// shuts the node down, whatever `f` answered.
pub fn with_offline_node<T, F, Fut>(repo: node::Repo, f: F) -> Result<T>
where
    F: FnOnce(node::Node) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    block_on(async move {
        let node = node::Node::builder().open(repo).offline().spawn().await?;
        let done = f(node.clone()).await;
        node.shutdown().await;
        done
    })?
}

/// `path` with an `/ipns/` name resolved offline (the node's own names).
pub fn offline_ipfs_path(ctx: &Ctx, path: &str) -> Result<String> {
    if !path.starts_with("/ipns/") {
        return Ok(path.to_string());
    }
    let names = offline_names(ctx)?;
    let options = ResolveOptions {
        recursive: true,
        nocache: false,
    };
    Ok(block_on(names.resolve(path, options, None))??)
}

fn print_key(long: bool, name: &str, id: &str) {
    if long {
        crate::output::outln!("{id} {name}");
    } else {
        crate::output::outln!("{name}");
    }
}

fn remote_keys(v: &serde_json::Value) -> Vec<(String, String)> {
    v["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| (remote::field(k, "Name"), remote::field(k, "Id")))
        .collect()
}

fn local_keys(keys: &[KeyInfo]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| (k.name.clone(), k.ipns_name()))
        .collect()
}

pub fn key(ctx: &Ctx, cmd: KeyCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    match cmd {
        KeyCommand::Gen { name, kind } => {
            let id = match &client {
                Some(c) => remote::field(
                    &c.json("key/gen", &[("arg", &name), ("type", &kind)])?,
                    "Id",
                ),
                None => keystore(ctx)?.generate(&name, &kind)?.ipns_name(),
            };
            crate::output::outln!("{id}");
        }
        KeyCommand::List { long } => {
            let keys = match &client {
                Some(c) => remote_keys(&c.json("key/list", &[])?),
                None => local_keys(&keystore(ctx)?.list()?),
            };
            for (name, id) in keys {
                print_key(long, &name, &id);
            }
        }
        KeyCommand::Rm { names, long } => {
            let removed = match &client {
                Some(c) => {
                    let args: Vec<_> = names.iter().map(|n| ("arg", n.as_str())).collect();
                    remote_keys(&c.json("key/rm", &args)?)
                }
                None => local_keys(&keystore(ctx)?.remove_all(&names)?),
            };
            for (name, id) in removed {
                print_key(long, &name, &id);
            }
        }
        KeyCommand::Rename { old, new, force } => {
            let (id, overwrote) = match &client {
                Some(c) => {
                    let f = if force { "true" } else { "false" };
                    let v = c.json("key/rename", &[("arg", &old), ("arg", &new), ("force", f)])?;
                    (remote::field(&v, "Id"), v["Overwrite"] == true)
                }
                None => {
                    let (info, overwrote) = keystore(ctx)?.rename(&old, &new, force)?;
                    (info.ipns_name(), overwrote)
                }
            };
            let note = if overwrote {
                " (replacing the key it had)"
            } else {
                ""
            };
            crate::output::outln!("Key {id} renamed to {new}{note}");
        }
        KeyCommand::Export { name, output } => {
            // Always from the keystore itself, daemon or not: private keys never cross
            // the API (as in Kubo). Key files are not behind the store's lock.
            let bytes = keystore(ctx)?.export(&name)?;
            let path = output.unwrap_or_else(|| PathBuf::from(format!("{name}.key")));
            write_secret(&path, &bytes)?;
        }
        KeyCommand::Import { name, file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let id = match &client {
                Some(c) => {
                    let boundary = remote::boundary();
                    let body = remote::single_part(&boundary, "key", std::io::Cursor::new(bytes));
                    let resp =
                        c.post_multipart("key/import", &[("arg", &name)], &boundary, body)?;
                    let v: serde_json::Value = serde_json::from_reader(resp.into_reader())
                        .context("the daemon's answer to key/import is not valid JSON")?;
                    remote::field(&v, "Id")
                }
                None => keystore(ctx)?.import(&name, &bytes)?.ipns_name(),
            };
            crate::output::outln!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a new owner-only file (never replacing one: a key file is a secret).
fn write_secret(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

pub fn name(ctx: &Ctx, cmd: NameCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    match cmd {
        NameCommand::Publish(a) => {
            let (name, value) = match &client {
                Some(c) => publish_remote(c, &a)?,
                None => publish_offline(ctx, &a)?,
            };
            if a.quieter {
                crate::output::outln!("{name}");
            } else {
                crate::output::outln!("Published to {name}: {value}");
            }
        }
        NameCommand::Resolve {
            name,
            recursive,
            nocache,
            stream,
        } => {
            let recursive = recursive.unwrap_or(true);
            match &client {
                Some(c) => {
                    let mut args = vec![
                        ("recursive", if recursive { "true" } else { "false" }),
                        ("nocache", if nocache { "true" } else { "false" }),
                        ("stream", if stream { "true" } else { "false" }),
                    ];
                    if let Some(n) = &name {
                        args.push(("arg", n));
                    }
                    let mut out = std::io::stdout().lock();
                    for v in remote::lines(c.post("name/resolve", &args)?) {
                        writeln!(out, "{}", remote::field(&v?, "Path"))?;
                        out.flush()?;
                    }
                }
                None => {
                    // Offline, through the node: its own names (and records it holds).
                    let repo = ctx.repo()?;
                    let o = ResolveOptions { recursive, nocache };
                    let path = with_offline_node(repo, |node| async move {
                        // Kubo resolves the node's own name when none is given.
                        let name =
                            name.unwrap_or_else(|| ipns::Name::new(node.peer_id()).to_path());
                        Ok(node.names().resolve_with(&name, o).await?)
                    })?;
                    crate::output::outln!("{path}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Without a daemon: signed and kept in the repository (`--allow-offline` says so). The
/// rules (the value must resolve first, the default lifetime) are the node's, as for the
/// daemon.
fn publish_offline(ctx: &Ctx, a: &PublishArgs) -> Result<(String, String)> {
    if !a.allow_offline {
        bail!(
            "can't publish while offline: start `ipfsd daemon`, or pass --allow-offline to store the record locally"
        );
    }
    let repo = ctx.repo()?;
    let mut options = node::Publish::default()
        .key(a.key.clone())
        .ttl(a.ttl)
        .allow_offline(true)
        .no_resolve(!a.resolve.unwrap_or(true));
    if let Some(l) = a.lifetime {
        options = options.lifetime(l);
    }
    if let Some(s) = a.sequence {
        options = options.sequence(s);
    }
    with_offline_node(repo, |node| async move {
        let p = node.names().publish(&a.path, options).await?;
        Ok((p.name.to_string(), p.value))
    })
}

fn publish_remote(c: &Client, a: &PublishArgs) -> Result<(String, String)> {
    let flag = |b: bool| if b { "true" } else { "false" };
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let ttl = ms(a.ttl);
    let lifetime = a.lifetime.map(ms);
    let sequence = a.sequence.map(|s| s.to_string());
    let mut args = vec![
        ("arg", a.path.as_str()),
        ("key", a.key.as_str()),
        ("ttl", ttl.as_str()),
        ("allow-offline", flag(a.allow_offline)),
        ("resolve", flag(a.resolve.unwrap_or(true))),
    ];
    if let Some(l) = &lifetime {
        args.push(("lifetime", l));
    }
    if let Some(s) = &sequence {
        args.push(("sequence", s));
    }
    let v = c.json("name/publish", &args)?;
    Ok((remote::field(&v, "Name"), remote::field(&v, "Value")))
}
