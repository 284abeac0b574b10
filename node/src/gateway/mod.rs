//! The HTTP gateway: `GET`/`HEAD /ipfs/<cid>[/path]` for browsers and trustless clients,
//! served by the daemon on `Addresses.Gateway` (127.0.0.1:8080 by default).
//!
//! Data flow: [`request`] reads the host, path, query and headers (pure); the content path
//! is then resolved on the blocking pool, first against the store alone (a local turn: these
//! are short), and only when a block is missing once more through a [`Source`] that asks
//! BitSwap (a network turn, each block waited for at most `Gateway.RetrievalTimeout`). The
//! two kinds of turns are bounded apart, so requests waiting on the network never hold up
//! requests the store can answer; a request that waits too long for a turn gets 503. The
//! resolution decides the response —
//! a file (typed by name or sniffed, ranges), a directory (`index.html` or a listing), a raw
//! block, a CAR ([`dag::scope`]), an IPLD node as stored, converted or as an HTML view
//! (the `ipld` module: dag-json, dag-cbor, json, cbor, as boxo answers them), or a redirect —
//! before any byte is sent, so every failure
//! up to there gets its proper status. Bodies are streamed by a blocking producer into a
//! bounded channel (a slow client slows the reader); a failure after the first byte breaks
//! the connection off, so a truncated body never passes for a complete one.
//!
//! `<cidv1>.ipfs.localhost` hosts serve the same content with an origin per CID;
//! `/ipfs/<cid>` asked of `localhost` is redirected there (as Kubo's default
//! `localhost` subdomain gateway does). Errors are an HTML page when the client accepts
//! HTML, plain text otherwise.

mod error;
mod html;
mod ipld;
mod mime;
pub mod request;
mod stream;

pub use error::GatewayError;

use crate::content::Source;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use bytes::Bytes;
use dag::Cid;
use dag::export::{self, Entry, ExportError, FileReader, Kind};
use dag::scope::{self, Resolved};
use ipld::Decision;
use request::{ContentPath, Format, Params, Range, Route, Want};
use std::sync::Arc;
use std::time::Duration;
use stream::{car_etag, stream_car, stream_file};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Files up to this size are read whole while the request is resolved (one hop, no
/// stream); larger ones stream.
const SMALL_FILE: u64 = 256 << 10;
/// Requests resolved from the store alone at once (short: no network wait); more wait
/// (asynchronously) for a turn.
const MAX_LOCAL: usize = 32;
/// Requests resolved through the network at once (each on the pool of work that may wait,
/// waiting up to `RetrievalTimeout` per block); more wait for a turn.
const MAX_FETCHING: usize = 32;
/// Bodies streamed at once (each is one producer on the pool of work that may wait: it
/// may fetch blocks, and the client sets its pace); more wait for a turn.
const MAX_STREAMS: usize = 32;
/// `Cache-Control` of everything under `/ipfs/` (immutable by construction).
const IMMUTABLE: &str = "public, max-age=29030400, immutable";
/// `Cache-Control` of content reached through an `/ipns/` name, which may change.
const MUTABLE: &str = "public, max-age=60";

/// What the gateway's handlers share.
#[derive(Debug, Clone)]
pub struct GatewayState {
    store: dag::Store,
    bitswap: Option<::bitswap::Bitswap>,
    retrieval_timeout: Duration,
    names: crate::names::Names,
    /// Bound the blocking work: threads (and the block buffers each holds) stay few
    /// however many connections come. Resolutions from the store alone take `local`
    /// turns, those that wait on the network `fetching` turns, so neither kind can take
    /// the other's.
    local: Arc<Semaphore>,
    fetching: Arc<Semaphore>,
    streams: Arc<Semaphore>,
}

impl GatewayState {
    /// A gateway over `store`, fetching missing blocks through `bitswap` (when given) for
    /// at most `retrieval_timeout` each, resolving `/ipns/` names with `names`.
    /// The gateway over `node`: its store, its names and (online, unless
    /// `Gateway.NoFetch`) BitSwap for what the store lacks, waiting up to
    /// `retrieval_timeout` for the network.
    pub fn for_node(node: &crate::Node, retrieval_timeout: Duration) -> Self {
        let bitswap = if node.settings().gateway.no_fetch {
            None
        } else {
            node.bitswap().cloned()
        };
        Self::new(
            node.store().clone(),
            bitswap,
            retrieval_timeout,
            node.naming().clone(),
        )
    }

    /// The gateway over these parts: `store`, `bitswap` for what it lacks (`None`: the
    /// store only), `names` for `/ipns/`, waiting up to `retrieval_timeout` for a block.
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
            local: Arc::new(Semaphore::new(MAX_LOCAL)),
            fetching: Arc::new(Semaphore::new(MAX_FETCHING)),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }

    /// A turn of `sem`, waited for at most the retrieval timeout (then 503: the client is
    /// told to come back rather than kept waiting without bound).
    async fn turn(
        &self,
        sem: &Arc<Semaphore>,
        what: &'static str,
    ) -> Result<OwnedSemaphorePermit, GatewayError> {
        let after = self.retrieval_timeout;
        match tokio::time::timeout(after, sem.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(e)) => Err(GatewayError::Internal {
                reason: e.to_string(),
            }),
            Err(_) => Err(GatewayError::Busy { what, after }),
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
            if e.status() >= 500 && !matches!(e.status(), 501 | 503 | 504) {
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
    /// At most [`html::LISTING_LIMIT`] entries; `truncated` when the directory has more.
    Listing {
        cid: Cid,
        entries: Vec<export::DirEntry>,
        truncated: bool,
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
    /// An IPLD block in the codec `want`, as stored or converted.
    Codec { cid: Cid, data: Bytes, want: Want },
    /// The HTML view of a dag-cbor/dag-json node.
    View { cid: Cid, page: String },
    /// The request cannot be answered as asked (a conversion that cannot be done).
    Refuse(GatewayError),
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
            // A lookup takes a network turn: name requests cannot start unbounded DHT
            // queries, nor hold up requests for local content.
            let _turn = s.turn(&s.fetching, "network").await?;
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
    // The store alone first: most requests end here, without a network turn.
    let local = s.source(true);
    let turn = s.turn(&s.local, "local").await?;
    let first = resolve(On::Pool, local.clone(), turn, &content, &params).await?;
    let (src, resolved, plan) = match first {
        Ok((resolved, plan)) => (s.source(local_only), resolved, plan),
        Err(e) if is_missing(&e) && !local_only && s.bitswap.is_some() => {
            let src = s.source(false);
            let turn = s.turn(&s.fetching, "network").await?;
            match resolve(On::Thread, src.clone(), turn, &content, &params).await? {
                Ok((resolved, plan)) => (src, resolved, plan),
                Err(e) => return Err(read_error(e, &src, local_only)),
            }
        }
        Err(e) => return Err(read_error(e, &local, local_only)),
    };
    let plan = match plan {
        Plan::AddSlash => return Ok(redirect(&request::add_slash(req.uri.path(), query))),
        Plan::Refuse(e) => return Err(e),
        plan => plan,
    };
    // The HTML view is generated (it may change between versions): not cached as
    // immutable, as boxo does.
    let cacheable = !matches!(plan, Plan::View { .. });
    let etag = match &plan {
        Plan::File { cid, .. } => format!("\"{cid}\""),
        Plan::Listing { cid, .. } => format!("W/\"DirIndex-ipfsd1_CID-{cid}\""),
        Plan::Block { cid, raw: true, .. } => format!("\"{cid}.raw\""),
        Plan::Block { cid, .. } => format!("\"{cid}\""),
        Plan::Car => car_etag(&content, &resolved, &params),
        Plan::Codec { cid, want, .. } => ipld::etag(cid, *want),
        Plan::View { cid, .. } => ipld::view_etag(cid),
        Plan::AddSlash | Plan::Refuse(_) => String::new(),
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
                // A small part of a large file (a player's range request) is read at once
                // on the store's pool when its blocks are here; otherwise it streams.
                let small = match whole {
                    None if !head && end - start <= SMALL_FILE => {
                        let turn = s.turn(&s.local, "local").await?;
                        read_part(local, turn, cid, start, end - start).await?
                    }
                    _ => None,
                };
                let body = match (whole, small) {
                    (Some(all), _) => Body::from(all.slice(start as usize..end as usize)),
                    (None, Some(part)) => Body::from(part),
                    (None, None) if head => Body::empty(),
                    (None, None) => stream_file(
                        src,
                        s.turn(&s.streams, "stream").await?,
                        cid,
                        start,
                        end - start,
                    )?,
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
            Plan::Listing {
                cid,
                entries,
                truncated,
            } => {
                let title = content.title();
                let parent = !content.segments.is_empty();
                // Rendered off the executor, so other requests do not wait behind it.
                let page = crate::pool::local()
                    .run(move || {
                        html::listing(&title, &cid.to_string(), &entries, parent, truncated)
                    })
                    .await
                    .map_err(pool_error)?;
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
                        s.turn(&s.streams, "stream").await?,
                        content.root,
                        resolved.clone(),
                        &params,
                    )?
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
            Plan::Codec { cid, data, want } => {
                let mut resp = sized(data, want.media_type());
                let h = resp.headers_mut();
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                let (name, attachment) =
                    ipld::disposition(&cid, want, params.filename.as_deref(), params.download);
                set_disposition(h, &name, attachment);
                resp
            }
            Plan::View { page, .. } => {
                let mut resp = sized(page.into(), "text/html; charset=utf-8");
                resp.headers_mut().insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                resp
            }
            Plan::AddSlash | Plan::Refuse(_) => {
                return Err(GatewayError::Internal {
                    reason: "redirect or refusal already answered".into(),
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
    if cacheable {
        insert(
            h,
            header::CACHE_CONTROL,
            if content.mutable { MUTABLE } else { IMMUTABLE },
        );
    }
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

/// Where blocking work runs (module `pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// The store's pool: store reads only, short.
    Pool,
    /// The pool of work that may wait (on the network, on a slow client), so it never
    /// occupies the threads the gateway's local work needs.
    Thread,
}

impl On {
    fn run(self, f: impl FnOnce() + Send + 'static) -> Result<(), GatewayError> {
        let pool = match self {
            On::Pool => crate::pool::local(),
            On::Thread => crate::pool::waiting(),
        };
        pool.spawn(f).map_err(pool_error)
    }
}

/// A pool's refusal as the gateway answers it: a full queue is a 503 with `Retry-After`
/// (the client may come back), anything else a 500.
fn pool_error(e: crate::pool::PoolError) -> GatewayError {
    match e {
        crate::pool::PoolError::Overloaded { .. } => GatewayError::Overloaded { source: e },
        _ => GatewayError::Internal {
            reason: e.to_string(),
        },
    }
}

/// Runs [`plan`] through `src` `on` the pool or a thread, holding `turn` while it runs.
async fn resolve(
    on: On,
    src: Source,
    turn: OwnedSemaphorePermit,
    content: &ContentPath,
    params: &Params,
) -> Result<Result<(Resolved, Plan), ExportError>, GatewayError> {
    let (content, params) = (content.clone(), params.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    on.run(move || {
        let _turn = turn;
        let _ = tx.send(plan(&src, &content, &params));
    })?;
    rx.await.map_err(|_| GatewayError::Internal {
        reason: "the resolving task ended without an answer".into(),
    })
}

/// Reads `len` bytes of file `cid` from `start` on the store's pool, holding `turn`:
/// `None` if a block of the part is not in the store (then it is streamed, fetching).
async fn read_part(
    local: Source,
    turn: OwnedSemaphorePermit,
    cid: Cid,
    start: u64,
    len: u64,
) -> Result<Option<Bytes>, GatewayError> {
    let src = local.clone();
    let read = crate::pool::local()
        .run(move || {
            let _turn = turn;
            let mut reader = FileReader::open(&src, &cid, start, Some(len))?;
            let mut pieces = Vec::new();
            while let Some(piece) = reader.next_piece()? {
                pieces.push(piece);
            }
            Ok::<_, ExportError>(match pieces.len() {
                1 => pieces.pop().unwrap_or_default(),
                _ => Bytes::from(pieces.concat()),
            })
        })
        .await
        .map_err(pool_error)?;
    match read {
        Ok(part) => Ok(Some(part)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(read_error(e, &local, true)),
    }
}

/// Whether resolving failed only because a block is not in the store.
fn is_missing(e: &ExportError) -> bool {
    matches!(e, ExportError::Source(dag::SourceError::NotFound { .. }))
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
        Format::Deserialized | Format::Codec(_) => {}
    }
    let want = match params.format {
        Format::Codec(w) => Some(w),
        _ => None,
    };
    let codec = dag::Codec::of(&cid);
    match ipld::decide(codec, want, params.html, params.download) {
        Decision::Other => {}
        Decision::AsIs(want) => {
            let data = export::get(src, &cid)?;
            return Ok((resolved, Plan::Codec { cid, data, want }));
        }
        Decision::Convert(want) => {
            let data = export::get(src, &cid)?;
            let plan = match ipld::convert(&cid, &data, want)? {
                Ok(out) => Plan::Codec {
                    cid,
                    data: out.into(),
                    want,
                },
                Err(e) => Plan::Refuse(e),
            };
            return Ok((resolved, plan));
        }
        Decision::View => {
            // Relative links (`?format=...`) need the trailing slash, as boxo redirects.
            if !content.trailing_slash {
                return Ok((resolved, Plan::AddSlash));
            }
            let data = export::get(src, &cid)?;
            // Best effort, as boxo: a node that does not decode gets a page without preview.
            let value = dag::codec::decode(codec, &data).ok();
            let page = html::dag_view(&html::DagView {
                path: &content.display,
                cid: &cid,
                codec: &ipld::codec_name(&cid),
                value: value.as_ref(),
                link_root: &content.link_root,
            });
            return Ok((resolved, Plan::View { cid, page }));
        }
    }
    if !matches!(codec, dag::Codec::DagPb | dag::Codec::Raw) {
        // Codecs without a UnixFS or IPLD answer: their bytes.
        let data = export::get(src, &cid)?;
        return Ok((
            resolved,
            Plan::Block {
                cid,
                data,
                content_type: "application/octet-stream",
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
            // Bounded: a HAMT from a peer may hold millions of entries.
            let (entries, truncated) = export::list_limited(src, &cid, html::LISTING_LIMIT)?;
            Ok((
                resolved,
                Plan::Listing {
                    cid,
                    entries,
                    truncated,
                },
            ))
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
        ExportError::NotABlock { cid, rem } => GatewayError::InsideNode { cid, rem },
        other => GatewayError::Read { source: other },
    }
}

/// `Content-Disposition`: the `filename` parameter (or `default`), attachment when asked
/// for (or when a default applies: raw blocks and CARs are never rendered).
fn disposition(h: &mut HeaderMap, params: &Params, default: Option<String>) {
    let attachment = params.download || default.is_some();
    let Some(name) = params.filename.clone().or(default) else {
        return;
    };
    set_disposition(h, &name, attachment);
}

/// `Content-Disposition` for `name`: an ASCII `filename` and the UTF-8 `filename*`.
fn set_disposition(h: &mut HeaderMap, name: &str, attachment: bool) {
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
            request::percent_encode(name)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolError;

    /// A regression test: a full pool queue answered 500, as if the gateway were broken.
    /// It is a 503 with `Retry-After`; a lost job stays a 500.
    #[test]
    fn a_full_pool_queue_is_a_503_to_retry() {
        let full = pool_error(PoolError::Overloaded {
            pool: "waiting",
            queued: 64,
        });
        assert_eq!(full.status(), 503);
        let resp = full.into_response(false);
        assert_eq!(resp.headers()[axum::http::header::RETRY_AFTER], "5");
        assert_eq!(pool_error(PoolError::Lost { pool: "local" }).status(), 500);
    }
}
