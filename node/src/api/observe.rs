//! Observing the running daemon: the Prometheus endpoint (`GET /debug/metrics/prometheus`),
//! `stats/bw` (Kubo's shape, `poll` streams one object per interval), `log/level`,
//! `log/ls` and `diag/sys`. Each translates into the node's [`crate::metrics`],
//! [`crate::log`] and [`crate::diag`] calls.

use super::{ApiError, ApiState, Args, json};
use crate::metrics::{BwStat, Link};
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// `stats bw --poll`'s default interval (Kubo's).
const POLL_DEFAULT: Duration = Duration::from_secs(1);
/// The shortest poll interval accepted.
const POLL_MIN: Duration = Duration::from_millis(100);

/// `GET /debug/metrics/prometheus`.
pub(crate) async fn metrics(State(s): State<ApiState>) -> Response {
    let text = s.node.metrics_text().await;
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// What `stats/bw` reports on: everything, one peer, or one transport.
#[derive(Debug, Clone, Copy)]
enum Scope {
    All,
    Peer(libp2p::PeerId),
    Link(Link),
}

fn bw_json(b: BwStat) -> serde_json::Value {
    json!({
        "TotalIn": b.total_in,
        "TotalOut": b.total_out,
        "RateIn": b.rate_in,
        "RateOut": b.rate_out,
    })
}

/// `stats/bw [peer=P] [proto=tcp|quic] [poll] [interval=D]`.
pub(crate) async fn stats_bw(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    if !s.node.is_online() {
        return Err(ApiError::bad_request(
            "this command must be run in online mode: the daemon was started with --offline",
        ));
    }
    let scope = match (args.get("peer"), args.get("proto")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "use either --peer or --proto, not both",
            ));
        }
        (Some(p), None) => Scope::Peer(
            p.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid peer ID {p:?}")))?,
        ),
        (None, Some(p)) => Scope::Link(
            Link::ALL
                .into_iter()
                .find(|l| l.as_str() == p.trim_start_matches('/'))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unknown --proto {p:?}: bandwidth is counted per transport, tcp or quic"
                    ))
                })?,
        ),
        (None, None) => Scope::All,
    };
    let poll = args.flag("poll", false)?;
    let interval = match args.get("interval") {
        None => POLL_DEFAULT,
        Some(v) => crate::config::parse_duration(v)
            .filter(|d| *d >= POLL_MIN)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid --interval {v:?}: expected a duration of at least 100ms, like 1s or 500ms"
                ))
            })?,
    };
    let node = s.node.clone();
    let read = move || {
        let bw = node.metrics().bandwidth();
        match scope {
            Scope::All => bw.total(),
            // A peer never seen has moved nothing (Kubo answers zeros too).
            Scope::Peer(p) => bw.peer(&p).unwrap_or_default(),
            Scope::Link(l) => bw.link(l),
        }
    };
    if !poll {
        return Ok(json(bw_json(read())));
    }
    // One line per interval until the client goes away (the body is dropped then); the
    // next line is produced only when the previous one was taken.
    let lines = futures::stream::unfold(true, move |first| {
        let read = read.clone();
        async move {
            if !first {
                tokio::time::sleep(interval).await;
            }
            let mut line = bw_json(read()).to_string();
            line.push('\n');
            Some((Ok::<_, std::convert::Infallible>(line), false))
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// `log/level <subsystem|all> <level>`.
pub(crate) async fn log_level(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let all = args.required("subsystem")?;
    let (Some(subsystem), Some(level)) = (all.first(), all.get(1)) else {
        return Err(ApiError::bad_request("argument \"level\" is required"));
    };
    let control = s
        .log
        .as_ref()
        .ok_or_else(|| log_error(crate::log::LogError::Unsupported))?;
    control.set_level(subsystem, level).map_err(log_error)?;
    let shown = if *subsystem == "all" || *subsystem == "*" {
        "all subsystems".to_string()
    } else {
        format!("'{subsystem}'")
    };
    Ok(json(json!({
        "Message": format!("Changed log level of {shown} to '{}'\n", level.to_ascii_lowercase()),
    })))
}

/// `log/ls`.
pub(crate) async fn log_ls(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let names = match &s.log {
        Some(c) => c.subsystems(),
        None => crate::log::SUBSYSTEMS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    Ok(json(json!({ "Strings": names })))
}

fn log_error(e: crate::log::LogError) -> ApiError {
    use crate::log::LogError as E;
    match e {
        E::UnknownSubsystem { .. } | E::BadLevel { .. } => ApiError::bad_request(e.to_string()),
        e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `diag/sys`.
pub(crate) async fn diag_sys(State(s): State<ApiState>) -> Response {
    json(crate::diag::sys(&s.node).await)
}
