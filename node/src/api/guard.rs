//! Who may call the RPC API: the checks every request passes before a handler runs.
//!
//! Data flow: the [`guard`] middleware reads the request's `Host`, `Origin` and `Referer`
//! headers and its method, asks [`Access::check`] (pure), and answers 403 or 405 itself;
//! only accepted requests reach the router. The checks follow Kubo's, with the Host check
//! added:
//! - `Host` must name the API itself: `localhost`, an IP literal that is loopback or the
//!   address the API listens on (any IP when it listens on `0.0.0.0`/`::`), or a name
//!   listed in `API.AllowedHosts`. A web page on a DNS-rebinding domain resolving to
//!   127.0.0.1 sends its own name, so it is refused.
//! - `Origin`, when sent, must be allowed: listed in
//!   `API.HTTPHeaders.Access-Control-Allow-Origin` (or `*` listed), or the API's own
//!   origins (`http(s)://127.0.0.1:<port>`, `[::1]`, `localhost`), as Kubo allows them.
//! - `Referer`, when sent, is read as an origin (`scheme://host[:port]`) and checked the
//!   same way: a page that stripped `Origin` (old browsers, some form posts) still names
//!   itself there.
//! - The method is POST (GET too for `/debug/metrics/prometheus`, which only reads).
//!
//! A request without `Host`, `Origin` and `Referer` (HTTP/1.0 tools) passes: a browser
//! always sends `Host`.

use super::{ApiError, ApiState};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// The allowed origins and host names of one API listener.
#[derive(Debug, Clone)]
pub struct Access {
    origins: Vec<String>,
    hosts: Vec<String>,
    addr: SocketAddr,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The `Host` header names something else than the API.
    Host,
    /// The `Origin` is not allowed.
    Origin,
    /// The `Referer`'s origin is not allowed (or the header is not a URL).
    Referer,
}

impl Refusal {
    fn message(&self) -> &'static str {
        match self {
            Refusal::Host => "403 - Forbidden: host not allowed (see API.AllowedHosts)",
            Refusal::Origin => "403 - Forbidden: origin not allowed",
            Refusal::Referer => "403 - Forbidden: referer not allowed",
        }
    }
}

impl Access {
    /// The checks for an API listening on `addr`: `origins` as configured in
    /// `API.HTTPHeaders.Access-Control-Allow-Origin`, `hosts` from `API.AllowedHosts`.
    pub fn new(origins: &[String], hosts: &[String], addr: SocketAddr) -> Access {
        let port = addr.port();
        let mut all: Vec<String> = origins.to_vec();
        for host in ["127.0.0.1", "[::1]", "localhost"] {
            for scheme in ["http", "https"] {
                all.push(format!("{scheme}://{host}:{port}"));
            }
        }
        Access {
            origins: all,
            hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            addr,
        }
    }

    /// Checks a request's `Host`, `Origin` and `Referer` headers (`None`: not sent).
    pub fn check(
        &self,
        host: Option<&str>,
        origin: Option<&str>,
        referer: Option<&str>,
    ) -> Result<(), Refusal> {
        if let Some(h) = host
            && !self.host_allowed(h)
        {
            return Err(Refusal::Host);
        }
        if let Some(o) = origin
            && !self.origin_allowed(o)
        {
            return Err(Refusal::Origin);
        }
        if let Some(r) = referer.filter(|r| !r.is_empty()) {
            match origin_of(r) {
                Some(o) if self.origin_allowed(&o) => {}
                _ => return Err(Refusal::Referer),
            }
        }
        Ok(())
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|a| a == "*" || a == origin)
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let Some(name) = host_name(&host) else {
            return false;
        };
        if name == "localhost" || self.hosts.iter().any(|h| h == name || *h == host) {
            return true;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.addr.ip() || self.addr.ip().is_unspecified(),
            Err(_) => false,
        }
    }
}

/// The name part of a `Host` value (`[v6]` kept bracketed); `None` when it is malformed.
fn host_name(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        let end = host.find(']')?;
        let rest = &host[end + 1..];
        return (rest.is_empty() || port_ok(rest.strip_prefix(':')?)).then_some(&host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port_ok(port) && !name.contains(':') => Some(name),
        Some(_) => None,
        None => Some(host),
    }
}

fn port_ok(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

/// `scheme://host[:port]` of a URL, as browsers write an `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials are not part of an origin.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

fn header(h: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ()> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ()),
    }
}

/// POST only, from the API's own host, and no foreign browser origins.
pub(super) async fn guard(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let checked = match (
        header(h, header::HOST),
        header(h, header::ORIGIN),
        header(h, header::REFERER),
    ) {
        (Err(()), _, _) => Err(Refusal::Host),
        (_, Err(()), _) => Err(Refusal::Origin),
        (_, _, Err(())) => Err(Refusal::Referer),
        (Ok(host), Ok(origin), Ok(referer)) => state.access.check(host, origin, referer),
    };
    if let Err(refusal) = checked {
        tracing::debug!(?refusal, path = %req.uri().path(), "API request refused");
        return ApiError::new(StatusCode::FORBIDDEN, refusal.message()).into_response();
    }
    // Prometheus scrapes with GET: the metrics endpoint alone takes it (it changes nothing).
    let scrape = (req.method() == Method::GET || req.method() == Method::HEAD)
        && req.uri().path() == crate::metrics::PATH;
    if req.method() != Method::POST && !scrape {
        let mut resp = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} not allowed: the RPC API takes POST only", req.method()),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access::new(
            &["http://localhost:3000".to_string()],
            &["ipfs.lan".to_string()],
            "127.0.0.1:5001".parse().expect("addr"),
        )
    }

    #[test]
    fn hosts() {
        let a = access();
        for ok in [
            "127.0.0.1:5001",
            "127.0.0.1",
            "localhost:5001",
            "LOCALHOST",
            "[::1]:5001",
            "[::1]",
            "127.0.0.2:5001",
            "ipfs.lan",
            "ipfs.lan:5001",
        ] {
            assert_eq!(a.check(Some(ok), None, None), Ok(()), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:5001",
            "rebind.127.0.0.1.nip.io:5001",
            "localhost.evil.com",
            "10.0.0.1:5001",
            "[::2]:5001",
            "",
            "127.0.0.1:x",
            "::1",
            "[::1]x",
        ] {
            assert_eq!(a.check(Some(bad), None, None), Err(Refusal::Host), "{bad}");
        }
        // Listening on every address: any IP literal names it, a domain still does not.
        let any = Access::new(&[], &[], "0.0.0.0:5001".parse().expect("addr"));
        assert_eq!(any.check(Some("192.168.1.5:5001"), None, None), Ok(()));
        assert_eq!(
            any.check(Some("evil.com:5001"), None, None),
            Err(Refusal::Host)
        );
    }

    #[test]
    fn origins_and_referers() {
        let a = access();
        let host = Some("127.0.0.1:5001");
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:5001",
            "https://localhost:5001",
            "http://[::1]:5001",
        ] {
            assert_eq!(a.check(host, Some(ok), None), Ok(()), "{ok}");
            let page = format!("{ok}/webui/#/files?x=1");
            assert_eq!(a.check(host, None, Some(&page)), Ok(()), "{page}");
        }
        for bad in ["http://evil.com", "null", "http://localhost:3001"] {
            assert_eq!(
                a.check(host, Some(bad), None),
                Err(Refusal::Origin),
                "{bad}"
            );
        }
        for bad in [
            "http://evil.com/page",
            "https://evil.com",
            "http://localhost:3000@evil.com/",
            "not a url",
            "http:///x",
        ] {
            assert_eq!(
                a.check(host, None, Some(bad)),
                Err(Refusal::Referer),
                "{bad}"
            );
        }
        // An allowed Origin does not excuse a foreign Referer.
        assert_eq!(
            a.check(
                host,
                Some("http://localhost:3000"),
                Some("http://evil.com/")
            ),
            Err(Refusal::Referer)
        );
        assert_eq!(a.check(host, None, Some("")), Ok(()));
        let star = Access::new(&["*".into()], &[], "127.0.0.1:5001".parse().expect("addr"));
        assert_eq!(
            star.check(host, Some("http://x.example"), Some("http://y.example/")),
            Ok(())
        );
        // `*` opens origins, not hosts.
        assert_eq!(star.check(Some("evil.com"), None, None), Err(Refusal::Host));
    }
}
