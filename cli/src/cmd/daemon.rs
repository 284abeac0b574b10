//! `ipfsd daemon`, `ipfsd shutdown` and `ipfsd config`.

use super::Ctx;
use anyhow::{Context, Result, bail};
use node::daemon::{Daemon, Overrides};
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// RPC API listen address for this run (multiaddr; port 0 picks a free port).
    #[arg(long, value_name = "MULTIADDR")]
    api_addr: Option<String>,
    /// Gateway listen address for this run ("" for none).
    #[arg(long, value_name = "MULTIADDR")]
    gateway_addr: Option<String>,
    /// Swarm listen address for this run (repeatable).
    #[arg(long, value_name = "MULTIADDR")]
    swarm_addr: Vec<String>,
    /// Log format: text or json. Filter with RUST_LOG (default: info).
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Collect garbage automatically: every Datastore.GCPeriod, when the store passes
    /// Datastore.StorageGCWatermark percent of Datastore.StorageMax, and before an add
    /// fails at the limit.
    #[arg(long)]
    enable_gc: bool,
}

/// The filter when `RUST_LOG` gives none. libp2p-kad warns on every automatic bootstrap
/// attempt while the routing table is empty, which is the normal state of a node with no
/// bootstrap peers (the default).
const DEFAULT_FILTER: &str = "info,libp2p_kad::behaviour=error";

/// The daemon's log filter, changeable while it runs (`ipfsd log level`): the levels as
/// directives, and how to reload the subscriber's filter.
struct Reloadable {
    levels: std::sync::Mutex<node::log::Levels>,
    apply: Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>,
}

impl std::fmt::Debug for Reloadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloadable")
            .field("levels", &self.levels)
            .finish_non_exhaustive()
    }
}

impl node::log::LogControl for Reloadable {
    fn set_level(&self, subsystem: &str, level: &str) -> Result<(), node::log::LogError> {
        use node::log::LogError;
        let mut levels = self
            .levels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = levels.clone();
        next.set(subsystem, level)?;
        let filter = EnvFilter::try_new(next.directives()).map_err(|e| LogError::Reload {
            reason: e.to_string(),
        })?;
        (self.apply)(filter).map_err(|reason| LogError::Reload { reason })?;
        tracing::info!(subsystem, level, filter = %next.directives(), "log level changed");
        *levels = next;
        Ok(())
    }
}

/// Installs the process's subscriber (stderr, text or JSON) with a reloadable filter;
/// answers the handle the daemon's `log/level` uses.
fn init_logging(format: &str) -> Result<Arc<dyn node::log::LogControl>> {
    let initial = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| DEFAULT_FILTER.to_string());
    let filter = EnvFilter::try_new(&initial)
        .map_err(|e| anyhow::anyhow!("invalid log filter {initial:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let fail =
        |e: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("cannot set up logging: {e}");
    let apply: Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync> = match format {
        "text" => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(fail)?;
            Box::new(move |f| handle.reload(f).map_err(|e| e.to_string()))
        }
        "json" => {
            let builder = builder.json().with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(fail)?;
            Box::new(move |f| handle.reload(f).map_err(|e| e.to_string()))
        }
        other => bail!("invalid log format {other:?}: expected text or json"),
    };
    Ok(Arc::new(Reloadable {
        levels: std::sync::Mutex::new(node::log::Levels::parse(&initial)),
        apply,
    }))
}

pub fn daemon(ctx: &Ctx, args: DaemonArgs) -> Result<ExitCode> {
    let log = init_logging(&args.log_format)?;
    let repo = ctx.repo()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ipfsd")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let overrides = Overrides {
            api: args.api_addr,
            gateway: args.gateway_addr,
            swarm: args.swarm_addr,
            // `ipfsd daemon --offline` (the global flag): no swarm, no DHT.
            offline: ctx.offline,
            enable_gc: args.enable_gc,
        };
        let daemon = Daemon::start_with_log(repo, overrides, Some(log)).await?;
        crate::output::status(format_args!(
            "RPC API server listening on {}",
            node::daemon::multiaddr_of(daemon.api_addr())
        ));
        if let Some(g) = daemon.gateway_addr() {
            crate::output::status(format_args!(
                "Gateway server listening on {}",
                node::daemon::multiaddr_of(g)
            ));
        }
        crate::output::status(format_args!("Daemon is ready"));
        let stop = daemon.shutdown_handle();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received, shutting down");
            stop.cancel();
        });
        daemon.wait().await?;
        crate::output::status(format_args!("Daemon stopped"));
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

pub fn shutdown(ctx: &Ctx) -> Result<ExitCode> {
    let Some(client) = ctx.client()? else {
        bail!("no daemon is running for {}", ctx.repo_path.display());
    };
    client.post("shutdown", &[])?;
    Ok(ExitCode::SUCCESS)
}

pub fn id(ctx: &Ctx) -> Result<ExitCode> {
    let info = match ctx.client()? {
        Some(client) => client.json("id", &[])?,
        None => {
            // The key file is readable while the store is held; check it is a repo first.
            ctx.config()?;
            node::identity_json(&node::identity::Identity::load(&ctx.repo_path)?)
        }
    };
    crate::output::outln!("{}", serde_json::to_string_pretty(&info)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The key (dotted, e.g. Addresses.API), `show` for the whole config, or `profile`
    /// (`config profile apply public|local`).
    key: String,
    /// The new value; prints the current one when absent.
    value: Option<String>,
    /// The profile name, for `config profile apply NAME`.
    profile: Option<String>,
    /// Parse the value as JSON.
    #[arg(long)]
    json: bool,
    /// Parse the value as a boolean.
    #[arg(long)]
    bool: bool,
}

/// `config`: while a daemon runs it is the config file's one writer, so every change (and
/// every read) goes through its API; offline, changes are made under the repository's
/// config lock ([`node::repo::edit_config`]).
pub fn config(ctx: &Ctx, args: ConfigArgs) -> Result<ExitCode> {
    let client = ctx.client()?;
    if args.key == "profile" {
        let (Some("apply"), Some(name)) = (args.value.as_deref(), args.profile.as_deref()) else {
            bail!("usage: ipfsd config profile apply public|local");
        };
        match &client {
            Some(c) => {
                c.json("config/profile/apply", &[("arg", name)])?;
            }
            None => node::repo::edit_config(&ctx.repo_path, |c| -> Result<()> {
                *c = node::config::apply_profile(c, name).with_context(|| {
                    format!("unknown profile {name:?}: expected public or local")
                })?;
                Ok(())
            })?,
        }
        crate::output::outln!("applied profile {name} (takes effect when the daemon next starts)");
        return Ok(ExitCode::SUCCESS);
    }
    if args.key == "show" && args.value.is_none() {
        let shown = match &client {
            Some(c) => c.json("config/show", &[])?,
            None => ctx.config()?.to_value(),
        };
        crate::output::outln!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(ExitCode::SUCCESS);
    }
    match args.value {
        None => {
            let v = match &client {
                Some(c) => c.json("config", &[("arg", &args.key)])?["Value"].take(),
                None => ctx
                    .config()?
                    .get(&args.key)
                    .with_context(|| format!("config key {:?} does not exist", args.key))?,
            };
            match v {
                serde_json::Value::String(s) => crate::output::outln!("{s}"),
                other => crate::output::outln!("{}", serde_json::to_string_pretty(&other)?),
            }
        }
        Some(raw) => {
            let value = if args.json {
                serde_json::from_str(&raw)
                    .with_context(|| format!("--json value {raw:?} is not valid JSON"))?
            } else if args.bool {
                serde_json::Value::Bool(super::parse_bool(&raw).map_err(anyhow::Error::msg)?)
            } else {
                serde_json::Value::String(raw)
            };
            match &client {
                Some(c) => {
                    let text = value.to_string();
                    c.json(
                        "config",
                        &[("arg", &args.key), ("arg", &text), ("json", "true")],
                    )?;
                }
                None => node::repo::edit_config(&ctx.repo_path, |c| -> Result<()> {
                    *c = c.with(&args.key, value)?;
                    Ok(())
                })?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
