//! Command definitions (clap) and dispatch. Each submodule handles one command family.

mod add;
mod block;
mod daemon;
mod dagcmd;
mod pin;
mod read;
mod repo;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use dag::Cid;
use node::{Config, Repo};
use std::path::PathBuf;
use std::process::ExitCode;

/// ipfsd: an IPFS-compatible content-addressed node.
#[derive(Debug, Parser)]
#[command(name = "ipfsd", version, about, max_term_width = 100)]
pub struct Cli {
    /// Repository directory [default: $IPFSD_PATH or ~/.ipfsd]
    #[arg(long, global = true, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Use the daemon at this API address (multiaddr or http:// URL).
    #[arg(long, global = true, value_name = "ADDR", conflicts_with = "offline")]
    api: Option<String>,
    /// Never use a running daemon: open the repository directly.
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new repository.
    Init(repo::InitArgs),
    /// Add files or directories (or stdin) and print their CIDs.
    Add(add::AddArgs),
    /// Print the contents of a file.
    Cat(read::CatArgs),
    /// Download a file or directory to disk.
    Get(read::GetArgs),
    /// List the entries of a directory.
    Ls(read::LsArgs),
    /// List the links of a block (its references).
    Refs(read::RefsArgs),
    /// Pin objects so garbage collection keeps them.
    #[command(subcommand)]
    Pin(pin::PinCommand),
    /// Repository maintenance.
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Raw blocks.
    #[command(subcommand)]
    Block(block::BlockCommand),
    /// DAGs as CAR files.
    #[command(subcommand)]
    Dag(dagcmd::DagCommand),
    /// Run the node: open the repository and serve the RPC API until stopped.
    Daemon(daemon::DaemonArgs),
    /// Stop the running daemon.
    Shutdown,
    /// Read or set a config value: `config KEY [VALUE]`, or `config show`.
    Config(daemon::ConfigArgs),
    /// Print the version.
    Version,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Ctx {
        repo_path: cli.repo.unwrap_or_else(node::repo::default_path),
        api: cli.api,
        offline: cli.offline,
    };
    match cli.command {
        Command::Init(a) => repo::init(&ctx, a),
        Command::Add(a) => add::run(&ctx, a),
        Command::Cat(a) => read::cat(&ctx, a),
        Command::Get(a) => read::get(&ctx, a),
        Command::Ls(a) => read::ls(&ctx, a),
        Command::Refs(a) => read::refs(&ctx, a),
        Command::Pin(c) => pin::run(&ctx, c),
        Command::Repo(c) => repo::run(&ctx, c),
        Command::Block(c) => block::run(&ctx, c),
        Command::Dag(c) => dagcmd::run(&ctx, c),
        Command::Daemon(a) => daemon::daemon(&ctx, a),
        Command::Shutdown => daemon::shutdown(&ctx),
        Command::Config(a) => daemon::config(&ctx, a),
        Command::Version => {
            println!("ipfsd version {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What every command needs to find the repository or its daemon.
pub struct Ctx {
    repo_path: PathBuf,
    api: Option<String>,
    offline: bool,
}

impl Ctx {
    /// The daemon to talk to: `--api`, or the one whose address is in the repository's
    /// `api` file and answers; `None` when commands should open the repository directly.
    fn client(&self) -> Result<Option<crate::remote::Client>> {
        if self.offline {
            return Ok(None);
        }
        if let Some(api) = &self.api {
            let client = crate::remote::Client::new(api)?;
            if !client.reachable() {
                bail!("cannot connect to the daemon at {api}");
            }
            return Ok(Some(client));
        }
        let file = self.repo_path.join(node::daemon::API_FILE);
        let Ok(addr) = std::fs::read_to_string(&file) else {
            return Ok(None);
        };
        let client = crate::remote::Client::new(&addr)
            .with_context(|| format!("{} holds an invalid address", file.display()))?;
        // A stale file (the daemon was killed) is ignored: the repository is free then.
        Ok(client.reachable().then_some(client))
    }

    fn repo(&self) -> Result<Repo> {
        Ok(Repo::open(&self.repo_path)?)
    }

    fn config(&self) -> Result<Config> {
        Ok(node::repo::load_config(&self.repo_path)?)
    }
}

/// Splits `<cid>[/path]` or `/ipfs/<cid>[/path]` into the root CID and the inner path.
pub fn parse_path(input: &str) -> Result<(Cid, String)> {
    let rest = input.strip_prefix("/ipfs/").unwrap_or(input);
    if rest.starts_with('/') || input.starts_with("/ipns/") {
        bail!("invalid path {input:?}: expected <cid>[/path] or /ipfs/<cid>[/path]");
    }
    let (cid, path) = rest.split_once('/').unwrap_or((rest, ""));
    let cid = dag::block::parse_cid(cid).with_context(|| format!("invalid path {input:?}"))?;
    Ok((cid, path.to_string()))
}

/// Resolves `<cid>[/path]` through the store to the CID it names.
pub fn resolve(store: &dag::Store, input: &str) -> Result<Cid> {
    let (root, path) = parse_path(input)?;
    Ok(dag::export::resolve(store, &root, &path)?)
}

/// Parses a `--flag[=bool]` style value.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let cid = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert_eq!(parse_path(cid).expect("ok").1, "");
        assert_eq!(
            parse_path(&format!("/ipfs/{cid}/a/b")).expect("ok").1,
            "a/b"
        );
        assert!(parse_path("nope").is_err());
        assert!(parse_path("/ipfs/").is_err());
        assert!(parse_path("/ipns/example.com").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
