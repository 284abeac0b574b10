//! `key/*` (the keystore) and `name/publish`, `name/resolve` (IPNS), in Kubo's shapes.
//! There is no `key/export`: as in Kubo, a private key never leaves through the API
//! (`ipfsd key export` reads the keystore itself).

use super::{ApiError, ApiState, Args, blocking, json};
use crate::keystore::{KeyError, KeyInfo};
use crate::names::{NameError, ResolveOptions};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::time::Duration;

/// Longest key file accepted by `key/import` (RSA keys are the largest, ~2.4 KiB at 4096 bits).
const MAX_KEY_FILE: usize = 16 << 10;

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        let status = match e {
            KeyError::NotFound(_) => StatusCode::NOT_FOUND,
            KeyError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        // A key that is missing or wrong is the request's fault (400); reading it is not.
        let status = match &e {
            NameError::Key(KeyError::Io { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
            e if e.is_bad_request() => StatusCode::BAD_REQUEST,
            e if e.is_not_found() => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

fn key_json(k: &KeyInfo) -> serde_json::Value {
    json!({ "Name": k.name, "Id": k.ipns_name() })
}

/// Only the libp2p protobuf key format (Kubo's default) is read and written.
fn key_format(args: &Args) -> Result<(), ApiError> {
    match args.get("format") {
        None | Some("libp2p-protobuf-cleartext") => Ok(()),
        Some(f) => Err(ApiError::bad_request(format!(
            "unsupported key format {f:?}: only libp2p-protobuf-cleartext"
        ))),
    }
}

fn duration(args: &Args, flag: &str, default: Duration) -> Result<Duration, ApiError> {
    match args.get(flag) {
        None => Ok(default),
        Some(v) => crate::config::parse_duration(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid --{flag} {v:?}: expected a duration like 24h, 5m, 30s or 500ms"
            ))
        }),
    }
}

pub(crate) async fn key_gen(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let name = args.first("name")?.to_string();
    let kind = args.get("type").unwrap_or("ed25519").to_string();
    let ks = s.node.naming().keystore().clone();
    let info = blocking(move || Ok(ks.generate(&name, &kind)?)).await?;
    Ok(json(key_json(&info)))
}

pub(crate) async fn key_list(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let ks = s.node.naming().keystore().clone();
    let keys = blocking(move || Ok(ks.list()?)).await?;
    Ok(json(
        json!({ "Keys": keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

pub(crate) async fn key_rm(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let names = args.required_owned("name")?;
    let ks = s.node.naming().keystore().clone();
    let removed = blocking(move || Ok(ks.remove_all(&names)?)).await?;
    Ok(json(
        json!({ "Keys": removed.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

pub(crate) async fn key_rename(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let a = args.args();
    let [old, new] = a.as_slice() else {
        return Err(ApiError::bad_request(
            "key rename takes two arguments: the old name and the new name",
        ));
    };
    let (old, new) = (old.to_string(), new.to_string());
    let force = args.flag("force", false)?;
    let ks = s.node.naming().keystore().clone();
    let was = old.clone();
    let (info, overwrite) = blocking(move || Ok(ks.rename(&old, &new, force)?)).await?;
    Ok(json(json!({
        "Was": was,
        "Now": info.name,
        "Id": info.ipns_name(),
        "Overwrite": overwrite,
    })))
}

pub(crate) async fn key_import(
    State(s): State<ApiState>,
    args: Args,
    mp: Multipart,
) -> Result<Response, ApiError> {
    let name = args.first("name")?.to_string();
    key_format(&args)?;
    let mut parts = super::upload::parts(mp, MAX_KEY_FILE).await?;
    if parts.len() != 1 {
        return Err(ApiError::bad_request(
            "key import takes exactly one key file",
        ));
    }
    let bytes = parts.remove(0);
    let ks = s.node.naming().keystore().clone();
    let info = blocking(move || Ok(ks.import(&name, &bytes)?)).await?;
    Ok(json(key_json(&info)))
}

pub(crate) async fn name_publish(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let value = args.first("ipfs-path")?.to_string();
    let mut options = crate::Publish::default()
        .key(args.get("key").unwrap_or(crate::keystore::SELF))
        .ttl(duration(&args, "ttl", Duration::from_secs(300))?)
        .allow_offline(args.flag("allow-offline", false)?)
        // As Kubo (`--resolve`, default true): what the name is to point at must resolve
        // before it is signed. The check itself lives in the node.
        .no_resolve(!args.flag("resolve", true)?);
    if args.get("lifetime").is_some() {
        options = options.lifetime(duration(&args, "lifetime", Duration::ZERO)?);
    }
    if let Some(seq) = args.number("sequence")? {
        options = options.sequence(seq);
    }
    let published = s.node.names().publish(&value, options).await?;
    Ok(json(json!({
        "Name": published.name.to_string(),
        "Value": published.value,
        "Sequence": published.sequence,
        "Validity": ipns::rfc3339::format(published.validity).unwrap_or_default(),
        "Online": published.online,
    })))
}

pub(crate) async fn name_resolve(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let name = match args.args().first() {
        Some(n) => n.to_string(),
        // Kubo resolves the node's own name when none is given.
        None => ipns::Name::new(s.node.identity().peer_id()).to_path(),
    };
    let options = ResolveOptions {
        recursive: args.flag("recursive", true)?,
        nocache: args.flag("nocache", false)?,
    };
    if !args.flag("stream", false)? {
        let path = s.node.naming().resolve(&name, options, None).await?;
        return Ok(json(json!({ "Path": path })));
    }
    // --stream: a line per better value found, then the final one.
    let names = s.node.naming().clone();
    Ok(super::stream_task(
        "application/json",
        move |sink| async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
            let resolving = names.resolve(&name, options, Some(tx));
            let forward = async {
                let mut last = None;
                while let Some(p) = rx.recv().await {
                    // Recursively, only what the chain ends in counts (not the hops).
                    let hop = options.recursive && p.starts_with("/ipns/");
                    if !hop && last.as_ref() != Some(&p) {
                        let _ = sink.json_async(&json!({ "Path": p })).await;
                        last = Some(p);
                    }
                }
                last
            };
            let (result, last) = tokio::join!(resolving, forward);
            let p = result?;
            if last.as_ref() != Some(&p) {
                sink.json_async(&json!({ "Path": p })).await?;
            }
            Ok(())
        },
    ))
}
