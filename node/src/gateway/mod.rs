//! The HTTP gateway: `GET`/`HEAD /ipfs/<cid>[/path]` for browsers and trustless clients,
//! served by the daemon on `Addresses.Gateway` (127.0.0.1:8080 by default).
//!
//! Data flow: [`request`] reads the host, path, query and headers (pure); the content path
//! is then resolved on the blocking pool through a [`Source`] (the store, then BitSwap, each
//! block waited for at most `Gateway.RetrievalTimeout`), which decides the response —
//! a file (typed by name or sniffed, ranges), a directory (`index.html` or a listing), a raw
//! block, a CAR ([`dag::scope`]), or a redirect — before any byte is sent, so every failure
//! up to there gets its proper status. Bodies are streamed by a blocking producer into a
//! bounded channel (a slow client slows the reader); a failure after the first byte breaks
//! the connection off, so a truncated body never passes for a complete one.
//!
//! `<cidv1>.ipfs.localhost` hosts serve the same content with an origin per CID;
//! `/ipfs/<cid>` asked of `localhost` is redirected there (as Kubo's default
//! `localhost` subdomain gateway does). Errors are an HTML page when the client accepts
//! HTML, plain text otherwise.

mod html;
mod mime;
pub mod request;

use crate::api::{Sink, SinkWriter, body_of, stream_channel};
use crate::content::Source;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dag::Cid;
use dag::export::{self, Entry, ExportError, FileReader, Kind};
use dag::scope::{self, Resolved};
use request::{ContentPath, Format, Params, Range, Route};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Files up to this size are read whole while the request is resolved (one hop, no
/// stream); larger ones stream.
const SMALL_FILE: u64 = 256 << 10;
/// Bytes per chunk of a streamed CAR.
const CAR_CHUNK: usize = 256 << 10;
/// Requests resolved on the blocking pool at once; more wait (asynchronously) for a turn.
const MAX_RESOLVING: usize = 32;
/// Bodies streamed at once (each is one blocking producer); more wait for a turn.
const MAX_STREAMS: usize = 64;
/// `Cache-Control` of everything under `/ipfs/` (immutable by construction).
const IMMUTABLE: &str = "public, max-age=29030400, immutable";
/// `Cache-Control` of content reached through an `/ipns/` name, which may change.
const MUTABLE: &str = "public, max-age=60";

/// A request the gateway cannot answer with content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The path or host is malformed.
    #[error("invalid path {path:?}: {reason}")]
    BadPath {
        /// What was given (shortened).
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The CID does not parse.
    #[error("invalid CID {input:?}: {source}")]
    BadCid {
        /// What was given.
        input: String,
        /// Why.
        source: dag::BlockError,
    },
    /// A query parameter or header is malformed or unsupported.
    #[error("invalid {name} {value:?}: {reason}")]
    BadParam {
        /// The parameter.
        name: &'static str,
        /// Its value (shortened).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Nothing is there.
    #[error("not found: {what}")]
    NotFound {
        /// What was missing.
        what: String,
    },
    /// A block could not be retrieved within the retrieval timeout.
    #[error("retrieving block {cid} took longer than {after:?}")]
    Timeout {
        /// The block.
        cid: Cid,
        /// The timeout.
        after: Duration,
    },
    /// `Cache-Control: only-if-cached` and the block is not in the store.
    #[error("block {cid} is not in the local store (only-if-cached)")]
    NotCached {
        /// The block.
        cid: Cid,
    },
    /// The range starts past the end of the file.
    #[error("range not satisfiable: the file has {size} bytes")]
    Range {
        /// The file size.
        size: u64,
    },
    /// Only GET, HEAD and OPTIONS are served.
    #[error("method {method} not allowed: the gateway serves GET and HEAD")]
    Method {
        /// The method used.
        method: String,
    },
    /// An `/ipns/` name could not be resolved.
    #[error(transparent)]
    Name(#[from] crate::names::NameError),
    /// The DAG is malformed or the store failed.
    #[error("cannot read the content: {source}")]
    Read {
        /// Why.
        source: ExportError,
    },
    /// A task failed.
    #[error("internal error: {reason}")]
    Internal {
        /// Why.
        reason: String,
    },
}

impl GatewayError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        self.status_code().as_u16()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            GatewayError::BadPath { .. }
            | GatewayError::BadCid { .. }
            | GatewayError::BadParam { .. } => StatusCode::BAD_REQUEST,
            GatewayError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::NotCached { .. } => StatusCode::PRECONDITION_FAILED,
            GatewayError::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            GatewayError::Method { .. } => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Name(e) if e.is_bad_request() => StatusCode::BAD_REQUEST,
            GatewayError::Name(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            GatewayError::Name(crate::names::NameError::Net(crate::net::NetError::Timeout {
                ..
            })) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Name(_) => StatusCode::BAD_GATEWAY,
            GatewayError::Read { .. } | GatewayError::Internal { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn into_response(self, html: bool) -> Response {
        let status = self.status_code();
        let message = self.to_string();
        let (ty, body) = if html {
            let reason = status.canonical_reason().unwrap_or("Error");
            (
                "text/html; charset=utf-8",
                html::error_page(status.as_u16(), reason, &message),
            )
        } else {
            ("text/plain; charset=utf-8", format!("{message}\n"))
        };
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        match self {
            GatewayError::Range { size } => {
                insert(h, header::CONTENT_RANGE, &format!("bytes */{size}"));
            }
            GatewayError::Method { .. } => {
                h.insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
            }
            _ => {}
        }
        resp
    }
}

/// What the gateway's handlers share.
#[derive(Debug, Clone)]
pub struct GatewayState {
    store: dag::Store,
    bitswap: Option<::bitswap::Bitswap>,
    retrieval_timeout: Duration,
    names: crate::names::Names,
    /// Bounds the blocking work: threads (and the block buffers each holds) stay few
    /// however many connections come.
    resolving: Arc<Semaphore>,
    streams: Arc<Semaphore>,
}

impl GatewayState {
    /// A gateway over `store`, fetching missing blocks through `bitswap` (when given) for
    /// at most `retrieval_timeout` each, resolving `/ipns/` names with `names`.
    pub fn new(
        store: dag::Store,
        bitswap: Option<::bitswap::Bitswap>,
        retrieval_timeout: Duration,
        names: crate::names::Names,
    ) -> Self {
        GatewayState {
            store,
            bitswap,
            retrieval_timeout,
            names,
            resolving: Arc::new(Semaphore::new(MAX_RESOLVING)),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }

    fn source(&self, local_only: bool) -> Source {
        let bitswap = if local_only {
            None
        } else {
            self.bitswap.clone()
        };
        Source::new(self.store.clone(), bitswap).with_deadline(self.retrieval_timeout)
    }
}

/// The gateway's router: every request goes through one handler, which routes by host
/// and path itself (subdomain origins have no `/ipfs/` prefix).
pub fn router(state: GatewayState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(s): State<GatewayState>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let html = accepts_html(&parts.headers);
    let head = parts.method == Method::HEAD;
    match serve(&s, &parts).await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status() >= 500 && e.status() != 504 && e.status() != 501 {
                tracing::warn!(path = %parts.uri.path(), error = %e, "gateway request failed");
            }
            let mut resp = e.into_response(html);
            if head {
                *resp.body_mut() = Body::empty();
            }
            resp
        }
    }
}

fn accepts_html(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// What a resolved request is answered with.
enum Plan {
    /// A UnixFS file (or raw block) of `size` bytes; `whole` holds it when small.
    File {
        cid: Cid,
        size: u64,
        content_type: String,
        whole: Option<Bytes>,
    },
    /// A directory without `index.html`.
    Listing {
        cid: Cid,
        entries: Vec<export::DirEntry>,
    },
    /// A directory asked for without its trailing slash.
    AddSlash,
    /// One block's bytes (`format=raw`, or a block that is not UnixFS).
    Block {
        cid: Cid,
        data: Bytes,
        content_type: &'static str,
        raw: bool,
    },
    /// A CAR stream.
    Car,
}

async fn serve(s: &GatewayState, req: &Parts) -> Result<Response, GatewayError> {
    let head = match req.method {
        Method::GET => false,
        Method::HEAD => true,
        Method::OPTIONS => return Ok(preflight()),
        ref m => {
            return Err(GatewayError::Method {
                method: m.to_string(),
            });
        }
    };
    let query = req.uri.query();
    let content = match request::route(
        header_str(&req.headers, header::HOST),
        req.uri.path(),
        query,
    )? {
        Route::Subdomain { location } => return Ok(redirect(&location)),
        Route::Content(c) => c,
        Route::Name(n) => {
            let options = crate::names::ResolveOptions {
                recursive: true,
                nocache: false,
            };
            let path = n.name.to_path();
            // A lookup takes a resolving turn too: name requests cannot start unbounded
            // DHT queries.
            let _turn = turn(&s.resolving).await?;
            let lookup = s.names.resolve(&path, options, None);
            let target = tokio::time::timeout(s.retrieval_timeout, lookup)
                .await
                .map_err(|_| {
                    crate::names::NameError::Net(crate::net::NetError::Timeout {
                        op: "name resolve",
                    })
                })??;
            request::name_content(&n, &target)?
        }
    };
    let params = request::params(query, header_str(&req.headers, header::ACCEPT))?;
    let local_only = header_str(&req.headers, header::CACHE_CONTROL)
        .is_some_and(|v| v.contains("only-if-cached"));
    let src = s.source(local_only);
    let (resolved, plan) = {
        let (src, content, params) = (src.clone(), content.clone(), params.clone());
        let turn = turn(&s.resolving).await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            plan(&src, &content, &params).map_err(|e| read_error(e, &src, local_only))
        })
        .await
        .map_err(|e| GatewayError::Internal {
            reason: e.to_string(),
        })??
    };
    if let Plan::AddSlash = plan {
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        return Ok(redirect(&format!("{}/{query}", req.uri.path())));
    }
    let etag = match &plan {
        Plan::File { cid, .. } => format!("\"{cid}\""),
        Plan::Listing { cid, .. } => format!("W/\"DirIndex-ipfsd1_CID-{cid}\""),
        Plan::Block { cid, raw: true, .. } => format!("\"{cid}.raw\""),
        Plan::Block { cid, .. } => format!("\"{cid}\""),
        Plan::Car => car_etag(&content, &resolved, &params),
        Plan::AddSlash => String::new(),
    };
    let not_modified_now = header_str(&req.headers, header::IF_NONE_MATCH)
        .is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| t.trim() == etag));
    let mut resp = if not_modified_now {
        not_modified()
    } else {
        match plan {
            Plan::File {
                cid,
                size,
                content_type,
                whole,
            } => {
                let range = request::range(header_str(&req.headers, header::RANGE), size);
                let (start, end, status) = match range {
                    Range::Full => (0, size, StatusCode::OK),
                    Range::Part(a, b) => (a, b, StatusCode::PARTIAL_CONTENT),
                    Range::Unsatisfiable => return Err(GatewayError::Range { size }),
                };
                let body = match whole {
                    Some(all) => Body::from(all.slice(start as usize..end as usize)),
                    None if head => Body::empty(),
                    None => stream_file(src, turn(&s.streams).await?, cid, start, end - start),
                };
                let mut resp = Response::new(body);
                *resp.status_mut() = status;
                let h = resp.headers_mut();
                insert(h, header::CONTENT_TYPE, &content_type);
                insert(h, header::CONTENT_LENGTH, &(end - start).to_string());
                h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                if status == StatusCode::PARTIAL_CONTENT {
                    insert(
                        h,
                        header::CONTENT_RANGE,
                        &format!("bytes {start}-{}/{size}", end - 1),
                    );
                }
                disposition(h, &params, None);
                resp
            }
            Plan::Listing { cid, entries } => {
                let title = content.title();
                let parent = !content.segments.is_empty();
                // A listing can hold a hundred thousand entries (one 2 MiB block): it is
                // rendered off the executor, so other requests do not wait behind it.
                let page = tokio::task::spawn_blocking(move || {
                    html::listing(&title, &cid.to_string(), &entries, parent)
                })
                .await
                .map_err(|e| GatewayError::Internal {
                    reason: e.to_string(),
                })?;
                sized(page.into(), "text/html; charset=utf-8")
            }
            Plan::Block {
                cid,
                data,
                content_type,
                raw,
            } => {
                let mut resp = sized(data, content_type);
                if raw {
                    let h = resp.headers_mut();
                    h.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    disposition(h, &params, Some(format!("{cid}.bin")));
                }
                resp
            }
            Plan::Car => {
                let body = if head {
                    Body::empty()
                } else {
                    stream_car(
                        src,
                        turn(&s.streams).await?,
                        content.root,
                        resolved.clone(),
                        &params,
                    )
                };
                let mut resp = Response::new(body);
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/vnd.ipld.car; version=1; order=dfs; dups=n",
                    ),
                );
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                disposition(h, &params, Some(format!("{}.car", resolved.cid)));
                resp
            }
            Plan::AddSlash => {
                return Err(GatewayError::Internal {
                    reason: "redirect already answered".into(),
                });
            }
        }
    };
    if head {
        // Headers as for GET (Content-Length included), no body.
        *resp.body_mut() = Body::empty();
    }
    let h = resp.headers_mut();
    insert(h, header::ETAG, &etag);
    insert(
        h,
        header::CACHE_CONTROL,
        if content.mutable { MUTABLE } else { IMMUTABLE },
    );
    insert(
        h,
        "x-ipfs-path".parse().expect("static name"),
        &content.display,
    );
    let roots: Vec<String> = resolved.roots.iter().map(Cid::to_string).collect();
    insert(
        h,
        "x-ipfs-roots".parse().expect("static name"),
        &roots.join(","),
    );
    cors(h);
    Ok(resp)
}

/// Resolves the request and decides the answer (on the blocking pool).
fn plan(
    src: &Source,
    content: &ContentPath,
    params: &Params,
) -> Result<(Resolved, Plan), ExportError> {
    let resolved = scope::resolve_path(src, &content.root, &content.inner())?;
    let cid = resolved.cid;
    match params.format {
        Format::Raw => {
            let data = export::get(src, &cid)?;
            return Ok((
                resolved,
                Plan::Block {
                    cid,
                    data,
                    content_type: "application/vnd.ipld.raw",
                    raw: true,
                },
            ));
        }
        Format::Car => {
            // The entity's first block must exist before the status is sent.
            export::get(src, &cid)?;
            return Ok((resolved, Plan::Car));
        }
        Format::Deserialized => {}
    }
    if !matches!(cid.codec(), dag::block::DAG_PB | dag::block::RAW) {
        let data = export::get(src, &cid)?;
        let content_type = match cid.codec() {
            dag::block::DAG_CBOR => "application/vnd.ipld.dag-cbor",
            0x0129 => "application/vnd.ipld.dag-json",
            0x0200 => "application/json",
            _ => "application/octet-stream",
        };
        return Ok((
            resolved,
            Plan::Block {
                cid,
                data,
                content_type,
                raw: false,
            },
        ));
    }
    let entry = export::load(src, &cid)?;
    match entry.kind() {
        Kind::File => {
            let plan = file_plan(src, cid, &entry, content.name())?;
            Ok((resolved, plan))
        }
        Kind::Directory => {
            if !content.trailing_slash {
                return Ok((resolved, Plan::AddSlash));
            }
            match export::child(src, &cid, "index.html") {
                Ok(index) => {
                    let entry = export::load(src, &index)?;
                    if entry.kind() == Kind::File {
                        let plan = file_plan(src, index, &entry, Some("index.html"))?;
                        return Ok((resolved, plan));
                    }
                }
                Err(ExportError::NoLink { .. }) => {}
                Err(e) => return Err(e),
            }
            let entries = export::list(src, &cid)?;
            Ok((resolved, Plan::Listing { cid, entries }))
        }
        Kind::Symlink => {
            let target = match &entry {
                Entry::Pb(_, Some(d)) => d.data.clone(),
                _ => Bytes::new(),
            };
            Ok((
                resolved,
                Plan::Block {
                    cid,
                    data: target,
                    content_type: "text/plain; charset=utf-8",
                    raw: false,
                },
            ))
        }
        Kind::Other => {
            let data = export::get(src, &cid)?;
            Ok((
                resolved,
                Plan::Block {
                    cid,
                    data,
                    content_type: "application/octet-stream",
                    raw: false,
                },
            ))
        }
    }
}

fn file_plan(
    src: &Source,
    cid: Cid,
    entry: &Entry,
    name: Option<&str>,
) -> Result<Plan, ExportError> {
    let size = entry.filesize();
    let single = match entry {
        Entry::Raw(b) => Some(b.clone()),
        Entry::Pb(node, Some(d)) if node.links.is_empty() && d.data.len() as u64 == size => {
            Some(d.data.clone())
        }
        _ => None,
    };
    let whole = if single.is_some() {
        // One block: its bytes are at hand already.
        single
    } else if size <= SMALL_FILE {
        let mut buf = Vec::with_capacity(size as usize);
        FileReader::open(src, &cid, 0, None)?.copy_to(&mut buf)?;
        Some(Bytes::from(buf))
    } else {
        None
    };
    let content_type = match name.and_then(mime::by_name) {
        Some(t) => t,
        None => {
            let head = match &whole {
                Some(all) => all.slice(..all.len().min(mime::SNIFF_LEN)),
                None => {
                    let mut buf = Vec::with_capacity(mime::SNIFF_LEN);
                    FileReader::open(src, &cid, 0, Some(mime::SNIFF_LEN as u64))?
                        .copy_to(&mut buf)?;
                    Bytes::from(buf)
                }
            };
            mime::sniff(&head).to_string()
        }
    };
    src.prefetch(cid);
    Ok(Plan::File {
        cid,
        size,
        content_type,
        whole,
    })
}

fn read_error(e: ExportError, src: &Source, local_only: bool) -> GatewayError {
    match e {
        ExportError::Source(dag::SourceError::NotFound { cid }) => {
            if src.timed_out() {
                GatewayError::Timeout {
                    cid,
                    after: src.deadline().unwrap_or_default(),
                }
            } else if local_only {
                GatewayError::NotCached { cid }
            } else {
                GatewayError::NotFound {
                    what: format!("block {cid}"),
                }
            }
        }
        ExportError::NoLink { cid, name } => GatewayError::NotFound {
            what: format!("no link named {name:?} under {cid}"),
        },
        ExportError::NotDirectory { cid } => GatewayError::NotFound {
            what: format!("{cid} is not a directory, so the path cannot go on"),
        },
        other => GatewayError::Read { source: other },
    }
}

/// Streams `len` bytes of the file `cid` from `start`.
async fn turn(sem: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, GatewayError> {
    sem.clone()
        .acquire_owned()
        .await
        .map_err(|e| GatewayError::Internal {
            reason: e.to_string(),
        })
}

fn stream_file(src: Source, turn: OwnedSemaphorePermit, cid: Cid, start: u64, len: u64) -> Body {
    let (sink, rx) = stream_channel();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        if let Err(e) = copy_file(&src, &sink, &cid, start, len) {
            tracing::debug!(%cid, error = %e, "gateway stream broken off");
            sink.fail(e.to_string());
        }
    });
    body_of(rx)
}

fn copy_file(src: &Source, sink: &Sink, cid: &Cid, start: u64, len: u64) -> Result<(), String> {
    let mut reader = FileReader::open(src, cid, start, Some(len)).map_err(|e| e.to_string())?;
    while let Some(piece) = reader.next_piece().map_err(|e| e.to_string())? {
        sink.bytes(piece).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn stream_car(
    src: Source,
    turn: OwnedSemaphorePermit,
    root: Cid,
    resolved: Resolved,
    params: &Params,
) -> Body {
    let (sink, rx) = stream_channel();
    let (scope, bytes) = (params.scope, params.entity_bytes);
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let out = SinkWriter::new(&sink, CAR_CHUNK);
        if let Err(e) = scope::write_car(&src, &[root], &resolved, scope, bytes, out) {
            tracing::debug!(%root, error = %e, "gateway CAR broken off");
            sink.fail(e.to_string());
        }
    });
    body_of(rx)
}

/// A CAR's `Etag`: the path's end, plus what selected the blocks.
fn car_etag(content: &ContentPath, resolved: &Resolved, params: &Params) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(content.root.to_bytes());
    h.update(content.inner().as_bytes());
    h.update(params.scope.as_str().as_bytes());
    if let Some(b) = params.entity_bytes {
        h.update(format!("{}:{:?}", b.from, b.to).as_bytes());
    }
    let digest = h.finalize();
    format!("\"{}.car.{}\"", resolved.cid, hex(&digest[..8]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `Content-Disposition`: the `filename` parameter (or `default`), attachment when asked
/// for (or when a default applies: raw blocks and CARs are never rendered).
fn disposition(h: &mut HeaderMap, params: &Params, default: Option<String>) {
    let attachment = params.download || default.is_some();
    let Some(name) = params.filename.clone().or(default) else {
        return;
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kind = if attachment { "attachment" } else { "inline" };
    insert(
        h,
        header::CONTENT_DISPOSITION,
        &format!(
            "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            request::percent_encode(&name)
        ),
    );
}

fn redirect(location: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    insert(resp.headers_mut(), header::LOCATION, location);
    resp
}

fn not_modified() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    resp
}

/// A whole body with its type and length.
fn sized(body: Bytes, content_type: &'static str) -> Response {
    let len = body.len();
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    insert(h, header::CONTENT_LENGTH, &len.to_string());
    resp
}

/// Read-only CORS: any page may fetch content (it is public and immutable).
fn cors(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Content-Length, Content-Range, Content-Type, Etag, X-Ipfs-Path, X-Ipfs-Roots",
        ),
    );
}

fn preflight() -> Response {
    let mut resp = Response::new(Body::empty());
    cors(resp.headers_mut());
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Range, User-Agent, X-Requested-With"),
    );
    resp
}
