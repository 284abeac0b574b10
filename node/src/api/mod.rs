//! The Kubo-style RPC API (`POST /api/v0/<command>`), served by the daemon.
//!
//! Requests carry positional arguments as repeated `arg=` query parameters and flags as
//! other query parameters; bodies (for `add`, `block/put`, `dag/put`, `dag/import`) are
//! multipart.
//! Every handler runs store work on the blocking pool; streamed responses (`add`, `cat`,
//! `refs`, `dag/export`, ...) are produced by a blocking task into a bounded channel, so a
//! slow client slows the producer instead of growing a buffer. Errors are JSON
//! `{"Message", "Code", "Type": "error"}` with 400 (bad request), 404 (missing block or
//! path) or 500; an error after streaming started fails the stream as the `stream` module describes
//! (an `X-Stream-Error` trailer, or a broken-off body), so it never passes for a complete
//! answer.
//!
//! Security: the API binds loopback by default; a request whose `Host` is not the API's
//! own (DNS rebinding), or that carries a browser `Origin` or `Referer` not allowed by
//! `API.HTTPHeaders.Access-Control-Allow-Origin`, gets 403 (the `guard` module), so a web page
//! cannot drive the node; anything but POST gets 405; bodies and argument counts are
//! bounded.

mod admin;
mod bitswap;
mod files;
mod guard;
mod ipld;
mod names;
mod net;
mod observe;
mod stream;
mod upload;

pub use files::part_path;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, request::Parts};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::sync::Arc;

pub(crate) use stream::{
    Gone, Sink, SinkWriter, body_of, stream_body, stream_channel, stream_finished, stream_task,
};

pub use guard::Access;

/// Most positional arguments and flags one request may carry.
pub const MAX_ARGS: usize = 1024;
/// Largest non-streamed request body (block/put).
pub const MAX_SMALL_BODY: usize = 4 << 20;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The node every handler goes through: its store, network, names and settings, and
    /// the rules it holds.
    pub(crate) node: crate::Node,
    /// Cancelled by `POST /api/v0/shutdown`.
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
    /// Which hosts, origins and referers may call.
    pub(crate) access: Arc<Access>,
    /// How `log/level` changes the process's logging (`None`: it cannot).
    pub(crate) log: Option<Arc<dyn crate::log::LogControl>>,
}

impl ApiState {
    /// The API's state over `node`, checking callers with `access`; `shutdown` is
    /// cancelled when a client asks the daemon to stop.
    pub fn new(
        node: crate::Node,
        access: Access,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> ApiState {
        ApiState {
            node,
            shutdown,
            access: Arc::new(access),
            log: None,
        }
    }

    /// Lets `log/level` change the process's log levels through `control`.
    pub fn with_log_control(mut self, control: Option<Arc<dyn crate::log::LogControl>>) -> Self {
        self.log = control;
        self
    }

    /// The repository directory, for commands that need one (config, spooled uploads).
    pub(crate) fn repo_path(&self) -> Result<&std::path::Path, ApiError> {
        self.node.repo_path().ok_or_else(|| {
            ApiError::bad_request("this node keeps everything in memory: it has no repository")
        })
    }

    /// `path` with an `/ipns/` name resolved (recursively) to the `/ipfs/` path it names;
    /// other paths are answered as they are.
    pub(crate) async fn ipfs_path(&self, path: String) -> Result<String, ApiError> {
        if !path.starts_with("/ipns/") {
            return Ok(path);
        }
        Ok(self.node.ipfs_path(&path).await?)
    }

    /// [`ApiState::ipfs_path`] for each path.
    pub(crate) async fn ipfs_paths(&self, paths: Vec<String>) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            out.push(self.ipfs_path(p).await?);
        }
        Ok(out)
    }

    /// Where handlers read content: the store, then BitSwap when online.
    pub(crate) fn source(&self) -> crate::content::Source {
        self.node.source()
    }
}

/// The API router: every command under `/api/v0/`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v0/version", any(admin::version))
        .route("/api/v0/id", any(net::id))
        .route("/api/v0/shutdown", any(admin::shutdown))
        // Uploads of any size stream through these two; everything else is bounded.
        .route(
            "/api/v0/add",
            any(files::add).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v0/cat", any(files::cat))
        .route("/api/v0/get", any(files::get))
        .route("/api/v0/ls", any(files::ls))
        .route("/api/v0/refs", any(files::refs))
        .route("/api/v0/refs/local", any(files::refs_local))
        .route("/api/v0/pin/add", any(admin::pin_add))
        .route("/api/v0/pin/rm", any(admin::pin_rm))
        .route("/api/v0/pin/ls", any(admin::pin_ls))
        .route("/api/v0/pin/verify", any(admin::pin_verify))
        .route("/api/v0/block/get", any(admin::block_get))
        .route("/api/v0/block/put", any(admin::block_put))
        .route("/api/v0/block/stat", any(admin::block_stat))
        .route("/api/v0/block/rm", any(admin::block_rm))
        .route("/api/v0/dag/export", any(admin::dag_export))
        .route(
            "/api/v0/dag/import",
            any(admin::dag_import).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v0/dag/put", any(ipld::dag_put))
        .route("/api/v0/dag/get", any(ipld::dag_get))
        .route("/api/v0/dag/resolve", any(ipld::dag_resolve))
        .route("/api/v0/dag/stat", any(ipld::dag_stat))
        .route("/api/v0/cid/format", any(ipld::cid_format))
        .route("/api/v0/cid/base32", any(ipld::cid_base32))
        .route("/api/v0/cid/bases", any(ipld::cid_bases))
        .route("/api/v0/cid/codecs", any(ipld::cid_codecs))
        .route("/api/v0/cid/hashes", any(ipld::cid_hashes))
        .route("/api/v0/repo/gc", any(admin::repo_gc))
        .route("/api/v0/repo/stat", any(admin::repo_stat))
        .route("/api/v0/repo/verify", any(admin::repo_verify))
        .route("/api/v0/config", any(admin::config))
        .route("/api/v0/config/show", any(admin::config_show))
        .route(
            "/api/v0/config/profile/apply",
            any(admin::config_profile_apply),
        )
        .route("/api/v0/swarm/peers", any(net::swarm_peers))
        .route("/api/v0/swarm/connect", any(net::swarm_connect))
        .route("/api/v0/swarm/disconnect", any(net::swarm_disconnect))
        .route("/api/v0/swarm/addrs", any(net::swarm_addrs))
        .route("/api/v0/swarm/addrs/listen", any(net::swarm_addrs_listen))
        .route("/api/v0/swarm/addrs/local", any(net::swarm_addrs_local))
        .route("/api/v0/bootstrap", any(net::bootstrap_list))
        .route("/api/v0/bootstrap/list", any(net::bootstrap_list))
        .route("/api/v0/bootstrap/add", any(net::bootstrap_add))
        .route("/api/v0/bootstrap/rm", any(net::bootstrap_rm))
        .route("/api/v0/routing/findprovs", any(net::findprovs))
        .route("/api/v0/routing/findpeer", any(net::findpeer))
        .route("/api/v0/routing/provide", any(net::routing_provide))
        .route("/api/v0/routing/get", any(net::routing_get))
        .route("/api/v0/routing/put", any(net::routing_put))
        .route("/api/v0/routing/reprovide", any(net::reprovide))
        // Kubo's older names for the same commands.
        .route("/api/v0/dht/findprovs", any(net::findprovs))
        .route("/api/v0/dht/findpeer", any(net::findpeer))
        .route("/api/v0/dht/provide", any(net::routing_provide))
        .route("/api/v0/dht/get", any(net::routing_get))
        .route("/api/v0/dht/put", any(net::routing_put))
        .route("/api/v0/bitswap/reprovide", any(net::reprovide))
        .route("/api/v0/stats/provide", any(net::stats_provide))
        .route("/api/v0/bitswap/stat", any(bitswap::stat))
        .route("/api/v0/stats/bitswap", any(bitswap::stat))
        .route("/api/v0/bitswap/wantlist", any(bitswap::wantlist))
        .route("/api/v0/bitswap/ledger", any(bitswap::ledger))
        .route("/api/v0/stats/dht", any(net::stats_dht))
        .route("/api/v0/stats/bw", any(observe::stats_bw))
        .route("/api/v0/stats/repo", any(admin::repo_stat))
        .route("/api/v0/log/level", any(observe::log_level))
        .route("/api/v0/log/ls", any(observe::log_ls))
        .route("/api/v0/diag/sys", any(observe::diag_sys))
        // Kubo's Prometheus endpoint: GET (the guard lets GET through here only).
        .route(crate::metrics::PATH, any(observe::metrics))
        .route("/api/v0/key/gen", any(names::key_gen))
        .route("/api/v0/key/list", any(names::key_list))
        .route("/api/v0/key/rm", any(names::key_rm))
        .route("/api/v0/key/rename", any(names::key_rename))
        .route("/api/v0/key/import", any(names::key_import))
        .route("/api/v0/name/publish", any(names::name_publish))
        .route("/api/v0/name/resolve", any(names::name_resolve))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_SMALL_BODY))
        .layer(middleware::from_fn(stream::trailers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            upload::idle_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "404 page not found")
}

/// An API error, rendered as Kubo renders them.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn body(&self) -> serde_json::Value {
        let code = if self.status == StatusCode::BAD_REQUEST {
            1
        } else {
            0
        };
        serde_json::json!({ "Message": self.message, "Code": code, "Type": "error" })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        resp.headers_mut().insert(
            "X-Content-Type-Options",
            HeaderValue::from_static("nosniff"),
        );
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Maps library errors to statuses: missing things are 404, invalid input 400.
pub(crate) fn status_of(err: &(dyn std::error::Error + 'static)) -> StatusCode {
    use dag::export::ExportError;
    if let Some(e) = err.downcast_ref::<ExportError>() {
        return match e {
            ExportError::Source(dag::SourceError::NotFound { .. }) | ExportError::NoLink { .. } => {
                StatusCode::NOT_FOUND
            }
            ExportError::IsDirectory { .. } | ExportError::NotDirectory { .. } => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
    }
    if let Some(e) = err.downcast_ref::<dag::StoreError>() {
        return match e {
            dag::StoreError::MissingBlock { .. } => StatusCode::NOT_FOUND,
            dag::StoreError::NotPinned { .. }
            | dag::StoreError::PinnedIndirectly { .. }
            | dag::StoreError::Pinned { .. }
            | dag::StoreError::AlreadyPinnedRecursively { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
    }
    if err.downcast_ref::<dag::car::CarError>().is_some()
        || err.downcast_ref::<dag::BlockError>().is_some()
    {
        return StatusCode::BAD_REQUEST;
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

macro_rules! api_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ApiError::new(status_of(&e), e.to_string())
            }
        }
    )*};
}
api_error_from!(
    dag::StoreError,
    dag::export::ExportError,
    dag::car::CarError,
    dag::BlockError,
    dag::import::ImportError
);

impl From<crate::node::Error> for ApiError {
    fn from(e: crate::node::Error) -> Self {
        use crate::node::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Import(e) => e.into(),
            E::Export(e) => e.into(),
            E::Path(e) => e.into(),
            E::Ipld(e) => e.into(),
            E::Names(e) => e.into(),
            E::Keys(e) => e.into(),
            E::Net(e) => e.into(),
            E::Bitswap(e) => e.into(),
            E::Repo(e) => e.into(),
            e @ (E::BadPath(_) | E::Invalid(_) | E::Offline) => {
                ApiError::bad_request(e.to_string())
            }
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// A CID argument; a malformed one is the request's fault (400).
pub(crate) fn parse_cid(s: &str) -> Result<dag::Cid, ApiError> {
    dag::block::parse_cid(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The query of a request: positional `arg`s and flags.
#[derive(Debug, Default)]
pub struct Args {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Args {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .take(MAX_ARGS + 1)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > MAX_ARGS {
            return Err(ApiError::bad_request(format!(
                "too many arguments (limit {MAX_ARGS})"
            )));
        }
        Ok(Args { pairs })
    }
}

impl Args {
    /// Every positional argument.
    pub fn args(&self) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == "arg")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The positional arguments, at least one required.
    pub fn required(&self, what: &str) -> Result<Vec<&str>, ApiError> {
        let args = self.args();
        if args.is_empty() {
            return Err(ApiError::bad_request(format!(
                "argument \"{what}\" is required"
            )));
        }
        Ok(args)
    }

    /// Every positional argument, owned (for moving into a blocking task).
    pub fn owned_args(&self) -> Vec<String> {
        self.args().into_iter().map(String::from).collect()
    }

    /// The positional arguments, at least one required, owned.
    pub fn required_owned(&self, what: &str) -> Result<Vec<String>, ApiError> {
        Ok(self.required(what)?.into_iter().map(String::from).collect())
    }

    /// The first positional argument, required.
    pub fn first(&self, what: &str) -> Result<&str, ApiError> {
        Ok(self.required(what)?[0])
    }

    /// A flag's raw value, by its Kubo name (`store-codec`) or that name in camelCase
    /// (`storeCodec`), which `kubo-rpc-client` sends for some commands (`dag/put`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name || is_camel_of(k, name))
            .map(|(_, v)| v.as_str())
    }

    /// A boolean flag (`name`, `name=true`, `name=false`), or `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("" | "true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid value {v:?} for flag {name}: expected true or false"
            ))),
        }
    }

    /// A numeric flag.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value {v:?} for {name}: expected a number"
                    ))
                })
            })
            .transpose()
    }
}

/// Whether `key` is `name` (kebab-case) written in camelCase: `storeCodec` for
/// `store-codec`.
fn is_camel_of(key: &str, name: &str) -> bool {
    if !name.contains('-') {
        return false;
    }
    let mut camel = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match (c, upper) {
            ('-', _) => upper = true,
            (c, true) => {
                camel.push(c.to_ascii_uppercase());
                upper = false;
            }
            (c, false) => camel.push(c),
        }
    }
    key == camel
}

/// Runs blocking work on the pool of work that may wait (module `pool`): a command's store
/// work may resolve a path through blocks fetched from the network (`cat`, `get`, `refs`),
/// so it must never hold the threads the gateway's local reads use.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::pool::waiting().run(f).await?
}

impl From<crate::pool::PoolError> for ApiError {
    fn from(e: crate::pool::PoolError) -> Self {
        let status = match e {
            crate::pool::PoolError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("task failed: {e}"),
        )
    }
}

/// A JSON response.
pub(crate) fn json(v: serde_json::Value) -> Response {
    axum::Json(v).into_response()
}
