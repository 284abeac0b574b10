//! The RPC API client the CLI uses when a daemon holds the repository.
//!
//! Every command prints the same output online and offline: the command modules fetch the
//! same data either from the store or from `/api/v0`, then share the formatting.
//!
//! Data flow: a request is one `POST` (positional arguments as repeated `arg=`, flags as
//! other query parameters, uploads as a lazily produced multipart body); its answer is
//! JSON, newline-delimited JSON ([`lines`]) or raw bytes ([`RawStream`]). Errors come back
//! as `{"Message": ...}` with an error status, or, once streaming has started, as one such
//! object at the end of the stream followed by a broken-off body (ureq cannot read the
//! `X-Stream-Error` trailer, so the CLI does not ask for it with `TE: trailers`); a stream
//! that breaks off without an object is an error too, never a short answer. The message is
//! the library error's text, which the CLI prints as `Error: <text>` exactly as offline.

use anyhow::{Context, Result, bail};
use std::io::{self, BufRead, BufReader, Read};
use std::time::Duration;

/// A client for one daemon's RPC API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// Turns the `api` file's multiaddr (or an `http://` URL) into a base URL.
pub fn base_url(api: &str) -> Result<String> {
    let api = api.trim();
    if api.starts_with("http://") {
        return Ok(api.trim_end_matches('/').to_string());
    }
    match node::daemon::socket_addr(api) {
        Ok(addr) => Ok(format!("http://{addr}")),
        Err(_) => bail!(
            "invalid API address {api:?}: expected /ip4/<ip>/tcp/<port>, /ip6/<ip>/tcp/<port> or an http:// URL"
        ),
    }
}

impl Client {
    /// A client for the API at `api` (multiaddr or URL).
    pub fn new(api: &str) -> Result<Client> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        Ok(Client {
            base: base_url(api)?,
            agent,
        })
    }

    /// Whether something answers at the API address.
    pub fn reachable(&self) -> bool {
        let Some(host) = self.base.strip_prefix("http://") else {
            return false;
        };
        let host = host.split('/').next().unwrap_or(host);
        use std::net::ToSocketAddrs;
        host.to_socket_addrs().is_ok_and(|mut addrs| {
            addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
        })
    }

    fn url(&self, cmd: &str, args: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded_pairs(args);
        if !q.is_empty() {
            q.insert(0, '?');
        }
        format!("{}/api/v0/{cmd}{q}", self.base)
    }

    fn check(resp: ureq::http::Response<ureq::Body>) -> Result<ureq::http::Response<ureq::Body>> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.into_body().read_to_string().unwrap_or_default();
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("Message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("daemon answered {status}: {}", body.trim_end()));
        bail!("{msg}")
    }

    /// POSTs a command without a body; answers the raw response body.
    pub fn post(&self, cmd: &str, args: &[(&str, &str)]) -> Result<ureq::Body> {
        let resp = self
            .agent
            .post(&self.url(cmd, args))
            .send_empty()
            .with_context(|| format!("calling {cmd} on the daemon"))?;
        Ok(Self::check(resp)?.into_body())
    }

    /// POSTs a command and parses its JSON answer (of any size).
    pub fn json(&self, cmd: &str, args: &[(&str, &str)]) -> Result<serde_json::Value> {
        let reader = BufReader::new(self.post(cmd, args)?.into_reader());
        serde_json::from_reader(reader)
            .with_context(|| format!("the daemon's answer to {cmd} is not valid JSON"))
    }

    /// POSTs a multipart body produced by `body` (with its boundary), streamed as it is
    /// read: nothing is buffered whole.
    pub fn post_multipart(
        &self,
        cmd: &str,
        args: &[(&str, &str)],
        boundary: &str,
        body: impl Read + Send + 'static,
    ) -> Result<ureq::Body> {
        let resp = self
            .agent
            .post(&self.url(cmd, args))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(ureq::SendBody::from_owned_reader(body))
            .with_context(|| format!("calling {cmd} on the daemon"))?;
        Ok(Self::check(resp)?.into_body())
    }
}

/// A field of a JSON object as a string (numbers as their decimal text).
pub fn field(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A numeric field of a JSON object (numbers or numeric strings).
pub fn number(v: &serde_json::Value, key: &str) -> Result<u64> {
    match v.get(key) {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .with_context(|| format!("the daemon's answer has no number {key:?}: {v}"))
}

/// The message of an error object (`{"Message", "Type": "error"}`), if `v` is one.
fn error_message(v: &serde_json::Value) -> Option<String> {
    (v.get("Type").and_then(|t| t.as_str()) == Some("error")).then(|| {
        v.get("Message")
            .and_then(|m| m.as_str())
            .unwrap_or("daemon error")
            .to_string()
    })
}

/// Iterates the JSON objects of a streamed (newline-delimited) answer; an error object
/// (`"Type": "error"`) in the stream becomes an error.
pub fn lines(body: ureq::Body) -> impl Iterator<Item = Result<serde_json::Value>> {
    BufReader::new(body.into_reader())
        .lines()
        .filter(|line| !matches!(line, Ok(l) if l.trim().is_empty()))
        .map(|line| {
            let line = line.context("reading the daemon's answer")?;
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("the daemon sent an invalid line: {line:?}"))?;
            if let Some(msg) = error_message(&v) {
                bail!("{msg}");
            }
            Ok(v)
        })
}

/// Bytes held back from the end of a raw stream until it is known not to be an error.
const HOLD_BACK: usize = 64 << 10;
/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 64 << 10;

/// An error the daemon reported in the middle of a raw stream.
#[derive(Debug)]
pub struct StreamError(pub String);

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StreamError {}

/// A raw byte stream (`cat`, `get`'s tar, `dag export`) that turns a failure the daemon
/// reports after streaming started back into an error.
///
/// The daemon ends such a stream with its JSON error object and then breaks the
/// connection instead of ending the response. So the last [`HOLD_BACK`] bytes are passed
/// on only once the stream ended cleanly; when the connection breaks, the error object is
/// cut from the tail, the content before it is still delivered, and then the read fails
/// with a [`StreamError`] carrying the daemon's message.
#[derive(Debug)]
pub struct RawStream<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    ended: bool,
    error: Option<io::Error>,
}

impl RawStream<ureq::BodyReader<'static>> {
    /// Wraps a response body.
    pub fn new(body: ureq::Body) -> Self {
        RawStream::from_reader(body.into_reader())
    }
}

impl<R: Read> RawStream<R> {
    fn from_reader(inner: R) -> Self {
        RawStream {
            inner,
            buf: Vec::new(),
            pos: 0,
            ended: false,
            error: None,
        }
    }

    /// The stream broke: cut the daemon's error object (if any) from the held-back tail.
    fn broke(&mut self, err: io::Error) {
        let tail = &self.buf[self.pos..];
        let found = tail
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, b)| **b == b'{')
            .find_map(|(i, _)| {
                let v: serde_json::Value =
                    serde_json::from_slice(tail[i..].trim_ascii_end()).ok()?;
                error_message(&v).map(|m| (i, m))
            });
        self.ended = true;
        self.error = Some(match found {
            Some((i, msg)) => {
                self.buf.truncate(self.pos + i);
                io::Error::other(StreamError(msg))
            }
            None => io::Error::other(format!("the daemon's answer broke off: {err}")),
        });
    }
}

impl<R: Read> Read for RawStream<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let avail = self.buf.len() - self.pos;
            let ready = if self.ended {
                avail
            } else {
                avail.saturating_sub(HOLD_BACK)
            };
            if ready > 0 && !out.is_empty() {
                let n = ready.min(out.len());
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.ended {
                return match self.error.take() {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let old = self.buf.len();
            self.buf.resize(old + READ_CHUNK, 0);
            match self.inner.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    self.ended = true;
                }
                Ok(n) => self.buf.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    self.broke(e);
                }
            }
        }
    }
}

/// The daemon's message when `err` is a [`StreamError`] (possibly inside an I/O error).
pub fn stream_error(err: &io::Error) -> Option<String> {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<StreamError>())
        .map(|e| e.0.clone())
}

/// A boundary for a multipart body: random, so no content can contain it by accident.
pub fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    format!("ipfsd-{:016x}{:016x}{:016x}", word(), word(), word())
}

/// The header of one multipart part (after the first, the preceding part's end too).
pub fn part_header(boundary: &str, first: bool, filename: &str, content_type: &str) -> Vec<u8> {
    format!(
        "{}--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
        if first { "" } else { "\r\n" },
        encode(filename),
    )
    .into_bytes()
}

/// The end of a multipart body.
pub fn multipart_end(boundary: &str, any_part: bool) -> Vec<u8> {
    format!("{}--{boundary}--\r\n", if any_part { "\r\n" } else { "" }).into_bytes()
}

/// A multipart body of one file part streamed from `reader`.
pub fn single_part(
    boundary: &str,
    filename: &str,
    reader: impl Read + Send + 'static,
) -> impl Read + Send + 'static {
    io::Cursor::new(part_header(
        boundary,
        true,
        filename,
        "application/octet-stream",
    ))
    .chain(reader)
    .chain(io::Cursor::new(multipart_end(boundary, true)))
}

fn form_urlencoded_pairs(args: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in args {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `data` in small pieces, then fails (or ends).
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(7000).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read_all(data: Vec<u8>, fail: bool) -> (Vec<u8>, Option<io::Error>) {
        let mut s = RawStream::from_reader(Pieces { data, at: 0, fail });
        let mut out = Vec::new();
        let err = s.read_to_end(&mut out).err();
        (out, err)
    }

    #[test]
    fn raw_stream_passes_content_and_extracts_errors() {
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (out, err) = read_all(content.clone(), false);
        assert_eq!(out, content);
        assert!(err.is_none());

        // Content that looks like an error object is content when the stream ends well.
        let mut looks = content.clone();
        looks.extend_from_slice(b"{\"Message\":\"x\",\"Type\":\"error\"}\n");
        assert_eq!(read_all(looks.clone(), false).0, looks);

        // A broken stream: the content before the object, then the message.
        let (out, err) = read_all(looks, true);
        assert_eq!(out, content);
        assert_eq!(stream_error(&err.expect("error")).as_deref(), Some("x"));

        // Broken without an error object: a generic error, every byte delivered.
        let (out, err) = read_all(content.clone(), true);
        assert_eq!(out, content);
        let err = err.expect("error");
        assert!(stream_error(&err).is_none());
        assert!(err.to_string().contains("broke off"), "{err}");
    }

    #[test]
    fn addresses() {
        assert_eq!(
            base_url("/ip4/127.0.0.1/tcp/5001").ok().as_deref(),
            Some("http://127.0.0.1:5001")
        );
        assert_eq!(
            base_url("http://127.0.0.1:5001/").ok().as_deref(),
            Some("http://127.0.0.1:5001")
        );
        let e = base_url("nonsense").expect_err("invalid");
        assert!(e.to_string().contains("invalid API address"), "{e}");
    }
}
