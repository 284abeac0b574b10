//! Command definitions (clap) and dispatch. Each submodule handles one command family.
//! Helpers several families share (path resolution, probing paths, errors of broken raw
//! daemon streams) live here rather than in one family's file.

mod add;
mod block;
mod cid;
mod daemon;
mod dagcmd;
mod ipld;
mod name;
mod net;
mod observe;
mod pin;
mod read;
mod repo;
mod untar;
mod upload;

use anyhow::{Result, bail};
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
    /// Never use a running daemon: open the repository directly (`daemon --offline`:
    /// serve without the network).
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
    /// IPLD DAGs: nodes in any codec (put, get, resolve, stat) and CAR files.
    #[command(subcommand)]
    Dag(dagcmd::DagCommand),
    /// CID utilities: convert and format CIDs, list bases, codecs and hashes.
    #[command(subcommand)]
    Cid(cid::CidCommand),
    /// Run the node: open the repository and serve the RPC API until stopped.
    Daemon(daemon::DaemonArgs),
    /// Stop the running daemon.
    Shutdown,
    /// Show the node's identity (peer ID, public key, agent version) as JSON.
    Id,
    /// Read or set a config value: `config KEY [VALUE]`, or `config show`.
    Config(daemon::ConfigArgs),
    /// Connections to other peers.
    #[command(subcommand)]
    Swarm(net::SwarmCommand),
    /// The peers dialled at start (empty by default).
    #[command(subcommand)]
    Bootstrap(net::BootstrapCommand),
    /// The DHT: find providers and peers, announce content, get and put records.
    #[command(subcommand)]
    Routing(net::RoutingCommand),
    /// Counters of the running node.
    #[command(subcommand)]
    Stats(net::StatsCommand),
    /// The running daemon's log levels.
    #[command(subcommand)]
    Log(observe::LogCommand),
    /// Diagnostics of the running daemon.
    #[command(subcommand)]
    Diag(observe::DiagCommand),
    /// Block exchange: counters, wantlists and per-peer ledgers.
    #[command(subcommand)]
    Bitswap(net::BitswapCommand),
    /// Signing keys for IPNS names (`self` is the node's identity).
    #[command(subcommand)]
    Key(name::KeyCommand),
    /// IPNS: publish and resolve signed, mutable names.
    #[command(subcommand)]
    Name(name::NameCommand),
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
        Command::Cid(c) => cid::run(c),
        Command::Daemon(a) => daemon::daemon(&ctx, a),
        Command::Shutdown => daemon::shutdown(&ctx),
        Command::Id => daemon::id(&ctx),
        Command::Config(a) => daemon::config(&ctx, a),
        Command::Swarm(c) => net::swarm(&ctx, c),
        Command::Bootstrap(c) => net::bootstrap(&ctx, c),
        Command::Routing(c) => net::routing(&ctx, c),
        Command::Stats(c) => net::stats(&ctx, c),
        Command::Bitswap(c) => net::bitswap(&ctx, c),
        Command::Log(c) => observe::log(&ctx, c),
        Command::Diag(c) => observe::diag(&ctx, c),
        Command::Key(c) => name::key(&ctx, c),
        Command::Name(c) => name::name(&ctx, c),
        Command::Version => version(&ctx),
    }
}

fn version(ctx: &Ctx) -> Result<ExitCode> {
    let version = match ctx.client()? {
        Some(client) => crate::remote::field(&client.json("version", &[])?, "Version"),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    crate::output::outln!("ipfsd version {version}");
    Ok(ExitCode::SUCCESS)
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
        // An empty or unparsable file (left by a daemon that failed to start, or by an
        // older version writing it in place on a full disk) names no daemon; neither does a
        // stale one (the daemon was killed: nothing answers). The repository is free then,
        // and opening it tells if a daemon still holds it.
        let Ok(client) = crate::remote::Client::new(&addr) else {
            tracing::debug!(file = %file.display(), "ignoring an api file without a valid address");
            return Ok(None);
        };
        Ok(client.reachable().then_some(client))
    }

    /// The repository path to print: the one given, unless `--api` named another daemon
    /// (then the daemon's own, `reported`).
    fn shown_repo_path(&self, reported: &str) -> String {
        if self.api.is_some() {
            reported.to_string()
        } else {
            self.repo_path.display().to_string()
        }
    }

    fn repo(&self) -> Result<Repo> {
        Ok(Repo::open(&self.repo_path)?)
    }

    fn config(&self) -> Result<Config> {
        Ok(node::repo::load_config(&self.repo_path)?)
    }
}

/// Resolves `<cid>[/path]` through the store to the CID it names.
pub fn resolve(store: &dag::Store, input: &str) -> Result<Cid> {
    Ok(node::path::resolve(store, input)?)
}

/// For a request over several paths that the daemon refused before answering anything:
/// offline, the paths are handled one by one and the results for those before the first
/// bad one are printed. Finds that path (its index) and its error by asking about each
/// path alone with `probe`; `None` when no single path fails.
pub fn first_failing(
    paths: &[String],
    mut probe: impl FnMut(&str) -> Result<()>,
) -> Option<(usize, anyhow::Error)> {
    paths
        .iter()
        .enumerate()
        .find_map(|(i, p)| probe(p).err().map(|e| (i, e)))
}

/// The error of a broken raw stream: the daemon's message when it sent one.
pub fn stream_failure(e: std::io::Error) -> anyhow::Error {
    match crate::remote::stream_error(&e) {
        Some(msg) => anyhow::anyhow!("{msg}"),
        None => anyhow::Error::new(e).context("reading the daemon's answer"),
    }
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
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
