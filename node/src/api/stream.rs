//! Streamed responses (NDJSON lines, `cat`'s bytes, `get`'s tar, `dag/export`'s CAR): the
//! one place that decides how a stream ends, so a failed stream can never pass for a
//! complete (or empty) answer.
//!
//! Data flow: a producer — a blocking task ([`stream_body`]) or an async one
//! ([`stream_task`]) — sends [`Chunk`]s through a bounded channel (a slow client slows the
//! producer) to a [`StreamBody`], which hyper polls. The producer's outcome is sent last:
//! `Done` ends the response cleanly; an error, a panic (caught and turned into an error)
//! or a channel that closes without `Done` (a task that died any other way) fails it:
//!
//! - NDJSON streams get the error as one `{"Message", "Code", "Type": "error"}` line;
//! - a client that sent `TE: trailers` (HTTP's way of saying it reads trailers) then gets
//!   Kubo's `X-Stream-Error` trailer (declared up front with `Trailer: X-Stream-Error`) and
//!   a complete chunked body; a raw byte stream gets the trailer only, nothing in its
//!   content;
//! - any other client gets the body broken off (no final chunk, the connection closes),
//!   which every HTTP client reports as an error; for raw streams the error object is
//!   written first, so the `ipfsd` CLI (whose HTTP client cannot read trailers) can cut it
//!   from the content and show it.
//!
//! Which of the two applies is known only from the request, so the [`trailers`] middleware
//! tells each stream whether its client accepts trailers.

use super::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use tokio::sync::mpsc;

/// The trailer that carries a stream's error (Kubo's name).
pub const STREAM_ERROR: &str = "X-Stream-Error";
/// How long a broken-off stream waits for what it sent before to be written out.
const BREAK_OFF_DELAY: std::time::Duration = std::time::Duration::from_millis(50);
/// Chunks buffered between a streaming handler and the client.
const STREAM_DEPTH: usize = 8;
/// Bytes of content buffered between producers and clients, summed over every streamed
/// response of the process (the gateway's bodies and the API's): a producer waits for
/// room before it sends. Each stream also holds at most [`STREAM_DEPTH`] chunks, so this
/// binds only when many streams are ahead of their clients at once (64 downloads of a
/// file of 256 KiB blocks would otherwise buffer 128 MiB).
pub const STREAM_BUDGET: usize = 32 << 20;
/// The budget's unit.
const BUDGET_UNIT: usize = 1024;

/// The room left in [`STREAM_BUDGET`], in [`BUDGET_UNIT`]s.
fn budget() -> Arc<tokio::sync::Semaphore> {
    static BUDGET: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| {
            Arc::new(tokio::sync::Semaphore::new(STREAM_BUDGET / BUDGET_UNIT))
        });
    BUDGET.clone()
}

/// What a producer sends.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Content, and its share of [`STREAM_BUDGET`] (given back once the body has
    /// handed the bytes to the connection).
    Data(Bytes, Option<tokio::sync::OwnedSemaphorePermit>),
    /// The stream failed: its message and its JSON error object.
    Failed(String, serde_json::Value),
    /// The stream is complete.
    Done,
}

/// Shared between a stream's senders and its body.
#[derive(Debug, Default)]
struct Shared {
    /// A sender was dropped while its thread panicked.
    panicked: AtomicBool,
    /// The client accepts trailers (`TE: trailers`); set by [`trailers`].
    trailers: Arc<AtomicBool>,
}

/// The receiving end of a [`Sink`].
#[derive(Debug)]
pub(crate) struct StreamRx {
    rx: mpsc::Receiver<Chunk>,
    shared: Arc<Shared>,
}

/// A bounded channel for a streamed response, before the response is made.
pub(crate) fn stream_channel() -> (Sink, StreamRx) {
    let (tx, rx) = mpsc::channel(STREAM_DEPTH);
    let shared = Arc::new(Shared::default());
    (
        Sink {
            tx,
            shared: shared.clone(),
        },
        StreamRx { rx, shared },
    )
}

/// The producer side of a stream.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    tx: mpsc::Sender<Chunk>,
    shared: Arc<Shared>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        // A producer that panics drops its sink while unwinding: the stream must not then
        // end as if complete (see `body_of`, whose streams end when their senders drop).
        if std::thread::panicking() {
            self.shared.panicked.store(true, Ordering::Release);
        }
    }
}

/// The client went away; producers stop.
#[derive(Debug)]
pub(crate) struct Gone;

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("client disconnected")
    }
}

impl From<Gone> for ApiError {
    fn from(_: Gone) -> Self {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "client disconnected",
        )
    }
}

fn json_line(v: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

impl Sink {
    /// Sends raw bytes; waits while the client is slow, and while every stream together
    /// holds [`STREAM_BUDGET`].
    pub(crate) fn bytes(&self, b: Bytes) -> Result<(), Gone> {
        if self.tx.is_closed() {
            return Err(Gone);
        }
        let units = b
            .len()
            .div_ceil(BUDGET_UNIT)
            .clamp(1, STREAM_BUDGET / BUDGET_UNIT);
        let room = futures::executor::block_on(budget().acquire_many_owned(units as u32)).ok();
        self.tx
            .blocking_send(Chunk::Data(b, room))
            .map_err(|_| Gone)
    }

    /// Fails the stream with `why` (for [`body_of`] streams: the body is broken off).
    pub(crate) fn fail(&self, why: String) {
        let object = serde_json::json!({ "Message": why, "Code": 0, "Type": "error" });
        let _ = self.tx.blocking_send(Chunk::Failed(why, object));
    }

    /// Sends one JSON object without waiting; hands it back if the stream is full.
    pub(crate) fn try_json(&self, v: serde_json::Value) -> Result<Option<serde_json::Value>, Gone> {
        match self.tx.try_send(Chunk::Data(json_line(&v), None)) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(Some(v)),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Sends one JSON object and a newline, from async code.
    pub(crate) async fn json_async(&self, v: &serde_json::Value) -> Result<(), Gone> {
        self.tx
            .send(Chunk::Data(json_line(v), None))
            .await
            .map_err(|_| Gone)
    }

    /// Sends one JSON object and a newline.
    pub(crate) fn json(&self, v: &serde_json::Value) -> Result<(), Gone> {
        self.bytes(json_line(v))
    }

    /// The last chunk for a producer's outcome.
    fn outcome(result: Result<(), ApiError>) -> Chunk {
        match result {
            Ok(()) => Chunk::Done,
            Err(e) => {
                tracing::debug!(error = %e, "streamed response failed");
                Chunk::Failed(e.message.clone(), e.body())
            }
        }
    }
}

/// The message of a caught panic.
fn panicked(payload: Box<dyn std::any::Any + Send>) -> ApiError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %what, "a streamed response's producer panicked");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        format!("internal error: {what}"),
    )
}

/// A streamed response fed by a blocking producer: `produce` gets a sender of chunks and
/// runs on the pool of work that may wait (it waits for the client; module `pool`); the
/// response ends when it returns, cleanly for `Ok` and as a failed stream (see the module
/// docs) for an error or a panic, or if the pool cannot take it.
pub(crate) fn stream_body(
    content_type: &'static str,
    produce: impl FnOnce(&Sink) -> Result<(), ApiError> + Send + 'static,
) -> Response {
    let (sink, rx) = stream_channel();
    let failed = sink.clone();
    let queued = crate::pool::waiting().spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(&sink)))
            .unwrap_or_else(|p| Err(panicked(p)));
        let _ = sink.tx.blocking_send(Sink::outcome(result));
    });
    if let Err(e) = queued {
        let _ = failed.tx.try_send(Sink::outcome(Err(e.into())));
    }
    drop(failed);
    stream_response(content_type, rx)
}

/// Like [`stream_body`] for an async producer, which gets its own [`Sink`].
pub(crate) fn stream_task<F>(
    content_type: &'static str,
    produce: impl FnOnce(Sink) -> F + Send + 'static,
) -> Response
where
    F: std::future::Future<Output = Result<(), ApiError>> + Send + 'static,
{
    use futures::FutureExt;
    let (sink, rx) = stream_channel();
    let end = sink.tx.clone();
    tokio::spawn(async move {
        let result = std::panic::AssertUnwindSafe(async move { produce(sink).await })
            .catch_unwind()
            .await
            .unwrap_or_else(|p| Err(panicked(p)));
        let _ = end.send(Sink::outcome(result)).await;
    });
    stream_response(content_type, rx)
}

/// A streamed response over what a [`Sink`] sends; it must end with the producer's
/// outcome (as [`stream_body`] and [`stream_task`] send it).
fn stream_response(content_type: &'static str, rx: StreamRx) -> Response {
    respond(content_type, rx, None)
}

/// A streamed response whose producer already finished successfully (its sink is gone):
/// what it sent, then `then` as JSON lines (what did not fit in the channel).
pub(crate) fn stream_finished(
    content_type: &'static str,
    rx: StreamRx,
    then: VecDeque<serde_json::Value>,
) -> Response {
    respond(content_type, rx, Some(then))
}

fn respond(
    content_type: &'static str,
    rx: StreamRx,
    then: Option<VecDeque<serde_json::Value>>,
) -> Response {
    let switch = TrailerSwitch(rx.shared.trailers.clone());
    let body = StreamBody {
        rx: rx.rx,
        shared: rx.shared,
        then,
        json: content_type == "application/json",
        bare: false,
        state: State::Streaming,
    };
    let mut resp = Response::new(Body::new(body));
    resp.extensions_mut().insert(switch);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::TRAILER, HeaderValue::from_static(STREAM_ERROR));
    h.insert("X-Stream-Output", HeaderValue::from_static("1"));
    h.insert("X-Chunked-Output", HeaderValue::from_static("1"));
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A raw body over what a [`Sink`] sends, for responses made elsewhere (the gateway's):
/// it ends when every sender is gone, and is broken off when one [`Sink::fail`]s or
/// panics.
pub(crate) fn body_of(rx: StreamRx) -> Body {
    Body::new(StreamBody {
        rx: rx.rx,
        shared: rx.shared,
        then: None,
        json: false,
        bare: true,
        state: State::Streaming,
    })
}

/// Tells a streamed response whether its client accepts trailers.
#[derive(Debug, Clone)]
struct TrailerSwitch(Arc<AtomicBool>);

/// Middleware: marks the streamed responses of requests that carry `TE: trailers` (the
/// only ones hyper sends trailers to), so their failures end with the trailer.
pub(crate) async fn trailers(req: Request, next: Next) -> Response {
    let accepts = accepts_trailers(req.headers());
    let resp = next.run(req).await;
    if accepts && let Some(switch) = resp.extensions().get::<TrailerSwitch>() {
        switch.0.store(true, Ordering::Release);
    }
    resp
}

/// Whether `TE` lists `trailers` (as hyper decides it).
fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
}

/// A header value for an error message: control characters become spaces.
fn trailer_value(message: &str) -> HeaderValue {
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    HeaderValue::from_bytes(clean.as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("stream failed"))
}

#[derive(Debug)]
enum State {
    Streaming,
    Backlog(VecDeque<serde_json::Value>),
    /// Failed: the error object still to write (if any), then the ending.
    Failing {
        message: String,
        object: Option<serde_json::Value>,
    },
    /// Waiting for what was written to go out before breaking off.
    BreakingOff {
        message: String,
        delay: Pin<Box<tokio::time::Sleep>>,
    },
    Ended,
}

/// The body of a streamed response (see the module docs).
#[derive(Debug)]
struct StreamBody {
    rx: mpsc::Receiver<Chunk>,
    shared: Arc<Shared>,
    then: Option<VecDeque<serde_json::Value>>,
    json: bool,
    /// A [`body_of`] body: a closed channel is a clean end rather than a failure, and a
    /// failure only breaks the body off.
    bare: bool,
    state: State,
}

impl StreamBody {
    fn fail(&mut self, message: String, object: serde_json::Value) {
        let trailers = self.shared.trailers.load(Ordering::Acquire);
        // The object goes into NDJSON always; into raw bytes only for a client that
        // cannot get the trailer (and then sees the body broken off after it).
        // A bare body (the gateway's) never gets it: there it would pass for content.
        let object = (!self.bare && (self.json || !trailers)).then_some(object);
        self.state = State::Failing { message, object };
    }
}

impl http_body::Body for StreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Streaming => match ready!(this.rx.poll_recv(cx)) {
                    Some(Chunk::Data(b, _room)) => {
                        return Poll::Ready(Some(Ok(Frame::data(b))));
                    }
                    Some(Chunk::Done) => this.state = State::Ended,
                    Some(Chunk::Failed(message, object)) => this.fail(message, object),
                    None => {
                        if this.shared.panicked.load(Ordering::Acquire) {
                            let e = panicked(Box::new("the stream's producer panicked"));
                            this.fail(e.message.clone(), e.body());
                        } else if let Some(then) = this.then.take() {
                            this.state = State::Backlog(then);
                        } else if this.bare {
                            this.state = State::Ended;
                        } else {
                            let message = "the stream ended before its producer finished \
                                           (see the daemon's log)"
                                .to_string();
                            let object = serde_json::json!({
                                "Message": message, "Code": 0, "Type": "error"
                            });
                            this.fail(message, object);
                        }
                    }
                },
                State::Backlog(queue) => match queue.pop_front() {
                    Some(v) => return Poll::Ready(Some(Ok(Frame::data(json_line(&v))))),
                    None => this.state = State::Ended,
                },
                State::Failing { message, object } => {
                    if let Some(o) = object.take() {
                        return Poll::Ready(Some(Ok(Frame::data(json_line(&o)))));
                    }
                    let message = std::mem::take(message);
                    if this.shared.trailers.load(Ordering::Acquire) && !this.bare {
                        let mut t = HeaderMap::new();
                        t.insert(
                            HeaderName::from_static("x-stream-error"),
                            trailer_value(&message),
                        );
                        this.state = State::Ended;
                        return Poll::Ready(Some(Ok(Frame::trailers(t))));
                    }
                    this.state = State::BreakingOff {
                        message,
                        delay: Box::pin(tokio::time::sleep(BREAK_OFF_DELAY)),
                    };
                }
                State::BreakingOff { message, delay } => {
                    // The server writes out what came before while the body waits here.
                    ready!(delay.as_mut().poll(cx));
                    let message = std::mem::take(message);
                    this.state = State::Ended;
                    return Poll::Ready(Some(Err(std::io::Error::other(message))));
                }
                State::Ended => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Ended)
    }
}

use std::future::Future as _;

/// A `Write` over a [`Sink`], buffered into chunks of `cap` bytes (for CAR and tar output).
pub(crate) struct SinkWriter<'a> {
    sink: &'a Sink,
    buf: Vec<u8>,
    cap: usize,
}

impl<'a> SinkWriter<'a> {
    pub(crate) fn new(sink: &'a Sink, cap: usize) -> Self {
        SinkWriter {
            sink,
            buf: Vec::with_capacity(cap),
            cap,
        }
    }
}

impl std::io::Write for SinkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.cap {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(self.cap));
            self.sink
                .bytes(Bytes::from(chunk))
                .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves test streams on 127.0.0.1; answers the address.
    async fn serve() -> std::net::SocketAddr {
        let app = axum::Router::new()
            .route(
                "/ok",
                post(|| async {
                    stream_body("application/json", |sink| {
                        sink.json(&serde_json::json!({ "n": 1 }))?;
                        Ok(())
                    })
                }),
            )
            .route(
                "/json-panic",
                post(|| async {
                    stream_body("application/json", |sink| {
                        sink.json(&serde_json::json!({ "n": 1 }))?;
                        panic!("store page damaged");
                    })
                }),
            )
            .route(
                "/raw-error",
                post(|| async {
                    stream_body("text/plain", |sink| {
                        sink.bytes(Bytes::from_static(b"first part"))?;
                        Err(ApiError::new(
                            axum::http::StatusCode::NOT_FOUND,
                            "block bafy... not found",
                        ))
                    })
                }),
            )
            .route(
                "/task-panic",
                post(|| async {
                    stream_task("application/json", |sink| async move {
                        sink.json_async(&serde_json::json!({ "n": 1 })).await?;
                        panic!("async producer died");
                    })
                }),
            )
            .route(
                "/dropped",
                post(|| async {
                    // A producer that goes away without an outcome.
                    let (sink, rx) = stream_channel();
                    drop(sink);
                    stream_response("application/json", rx)
                }),
            )
            .route(
                "/bare-panic",
                post(|| async {
                    // The gateway's kind of body: ends when the senders go, unless one
                    // panicked.
                    let (sink, rx) = stream_channel();
                    tokio::task::spawn_blocking(move || {
                        let _ = sink.bytes(Bytes::from_static(b"file bytes"));
                        panic!("exporter bug");
                    });
                    Response::new(body_of(rx))
                }),
            )
            .layer(axum::middleware::from_fn(trailers));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    }

    /// The raw bytes of the answer to `POST path` (until the server closes).
    async fn raw(addr: std::net::SocketAddr, path: &str, te_trailers: bool) -> String {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let te = if te_trailers { "TE: trailers\r\n" } else { "" };
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{te}Connection: close\r\nContent-Length: 0\r\n\r\n"
        );
        conn.write_all(req.as_bytes()).await.expect("send");
        let mut out = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            // A reset connection is one way a broken-off body ends.
            let _ = conn.read_to_end(&mut out).await;
        })
        .await
        .expect("the answer ends");
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The last chunk of a complete chunked body (no trailers).
    const LAST_CHUNK: &str = "\r\n0\r\n\r\n";

    #[tokio::test]
    async fn a_complete_stream_ends_cleanly_and_declares_the_trailer() {
        let addr = serve().await;
        for te in [false, true] {
            let a = raw(addr, "/ok", te).await;
            assert!(a.starts_with("HTTP/1.1 200"), "{a}");
            assert!(
                a.to_ascii_lowercase()
                    .contains("trailer: x-stream-error\r\n"),
                "{a}"
            );
            assert!(a.contains("{\"n\":1}\n"), "{a}");
            assert!(a.ends_with(LAST_CHUNK), "{a:?}");
        }
    }

    #[tokio::test]
    async fn a_panicking_producer_fails_the_stream() {
        let addr = serve().await;
        for path in ["/json-panic", "/task-panic"] {
            // Without TE: trailers the error line comes, then the body breaks off.
            let a = raw(addr, path, false).await;
            assert!(a.contains("{\"n\":1}\n"), "{a}");
            assert!(a.contains("\"Type\":\"error\""), "{path}: {a}");
            assert!(a.contains("internal error"), "{path}: {a}");
            assert!(!a.ends_with(LAST_CHUNK), "{path}: complete body: {a:?}");
            // With it: the same line, then Kubo's trailer on a complete body.
            let a = raw(addr, path, true).await;
            assert!(a.contains("\"Type\":\"error\""), "{path}: {a}");
            let lower = a.to_ascii_lowercase();
            assert!(
                lower.contains("\r\n0\r\nx-stream-error: internal error"),
                "{path}: no trailer: {a:?}"
            );
            assert!(a.ends_with("\r\n\r\n"), "{path}: {a:?}");
        }
    }

    #[tokio::test]
    async fn a_producer_that_vanishes_fails_the_stream() {
        let addr = serve().await;
        let a = raw(addr, "/dropped", true).await;
        assert!(
            a.to_ascii_lowercase()
                .contains("x-stream-error: the stream ended before its producer finished"),
            "{a:?}"
        );
        let a = raw(addr, "/dropped", false).await;
        assert!(!a.ends_with(LAST_CHUNK), "{a:?}");
    }

    #[tokio::test]
    async fn a_raw_stream_error_is_a_trailer_or_a_broken_body() {
        let addr = serve().await;
        let a = raw(addr, "/raw-error", true).await;
        assert!(a.contains("first part"), "{a}");
        assert!(
            !a.contains("\"Type\""),
            "no error object in raw content: {a}"
        );
        assert!(
            a.to_ascii_lowercase()
                .contains("\r\n0\r\nx-stream-error: block bafy... not found\r\n"),
            "{a:?}"
        );
        let a = raw(addr, "/raw-error", false).await;
        assert!(a.contains("first part"), "{a}");
        assert!(a.contains("block bafy... not found"), "{a}");
        assert!(!a.ends_with(LAST_CHUNK), "{a:?}");
        assert!(!a.contains("\r\n0\r\n"), "{a:?}");
    }

    #[tokio::test]
    async fn a_bare_body_breaks_off_when_its_producer_panics() {
        let addr = serve().await;
        let a = raw(addr, "/bare-panic", true).await;
        assert!(a.contains("file bytes"), "{a}");
        assert!(!a.contains("Type"), "no error object in content: {a}");
        assert!(!a.contains("\r\n0\r\n"), "a complete body: {a:?}");
    }

    #[test]
    fn trailer_values_are_single_line() {
        assert_eq!(trailer_value("a\r\nb: c"), "a  b: c");
        assert!(accepts_trailers(&{
            let mut h = HeaderMap::new();
            h.insert(header::TE, HeaderValue::from_static("gzip, Trailers"));
            h
        }));
        assert!(!accepts_trailers(&HeaderMap::new()));
    }
}
