//! Harness for the gateway's request parsing (`node::gateway::request`, pure).

use crate::{fields, text};
use node::gateway::request::{self, Range, Route};

/// `host \n path \n query \n accept \n range \n size \n target`: routes the request, reads
/// its format parameters and `Range` header, and resolves a name route's target.
/// Invariants: a redirect stays on this gateway (`http://…localhost[:port]/…`, never a
/// scheme-relative or foreign URL); content paths hold only real segments, each of which
/// survives percent-encoding; a served range lies inside the file.
pub fn gateway_request(data: &[u8]) {
    let f = fields(data, b'\n', 7);
    let get = |i: usize| f.get(i).map(|b| text(b));
    let opt = |i: usize| get(i).filter(|s| !s.is_empty());
    let (host, query, accept, range_h) = (opt(0), opt(2), opt(3), opt(4));
    // An HTTP request's path always starts with '/' (the server refuses anything else).
    let path = get(1).unwrap_or_default();
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}").into()
    };
    let size = get(5)
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1000);

    match request::route(host.as_deref(), &path, query.as_deref()) {
        Ok(Route::Subdomain { location }) => check_location(&location),
        Ok(Route::Content(c)) => check_content(&c),
        Ok(Route::Name(n)) => {
            let target = get(6).unwrap_or_default();
            if let Ok(c) = request::name_content(&n, &target) {
                check_content(&c);
            }
        }
        Err(_) => {}
    }
    let _ = request::params(query.as_deref(), accept.as_deref());
    match request::range(range_h.as_deref(), size) {
        Range::Part(start, end) => assert!(
            start < end && end <= size,
            "range {start}..{end} of a {size}-byte file"
        ),
        Range::Full | Range::Unsatisfiable => {}
    }
    let decoded = request::percent_decode(&path);
    if let Some(d) = decoded {
        assert_eq!(
            request::percent_decode(&request::percent_encode(&d)).as_deref(),
            Some(d.as_str())
        );
    }
}

fn check_location(location: &str) {
    let rest = location
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("redirect to {location:?} is not http://"));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    assert!(
        host.ends_with(".localhost") && !host.contains(['@', '\\']),
        "redirect leaves the gateway: {location:?}"
    );
    let after = &rest[authority.len()..];
    assert!(
        after.starts_with('/'),
        "redirect path {after:?} is not an absolute path"
    );
}

fn check_content(c: &request::ContentPath) {
    assert!(c.segments.len() <= request::MAX_SEGMENTS);
    for s in &c.segments {
        assert!(
            !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0']),
            "segment {s:?} reached the handler"
        );
        assert_eq!(
            request::percent_decode(&request::percent_encode(s)).as_deref(),
            Some(s.as_str())
        );
    }
    let _ = c.inner();
    let _ = c.title();
}
