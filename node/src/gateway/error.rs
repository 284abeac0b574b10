//! The gateway's errors and how each is answered: its status, and an HTML page for
//! browsers or plain text otherwise (with `Content-Range`, `Allow` or `Retry-After` where
//! the status calls for one).

use super::{html, insert};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dag::Cid;
use dag::export::ExportError;
use std::time::Duration;

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
    /// The block cannot be answered in the asked IPLD codec (boxo: 400).
    #[error("converting {cid} from {from} to {to} is not supported: {reason}")]
    NotConvertible {
        /// The block.
        cid: Cid,
        /// Its codec.
        from: String,
        /// The media type asked for.
        to: &'static str,
        /// Why.
        reason: String,
    },
    /// The path ends inside a dag-cbor/dag-json node at a value that is not a link
    /// (boxo: 501, reading IPLD kinds other than links is not implemented).
    #[error(
        "{rem:?} of {cid} could not be returned: reading IPLD kinds other than links \
         (CBOR tag 42) is not implemented: try reading /ipfs/{cid} instead"
    )]
    InsideNode {
        /// The node the path ends in.
        cid: Cid,
        /// The path left inside it.
        rem: String,
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
    /// Every turn of a kind was taken for longer than a request may wait for one.
    #[error("the gateway is busy: no {what} turn came free within {after:?}; retry later")]
    Busy {
        /// Which turns (`local`, `network`, `stream`).
        what: &'static str,
        /// How long the request waited.
        after: Duration,
    },
    /// The thread pool that would run the request has a full queue.
    #[error("the gateway is overloaded: {source}; retry later")]
    Overloaded {
        /// The pool's refusal.
        source: crate::pool::PoolError,
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
            | GatewayError::BadParam { .. }
            | GatewayError::NotConvertible { .. } => StatusCode::BAD_REQUEST,
            GatewayError::InsideNode { .. } => StatusCode::NOT_IMPLEMENTED,
            GatewayError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Busy { .. } | GatewayError::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
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

    pub(super) fn into_response(self, html: bool) -> Response {
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
            GatewayError::Busy { .. } | GatewayError::Overloaded { .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        resp
    }
}
