//! The daemon: a [`Node`] with the RPC API and the HTTP gateway served in front of it.
//!
//! `Daemon::start` builds the node on the repository ([`Node::builder`]), binds the API
//! listener (port 0 picks a free port), writes the bound address as a multiaddr to
//! `$IPFSD_PATH/api` (as Kubo does) so the CLI and scripts can find it, and serves until
//! [`Daemon::shutdown`] is called (by `POST /api/v0/shutdown`, or a signal handler in the
//! binary). The gateway (on `Addresses.Gateway`, its URL written to `$IPFSD_PATH/gateway`)
//! is a second listener over the same node. Both only translate HTTP into `Node` calls.
//!
//! Shutdown is graceful and ordered: the API listener closes and requests in flight get
//! a grace to finish (their writes commit or roll back as a whole), the gateway gets the
//! same grace, then [`Node::shutdown`] cancels the node's tasks (a request still waiting
//! for blocks then ends with an error) and waits for its tracker to empty, the store
//! closes and the `api` file is removed.

use crate::api::{self, ApiState};
use crate::node::Node;
use crate::repo::Repo;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for requests still running on the blocking pool.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The file in the repository that holds the running daemon's API multiaddr.
pub const API_FILE: &str = "api";
/// The file in the repository that holds the running gateway's URL.
pub const GATEWAY_FILE: &str = "gateway";

/// The daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// An address is not a `/ip4|ip6/<ip>/tcp/<port>` multiaddr.
    #[error(
        "invalid listen address {addr:?}: expected /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port>"
    )]
    BadAddr {
        /// The address given.
        addr: String,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Writing or removing the `api` file failed.
    #[error("{path}: {source}")]
    ApiFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A config value is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The node could not start.
    #[error(transparent)]
    Node(#[from] crate::node::Error),
    /// The server failed.
    #[error("RPC API server: {source}")]
    Serve {
        /// Why.
        source: std::io::Error,
    },
}

/// Parses a TCP multiaddr into a socket address.
pub fn socket_addr(addr: &str) -> Result<SocketAddr, DaemonError> {
    use multiaddr::{Multiaddr, Protocol};
    let bad = || DaemonError::BadAddr {
        addr: addr.to_string(),
    };
    let ma: Multiaddr = addr.parse().map_err(|_| bad())?;
    let mut it = ma.iter();
    let ip: std::net::IpAddr = match it.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Err(bad()),
    };
    let port = match it.next() {
        Some(Protocol::Tcp(port)) => port,
        _ => return Err(bad()),
    };
    if it.next().is_some() {
        return Err(bad());
    }
    Ok(SocketAddr::new(ip, port))
}

/// The multiaddr of a socket address.
pub fn multiaddr_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}", a.ip(), a.port()),
    }
}

/// Overrides of the configured addresses for one run (`ipfsd daemon --api-addr ...`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The RPC API address.
    pub api: Option<String>,
    /// The gateway address (empty: no gateway).
    pub gateway: Option<String>,
    /// Swarm addresses.
    pub swarm: Vec<String>,
    /// Run without the network (no swarm, no DHT), like `ipfs daemon --offline`.
    pub offline: bool,
    /// Collect garbage automatically (`ipfsd daemon --enable-gc`; see
    /// [`NodeBuilder::auto_gc`](crate::node::NodeBuilder::auto_gc)).
    pub enable_gc: bool,
}

/// The DHT datastore file in the repository.
pub const DATASTORE_FILE: &str = crate::node::DATASTORE_FILE;

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    node: Node,
    api_addr: SocketAddr,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    api_file: PathBuf,
    gateway: Option<Gateway>,
}

/// The running HTTP gateway.
#[derive(Debug)]
struct Gateway {
    addr: SocketAddr,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    file: PathBuf,
}

impl Daemon {
    /// Starts serving `repo` with the configured addresses, overridden by `overrides`.
    pub async fn start(repo: Repo, overrides: Overrides) -> Result<Daemon, DaemonError> {
        Self::start_with_log(repo, overrides, None).await
    }

    /// [`Daemon::start`], with `log` answering the API's `log/level` (the library installs
    /// no `tracing` subscriber: the program that did hands over its handle here; without
    /// one, `log/level` fails and says so).
    pub async fn start_with_log(
        repo: Repo,
        overrides: Overrides,
        log: Option<std::sync::Arc<dyn crate::log::LogControl>>,
    ) -> Result<Daemon, DaemonError> {
        let mut config = repo.config().clone();
        if let Some(a) = overrides.api {
            config.addresses.api = a;
        }
        if let Some(g) = overrides.gateway {
            config.addresses.gateway = g;
        }
        if !overrides.swarm.is_empty() {
            config.addresses.swarm = overrides.swarm;
        }
        // Every config value parsed once; a bad one fails the start, naming its key.
        let settings = config.settings()?;
        // Each listener has its own connection cap, both well below the descriptor limit
        // (raised to the hard limit first): a flood of gateway connections leaves the
        // API, the swarm and the store their descriptors.
        let fd_limit = crate::serve::raise_fd_limit();
        let api_limits = crate::serve::Limits {
            max_connections: settings.api.max_connections,
            header_timeout: settings.api.header_timeout,
        }
        .within(fd_limit, 8);
        let gateway_limits = crate::serve::Limits {
            max_connections: settings.gateway.max_connections,
            header_timeout: settings.gateway.header_timeout,
        }
        .within(fd_limit, 2);
        let (listener, api_addr) = bind(settings.api.addr).await?;
        // The gateway's port is bound before the network starts, so a port in use fails
        // the start cleanly.
        let gateway_listener = match settings.gateway.addr {
            None => None,
            Some(addr) => Some((bind(addr).await?, settings.gateway.retrieval_timeout)),
        };
        let repo_path = repo.path().to_path_buf();
        let mut builder = Node::builder()
            .open(repo)
            .config(config.clone())
            .auto_gc(overrides.enable_gc);
        if overrides.offline {
            builder = builder.offline();
        }
        let node = builder.spawn().await?;
        let gateway = match gateway_listener {
            None => None,
            Some((bound, timeout)) => Some(start_gateway(
                bound,
                timeout,
                gateway_limits,
                &node,
                &repo_path,
            )?),
        };
        let shutdown = CancellationToken::new();
        let access = api::Access::new(
            config.api.allowed_origins(),
            &config.api.allowed_hosts,
            api_addr,
        );
        let app = api::router(
            ApiState::new(node.clone(), access, shutdown.clone()).with_log_control(log),
        );
        let stop = shutdown.clone();
        let server = tokio::spawn(crate::serve::serve(
            listener,
            app,
            api_limits,
            "api",
            async move { stop.cancelled().await },
        ));
        let api_file = repo_path.join(API_FILE);
        write_atomic(&api_file, multiaddr_of(api_addr).as_bytes()).map_err(|source| {
            DaemonError::ApiFile {
                path: api_file.clone(),
                source,
            }
        })?;
        tracing::info!(api = %api_addr, gateway = ?gateway.as_ref().map(|g| g.addr), repo = %repo_path.display(), "daemon ready");
        Ok(Daemon {
            node,
            api_addr,
            shutdown,
            server,
            api_file,
            gateway,
        })
    }

    /// The node the daemon serves.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node's naming (publish, resolve).
    pub fn names(&self) -> &crate::names::Names {
        self.node.naming()
    }

    /// The network handle (`None` when started offline).
    pub fn network(&self) -> Option<&crate::net::Network> {
        self.node.online().map(|o| &o.net)
    }

    /// The BitSwap handle (`None` when started offline).
    pub fn bitswap(&self) -> Option<&bitswap::Bitswap> {
        self.node.bitswap()
    }

    /// The address the RPC API listens on.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The address the HTTP gateway listens on (`None` when `Addresses.Gateway` is empty).
    pub fn gateway_addr(&self) -> Option<SocketAddr> {
        self.gateway.as_ref().map(|g| g.addr)
    }

    /// A token that stops the daemon when cancelled (see [`Daemon::shutdown`]).
    pub fn shutdown_handle(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Asks the daemon to stop; [`Daemon::wait`] returns once it has.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the daemon has stopped (after a shutdown request), then removes the
    /// `api` file.
    pub async fn wait(self) -> Result<(), DaemonError> {
        let mut server = self.server;
        // After the request to stop, requests in flight get a grace. One still running
        // after it (a `cat` waiting for blocks nobody sends, up to `Bitswap.FetchTimeout`)
        // ends with an error once the node's shutdown below has cancelled its fetch.
        let served = tokio::select! {
            served = &mut server => Some(served),
            () = self.shutdown.cancelled() => {
                tokio::time::timeout(CLOSE_TIMEOUT, &mut server).await.ok()
            }
        };
        if served.is_none() {
            tracing::warn!("API requests still running at shutdown; cancelling their fetches");
        }
        if let Some(g) = self.gateway {
            g.stop.cancel();
            // Downloads still running get the API's grace, then are cut off.
            let mut server = g.server;
            if tokio::time::timeout(CLOSE_TIMEOUT, &mut server)
                .await
                .is_err()
            {
                tracing::warn!("gateway downloads still running at shutdown; closing them");
                server.abort();
            }
            let _ = std::fs::remove_file(&g.file);
        }
        self.node.shutdown().await;
        let served = match served {
            Some(served) => served,
            None => match tokio::time::timeout(CLOSE_TIMEOUT, &mut server).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!(
                        "API requests still running after the node stopped; closing them"
                    );
                    server.abort();
                    Ok(Ok(()))
                }
            },
        };
        let store = self.node.store().clone();
        drop(self.node);
        // Requests that were running finish on the blocking pool; the repository is free
        // (and everything they acknowledged is committed) once their store handles are
        // gone. They end promptly: their clients are disconnected.
        let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
        while store.handle_count() > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if store.handle_count() > 1 {
            tracing::warn!("requests still running at shutdown; the store closes when they end");
        }
        drop(store);
        let removed = std::fs::remove_file(&self.api_file);
        match served {
            Ok(Ok(())) => {}
            Ok(Err(source)) => return Err(DaemonError::Serve { source }),
            Err(e) => {
                return Err(DaemonError::Serve {
                    source: std::io::Error::other(e.to_string()),
                });
            }
        }
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DaemonError::ApiFile {
                path: self.api_file,
                source: e,
            }),
            _ => {
                tracing::info!("daemon stopped");
                Ok(())
            }
        }
    }
}

/// Binds a TCP listener on `want`; answers it with the address it got (port 0 picks a
/// free one).
async fn bind(want: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), DaemonError> {
    let bind_err = |source| DaemonError::Bind { addr: want, source };
    let listener = tokio::net::TcpListener::bind(want)
        .await
        .map_err(bind_err)?;
    let got = listener.local_addr().map_err(bind_err)?;
    Ok((listener, got))
}

/// Writes an address file whole or not at all (temp file + rename): a reader never sees it
/// empty or half-written, also when the disk is full (then the write fails and the old
/// file, if any, stays; readers check that something answers at the address it names).
fn write_atomic(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Serves the HTTP gateway for `node` on `listener` (bound to `addr`); writes its URL to
/// `$IPFSD_PATH/gateway`.
fn start_gateway(
    (listener, addr): (tokio::net::TcpListener, SocketAddr),
    timeout: std::time::Duration,
    limits: crate::serve::Limits,
    node: &Node,
    repo: &std::path::Path,
) -> Result<Gateway, DaemonError> {
    let app = crate::gateway::router(crate::gateway::GatewayState::for_node(node, timeout)).layer(
        axum::middleware::from_fn_with_state(
            node.metrics().clone(),
            crate::metrics::Metrics::gateway_layer,
        ),
    );
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let server = tokio::spawn(crate::serve::serve(
        listener,
        app,
        limits,
        "gateway",
        async move { stopped.cancelled().await },
    ));
    let file = repo.join(GATEWAY_FILE);
    write_atomic(&file, format!("http://{addr}").as_bytes()).map_err(|source| {
        DaemonError::ApiFile {
            path: file.clone(),
            source,
        }
    })?;
    Ok(Gateway {
        addr,
        stop,
        server,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            socket_addr("/ip4/127.0.0.1/tcp/5001").ok(),
            Some("127.0.0.1:5001".parse().expect("addr"))
        );
        assert_eq!(
            socket_addr("/ip6/::1/tcp/0").ok(),
            Some("[::1]:0".parse().expect("addr"))
        );
        assert!(socket_addr("/ip4/127.0.0.1/udp/1").is_err());
        assert!(socket_addr("/dns4/localhost/tcp/1").is_err());
        assert!(socket_addr("nonsense").is_err());
        assert_eq!(
            multiaddr_of("127.0.0.1:8080".parse().expect("addr")),
            "/ip4/127.0.0.1/tcp/8080"
        );
    }
}
