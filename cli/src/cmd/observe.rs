//! `ipfsd stats bw`, `ipfsd log level|ls` and `ipfsd diag sys`: views of the running
//! daemon (Kubo's shapes), each one call to its RPC API.

use super::Ctx;
use super::net::online;
use crate::output::outln;
use crate::remote;
use anyhow::Result;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BwArgs {
    /// Only the traffic with this peer (a peer ID).
    #[arg(long)]
    peer: Option<String>,
    /// Only the traffic over this transport: tcp or quic.
    #[arg(long)]
    proto: Option<String>,
    /// Print the figures again every interval until interrupted.
    #[arg(long)]
    poll: bool,
    /// The interval of --poll (e.g. 1s, 500ms).
    #[arg(long, short = 'i', default_value = "1s")]
    interval: String,
    /// Print the daemon's JSON (one object per line with --poll), exact byte counts.
    #[arg(long)]
    json: bool,
}

fn rate(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

fn human_rate(r: f64) -> String {
    format!("{}/s", super::repo::human_bytes(r.max(0.0).round() as u64))
}

/// `stats bw`.
pub fn bw(ctx: &Ctx, args: BwArgs) -> Result<ExitCode> {
    let client = online(ctx, "stats bw")?;
    let mut q: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &args.peer {
        q.push(("peer", p));
    }
    if let Some(p) = &args.proto {
        q.push(("proto", p));
    }
    if !args.poll {
        let v = client.json("stats/bw", &q)?;
        if args.json {
            outln!("{}", serde_json::to_string(&v)?);
        } else {
            outln!(
                "Bandwidth\nTotalIn: {}\nTotalOut: {}\nRateIn: {}\nRateOut: {}",
                super::repo::human_bytes(remote::number(&v, "TotalIn")?),
                super::repo::human_bytes(remote::number(&v, "TotalOut")?),
                human_rate(rate(&v, "RateIn")),
                human_rate(rate(&v, "RateOut")),
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    q.push(("poll", "true"));
    q.push(("interval", &args.interval));
    let body = client.post("stats/bw", &q)?;
    if !args.json {
        outln!(
            "{:>12}{:>12}{:>14}{:>14}",
            "Total Up",
            "Total Down",
            "Rate Up",
            "Rate Down"
        );
    }
    for line in BufReader::new(body.into_reader()).lines() {
        if crate::output::stdout_gone() {
            break;
        }
        let line = line?;
        if args.json {
            outln!("{line}");
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        outln!(
            "{:>12}{:>12}{:>14}{:>14}",
            super::repo::human_bytes(remote::number(&v, "TotalOut")?),
            super::repo::human_bytes(remote::number(&v, "TotalIn")?),
            human_rate(rate(&v, "RateOut")),
            human_rate(rate(&v, "RateIn")),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Set a subsystem's log level (`all` for every one) in the running daemon.
    Level {
        /// The subsystem (see `log ls`), or `all`.
        subsystem: String,
        /// trace, debug, info, warn, error or off.
        level: String,
    },
    /// List the subsystems whose level can be set.
    Ls,
}

/// `log level|ls`.
pub fn log(ctx: &Ctx, cmd: LogCommand) -> Result<ExitCode> {
    let client = online(ctx, "log")?;
    match cmd {
        LogCommand::Level { subsystem, level } => {
            let v = client.json("log/level", &[("arg", &subsystem), ("arg", &level)])?;
            outln!("{}", remote::field(&v, "Message").trim_end());
        }
        LogCommand::Ls => {
            let v = client.json("log/ls", &[])?;
            for s in v["Strings"].as_array().into_iter().flatten() {
                if let Some(s) = s.as_str() {
                    outln!("{s}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum DiagCommand {
    /// What the daemon runs on: version, OS, CPUs, memory, disk, repository, addresses (JSON).
    Sys,
}

/// `diag sys`.
pub fn diag(ctx: &Ctx, cmd: DiagCommand) -> Result<ExitCode> {
    let client = online(ctx, "diag")?;
    match cmd {
        DiagCommand::Sys => {
            let v = client.json("diag/sys", &[])?;
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
