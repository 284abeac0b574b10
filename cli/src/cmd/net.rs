//! `swarm`, `bootstrap`, `routing` and `stats`: the network commands. They talk to the
//! running daemon (the network lives there), except `bootstrap`, which edits the config
//! file directly when no daemon runs.

use super::Ctx;
use crate::remote::{self, Client};
use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Subcommand;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn online(ctx: &Ctx, what: &str) -> Result<Client> {
    match ctx.client()? {
        Some(c) => Ok(c),
        None => bail!(
            "{what} needs the running node: start `ipfsd daemon` for {} first",
            ctx.repo_path.display()
        ),
    }
}

fn print_strings(v: &serde_json::Value) {
    for s in v["Strings"].as_array().into_iter().flatten() {
        if let Some(s) = s.as_str() {
            crate::output::outln!("{s}");
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SwarmCommand {
    /// List the connected peers.
    Peers {
        /// Also show round-trip times.
        #[arg(long)]
        latency: bool,
        /// Print the JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Connect to peers (`/ip4/127.0.0.1/tcp/4001/p2p/<id>`).
    Connect {
        #[arg(required = true)]
        addrs: Vec<String>,
    },
    /// Close every connection to peers (a `/p2p/` address or a peer ID).
    Disconnect {
        #[arg(required = true)]
        peers: Vec<String>,
    },
    /// Addresses: known peers' (default), or this node's own.
    Addrs {
        #[command(subcommand)]
        which: Option<AddrsCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddrsCommand {
    /// The addresses this node listens on.
    Listen,
    /// This node's addresses as others dial them.
    Local {
        /// Append `/p2p/<peer id>`.
        #[arg(long)]
        id: bool,
    },
}

pub fn swarm(ctx: &Ctx, cmd: SwarmCommand) -> Result<ExitCode> {
    let client = online(ctx, "swarm")?;
    match cmd {
        SwarmCommand::Peers { latency, json } => {
            let flag = if latency { "true" } else { "false" };
            let v = client.json("swarm/peers", &[("latency", flag)])?;
            if json {
                crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            for p in v["Peers"].as_array().into_iter().flatten() {
                let line = format!(
                    "{}/p2p/{}",
                    remote::field(p, "Addr"),
                    remote::field(p, "Peer")
                );
                match p.get("Latency").and_then(|l| l.as_str()) {
                    Some(l) if latency => crate::output::outln!("{line} {l}"),
                    _ => crate::output::outln!("{line}"),
                }
            }
        }
        SwarmCommand::Connect { addrs } => {
            let args: Vec<_> = addrs.iter().map(|a| ("arg", a.as_str())).collect();
            print_strings(&client.json("swarm/connect", &args)?);
        }
        SwarmCommand::Disconnect { peers } => {
            let args: Vec<_> = peers.iter().map(|a| ("arg", a.as_str())).collect();
            print_strings(&client.json("swarm/disconnect", &args)?);
        }
        SwarmCommand::Addrs { which: None } => {
            let v = client.json("swarm/addrs", &[])?;
            for (peer, addrs) in v["Addrs"].as_object().into_iter().flatten() {
                let addrs = addrs.as_array().map_or(&[][..], Vec::as_slice);
                crate::output::outln!("{peer} ({})", addrs.len());
                for a in addrs {
                    crate::output::outln!("\t{}", a.as_str().unwrap_or_default());
                }
            }
        }
        SwarmCommand::Addrs {
            which: Some(AddrsCommand::Listen),
        } => print_strings(&client.json("swarm/addrs/listen", &[])?),
        SwarmCommand::Addrs {
            which: Some(AddrsCommand::Local { id }),
        } => {
            let flag = if id { "true" } else { "false" };
            print_strings(&client.json("swarm/addrs/local", &[("id", flag)])?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum BootstrapCommand {
    /// List the peers dialled at start.
    List,
    /// Add peers (full `/p2p/` multiaddrs).
    Add {
        addrs: Vec<String>,
        /// Add the public IPFS bootstrap peers (joins the public network on next start).
        #[arg(long)]
        default: bool,
    },
    /// Remove peers (address or peer ID).
    Rm {
        peers: Vec<String>,
        /// Remove all.
        #[arg(long)]
        all: bool,
    },
}

pub fn bootstrap(ctx: &Ctx, cmd: BootstrapCommand) -> Result<ExitCode> {
    let (path, args): (&str, Vec<(&str, String)>) = match &cmd {
        BootstrapCommand::List => ("bootstrap/list", vec![]),
        BootstrapCommand::Add { addrs, default } => {
            if addrs.is_empty() && !default {
                bail!("give peers to add (or --default)");
            }
            let mut a: Vec<_> = addrs.iter().map(|x| ("arg", x.clone())).collect();
            a.push(("default", default.to_string()));
            ("bootstrap/add", a)
        }
        BootstrapCommand::Rm { peers, all } => {
            if peers.is_empty() && !all {
                bail!("give peers to remove (or --all)");
            }
            let mut a: Vec<_> = peers.iter().map(|x| ("arg", x.clone())).collect();
            a.push(("all", all.to_string()));
            ("bootstrap/rm", a)
        }
    };
    let peers: Vec<String> = match ctx.client()? {
        Some(client) => {
            let args: Vec<_> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let v = client.json(path, &args)?;
            v["Peers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        }
        None => offline_bootstrap(ctx, cmd)?,
    };
    for p in peers {
        crate::output::outln!("{p}");
    }
    Ok(ExitCode::SUCCESS)
}

fn offline_bootstrap(ctx: &Ctx, cmd: BootstrapCommand) -> Result<Vec<String>> {
    ctx.config()?;
    node::repo::edit_config(&ctx.repo_path, |c| -> Result<Vec<String>> {
        Ok(match cmd {
            BootstrapCommand::List => c.bootstrap.clone(),
            BootstrapCommand::Add { addrs, default } => c.bootstrap_add(&addrs, default)?,
            BootstrapCommand::Rm { peers, all } => c.bootstrap_rm(&peers, all),
        })
    })
}

#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// Announce to the DHT that this node provides blocks (it must hold them).
    Provide {
        #[arg(required = true)]
        cids: Vec<String>,
        /// Also every block below each CID.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Find peers that provide a block.
    Findprovs {
        cid: String,
        /// Stop after this many providers.
        #[arg(short = 'n', long, default_value_t = 20)]
        num_providers: u64,
    },
    /// Find a peer's addresses.
    Findpeer { peer: String },
    /// Get a value (`/ipns/<name>` or `/pk/<peer id>`) from the DHT; prints its raw bytes.
    Get { key: String },
    /// Put a value read from a file (`-` for stdin) under a key.
    Put { key: String, file: String },
    /// Announce everything per the provide strategy now.
    Reprovide,
}

pub fn routing(ctx: &Ctx, cmd: RoutingCommand) -> Result<ExitCode> {
    let client = online(ctx, "routing")?;
    match cmd {
        RoutingCommand::Provide { cids, recursive } => {
            let mut args: Vec<_> = cids.iter().map(|c| ("arg", c.as_str())).collect();
            args.push(("recursive", if recursive { "true" } else { "false" }));
            for ev in remote::lines(client.post("routing/provide", &args)?) {
                ev?;
            }
        }
        RoutingCommand::Findprovs { cid, num_providers } => {
            let n = num_providers.to_string();
            let body = client.post("routing/findprovs", &[("arg", &cid), ("num-providers", &n)])?;
            let mut out = std::io::stdout().lock();
            for ev in remote::lines(body) {
                let ev = ev?;
                if ev["Type"] == 4 {
                    for r in ev["Responses"].as_array().into_iter().flatten() {
                        writeln!(out, "{}", remote::field(r, "ID"))?;
                    }
                    out.flush()?;
                }
            }
        }
        RoutingCommand::Findpeer { peer } => {
            let v = client.json("routing/findpeer", &[("arg", &peer)])?;
            for r in v["Responses"].as_array().into_iter().flatten() {
                for a in r["Addrs"].as_array().into_iter().flatten() {
                    crate::output::outln!("{}", a.as_str().unwrap_or_default());
                }
            }
        }
        RoutingCommand::Get { key } => {
            let v = client.json("routing/get", &[("arg", &key)])?;
            let value = base64::engine::general_purpose::STANDARD
                .decode(remote::field(&v, "Extra"))
                .context("the daemon sent a value that is not base64")?;
            std::io::stdout().write_all(&value)?;
        }
        RoutingCommand::Put { key, file } => {
            let data = if file == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                buf
            } else {
                std::fs::read(&file).with_context(|| format!("reading {file}"))?
            };
            if data.len() > 64 << 10 {
                bail!("{file}: {} bytes is too large for a DHT value", data.len());
            }
            let boundary = remote::boundary();
            let body = remote::single_part(&boundary, "value", std::io::Cursor::new(data));
            let resp = client.post_multipart("routing/put", &[("arg", &key)], &boundary, body)?;
            let v: serde_json::Value = serde_json::from_reader(resp.into_reader())
                .context("the daemon's answer to routing/put is not valid JSON")?;
            crate::output::outln!("{}", remote::field(&v, "ID"));
        }
        RoutingCommand::Reprovide => {
            client.json("routing/reprovide", &[])?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Announcement counters and the record store's size.
    Provide,
    /// Peers, routing-table sizes and refused peers.
    Dht,
    /// Block exchange counters (as `bitswap stat --json`).
    Bitswap,
    /// Bytes sent and received over libp2p connections, and their rates.
    Bw(super::observe::BwArgs),
    /// Repository statistics (as `repo stat`).
    Repo {
        /// Print sizes in human units.
        #[arg(short = 'H', long)]
        human: bool,
    },
}

pub fn stats(ctx: &Ctx, cmd: StatsCommand) -> Result<ExitCode> {
    let path = match cmd {
        StatsCommand::Provide => "stats/provide",
        StatsCommand::Dht => "stats/dht",
        StatsCommand::Bitswap => "bitswap/stat",
        StatsCommand::Bw(args) => return super::observe::bw(ctx, args),
        StatsCommand::Repo { human } => {
            return super::repo::run(ctx, super::repo::RepoCommand::Stat { human });
        }
    };
    let client = online(ctx, "stats")?;
    let v = client.json(path, &[])?;
    crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
    if path == "stats/provide"
        && let Some(line) = falling_behind(&v)
    {
        eprintln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The warning `stats provide` prints on stderr when the reprovider falls behind.
fn falling_behind(v: &serde_json::Value) -> Option<String> {
    if v.get("FallingBehind").and_then(serde_json::Value::as_bool) != Some(true) {
        return None;
    }
    let secs = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let running = v.get("Reproviding").and_then(serde_json::Value::as_bool) == Some(true);
    Some(format!(
        "warning: the reprovider is falling behind: {} takes about {} but Provide.Interval is {}; \
         announcements expire before they are renewed",
        if running {
            "the running run"
        } else {
            "the last run"
        },
        secs("ReprovideEstimateSeconds").map_or("?".into(), |s| format!("{s:.0}s")),
        secs("ReprovideIntervalSeconds").map_or("?".into(), |s| format!("{s:.0}s")),
    ))
}

#[derive(Debug, Subcommand)]
pub enum BitswapCommand {
    /// Block exchange counters, the wantlist and the peers.
    Stat {
        /// Print the daemon's JSON.
        #[arg(long)]
        json: bool,
    },
    /// What this node wants (or, with --peer, what that peer wants from it).
    Wantlist {
        /// A peer ID.
        #[arg(long, short)]
        peer: Option<String>,
    },
    /// The ledger with one peer: bytes and blocks each way, debt ratio, send probability.
    Ledger {
        /// The peer ID.
        peer: String,
        /// Print the daemon's JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn bitswap(ctx: &Ctx, cmd: BitswapCommand) -> Result<ExitCode> {
    let client = online(ctx, "bitswap")?;
    match cmd {
        BitswapCommand::Stat { json } => {
            let v = client.json("bitswap/stat", &[])?;
            if json {
                crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            crate::output::outln!(
                "bitswap status ({} strategy)",
                remote::field(&v, "Strategy")
            );
            for (label, key) in [
                ("blocks received", "BlocksReceived"),
                ("blocks sent", "BlocksSent"),
                ("data received", "DataReceived"),
                ("data sent", "DataSent"),
                ("dup blocks received", "DupBlksReceived"),
                ("dup data received", "DupDataReceived"),
                ("messages received", "MessagesReceived"),
                ("misbehaving peers disconnected", "MisbehavingPeers"),
                ("ledger exchanges agreed", "LedgerAgreed"),
                ("ledger resets", "LedgerResets"),
            ] {
                crate::output::outln!("\t{label}: {}", n(key));
            }
            let list = |k: &str| -> Vec<String> {
                v.get(k)
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                x.get("/").map_or_else(
                                    || x.as_str().unwrap_or("").to_string(),
                                    |c| c.as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let wants = list("Wantlist");
            crate::output::outln!("\twantlist [{} keys]", wants.len());
            for w in wants {
                crate::output::outln!("\t\t{w}");
            }
            let peers = list("Peers");
            crate::output::outln!("\tpartners [{}]", peers.len());
            for p in peers {
                crate::output::outln!("\t\t{p}");
            }
        }
        BitswapCommand::Wantlist { peer } => {
            let args: Vec<(&str, &str)> =
                peer.as_deref().map(|p| ("peer", p)).into_iter().collect();
            let v = client.json("bitswap/wantlist", &args)?;
            for k in v
                .get("Keys")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = k.get("/").and_then(serde_json::Value::as_str) {
                    crate::output::outln!("{c}");
                }
            }
        }
        BitswapCommand::Ledger { peer, json } => {
            let v = client.json("bitswap/ledger", &[("arg", &peer)])?;
            if json {
                crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let raw = |k: &str| v.get(k).map(|x| x.to_string()).unwrap_or_default();
            crate::output::outln!("Ledger for {}", remote::field(&v, "Peer"));
            crate::output::outln!("Debt ratio:\t{}", raw("Value"));
            crate::output::outln!("Send probability:\t{}", raw("SendProbability"));
            crate::output::outln!("Exchanges:\t{}", raw("Exchanged"));
            crate::output::outln!("Bytes sent:\t{}", raw("Sent"));
            crate::output::outln!("Bytes received:\t{}", raw("Recv"));
            crate::output::outln!("Blocks sent:\t{}", raw("BlocksSent"));
            crate::output::outln!("Blocks received:\t{}", raw("BlocksRecv"));
            crate::output::outln!("Ledger resets:\t{}", raw("Resets"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
