//! Administrative commands: version, id, shutdown, pins, blocks, DAG import/export, repo.

use super::{ApiError, ApiState, Args, Sink, SinkWriter, blocking, json, stream_body};
use crate::{ops, path};
use axum::extract::{Multipart, State};
use axum::response::Response;
use dag::block::{self, DAG_PB, RAW};
use dag::store::PinMode;
use dag::{Cid, Version};
use serde_json::json;

pub(crate) async fn version() -> Response {
    json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Commit": "",
        "Repo": crate::repo::REPO_VERSION.to_string(),
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "",
    }))
}

pub(crate) async fn shutdown(State(s): State<ApiState>) -> Response {
    s.shutdown.cancel();
    json(json!({}))
}

impl From<ops::PinListError> for ApiError {
    fn from(e: ops::PinListError) -> Self {
        match e {
            ops::PinListError::Resolve(e) => e.into(),
            ops::PinListError::Store(e) => e.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

impl From<path::ResolveError> for ApiError {
    fn from(e: path::ResolveError) -> Self {
        match e {
            path::ResolveError::Path(p) => ApiError::bad_request(p.to_string()),
            path::ResolveError::Export(e) => e.into(),
        }
    }
}

/// Resolves each path and applies `op` to its CID; returns the CIDs.
async fn pin_each(
    s: &ApiState,
    paths: Vec<String>,
    op: impl Fn(&dag::Store, &Cid) -> Result<(), dag::StoreError> + Send + 'static,
) -> Result<Vec<Cid>, ApiError> {
    let store = s.node.store().clone();
    blocking(move || {
        let mut pins = Vec::new();
        for p in &paths {
            let cid = path::resolve(&store, p)?;
            op(&store, &cid)?;
            pins.push(cid);
        }
        Ok(pins)
    })
    .await
}

fn pins_json(pins: &[Cid]) -> Response {
    json(json!({ "Pins": pins.iter().map(Cid::to_string).collect::<Vec<_>>() }))
}

pub(crate) async fn pin_add(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let paths = args.required_owned("ipfs-path")?;
    let recursive = args.flag("recursive", true)?;
    // The node's rule: fetched first (online, recursive), pinned, then announced.
    let mut pins = Vec::with_capacity(paths.len());
    for p in &paths {
        pins.push(s.node.pin().add(p, recursive).await?);
    }
    Ok(pins_json(&pins))
}

pub(crate) async fn pin_rm(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let paths = args.required_owned("ipfs-path")?;
    let pins = pin_each(&s, paths, |store, cid| store.pin_rm(cid).map(drop)).await?;
    Ok(pins_json(&pins))
}

pub(crate) async fn pin_ls(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let types = ops::PinTypes::parse(args.get("type").unwrap_or("all"))?;
    let stream = args.flag("stream", false)?;
    let paths = args.owned_args();
    let rows = blocking(move || Ok(ops::pin_list(s.node.store(), types, &paths)?)).await?;
    if stream {
        let lines: Vec<_> = rows
            .into_iter()
            .map(|(c, t)| json!({ "Cid": c, "Type": t }))
            .collect();
        return Ok(stream_body("application/json", move |sink| {
            for l in &lines {
                sink.json(l)?;
            }
            Ok(())
        }));
    }
    let keys: serde_json::Map<String, serde_json::Value> = rows
        .into_iter()
        .map(|(c, t)| (c, json!({ "Type": t })))
        .collect();
    Ok(json(json!({ "Keys": keys })))
}

pub(crate) async fn pin_verify(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let verbose = args.flag("verbose", false)?;
    Ok(stream_body("application/json", move |sink| {
        for report in s.node.store().pin_verify()? {
            // A pin holding blocks ipfsd cannot follow is always reported (Kubo's clients
            // ignore the extra `Unfollowed` field).
            if report.is_ok() && report.unfollowed.is_empty() && !verbose {
                continue;
            }
            let bad: Vec<_> = report
                .problems
                .iter()
                .map(|p| json!({ "Cid": p.cid().to_string(), "Err": p.what() }))
                .collect();
            let mut line =
                json!({ "Cid": report.cid.to_string(), "Ok": report.is_ok(), "BadNodes": bad });
            if !report.unfollowed.is_empty() {
                line["Unfollowed"] = report.unfollowed.iter().map(unfollowed_json).collect();
            }
            sink.json(&line)?;
        }
        Ok(())
    }))
}

pub(crate) async fn block_get(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let cid = super::parse_cid(args.first("cid")?)?;
    let src = s.source();
    let data = blocking(move || Ok(dag::export::get(&src, &cid)?)).await?;
    let mut resp = Response::new(axum::body::Body::from(data));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}

/// `block/put`: each multipart file stored as one block of `cid-codec` (or the deprecated
/// `format`; `v0` is a CIDv0 dag-pb block) hashed with `mhtype`, after the checks every
/// block from outside passes (a non-canonical dag-cbor block is refused).
pub(crate) async fn block_put(
    State(s): State<ApiState>,
    args: Args,
    mp: Multipart,
) -> Result<Response, ApiError> {
    let (codec, version) = match (args.get("cid-codec"), args.get("format")) {
        (None, Some("v0")) => (DAG_PB, Version::V0),
        (Some(name), _) | (None, Some(name)) => (
            dag::codec::Codec::from_name(name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("unknown codec {name:?} (see `cid codecs`)"))
                })?
                .code(),
            Version::V1,
        ),
        (None, None) => (RAW, Version::V1),
    };
    let hash = crate::ipld::hash_named(args.get("mhtype").unwrap_or("sha2-256"))?;
    let mhlen = match args.get("mhlen") {
        None | Some("-1") => None,
        Some(_) => args.number("mhlen")?.map(|n| n as usize),
    };
    let pin = args.flag("pin", false)?;
    let allow_big = args.flag("allow-big-block", false)?;
    let bodies = super::upload::parts(mp, super::MAX_SMALL_BODY / 2).await?;
    let node = s.node.clone();
    let (rows, cids) = blocking(move || {
        let (mut rows, mut cids) = (Vec::new(), Vec::new());
        for data in bodies {
            let size = data.len();
            let b = crate::ipld::checked_block(data, version, codec, hash, mhlen, allow_big)?;
            let cid = *b.cid();
            s.node.store().put(b)?;
            if pin {
                s.node.store().pin_add(&cid, PinMode::Direct)?;
            }
            rows.push(json!({ "Key": cid.to_string(), "Size": size }));
            cids.push(cid);
        }
        Ok((rows, cids))
    })
    .await?;
    // Announced as `Node::put` and `dag put` announce theirs (and peers that asked for
    // these blocks get them).
    node.announce(cids, pin);
    Ok(stream_body("application/json", move |sink| {
        for r in &rows {
            sink.json(r)?;
        }
        Ok(())
    }))
}

pub(crate) async fn block_stat(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let cid = super::parse_cid(args.first("cid")?)?;
    let size = blocking(move || {
        let size = match block::identity_data(&cid) {
            Some(d) => d.len() as u64,
            None => s
                .node
                .store()
                .size(&cid)?
                .ok_or(dag::export::ExportError::Source(
                    dag::SourceError::NotFound { cid },
                ))?,
        };
        Ok(size)
    })
    .await?;
    Ok(json(json!({ "Key": cid.to_string(), "Size": size })))
}

pub(crate) async fn block_rm(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let cids = args
        .required("cid")?
        .into_iter()
        .map(super::parse_cid)
        .collect::<Result<Vec<_>, _>>()?;
    let force = args.flag("force", false)?;
    Ok(stream_body("application/json", move |sink| {
        for cid in cids {
            let error = match s.node.store().pin_status(&cid)? {
                Some(kind) => format!("cannot remove {cid}: pinned ({kind:?})"),
                None => match s.node.store().delete(&cid)? {
                    true => String::new(),
                    false if force => continue,
                    false => format!("cannot remove {cid}: block not found"),
                },
            };
            sink.json(&json!({ "Hash": cid.to_string(), "Error": error }))?;
        }
        Ok(())
    }))
}

pub(crate) async fn dag_export(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let p = args.first("root")?.to_string();
    let store = s.node.store().clone();
    let cid = blocking(move || Ok(path::resolve(&store, &p)?)).await?;
    Ok(stream_body("application/vnd.ipld.car", move |sink| {
        let mut w = SinkWriter::new(sink, 1 << 20);
        dag::car::export(s.node.store(), &cid, &mut w)?;
        std::io::Write::flush(&mut w).map_err(|_| super::Gone)?;
        Ok(())
    }))
}

pub(crate) async fn dag_import(
    State(s): State<ApiState>,
    args: Args,
    mut mp: Multipart,
) -> Result<Response, ApiError> {
    let pin = args.flag("pin-roots", true)?;
    let stats = args.flag("stats", false)?;
    let mut reports = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(super::upload::malformed)? {
        // The whole part is received first: the import's one store transaction (which
        // holds the store's write lock) then reads from disk, never from the client.
        let report = match super::upload::spool(&mut field, s.repo_path()?).await {
            Ok(spooled) => {
                let store = s.node.store().clone();
                blocking(move || {
                    let file = std::fs::File::open(spooled.path()).map_err(|e| {
                        ApiError::new(
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            format!("cannot read the upload back: {e}"),
                        )
                    })?;
                    let input = std::io::BufReader::with_capacity(1 << 20, file);
                    Ok(dag::car::import(&store, input, pin)?)
                })
                .await
            }
            Err(e) => Err(e),
        };
        match report {
            Ok(r) => {
                // Announced as an add is (and peers that asked for its blocks get them).
                s.node.announce(r.roots.clone(), pin);
                reports.push(r);
            }
            Err(e) => {
                // Read the rest, so the client (still sending) gets this answer.
                drop(field);
                super::upload::drain(&mut mp).await;
                return Err(e);
            }
        }
    }
    Ok(stream_body("application/json", move |sink| {
        let (mut blocks, mut bytes) = (0, 0);
        for r in &reports {
            blocks += r.blocks;
            bytes += r.bytes;
            if pin {
                for root in &r.roots {
                    sink.json(
                        &json!({ "Root": { "Cid": { "/": root.to_string() }, "PinErrorMsg": "" } }),
                    )?;
                }
            }
        }
        if stats {
            sink.json(&json!({ "Stats": { "BlockCount": blocks, "BlockBytesCount": bytes } }))?;
        }
        Ok(())
    }))
}

pub(crate) async fn repo_gc(State(s): State<ApiState>) -> Result<Response, ApiError> {
    // Through the node, which counts the run in its metrics.
    let report = s.node.gc().await?;
    Ok(stream_body("application/json", move |sink| {
        for cid in &report.removed {
            sink.json(&json!({ "Key": { "/": cid.to_string() } }))?;
        }
        // After the removed keys, one object per block kept as a leaf because its codec
        // cannot be followed (no `Key`: Kubo's clients skip it).
        for u in &report.unfollowed {
            let mut v = unfollowed_json(&u.cid);
            v["Pin"] = json!(u.pin.to_string());
            sink.json(&json!({ "Unfollowed": v }))?;
        }
        Ok(())
    }))
}

/// `{"Cid": …, "Codec": "0x…"}` of a block whose codec ipfsd cannot follow.
fn unfollowed_json(cid: &Cid) -> serde_json::Value {
    json!({ "Cid": cid.to_string(), "Codec": dag::codec::Codec::of(cid).to_string() })
}

pub(crate) async fn repo_stat(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let store = s.node.store().clone();
    let st = blocking(move || Ok(store.stat()?)).await?;
    Ok(json(json!({
        "NumObjects": st.num_blocks,
        "RepoSize": st.file_size,
        "StorageMax": s.node.settings().datastore.storage_max,
        "DataSize": st.total_size,
        "RepoPath": s.node.repo_path().map_or_else(|| ":memory:".to_string(), |p| p.display().to_string()),
        "Version": format!("ipfsd-repo@{}", crate::repo::REPO_VERSION),
    })))
}

pub(crate) async fn repo_verify(State(s): State<ApiState>) -> Result<Response, ApiError> {
    Ok(stream_body("application/json", move |sink: &Sink| {
        let report = s.node.store().verify()?;
        for cid in &report.corrupt {
            sink.json(
                &json!({ "Msg": format!("block {cid} is corrupt"), "Corrupt": cid.to_string() }),
            )?;
        }
        for cid in &report.unverifiable {
            sink.json(&json!({ "Msg": format!("block {cid} uses a hash function that cannot be checked") }))?;
        }
        sink.json(&json!({ "Checked": report.checked, "Corrupt": report.corrupt.len() }))?;
        Ok(())
    }))
}

// ---- config: while a daemon runs, it is the config file's one writer ----

/// `config KEY [VALUE]` (Kubo's `/api/v0/config`): reads a key, or sets it (the value is
/// a string, or JSON with `json=true`, or a boolean with `bool=true`), checked against
/// the typed config. Takes effect when the daemon next starts.
pub(crate) async fn config(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let all = args.required_owned("key")?;
    let key = all[0].clone();
    let value = match all.get(1) {
        None => None,
        Some(raw) if args.flag("json", false)? => Some(
            serde_json::from_str(raw)
                .map_err(|e| ApiError::bad_request(format!("failed to unmarshal json. {e}")))?,
        ),
        Some(raw) if args.flag("bool", false)? => match raw.as_str() {
            "true" => Some(json!(true)),
            "false" => Some(json!(false)),
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid boolean {other:?}: expected true or false"
                )));
            }
        },
        Some(raw) => Some(json!(raw)),
    };
    let path = s.repo_path()?.to_path_buf();
    let shown = blocking(move || match value {
        None => {
            let c = crate::repo::load_config(&path)?;
            c.get(&key)
                .ok_or_else(|| ApiError::bad_request(format!("config key {key:?} does not exist")))
        }
        Some(v) => crate::repo::edit_config(&path, |c| {
            *c = c
                .with(&key, v.clone())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok(v)
        }),
    })
    .await?;
    Ok(json(json!({ "Key": all[0], "Value": shown })))
}

/// `config show`: the whole config file.
pub(crate) async fn config_show(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let path = s.repo_path()?.to_path_buf();
    let c = blocking(move || Ok(crate::repo::load_config(&path)?)).await?;
    Ok(json(c.to_value()))
}

/// `config profile apply NAME`.
pub(crate) async fn config_profile_apply(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let name = args.first("profile")?.to_string();
    let path = s.repo_path()?.to_path_buf();
    let (old, new) = blocking(move || {
        crate::repo::edit_config(&path, |c| {
            let updated = crate::config::apply_profile(c, &name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown profile {name:?}: expected public or local"
                ))
            })?;
            let old = std::mem::replace(c, updated);
            Ok((old.to_value(), c.to_value()))
        })
    })
    .await?;
    Ok(json(json!({ "OldCfg": old, "NewCfg": new })))
}
