//! A bare HTTP/1.1 client for gateway tests: sends exactly the request line and headers
//! given (a `Host` of choice, malformed paths a normal client would clean up), reads the
//! answer (`Content-Length`, chunked or to close) with a timeout. Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one exchange may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
    /// Whether the body ended early (connection broken off mid-body).
    pub truncated: bool,
}

impl HttpReply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The `host:port` of a base URL like `http://127.0.0.1:8080`.
pub fn addr_of(base: &str) -> SocketAddr {
    let hostport = base.trim_start_matches("http://").trim_end_matches('/');
    let addr: SocketAddr = hostport.parse().expect("a socket address");
    assert!(addr.ip().is_loopback(), "{addr} is not loopback");
    addr
}

/// Sends `method target` with `headers` (a `Host` is added unless given) to `addr`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    assert!(addr.ip().is_loopback(), "{addr} is not loopback");
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut reply = HttpReply {
        status,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    if method == "HEAD" || status == 304 || status == 204 || (100..200).contains(&status) {
        return reply;
    }
    if reply.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                reply.truncated = true;
                break;
            }
            let Ok(n) = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            else {
                reply.truncated = true;
                break;
            };
            if n == 0 {
                break;
            }
            let start = reply.body.len();
            reply.body.resize(start + n, 0);
            if r.read_exact(&mut reply.body[start..]).is_err() {
                reply.body.truncate(start);
                reply.truncated = true;
                break;
            }
            let mut crlf = [0u8; 2];
            if r.read_exact(&mut crlf).is_err() {
                reply.truncated = true;
                break;
            }
        }
    } else if let Some(len) = reply
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let got = r.take(len as u64).read_to_end(&mut reply.body).unwrap_or(0);
        reply.truncated = got < len;
    } else {
        reply.truncated = r.read_to_end(&mut reply.body).is_err();
    }
    reply
}

/// `GET target` with `headers`.
pub fn get(base: &str, target: &str, headers: &[(&str, &str)]) -> HttpReply {
    request(addr_of(base), "GET", target, headers)
}
