//! The RPC API client the CLI uses when a daemon holds the repository.
//!
//! Every command prints the same output online and offline: the command modules fetch the
//! same data either from the store or from `/api/v0`, then share the formatting.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read};
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
    let addr = node::daemon::socket_addr(api)?;
    Ok(format!("http://{addr}"))
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
        host.parse::<std::net::SocketAddr>()
            .is_ok_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
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
            .unwrap_or_else(|| format!("daemon answered {status}: {body}"));
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

    /// POSTs a command and parses its JSON answer.
    pub fn json(&self, cmd: &str, args: &[(&str, &str)]) -> Result<serde_json::Value> {
        let text = self.post(cmd, args)?.read_to_string()?;
        Ok(serde_json::from_str(&text)?)
    }

    /// POSTs a multipart body produced by `body` (with its boundary).
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

/// Iterates the JSON objects of a streamed (newline-delimited) answer; an error object
/// (`"Type": "error"`) in the stream becomes an error.
pub fn lines(body: ureq::Body) -> impl Iterator<Item = Result<serde_json::Value>> {
    BufReader::new(body.into_reader()).lines().map(|line| {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if v.get("Type").and_then(|t| t.as_str()) == Some("error") {
            bail!(
                "{}",
                v.get("Message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("daemon error")
            );
        }
        Ok(v)
    })
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

fn encode(s: &str) -> String {
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
