//! IPLD commands over RPC, in Kubo's shapes: `dag/put`, `dag/get`, `dag/resolve`,
//! `dag/stat` and the `cid/*` utilities.
//!
//! Data flow: each handler parses its flags, then runs [`crate::ipld`] (or
//! [`crate::cidfmt`]) on the blocking pool. Reads go through [`ApiState::source`], so a
//! block the node lacks is fetched over BitSwap when online; `dag/put` stores its blocks,
//! pins them when asked (every linked block must then be stored, or nothing is) and announces them as
//! `add` does.

use super::{ApiError, ApiState, Args, blocking, json, stream_body};
use crate::cidfmt;
use crate::ipld::{self, IpldError, PutOptions};
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use dag::Cid;
use serde_json::json;

impl From<IpldError> for ApiError {
    fn from(e: IpldError) -> Self {
        match e {
            IpldError::Export(e) => e.into(),
            IpldError::Store(e) => e.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

fn cid_json(cid: &Cid) -> serde_json::Value {
    json!({ "/": cid.to_string() })
}

/// `dag/put`: one block per multipart file, answered `{"Cid":{"/":…}}` each.
pub(crate) async fn dag_put(
    State(s): State<ApiState>,
    args: Args,
    mp: Multipart,
) -> Result<Response, ApiError> {
    let opts = PutOptions {
        input: ipld::input_codec(args.get("input-codec").unwrap_or("dag-json"))?,
        store: ipld::output_codec("store", args.get("store-codec").unwrap_or("dag-cbor"))?,
        hash: ipld::hash_named(args.get("hash").unwrap_or("sha2-256"))?,
        allow_big_block: args.flag("allow-big-block", false)?,
    };
    let pin = args.flag("pin", false)?;
    let inputs = super::upload::parts(mp, super::MAX_SMALL_BODY).await?;
    let store = s.node.store().clone();
    let cids = blocking(move || {
        let blocks = inputs
            .iter()
            .map(|input| ipld::put_block(input, &opts))
            .collect::<Result<Vec<_>, _>>()?;
        let cids: Vec<Cid> = blocks.iter().map(|b| *b.cid()).collect();
        ipld::store_blocks(&store, blocks, pin)?;
        Ok(cids)
    })
    .await?;
    s.node.announce(cids.clone(), pin);
    Ok(stream_body("application/json", move |sink| {
        for cid in &cids {
            sink.json(&json!({ "Cid": cid_json(cid) }))?;
        }
        Ok(())
    }))
}

/// `dag/get`: the node or value a path names, in `output-codec` (dag-json by default).
pub(crate) async fn dag_get(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let output = ipld::output_codec("output", args.get("output-codec").unwrap_or("dag-json"))?;
    let path = s.ipfs_path(args.first("ref")?.to_string()).await?;
    let src = s.source();
    let data = blocking(move || Ok(ipld::get(&src, &path, output)?)).await?;
    let mut resp = Response::new(axum::body::Body::from(data));
    let kind = match output {
        dag::codec::Codec::DagJson | dag::codec::Codec::Json => "application/json",
        _ => "application/octet-stream",
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(resp)
}

/// `dag/resolve`: `{"Cid":{"/":…},"RemPath":"…"}`.
pub(crate) async fn dag_resolve(
    State(s): State<ApiState>,
    args: Args,
) -> Result<Response, ApiError> {
    let path = s.ipfs_path(args.first("ref")?.to_string()).await?;
    let src = s.source();
    let r = blocking(move || Ok(ipld::resolve(&src, &path)?)).await?;
    Ok(json(json!({ "Cid": cid_json(&r.cid), "RemPath": r.rem })))
}

fn stat_json(summary: &ipld::StatSummary) -> serde_json::Value {
    let dags: Vec<_> = summary
        .dags
        .iter()
        .map(|d| json!({ "Cid": cid_json(&d.cid), "Size": d.size, "NumBlocks": d.blocks }))
        .collect();
    json!({
        "UniqueBlocks": summary.unique_blocks,
        "TotalSize": summary.total_size,
        "SharedSize": summary.shared_size(),
        "Ratio": summary.ratio(),
        "DagStats": dags,
    })
}

/// `dag/stat`: sizes and block counts per root and over all roots; with `progress` (the
/// default, as Kubo) running summaries are streamed before the final one.
pub(crate) async fn dag_stat(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let paths = s.ipfs_paths(args.required_owned("root")?).await?;
    let progress = args.flag("progress", true)?;
    let src = s.source();
    let resolver = src.clone();
    let roots = blocking(move || {
        paths
            .iter()
            .map(|p| Ok(crate::path::resolve(&resolver, p)?))
            .collect::<Result<Vec<Cid>, ApiError>>()
    })
    .await?;
    if !progress {
        let summary = blocking(move || Ok(ipld::stat(&src, &roots, |_| true)?)).await?;
        return Ok(json(stat_json(&summary)));
    }
    Ok(stream_body("application/json", move |sink| {
        let summary = match ipld::stat(&src, &roots, |partial| {
            sink.json(&stat_json(partial)).is_ok()
        }) {
            Ok(s) => s,
            Err(IpldError::Stopped) => return Err(super::Gone.into()),
            Err(e) => return Err(e.into()),
        };
        sink.json(&stat_json(&summary))?;
        Ok(())
    }))
}

fn format_options(args: &Args) -> Result<cidfmt::FormatOptions, ApiError> {
    let bad = |e: cidfmt::CidError| ApiError::bad_request(e.to_string());
    Ok(cidfmt::FormatOptions {
        format: args.get("f").map(String::from),
        version: args
            .get("v")
            .map(cidfmt::version_named)
            .transpose()
            .map_err(bad)?,
        base: args
            .get("b")
            .map(cidfmt::base_named)
            .transpose()
            .map_err(bad)?,
    })
}

fn cid_lines(
    args: &Args,
    f: impl Fn(&str) -> Result<String, String>,
) -> Result<Response, ApiError> {
    let rows: Vec<_> = args
        .required("cid")?
        .into_iter()
        .map(|c| {
            let (formatted, err) = match f(c) {
                Ok(s) => (s, String::new()),
                Err(e) => (String::new(), e),
            };
            json!({ "CidStr": c, "Formatted": formatted, "ErrorMsg": err })
        })
        .collect();
    Ok(stream_body("application/json", move |sink| {
        for r in &rows {
            sink.json(r)?;
        }
        Ok(())
    }))
}

/// `cid/format`: each CID through `f` (format), `v` (version) and `b` (multibase).
pub(crate) async fn cid_format(args: Args) -> Result<Response, ApiError> {
    let opts = format_options(&args)?;
    cid_lines(&args, |c| cidfmt::format_one(c, &opts))
}

/// `cid/base32`: each CID as CIDv1 in base32.
pub(crate) async fn cid_base32(args: Args) -> Result<Response, ApiError> {
    cid_lines(&args, cidfmt::base32)
}

fn code_names<C: serde::Serialize>(rows: Vec<(C, &str)>) -> Response {
    json(serde_json::Value::Array(
        rows.into_iter()
            .map(|(c, n)| json!({ "Code": c, "Name": n }))
            .collect(),
    ))
}

/// `cid/bases`.
pub(crate) async fn cid_bases() -> Response {
    code_names(cidfmt::bases())
}

/// `cid/codecs`.
pub(crate) async fn cid_codecs() -> Response {
    code_names(cidfmt::codecs())
}

/// `cid/hashes`.
pub(crate) async fn cid_hashes() -> Response {
    code_names(cidfmt::hashes())
}
