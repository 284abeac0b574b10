//! Network commands: `swarm`, `bootstrap`, `routing` (and Kubo's older `dht` aliases),
//! `stats provide`, and the online part of `id`. Each needs the running network, except
//! `bootstrap`, which edits the config file (the list is read when the daemon starts).
//!
//! Answers follow Kubo's shapes, so existing clients read them: `routing findprovs` and
//! `findpeer` stream `QueryEvent` objects (`Type` 4 = provider, 2 = final peer),
//! `routing get` answers `Type` 5 with the value in `Extra` (base64).

use super::{ApiError, ApiState, Args, blocking, json, stream_body, stream_task};
use crate::net::{NetError, Network, ProviderEvent, peer_of, provide};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use libp2p::{Multiaddr, PeerId};
use serde_json::json;
use std::time::Duration;

/// Longest wait for a network answer (queries end earlier by their own timeout).
const NET_TIMEOUT: Duration = Duration::from_secs(90);
/// Default and largest `--num-providers`.
const DEFAULT_PROVIDERS: u64 = 20;
const MAX_PROVIDERS: u64 = 1000;

impl From<crate::repo::RepoError> for ApiError {
    fn from(e: crate::repo::RepoError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<NetError> for ApiError {
    fn from(e: NetError) -> Self {
        let status = match &e {
            NetError::NotFound { .. } => StatusCode::NOT_FOUND,
            NetError::BadRecord { .. } | NetError::Dial { .. } => StatusCode::BAD_REQUEST,
            NetError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

fn online(s: &ApiState) -> Result<&Network, ApiError> {
    s.node.online().map(|o| &o.net).ok_or_else(|| {
        ApiError::bad_request(
            "this command must be run in online mode: the daemon was started with --offline",
        )
    })
}

async fn timed<T>(
    op: &'static str,
    f: impl std::future::Future<Output = Result<T, NetError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(NET_TIMEOUT, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(NetError::Timeout { op }.into()),
    }
}

fn parse_peer(s: &str) -> Result<PeerId, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid peer ID {s:?}")))
}

fn parse_addr(s: &str) -> Result<Multiaddr, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid multiaddr {s:?}")))
}

fn strings(v: Vec<String>) -> Response {
    json(json!({ "Strings": v }))
}

/// `id`: identity plus, when online, listen addresses and protocols.
pub(crate) async fn id(State(s): State<ApiState>) -> Response {
    let mut v = crate::identity_json(s.node.identity());
    if let Some(net) = s.node.online().map(|o| &o.net)
        && let Ok(info) = net.info().await
    {
        let me = s.node.identity().peer_id();
        v["Addresses"] = json!(
            info.listen
                .iter()
                .map(|a| format!("{a}/p2p/{me}"))
                .collect::<Vec<_>>()
        );
        v["Protocols"] = json!(info.protocols);
    }
    json(v)
}

pub(crate) async fn swarm_peers(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let latency = args.flag("latency", false)?;
    let mut peers = online(&s)?.peers().await?;
    peers.sort_by_key(|p| p.peer);
    let rows: Vec<_> = peers
        .iter()
        .map(|p| {
            let mut row = json!({
                "Addr": p.addr.to_string(),
                "Peer": p.peer.to_string(),
                "Direction": if p.outbound { 2 } else { 1 },
            });
            if latency {
                row["Latency"] = json!(p.latency.map(|d| format!("{d:?}")).unwrap_or_default());
            }
            row
        })
        .collect();
    Ok(json(json!({ "Peers": rows })))
}

pub(crate) async fn swarm_connect(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let mut out = Vec::new();
    for a in args.required("address")? {
        let addr = parse_addr(a)?;
        let peer = timed("connect", net.connect(addr)).await?;
        out.push(format!("connect {peer} success"));
    }
    Ok(strings(out))
}

pub(crate) async fn swarm_disconnect(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let mut out = Vec::new();
    for a in args.required("address")? {
        let peer = match a.parse::<Multiaddr>() {
            Ok(ma) => peer_of(&ma).ok_or_else(|| {
                ApiError::bad_request(format!("{a}: address does not end in /p2p/<peer id>"))
            })?,
            Err(_) => parse_peer(a)?,
        };
        if net.disconnect(peer).await? {
            out.push(format!("disconnect {peer} success"));
        } else {
            return Err(ApiError::bad_request(format!(
                "disconnect {peer} failure: not connected"
            )));
        }
    }
    Ok(strings(out))
}

pub(crate) async fn swarm_addrs(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let known = online(&s)?.known_addrs().await?;
    let map: serde_json::Map<String, serde_json::Value> = known
        .into_iter()
        .map(|(p, addrs)| {
            (
                p.to_string(),
                json!(addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            )
        })
        .collect();
    Ok(json(json!({ "Addrs": map })))
}

pub(crate) async fn swarm_addrs_listen(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let info = online(&s)?.info().await?;
    Ok(strings(info.listen.iter().map(|a| a.to_string()).collect()))
}

pub(crate) async fn swarm_addrs_local(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let with_id = args.flag("id", false)?;
    let info = online(&s)?.info().await?;
    let me = s.node.identity().peer_id();
    Ok(strings(
        info.listen
            .iter()
            .map(|a| {
                if with_id {
                    format!("{a}/p2p/{me}")
                } else {
                    a.to_string()
                }
            })
            .collect(),
    ))
}

fn query_event(kind: u8, id: &str, responses: serde_json::Value, extra: &str) -> serde_json::Value {
    json!({ "Extra": extra, "ID": id, "Responses": responses, "Type": kind })
}

fn peer_json(peer: &PeerId, addrs: &[Multiaddr]) -> serde_json::Value {
    json!({ "ID": peer.to_string(), "Addrs": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>() })
}

pub(crate) async fn findprovs(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let net = online(&s)?.clone();
    let cid = super::parse_cid(args.first("key")?)?;
    let limit = args
        .number("num-providers")?
        .unwrap_or(DEFAULT_PROVIDERS)
        .clamp(1, MAX_PROVIDERS);
    let mut rx = net
        .find_providers_stream(crate::net::provider_key(&cid), limit as usize)
        .await?;
    Ok(stream_task("application/json", move |sink| async move {
        let deadline = tokio::time::Instant::now() + NET_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(ProviderEvent::Found(p))) => {
                    let ev = query_event(4, "", json!([peer_json(&p.peer, &p.addrs)]), "");
                    sink.json_async(&ev).await?;
                }
                Ok(Some(ProviderEvent::Done(_)) | None) => return Ok(()),
                Err(_) => return Err(NetError::Timeout { op: "findprovs" }.into()),
            }
        }
    }))
}

pub(crate) async fn findpeer(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let peer = parse_peer(args.first("peerID")?)?;
    let addrs = timed("findpeer", net.find_peer(peer)).await?;
    Ok(json(query_event(
        2,
        "",
        json!([peer_json(&peer, &addrs)]),
        "",
    )))
}

/// A routing key from the command line: `/ipns/<name>` (either name form) or `/pk/<peer>`.
fn routing_key(arg: &str) -> Result<Vec<u8>, ApiError> {
    if arg.starts_with("/ipns/") {
        let (name, rest) =
            ipns::Name::from_path(arg).map_err(|e| ApiError::bad_request(format!("{arg}: {e}")))?;
        if !rest.is_empty() && rest != "/" {
            return Err(ApiError::bad_request(format!("{arg}: a key has no path")));
        }
        return Ok(name.routing_key());
    }
    if let Some(p) = arg.strip_prefix("/pk/") {
        let peer = parse_peer(p)?;
        let mut key = b"/pk/".to_vec();
        key.extend_from_slice(&peer.to_bytes());
        return Ok(key);
    }
    Err(ApiError::bad_request(format!(
        "{arg}: only /ipns/<name> and /pk/<peer id> keys are supported"
    )))
}

pub(crate) async fn routing_get(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let key = routing_key(args.first("key")?)?;
    let value = timed("get", net.get_value(key)).await?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    Ok(json(query_event(5, "", serde_json::Value::Null, &b64)))
}

pub(crate) async fn routing_put(
    State(s): State<ApiState>,
    args: Args,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let key = routing_key(args.first("key")?)?;
    let field = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .ok_or_else(|| ApiError::bad_request("argument \"value-file\" is required"))?;
    let value = field
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    timed("put", net.put_value(key, value.to_vec())).await?;
    Ok(json(query_event(
        5,
        &s.node.identity().peer_id().to_string(),
        serde_json::Value::Null,
        "",
    )))
}

pub(crate) async fn routing_provide(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let net = online(&s)?.clone();
    let recursive = args.flag("recursive", false)?;
    let mut roots = Vec::new();
    for a in args.required("key")? {
        roots.push(super::parse_cid(a)?);
    }
    let store = s.node.store().clone();
    let keys = blocking(move || {
        let mut keys = Vec::new();
        for root in roots {
            if !store.has(&root)? {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("block {root} is not in the local store: cannot provide it"),
                ));
            }
            if recursive {
                keys.extend(provide::keys_for_new_dag(
                    &store,
                    crate::net::Strategy::All,
                    root,
                    true,
                ));
            } else {
                keys.push(crate::net::provider_key(&root));
            }
        }
        Ok(keys)
    })
    .await?;
    timed("provide", net.provide(keys)).await?;
    // Kubo streams the DHT's query events here; ipfsd reports none, so the stream is empty
    // (clients such as kubo-rpc-client then yield nothing), and failure is an error status.
    Ok(stream_body("application/json", |_| Ok(())))
}

pub(crate) async fn reprovide(State(s): State<ApiState>) -> Result<Response, ApiError> {
    online(&s)?;
    if let Some(r) = s.node.online().map(|o| &o.reprovider) {
        r.trigger();
    }
    Ok(json(json!({})))
}

pub(crate) async fn stats_provide(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let net = online(&s)?;
    let stats = net.provide_stats().await?;
    let info = net.info().await?;
    let mut v = serde_json::to_value(stats).unwrap_or_default();
    v["Records"] = serde_json::to_value(info.records).unwrap_or_default();
    Ok(json(v))
}

pub(crate) async fn stats_dht(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let info = online(&s)?.info().await?;
    Ok(json(json!({
        "Peers": info.peers,
        "RoutingTable": { "WAN": info.routing_table.0, "LAN": info.routing_table.1 },
        "PowRefused": info.pow_refused,
        "RecordsRefused": info.records_refused.0,
        "LastRefusal": info.records_refused.1,
        "Records": info.records,
    })))
}

// ---- bootstrap: edits the config file ----

fn edit_config(
    s: &ApiState,
    edit: impl FnOnce(&mut crate::Config) -> Result<Vec<String>, ApiError>,
) -> Result<Vec<String>, ApiError> {
    crate::repo::edit_config(s.repo_path()?, edit)
}

pub(crate) async fn bootstrap_list(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let list = blocking(move || edit_config(&s, |c| Ok(c.bootstrap.clone()))).await?;
    Ok(json(json!({ "Peers": list })))
}

pub(crate) async fn bootstrap_add(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let public = args.flag("default", false)?;
    let add = args.owned_args();
    if add.is_empty() && !public {
        return Err(ApiError::bad_request("no bootstrap peers to add"));
    }
    let added = blocking(move || {
        edit_config(&s, |c| {
            c.bootstrap_add(&add, public)
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
    })
    .await?;
    Ok(json(json!({ "Peers": added })))
}

pub(crate) async fn bootstrap_rm(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let all = args.flag("all", false)?;
    let rm = args.owned_args();
    if !all && rm.is_empty() {
        return Err(ApiError::bad_request(
            "argument \"peer\" is required (or --all)",
        ));
    }
    let removed = blocking(move || edit_config(&s, |c| Ok(c.bootstrap_rm(&rm, all)))).await?;
    Ok(json(json!({ "Peers": removed })))
}
