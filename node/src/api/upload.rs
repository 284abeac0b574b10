//! Uploads: request bodies that stall fail, and CAR uploads are received before the store
//! is touched, so no client's socket is ever waited on with a store lock held.
//!
//! Data flow: the [`idle_timeout`] middleware wraps every API request body; a read that
//! gets no bytes from the client for `API.UploadIdleTimeout` fails with a timeout error,
//! which reaches the handler as a malformed body (400): the upload ends and whatever it
//! held is released. `dag/import` [`spool`]s each CAR part to a temp file in the
//! repository (at the client's pace, holding nothing), and only then imports it in one
//! store transaction that reads from disk.
//!
//! The multipart helpers every handler shares live here too: [`parts`] (small bodies read
//! whole, bounded) and [`drain`] (the rest of a body read and dropped, bounded).

use super::{ApiError, ApiState};
use axum::body::Body;
use axum::extract::multipart::Field;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Middleware: request bodies fail after `API.UploadIdleTimeout` without progress.
pub(crate) async fn idle_timeout(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let idle = s.node.settings().api.upload_idle_timeout;
    let (parts, body) = req.into_parts();
    next.run(Request::from_parts(parts, idle_body(body, idle)))
        .await
}

/// `body`, failing when a read waits more than `idle` for the client.
fn idle_body(body: Body, idle: Duration) -> Body {
    let stream = body.into_data_stream();
    Body::from_stream(futures::stream::unfold(Some(stream), move |s| async move {
        let mut s = s?;
        match tokio::time::timeout(idle, s.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(s))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the upload stalled: no data for {} s (API.UploadIdleTimeout)",
                        idle.as_secs_f64()
                    ),
                )),
                None,
            )),
        }
    }))
}

/// A multipart body that could not be read: a stalled upload says so; anything else is a
/// malformed body (both 400).
pub(crate) fn malformed(e: axum::extract::multipart::MultipartError) -> ApiError {
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return ApiError::bad_request(io.to_string());
        }
        source = s.source();
    }
    ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
}

/// A received upload part on disk, removed when dropped.
#[derive(Debug)]
pub(crate) struct Spooled {
    path: PathBuf,
}

impl Spooled {
    /// Where the part is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Receives a multipart field into a temp file in `dir` (at the client's pace; nothing
/// else is held meanwhile).
pub(crate) async fn spool(field: &mut Field<'_>, dir: &Path) -> Result<Spooled, ApiError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let spooled = Spooled {
        path: dir.join(format!(
            "{}{}-{}.tmp",
            crate::repo::UPLOAD_PREFIX,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )),
    };
    let io = |e: std::io::Error| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        )
    };
    let mut file = tokio::fs::File::create(&spooled.path).await.map_err(io)?;
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(spooled)
}

/// Most request bytes read and dropped after a request failed, so the client, which
/// sends its whole body before reading the answer, gets the error instead of a reset
/// connection. Past this the connection is closed.
const DRAIN_LIMIT: u64 = 256 << 20;

/// Reads and drops the rest of a multipart body (see [`DRAIN_LIMIT`]).
pub(crate) async fn drain(mp: &mut axum::extract::Multipart) {
    let mut left = DRAIN_LIMIT;
    while let Ok(Some(mut field)) = mp.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            match left.checked_sub(chunk.len() as u64) {
                Some(l) => left = l,
                None => return,
            }
        }
    }
}

/// The bytes of every file part of a multipart body, each at most `limit` bytes.
pub(crate) async fn parts(
    mut mp: axum::extract::Multipart,
    limit: usize,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut out = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if data.len() + chunk.len() > limit {
                return Err(ApiError::bad_request(format!(
                    "block is larger than the {limit}-byte limit"
                )));
            }
            data.extend_from_slice(&chunk);
        }
        out.push(data);
        if out.len() > super::MAX_ARGS {
            return Err(ApiError::bad_request("too many parts"));
        }
    }
    Ok(out)
}
