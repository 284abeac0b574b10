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
mod tests {
    use super::*;

    const V0: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    const V1: &str = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

    fn content(r: Route) -> ContentPath {
        match r {
            Route::Content(c) => c,
            other => panic!("not content: {other:?}"),
        }
    }

    #[test]
    fn name_targets_get_the_same_segment_checks_as_url_paths() {
        let n = match route(
            None,
            "/ipns/k51qzi5uqu5dj1w2yvf8kk5cdjc1ddc00o4d5sjwi6f79xzcay9j3gkddw5uu4/",
            None,
        ) {
            Ok(Route::Name(n)) => n,
            other => panic!("not a name route: {other:?}"),
        };
        for bad in [format!("/ipfs/{V1}/a\0b"), format!("/ipfs/{V1}/../x")] {
            let e = name_content(&n, &bad).expect_err(&bad);
            assert_eq!(e.status(), 400, "{bad:?}: {e}");
        }
        assert!(name_content(&n, &format!("/ipfs/{V1}/a/b")).is_ok());
    }

    #[test]
    fn overlong_paths_are_refused_without_slicing_a_character() {
        // Byte 64 falls inside a two-byte character: the error's excerpt must not panic.
        let path = format!("/{}", "é".repeat(MAX_PATH));
        let e = route(None, &path, None).expect_err("too long");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn paths() {
        let c = content(
            route(
                Some("127.0.0.1:8080"),
                &format!("/ipfs/{V0}/a/b%20c/"),
                None,
            )
            .expect("ok"),
        );
        assert_eq!(c.segments, ["a", "b c"]);
        assert!(c.trailing_slash);
        assert_eq!(c.inner(), "a/b c");
        assert!(!c.subdomain);
        let c = content(route(None, &format!("/ipfs/{V0}"), None).expect("ok"));
        assert!(c.segments.is_empty() && !c.trailing_slash);
        for bad in [
            format!("/ipfs/{V0}/../x"),
            format!("/ipfs/{V0}/%2e%2e/x"),
            format!("/ipfs/{V0}/a%zz"),
            format!("/ipfs/{V0}/a%2Fb"),
            format!("/ipfs/{V0}/%ff"),
            format!("/ipfs/{V0}/a%00"),
            "/ipfs/".into(),
            "/ipfs/notacid".into(),
            format!("/ipfs/{V0}/{}", "a/".repeat(300)),
            format!("/ipfs/{V0}/{}", "a".repeat(MAX_PATH)),
        ] {
            let e = route(None, &bad, None).expect_err(&bad);
            assert_eq!(e.status(), 400, "{bad}: {e}");
        }
        assert_eq!(route(None, "/", None).expect_err("root").status(), 404);
        for bad in ["/ipns/x", "/ipns/", "/ipns/example.com/a", "/ipns/%zz"] {
            assert_eq!(
                route(None, bad, None).expect_err(bad).status(),
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn subdomains() {
        // A CID on localhost moves to its own origin, as CIDv1 base32.
        match route(
            Some("localhost:8080"),
            &format!("/ipfs/{V0}/x/y"),
            Some("a=b"),
        )
        .expect("ok")
        {
            Route::Subdomain { location } => assert_eq!(
                location,
                "http://bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354.ipfs.localhost:8080/x/y?a=b"
            ),
            other => panic!("{other:?}"),
        }
        match route(Some("localhost"), &format!("/ipfs/{V1}"), None).expect("ok") {
            Route::Subdomain { location } => {
                assert_eq!(location, format!("http://{V1}.ipfs.localhost/"))
            }
            other => panic!("{other:?}"),
        }
        let c =
            content(route(Some(&format!("{V1}.ipfs.localhost:8080")), "/a/", None).expect("ok"));
        assert!(c.subdomain);
        assert_eq!(c.segments, ["a"]);
        assert_eq!(c.display, format!("/ipfs/{V1}/a/"));
        assert_eq!(c.link_root, "//localhost:8080");
        let c = content(route(Some("127.0.0.1:8080"), &format!("/ipfs/{V1}/"), None).expect("ok"));
        assert_eq!(c.link_root, "");
        assert_eq!(c.root.to_string(), V1);
        // Hosts are case-insensitive.
        let upper = format!("{}.IPFS.LOCALHOST", V1.to_uppercase());
        assert!(matches!(
            route(Some(&upper), "/", None),
            Ok(Route::Content(_))
        ));
        // A CIDv0 label cannot be an origin (DNS folds case): it is rejected.
        assert_eq!(
            route(Some(&format!("{V0}.ipfs.localhost")), "/", None)
                .expect_err("v0")
                .status(),
            400
        );
        assert_eq!(
            route(Some("a.b.ipfs.localhost"), "/", None)
                .expect_err("dots")
                .status(),
            400
        );
        // Other hosts are path gateways.
        assert!(matches!(
            route(Some("127.0.0.1:8080"), &format!("/ipfs/{V0}"), None),
            Ok(Route::Content(_))
        ));
    }

    #[test]
    fn redirects_stay_on_the_origin() {
        // A directory named `evil.com` reached with a doubled slash: the slash is added
        // to a path of this origin, never to a scheme-relative `//evil.com/`.
        for (path, want) in [
            ("//evil.com", "/evil.com/"),
            ("///evil.com", "/evil.com/"),
            ("/\\evil.com", "/%5Cevil.com/"),
            ("/%2F%2Fevil.com", "/%2F%2Fevil.com/"),
            ("", "/"),
            ("/", "/"),
            (
                &format!("/ipfs/{V0}//evil.com"),
                &format!("/ipfs/{V0}/evil.com/"),
            ),
            (&format!("/ipfs/{V0}/a%20b"), &format!("/ipfs/{V0}/a%20b/")),
        ] {
            assert_eq!(add_slash(path, None), want, "{path:?}");
        }
        assert_eq!(add_slash("//evil.com", Some("x=1")), "/evil.com/?x=1");
        assert_eq!(clean_path("/a//b"), "/a/b");
        assert_eq!(clean_path("/a//b/"), "/a/b/");
        // Every subdomain redirect keeps the host it was given and a clean path.
        let cases = [
            (
                "localhost:8080".to_string(),
                format!("/ipfs/{V0}//evil.com/x"),
                format!("http://{}.ipfs.localhost:8080/evil.com/x", base32(V0)),
            ),
            (
                // A base36 label moves to the base32 one.
                format!("{}.ipfs.localhost:8080", base36(V1)),
                "//evil.com/".to_string(),
                format!("http://{V1}.ipfs.localhost:8080/evil.com/"),
            ),
            (
                "localhost".to_string(),
                "/ipns/k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w//evil.com"
                    .to_string(),
                "http://k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w.ipns.localhost/evil.com".to_string(),
            ),
        ];
        for (host, path, want) in cases {
            match route(Some(&host), &path, None) {
                Ok(Route::Subdomain { location }) => assert_eq!(location, want, "{path}"),
                other => panic!("{host} {path}: {other:?}"),
            }
        }
    }

    fn base36(cid: &str) -> String {
        dag::block::parse_cid(cid)
            .expect("cid")
            .to_string_of_base(multibase::Base::Base36Lower)
            .expect("base36")
    }

    fn base32(cid: &str) -> String {
        base32_v1(&dag::block::parse_cid(cid).expect("cid")).expect("fits")
    }

    #[test]
    fn formats() {
        let p = params(Some("format=raw"), Some("application/vnd.ipld.car")).expect("ok");
        assert_eq!(p.format, Format::Raw);
        let p = params(None, Some("application/vnd.ipld.car; version=1; order=dfs")).expect("ok");
        assert_eq!(p.format, Format::Car);
        assert!(params(None, Some("application/vnd.ipld.car;version=2")).is_err());
        assert_eq!(
            params(None, Some("text/html,*/*")).expect("ok").format,
            Format::Deserialized
        );
        let p = params(Some("format=car&dag-scope=entity&entity-bytes=0:*"), None).expect("ok");
        assert_eq!(p.scope, dag::scope::Scope::Entity);
        assert!(p.entity_bytes.is_some());
        for (q, want) in [
            ("format=dag-json", Want::DagJson),
            ("format=dag-cbor", Want::DagCbor),
            ("format=json", Want::Json),
            ("format=cbor", Want::Cbor),
        ] {
            assert_eq!(params(Some(q), None).expect(q).format, Format::Codec(want));
            assert_eq!(
                params(None, Some(want.media_type())).expect(q).format,
                Format::Codec(want)
            );
        }
        // The first known type in the header wins; a query parameter beats the header.
        let p = params(
            None,
            Some("text/html, application/vnd.ipld.dag-cbor;q=0.5, application/vnd.ipld.raw"),
        )
        .expect("ok");
        assert_eq!(p.format, Format::Codec(Want::DagCbor));
        let p = params(Some("format=json"), Some("application/vnd.ipld.car")).expect("ok");
        assert_eq!(p.format, Format::Codec(Want::Json));
        for bad in [
            "format=tar",
            "format=dag-jsonx",
            "dag-scope=x",
            "entity-bytes=9:1",
            "car-version=2",
            "car-order=x",
        ] {
            assert_eq!(params(Some(bad), None).expect_err(bad).status(), 400);
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range(None, 100), Range::Full);
        assert_eq!(range(Some("bytes=0-9"), 100), Range::Part(0, 10));
        assert_eq!(range(Some("bytes=90-"), 100), Range::Part(90, 100));
        assert_eq!(range(Some("bytes=-10"), 100), Range::Part(90, 100));
        assert_eq!(range(Some("bytes=-1000"), 100), Range::Part(0, 100));
        assert_eq!(range(Some("bytes=50-5000"), 100), Range::Part(50, 100));
        assert_eq!(range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(range(Some("bytes=0-"), 0), Range::Unsatisfiable);
        assert_eq!(
            range(Some("bytes=99999999999999999999999-"), 100),
            Range::Unsatisfiable
        );
        assert_eq!(
            range(Some("bytes=5-99999999999999999999999"), 100),
            Range::Part(5, 100)
        );
        assert_eq!(
            range(Some("bytes=-99999999999999999999999"), 100),
            Range::Part(0, 100)
        );
        for ignored in [
            "bytes=9-1",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=x-y",
            "bytes=",
            "bytes=-",
        ] {
            assert_eq!(range(Some(ignored), 100), Range::Full, "{ignored}");
        }
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode("a%20b%C3%A9").as_deref(), Some("a bé"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_encode("a b/é?#"), "a%20b%2F%C3%A9%3F%23");
        assert_eq!(
            percent_decode(&percent_encode("x y%z")).as_deref(),
            Some("x y%z")
        );
    }
}
