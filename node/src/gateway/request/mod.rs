//! Reading a gateway request (pure: no I/O): which content it names — from the path or a
//! `<cid>.ipfs.localhost` host —, which response format it asks for, and which byte range.
//! Everything a client supplies is checked here, so the handler only sees valid input.

use super::GatewayError;
use dag::Cid;

/// Longest request path accepted.
pub const MAX_PATH: usize = 8 << 10;
/// Most path segments accepted.
pub const MAX_SEGMENTS: usize = 256;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Serve content.
    Content(ContentPath),
    /// Content under an `/ipns/` name (resolved by the handler, see [`name_content`]).
    Name(NamePath),
    /// `/ipfs/<cid>/...` asked of `localhost`: moved to the CID's own origin.
    Subdomain {
        /// The `Location`.
        location: String,
    },
}

/// An immutable content path: `/ipfs/<root>/<segments...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentPath {
    /// The root CID.
    pub root: Cid,
    /// The path below it, percent-decoded, empty segments dropped.
    pub segments: Vec<String>,
    /// Whether the URL path ended in `/`.
    pub trailing_slash: bool,
    /// The content path as requested (`X-Ipfs-Path`), still percent-encoded.
    pub display: String,
    /// Served from a `<cid>.ipfs.localhost` origin (links are relative to `/`).
    pub subdomain: bool,
    /// Reached through an `/ipns/` name: may change, so not cached as immutable.
    pub mutable: bool,
    /// The listing title for a name path (`/ipns/<name>/...`); `None`: the `/ipfs/` path.
    pub name_title: Option<String>,
    /// Where generated `/ipfs/<cid>` links point: `""` (this origin) on a path gateway,
    /// `//localhost[:port]` from a subdomain origin (whose own paths are below its CID).
    pub link_root: String,
}

/// `/ipns/<name>/<below>`, or `<name>.ipns.localhost/<below>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePath {
    /// The name.
    pub name: ipns::Name,
    /// The URL path below the name, still percent-encoded (empty or starting with `/`).
    pub below: String,
    /// Served from a `<name>.ipns.localhost` origin.
    pub subdomain: bool,
    /// The path as requested (`X-Ipfs-Path`).
    pub display: String,
    /// As [`ContentPath::link_root`].
    pub link_root: String,
}

/// The content a name request reaches, given what the name resolved to (`/ipfs/<cid>[/p]`,
/// plain text as a record holds it).
pub fn name_content(n: &NamePath, target: &str) -> Result<ContentPath, GatewayError> {
    let bad = |reason| GatewayError::BadPath {
        path: target.chars().take(256).collect(),
        reason,
    };
    let rest = target
        .strip_prefix("/ipfs/")
        .ok_or(bad("the name does not resolve to an /ipfs/ path"))?;
    let (cid, inner) = rest.split_once('/').unwrap_or((rest, ""));
    let root = parse_root(cid)?;
    let mut all: Vec<String> = inner
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    // The record's path gets the same checks as a URL path's segments.
    if let Some(reason) = all.iter().find_map(|s| segment_problem(s)) {
        return Err(bad(reason));
    }
    let (below, trailing_slash) = segments(&n.below)?;
    let title = match below.is_empty() {
        true => format!("/ipns/{}/", n.name),
        false => format!("/ipns/{}/{}/", n.name, below.join("/")),
    };
    all.extend(below);
    if all.len() > MAX_SEGMENTS {
        return Err(bad("too many segments"));
    }
    Ok(ContentPath {
        root,
        segments: all,
        trailing_slash,
        display: n.display.clone(),
        subdomain: n.subdomain,
        mutable: true,
        name_title: Some(title),
        link_root: n.link_root.clone(),
    })
}

impl ContentPath {
    /// The decoded path below the root, `/`-joined.
    pub fn inner(&self) -> String {
        self.segments.join("/")
    }

    /// The title of a directory listing: the path as the user sees it, ending in `/`.
    pub fn title(&self) -> String {
        if let Some(t) = &self.name_title {
            return t.clone();
        }
        if self.segments.is_empty() {
            format!("/ipfs/{}/", self.root)
        } else {
            format!("/ipfs/{}/{}/", self.root, self.inner())
        }
    }

    /// The last path segment (the file name), if any.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }
}

/// Routes a request by its `Host` header and URL path (and query, kept in redirects).
pub fn route(host: Option<&str>, path: &str, query: Option<&str>) -> Result<Route, GatewayError> {
    if path.len() > MAX_PATH {
        return Err(GatewayError::BadPath {
            path: format!("{}…", path.chars().take(64).collect::<String>()),
            reason: "too long",
        });
    }
    let host_full = host.unwrap_or("").to_ascii_lowercase();
    let host_name = strip_port(&host_full);
    if let Some(label) = host_name.strip_suffix(".ipfs.localhost") {
        if label.is_empty() || label.contains('.') {
            return Err(GatewayError::BadPath {
                path: host_full.clone(),
                reason: "a subdomain gateway host is <cid>.ipfs.localhost",
            });
        }
        let root = parse_root(label)?;
        let canonical = base32_v1(&root);
        if canonical.as_deref() != Some(label) {
            // DNS labels are case-insensitive: only the base32 CIDv1 form is an origin.
            let Some(c) = canonical else {
                return Err(GatewayError::BadPath {
                    path: host_full.clone(),
                    reason: "this CID cannot be a subdomain (too long for a DNS label)",
                });
            };
            let port = &host_full[host_name.len()..];
            return Ok(Route::Subdomain {
                location: format!(
                    "http://{c}.ipfs.localhost{port}{}{}",
                    clean_path(path),
                    query_suffix(query)
                ),
            });
        }
        let (segments, trailing_slash) = segments(path)?;
        return Ok(Route::Content(ContentPath {
            root,
            segments,
            trailing_slash,
            display: format!("/ipfs/{label}{path}"),
            subdomain: true,
            mutable: false,
            name_title: None,
            link_root: parent_origin(&host_full, label),
        }));
    }
    if let Some(label) = host_name.strip_suffix(".ipns.localhost") {
        let name = parse_name(label, &host_full)?;
        segments(path)?;
        return Ok(Route::Name(NamePath {
            name,
            below: path.to_string(),
            subdomain: true,
            display: format!("/ipns/{label}{path}"),
            link_root: parent_origin(&host_full, label),
        }));
    }
    if path == "/ipns" || path.starts_with("/ipns/") {
        let rest = path.strip_prefix("/ipns/").unwrap_or("");
        let (label, below) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let label = percent_decode(label).ok_or_else(|| GatewayError::BadPath {
            path: path.to_string(),
            reason: "invalid percent-encoding",
        })?;
        let name = parse_name(&label, path)?;
        segments(below)?;
        if host_name == "localhost" {
            return Ok(Route::Subdomain {
                location: format!(
                    "http://{name}.ipns.{host_full}{}{}",
                    clean_path(below),
                    query_suffix(query)
                ),
            });
        }
        return Ok(Route::Name(NamePath {
            name,
            below: below.to_string(),
            subdomain: false,
            display: path.to_string(),
            link_root: String::new(),
        }));
    }
    let Some(rest) = path.strip_prefix("/ipfs/") else {
        return Err(GatewayError::NotFound {
            what: format!("{path} (the gateway serves /ipfs/<cid>[/path])"),
        });
    };
    let (cid_str, below) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if cid_str.is_empty() {
        return Err(GatewayError::BadPath {
            path: path.to_string(),
            reason: "no CID after /ipfs/",
        });
    }
    let cid_decoded = percent_decode(cid_str).ok_or_else(|| GatewayError::BadPath {
        path: path.to_string(),
        reason: "invalid percent-encoding",
    })?;
    let root = parse_root(&cid_decoded)?;
    if host_name == "localhost"
        && let Some(c) = base32_v1(&root)
    {
        return Ok(Route::Subdomain {
            location: format!(
                "http://{c}.ipfs.{host_full}{}{}",
                clean_path(below),
                query_suffix(query)
            ),
        });
    }
    let (segments, trailing_slash) = segments(below)?;
    Ok(Route::Content(ContentPath {
        root,
        segments,
        trailing_slash,
        display: path.to_string(),
        subdomain: false,
        mutable: false,
        name_title: None,
        link_root: String::new(),
    }))
}

/// The path gateway's origin as seen from the subdomain host `host_full`
/// (`<label>.ipfs.localhost:8080` → `//localhost:8080`), as a scheme-relative URL.
fn parent_origin(host_full: &str, label: &str) -> String {
    // `<label>.` and the `ipfs.`/`ipns.` namespace label (both five bytes) go.
    match host_full.get(label.len() + 6..) {
        Some(rest) if !rest.is_empty() => format!("//{rest}"),
        _ => String::new(),
    }
}

/// The path part of a `Location` built from a request path: its segments joined by single
/// slashes, starting with exactly one `/`, bytes outside a path segment's alphabet
/// escaped (`\` included: browsers read it as `/`). Empty segments are dropped, so the
/// result can never be read as a scheme-relative `//host/...` URL: a redirect built from
/// it stays on the origin that answered. A trailing slash is kept.
pub fn clean_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() || path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The `Location` that adds the missing trailing slash to a directory's URL `path`
/// (with its `query`): always a path on the answering origin.
pub fn add_slash(path: &str, query: Option<&str>) -> String {
    let mut location = clean_path(path);
    if !location.ends_with('/') {
        location.push('/');
    }
    location + &query_suffix(query)
}

fn query_suffix(query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("?{q}"),
        _ => String::new(),
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host; // an IPv6 literal is never a subdomain host
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// An IPNS name label; DNSLink names (with dots) are refused: there is no DNS here.
fn parse_name(label: &str, path: &str) -> Result<ipns::Name, GatewayError> {
    let bad = |reason| GatewayError::BadPath {
        path: path.chars().take(256).collect(),
        reason,
    };
    if label.is_empty() {
        return Err(bad("no name after /ipns/"));
    }
    if label.contains('.') {
        return Err(bad(
            "DNSLink names are not supported (this node has no DNS resolver)",
        ));
    }
    label
        .parse()
        .map_err(|_| bad("not an IPNS name (a k51… or 12D3Koo… peer ID)"))
}

fn parse_root(s: &str) -> Result<Cid, GatewayError> {
    dag::block::parse_cid(s).map_err(|source| GatewayError::BadCid {
        input: s.chars().take(128).collect(),
        source,
    })
}

/// The lowercase base32 CIDv1 of `cid`, when it fits in a DNS label.
pub fn base32_v1(cid: &Cid) -> Option<String> {
    let v1 = Cid::new_v1(cid.codec(), *cid.hash());
    let s = v1.to_string_of_base(multibase::Base::Base32Lower).ok()?;
    (s.len() <= 63).then_some(s)
}

/// Splits and decodes a path below the root: `("/a/b%20c/", ..)` → `["a", "b c"]`, trailing.
fn segments(below: &str) -> Result<(Vec<String>, bool), GatewayError> {
    let bad = |reason| GatewayError::BadPath {
        path: below.chars().take(256).collect(),
        reason,
    };
    let mut out = Vec::new();
    for raw in below.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(raw).ok_or_else(|| bad("invalid percent-encoding"))?;
        if let Some(reason) = segment_problem(&seg) {
            return Err(bad(reason));
        }
        out.push(seg);
        if out.len() > MAX_SEGMENTS {
            return Err(bad("too many segments"));
        }
    }
    Ok((out, below.ends_with('/')))
}

/// Why a decoded segment cannot be part of a content path, if it cannot.
fn segment_problem(seg: &str) -> Option<&'static str> {
    if seg == "." || seg == ".." {
        return Some("'.' and '..' are not allowed in content paths");
    }
    if seg.contains('/') || seg.contains('\0') {
        return Some("a path segment may not contain '/' or NUL");
    }
    None
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a name for use in a URL path segment.
pub fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The response format a request asks for (`?format=` first, then `Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// UnixFS deserialized: files as bytes, directories as listings.
    Deserialized,
    /// One raw block (`application/vnd.ipld.raw`).
    Raw,
    /// A CARv1 stream (`application/vnd.ipld.car`).
    Car,
    /// The block in an IPLD codec (`format=dag-json|dag-cbor|json|cbor` or the matching
    /// `Accept` type): as stored when it is in that codec already, converted otherwise.
    Codec(Want),
}

/// An IPLD response codec a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// `application/vnd.ipld.dag-json`.
    DagJson,
    /// `application/vnd.ipld.dag-cbor`.
    DagCbor,
    /// `application/json`.
    Json,
    /// `application/cbor`.
    Cbor,
}

impl Want {
    /// Reads a `format` value (`dag-json`, ...).
    pub fn from_format(v: &str) -> Option<Want> {
        Some(match v {
            "dag-json" => Want::DagJson,
            "dag-cbor" => Want::DagCbor,
            "json" => Want::Json,
            "cbor" => Want::Cbor,
            _ => return None,
        })
    }

    /// Reads a media type (lowercase, without parameters).
    pub fn from_media_type(t: &str) -> Option<Want> {
        Some(match t {
            "application/vnd.ipld.dag-json" => Want::DagJson,
            "application/vnd.ipld.dag-cbor" => Want::DagCbor,
            "application/json" => Want::Json,
            "application/cbor" => Want::Cbor,
            _ => return None,
        })
    }

    /// The response's `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Want::DagJson => "application/vnd.ipld.dag-json",
            Want::DagCbor => "application/vnd.ipld.dag-cbor",
            Want::Json => "application/json",
            Want::Cbor => "application/cbor",
        }
    }

    /// The codec of a block of this type.
    pub fn codec(self) -> dag::codec::Codec {
        use dag::codec::Codec;
        match self {
            Want::DagJson => Codec::DagJson,
            Want::DagCbor => Codec::DagCbor,
            Want::Json => Codec::Json,
            Want::Cbor => Codec::Cbor,
        }
    }

    /// The type that serves a block of `codec` as stored, if there is one.
    pub fn of_codec(codec: dag::codec::Codec) -> Option<Want> {
        use dag::codec::Codec;
        Some(match codec {
            Codec::DagJson => Want::DagJson,
            Codec::DagCbor => Want::DagCbor,
            Codec::Json => Want::Json,
            Codec::Cbor => Want::Cbor,
            _ => return None,
        })
    }
}

/// The request's retrieval parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The response format.
    pub format: Format,
    /// `dag-scope` (CAR only).
    pub scope: dag::scope::Scope,
    /// `entity-bytes` (CAR only).
    pub entity_bytes: Option<dag::scope::EntityBytes>,
    /// `filename` (for `Content-Disposition`).
    pub filename: Option<String>,
    /// `download=true`: `Content-Disposition: attachment`.
    pub download: bool,
    /// The client accepts HTML (`Accept` holds `text/html`): a browser.
    pub html: bool,
}

/// Reads the query and `Accept` header.
pub fn params(query: Option<&str>, accept: Option<&str>) -> Result<Params, GatewayError> {
    let mut p = Params {
        format: Format::Deserialized,
        scope: dag::scope::Scope::All,
        entity_bytes: None,
        filename: None,
        download: false,
        html: accept.is_some_and(|a| a.contains("text/html")),
    };
    let bad = |name: &'static str, value: &str, reason: &'static str| GatewayError::BadParam {
        name,
        value: value.chars().take(128).collect(),
        reason,
    };
    let mut format = None;
    let mut car_version = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()).take(64) {
        match &*k {
            "format" => {
                format = Some(match &*v {
                    "raw" => Format::Raw,
                    "car" => Format::Car,
                    other => match Want::from_format(other) {
                        Some(w) => Format::Codec(w),
                        None => {
                            return Err(bad(
                                "format",
                                &v,
                                "this gateway serves raw, car, dag-json, dag-cbor, json and cbor",
                            ));
                        }
                    },
                })
            }
            "dag-scope" => {
                p.scope = dag::scope::Scope::parse(&v)
                    .ok_or_else(|| bad("dag-scope", &v, "expected block, entity or all"))?
            }
            "entity-bytes" => {
                p.entity_bytes = Some(
                    dag::scope::EntityBytes::parse(&v)
                        .ok_or_else(|| bad("entity-bytes", &v, "expected from:to"))?,
                )
            }
            "car-version" => car_version = Some(v.into_owned()),
            "car-order" if !matches!(&*v, "dfs" | "unk") => {
                return Err(bad("car-order", &v, "this gateway writes order=dfs"));
            }
            "car-dups" if !matches!(&*v, "n" | "y") => {
                return Err(bad("car-dups", &v, "expected y or n"));
            }
            "filename" => p.filename = Some(v.into_owned()),
            "download" => p.download = v == "true",
            _ => {}
        }
    }
    if format.is_none()
        && let Some(accept) = accept
    {
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            match parts.next().unwrap_or("").to_ascii_lowercase().as_str() {
                "application/vnd.ipld.raw" => {
                    format = Some(Format::Raw);
                    break;
                }
                "application/vnd.ipld.car" => {
                    for param in parts {
                        if let Some(v) = param.strip_prefix("version=") {
                            car_version.get_or_insert_with(|| v.to_string());
                        }
                    }
                    format = Some(Format::Car);
                    break;
                }
                t => {
                    // The first type this gateway answers wins (as boxo does: weights
                    // are not read).
                    if let Some(w) = Want::from_media_type(t) {
                        format = Some(Format::Codec(w));
                        break;
                    }
                }
            }
        }
    }
    p.format = format.unwrap_or(Format::Deserialized);
    if let Some(v) = car_version
        && v != "1"
    {
        return Err(bad("car-version", &v, "this gateway writes CARv1"));
    }
    Ok(p)
}

/// What a `Range` header asks of a `size`-byte file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No (usable) range: the whole file, 200.
    Full,
    /// `[start, end)`, 206.
    Part(u64, u64),
    /// Nothing of the file can be served, 416.
    Unsatisfiable,
}

/// Reads a `Range` header. One `bytes=` range is served; a header that is not valid
/// syntax, another unit, or several ranges are ignored (the whole file, as RFC 9110
/// allows); a range starting past the end (numbers too large included) is 416.
pub fn range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Range::Full;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (a.trim(), b.trim()) {
        ("", n) if digits(n) => match n.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(n) if size > 0 => Range::Part(size.saturating_sub(n), size),
            Ok(_) => Range::Unsatisfiable,
            // A suffix longer than any file: the whole file.
            Err(_) if size > 0 => Range::Part(0, size),
            Err(_) => Range::Unsatisfiable,
        },
        (a, b) if digits(a) && (b.is_empty() || digits(b)) => {
            let Ok(start) = a.parse::<u64>() else {
                return Range::Unsatisfiable;
            };
            if start >= size {
                return Range::Unsatisfiable;
            }
            if b.is_empty() {
                return Range::Part(start, size);
            }
            match b.parse::<u64>() {
                Ok(end) if end < start => Range::Full,
                Ok(end) => Range::Part(start, end.saturating_add(1).min(size)),
                Err(_) => Range::Part(start, size),
            }
        }
        _ => Range::Full,
    }
}

#[cfg(test)]
mod tests;
