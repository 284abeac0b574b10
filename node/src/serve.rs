//! Serving an HTTP router on a TCP listener with limits: the RPC API and the gateway each
//! run one [`serve`] loop with their own [`Limits`].
//!
//! Data flow: the loop accepts a connection, takes one of the listener's
//! `max_connections` turns (none free: the connection gets a one-line 503 and is closed at
//! once, so idle sockets cannot pile up past the cap and eat the process's file
//! descriptors), and serves it on its own task with hyper's HTTP/1.1 server: a client that
//! has not sent a request's full header within `header_timeout` — a new connection, or a
//! kept-alive one between requests — is disconnected. On shutdown the listener closes,
//! idle connections close, requests in flight finish, and the loop returns once every
//! connection has ended.
//!
//! [`raise_fd_limit`] raises the process's soft `RLIMIT_NOFILE` to its hard limit at
//! start (as Kubo does); [`Limits::within`] keeps the caps below what that leaves.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How long the loop pauses after a failed accept (out of file descriptors, most likely)
/// before trying again, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a connection over the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 52\r\nRetry-After: 5\r\nConnection: close\r\n\r\n\
too many connections to this listener; retry later\r\n";

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// Longest wait for a request's full header (and between requests on a kept-alive
    /// connection).
    pub header_timeout: Duration,
}

impl Limits {
    /// These limits with the connection cap at most `share` of `fd_limit` (the process's
    /// file descriptor limit; `None`: unknown, left as configured).
    pub fn within(self, fd_limit: Option<u64>, share: u64) -> Limits {
        let max = match fd_limit {
            Some(n) => self
                .max_connections
                .min(usize::try_from(n / share.max(1)).unwrap_or(usize::MAX))
                .max(1),
            None => self.max_connections,
        };
        Limits {
            max_connections: max,
            ..self
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; answers the soft limit in force
/// afterwards (`None` when it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    // An unlimited hard limit cannot be the soft one (the kernel's `nr_open`, 2^20 by
    // default, caps it): then 2^20 is tried too.
    for want in [hard, hard.min(NOFILE_FALLBACK)] {
        if want <= soft {
            break;
        }
        match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
            Ok(()) => {
                tracing::debug!(from = soft, to = want, "raised the file descriptor limit");
                return Some(want);
            }
            Err(e) => {
                tracing::debug!(soft, want, error = %e, "cannot raise the file descriptor limit");
            }
        }
    }
    if soft < hard {
        tracing::warn!(
            soft,
            hard,
            "the file descriptor limit stays at its soft value"
        );
    }
    Some(soft)
}

/// The soft descriptor limit tried when the hard one cannot be set.
const NOFILE_FALLBACK: u64 = 1 << 20;

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then until the
/// connections still open have ended. `name` labels log lines.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let turns = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(turn) = turns.clone().try_acquire_owned() else {
            tracing::debug!(listener = name, %peer, max, "connection refused: too many open");
            // Best effort, never waiting: the socket buffer of a new connection has room.
            let _ = stream.try_write(BUSY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _turn = turn;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let stopping = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a turn until it ends.
    let _all = turns.acquire_many(max as u32).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_stay_within_the_fd_limit() {
        let l = Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
        };
        assert_eq!(l.within(Some(1024), 2).max_connections, 512);
        assert_eq!(l.within(Some(1 << 20), 2).max_connections, 1024);
        assert_eq!(l.within(None, 2).max_connections, 1024);
        assert_eq!(l.within(Some(1), 8).max_connections, 1);
    }

    #[test]
    fn fd_limit_is_raised_to_the_hard_limit() {
        use nix::sys::resource::{Resource, getrlimit};
        let (before, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        let got = raise_fd_limit().expect("readable");
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        assert_eq!(got, soft);
        assert!(soft >= before);
        assert!(soft == hard || soft == NOFILE_FALLBACK, "{soft} of {hard}");
    }
}
